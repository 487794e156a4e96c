//! `ebpfvm run --type kprobe [--regs LIST | --ctx FILE] [--arch ARCH]`: a kprobe
//! program over a `pt_regs` built from the command line. The kernel cannot test-run
//! kprobes, so only the load-time rules are compared with it; the result is the return
//! value (low 32 bits of r0, as the kernel's program runner returns it).

use std::path::Path;
use std::process::ExitCode;

use ebpfvm::ctx::regs::{pt_regs, Arch};
use ebpfvm::Vm;
use serde_json::json;

use super::{read_file, CliError};

/// What `run` passes on for a kprobe program.
pub struct RegsRun<'a> {
    pub regs: Option<&'a str>,
    pub arch: &'a str,
    pub ctx: Option<&'a Path>,
    pub json: bool,
}

pub fn run(vm: &mut Vm, args: RegsRun<'_>) -> Result<ExitCode, CliError> {
    let arch: Arch = args
        .arch
        .parse()
        .map_err(|e: ebpfvm::ctx::regs::RegsError| CliError::Usage(e.to_string()))?;
    if arch != Arch::default() {
        return Err(CliError::NotSupported(format!(
            "kprobe programs for {arch}: the access rules follow this kernel's x86_64 pt_regs"
        )));
    }
    let mut regs = match (args.regs, args.ctx) {
        (_, Some(path)) => {
            let mut bytes = read_file(&path.to_path_buf())?;
            bytes.resize(arch.size(), 0);
            bytes
        }
        (list, None) => {
            pt_regs(arch, list.unwrap_or("")).map_err(|e| CliError::Usage(e.to_string()))?
        }
    };
    let outcome = vm.run_context(&mut regs);
    let code = if outcome.result.is_ok() { 0 } else { 1 };
    match (&outcome.result, args.json) {
        (Ok(r0), true) => println!(
            "{}",
            json!({ "retval": *r0 as u32, "insns": outcome.insns })
        ),
        (Ok(r0), false) => println!("{} ({:#x})", *r0 as u32, *r0 as u32),
        (Err(trap), true) => println!(
            "{}",
            json!({ "trap": { "pc": trap.pc, "message": trap.to_string() }, "insns": outcome.insns })
        ),
        (Err(trap), false) => eprintln!("{trap}"),
    }
    Ok(ExitCode::from(code))
}
