//! `ebpfvm seccomp`: evaluates seccomp filters for syscalls and prints the action.
//!
//! Several FILTER files are several filters installed in the order given (the last is
//! the newest), combined with the kernel's precedence.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ebpfvm_classic::parse_auto;
use ebpfvm_classic::seccomp::{
    arch_by_name, arch_name, combine, host_arch, syscall_number, SeccompData, SeccompFilter,
    Verdict, AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64,
};
use ebpfvm_vm::Stack;
use serde_json::json;

use super::{classic::engine, read_file, CliError, EngineChoice};

#[derive(Args, Debug)]
pub struct SeccompArgs {
    /// Filter files: raw `struct sock_filter` arrays (as libseccomp's
    /// `seccomp_export_bpf` writes them) or `tcpdump -dd`/`-ddd` style text. Several
    /// filters are installed in the order given; the kernel's precedence picks the
    /// result.
    #[arg(required = true, value_name = "FILTER")]
    filters: Vec<PathBuf>,
    /// The engine.
    #[arg(long, value_enum, default_value_t = EngineChoice::Interp)]
    engine: EngineChoice,
    /// The syscall: a name (x86_64 and aarch64 tables) or a number.
    #[arg(
        long,
        value_name = "NAME|NR",
        conflicts_with = "cases",
        required_unless_present = "cases"
    )]
    syscall: Option<String>,
    /// The architecture: x86_64, aarch64, i386, arm, riscv64, ... or an AUDIT_ARCH
    /// number. Default: the host's.
    #[arg(long, value_name = "ARCH", conflicts_with = "cases")]
    arch: Option<String>,
    /// Up to six arguments, comma-separated (decimal or 0x-hex).
    #[arg(long, value_name = "A0,A1,...", conflicts_with = "cases")]
    args: Option<String>,
    /// The instruction pointer.
    #[arg(long, value_name = "N", conflicts_with = "cases")]
    ip: Option<String>,
    /// A file of cases, one a line: `NR_OR_NAME ARCH IP A0 A1 A2 A3 A4 A5` (missing
    /// trailing fields are 0; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    cases: Option<PathBuf>,
    /// Print `{"retval": <u32>, "action": "<action>"}` per case.
    #[arg(long)]
    json: bool,
}

fn number(what: &str, s: &str) -> Result<u64, String> {
    ebpfvm_classic::parse::parse_int(s)
        .ok_or_else(|| format!("{what}: `{s}` is not a 64-bit number"))
}

fn arch(s: &str) -> Result<u32, String> {
    arch_by_name(s).ok_or_else(|| format!("unknown architecture `{s}`"))
}

/// A syscall number (a 32-bit value, or negative) or a name in `arch`'s table.
fn syscall(s: &str, arch: u32) -> Result<i32, String> {
    if let Ok(v) = number("syscall", s) {
        return match u32::try_from(v) {
            Ok(nr) => Ok(nr as i32),
            Err(_) => i32::try_from(v as i64)
                .map_err(|_| format!("syscall number {s} does not fit 32 bits")),
        };
    }
    if let Some(nr) = syscall_number(arch, s) {
        return Ok(nr as i32);
    }
    let arch_text = arch_name(arch).map_or(format!("{arch:#x}"), str::to_string);
    if arch == AUDIT_ARCH_X86_64 || arch == AUDIT_ARCH_AARCH64 {
        Err(format!("unknown syscall `{s}` on {arch_text}"))
    } else {
        Err(format!(
            "no syscall names for {arch_text} (x86_64 and aarch64 have them); give the number"
        ))
    }
}

fn case(fields: &[&str]) -> Result<SeccompData, String> {
    let arch = match fields.get(1) {
        Some(a) => arch(a)?,
        None => host_arch(),
    };
    let nr = syscall(fields.first().copied().unwrap_or(""), arch)?;
    let ip = match fields.get(2) {
        Some(ip) => number("ip", ip)?,
        None => 0,
    };
    if fields.len() > 9 {
        return Err(format!(
            "{} fields, at most 9 (NR ARCH IP A0..A5)",
            fields.len()
        ));
    }
    let mut args = [0u64; 6];
    for (i, a) in fields.iter().skip(3).enumerate() {
        args[i] = number(&format!("a{i}"), a)?;
    }
    Ok(SeccompData {
        nr,
        arch,
        instruction_pointer: ip,
        args,
    })
}

fn cases(args: &SeccompArgs) -> Result<Vec<SeccompData>, CliError> {
    if let Some(path) = &args.cases {
        let text = String::from_utf8(read_file(path)?)
            .map_err(|e| CliError::Usage(format!("{}: not UTF-8 text: {e}", path.display())))?;
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            out.push(case(&fields).map_err(|e| {
                CliError::Usage(format!("{}: line {}: {e}", path.display(), i + 1))
            })?);
        }
        return Ok(out);
    }
    let Some(name) = &args.syscall else {
        return Err(CliError::Usage("give --syscall or --cases".into()));
    };
    let arch = match &args.arch {
        Some(a) => arch(a).map_err(CliError::Usage)?,
        None => host_arch(),
    };
    let mut data = SeccompData {
        nr: syscall(name, arch).map_err(CliError::Usage)?,
        arch,
        ..SeccompData::default()
    };
    if let Some(ip) = &args.ip {
        data.instruction_pointer = number("--ip", ip).map_err(CliError::Usage)?;
    }
    if let Some(list) = &args.args {
        let values: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if values.len() > 6 {
            return Err(CliError::Usage(format!(
                "--args: {} values, at most 6",
                values.len()
            )));
        }
        for (i, v) in values.iter().enumerate() {
            data.args[i] = number(&format!("--args a{i}"), v).map_err(CliError::Usage)?;
        }
    }
    Ok(vec![data])
}

pub fn seccomp(args: SeccompArgs) -> Result<ExitCode, CliError> {
    let mut filters = Vec::new();
    for path in &args.filters {
        let bytes = read_file(path)?;
        let load = |message: String| CliError::Load {
            path: path.clone(),
            message,
        };
        let (classic, _) = parse_auto(&bytes).map_err(|e| load(e.to_string()))?;
        filters.push(SeccompFilter::new(classic).map_err(|e| load(e.to_string()))?);
    }
    let engines = filters
        .iter()
        .map(|f| engine(args.engine, f.program(), f.interpreter()))
        .collect::<Result<Vec<_>, _>>()?;
    let cases = cases(&args)?;
    let mut stack = Stack::new();
    for data in &cases {
        let mut rets = Vec::with_capacity(filters.len());
        for (filter, engine) in filters.iter().zip(&engines) {
            match filter.run_with(engine.as_ref(), &mut stack, data) {
                Ok(r) => rets.push(r),
                Err(trap) => {
                    eprintln!("{trap}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        let Verdict { retval, action, .. } = combine(&rets);
        if args.json {
            println!(
                "{}",
                json!({ "retval": retval, "action": action.to_string() })
            );
        } else {
            println!("{action}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
