//! `ebpfvm disasm` and `ebpfvm asm`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{input, read_file, CliError};

#[derive(Args, Debug)]
pub struct DisasmArgs {
    /// The program (assembly, .data or raw bytecode). Not given with --filter.
    #[arg(required_unless_present = "filter")]
    program: Option<PathBuf>,
    /// Print the LLVM/kernel syntax (`r0 = 1`) instead of the bpf_conformance dialect.
    #[arg(long)]
    llvm: bool,
    /// Treat the program as classic BPF.
    #[arg(long)]
    classic: bool,
    #[command(flatten)]
    filter: super::classic::filter::FilterArgs,
}

#[derive(Args, Debug)]
pub struct AsmArgs {
    /// The assembly text (bpf_conformance/uBPF dialect, or LLVM/kernel syntax).
    file: PathBuf,
    /// Where to write the bytecode (`-` for standard output).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

pub fn disasm(args: DisasmArgs) -> Result<ExitCode, CliError> {
    let Some(path) = &args.program else {
        let classic = super::classic::filter::compile(&args.filter, None)?;
        print!("{}", ebpfvm_classic::disassemble(&classic));
        return Ok(ExitCode::SUCCESS);
    };
    let loaded = input::load(path, args.classic)?;
    let text = if args.llvm {
        ebpfvm::isa::disassemble_llvm(&loaded.program)
    } else {
        ebpfvm::isa::disassemble(&loaded.program)
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

pub fn asm(args: AsmArgs) -> Result<ExitCode, CliError> {
    let bytes = read_file(&args.file)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| CliError::Load {
        path: args.file.clone(),
        message: format!("not UTF-8 text: {e}"),
    })?;
    let program = ebpfvm::isa::assemble(text).map_err(|e| CliError::Load {
        path: args.file.clone(),
        message: e.to_string(),
    })?;
    let out = program.to_bytes();
    let written = if args.output.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(&out)
    } else {
        std::fs::write(&args.output, &out)
    };
    written.map_err(|source| CliError::Io {
        path: args.output.clone(),
        source,
    })?;
    Ok(ExitCode::SUCCESS)
}
