//! `ebpfvm run --type kprobe [--regs LIST | --ctx FILE] [--arch ARCH]`: a kprobe
//! program over a `pt_regs` of x86_64 or arm64 built from the command line; `--type
//! raw_tracepoint` over its arguments (`bpf_raw_tracepoint_args`); `--type sk_lookup`,
//! `cgroup_sock`, `cgroup_sock_addr`, `sock_ops`, `cgroup_device`, `cgroup_sysctl`,
//! `cgroup_sockopt`, `sk_msg`, `sk_reuseport` over the `--ctx` struct (and the
//! `--packet`/`--optval` data and `--sock` socket its pointer fields reach). The kernel
//! cannot test-run kprobes or those types but sk_lookup, so only their load-time rules
//! are compared with it (raw tracepoints and sk_lookup run there too); the result is
//! the return value (low 32 bits of r0, as the kernel's program runner returns it).
//! Tracepoint and perf_event records are `trace.rs`'s.

use std::path::Path;
use std::process::ExitCode;

use ebpfvm::ctx::regs::{pt_regs, Arch};
use ebpfvm::ctx::{cgroup, sk_lookup, sock, PointerContext, ProgramType};
use ebpfvm::{Outcome, Vm};
use serde_json::json;

use super::{read_file, CliError};

/// What `run` passes on for a kprobe program.
pub struct RegsRun<'a> {
    pub regs: Option<&'a str>,
    pub arch: Arch,
    pub ctx: Option<&'a Path>,
    pub json: bool,
}

/// raw_tracepoint: r1 points to the arguments (`--regs 1,2,3`, 64 bits each, or the
/// `--ctx` bytes), which must cover every argument the program reads and be at most 12,
/// as the kernel's test run demands.
pub fn run_raw_tracepoint(
    vm: &mut Vm,
    list: Option<&str>,
    ctx: Option<&Path>,
    extent: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    let mut args = match (list, ctx) {
        (_, Some(path)) => read_file(&path.to_path_buf())?,
        (list, None) => {
            let mut bytes = Vec::new();
            for item in list
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.trim().is_empty())
            {
                let value = parse_u64(item)
                    .ok_or_else(|| CliError::Usage(format!("--regs: `{item}` is not a number")))?;
                bytes.extend(value.to_le_bytes());
            }
            bytes
        }
    };
    if args.len() < extent || args.len() > 96 {
        return Err(CliError::Usage(format!(
            "the raw tracepoint context is {} bytes; the program reads {extent} and at most 96 \
             are allowed (the kernel's test run fails with EINVAL)",
            args.len()
        )));
    }
    let outcome = vm.run_context(&mut args);
    print_outcome(&outcome, json)
}

/// The inputs of a program whose context is a struct.
pub struct StructRun<'a> {
    /// `--ctx`: the uapi struct.
    pub ctx: Option<&'a Path>,
    /// `--packet`: the data `sock_ops`' `skb_data`, `sk_msg`'s and `sk_reuseport`'s
    /// `data` point to.
    pub packet: Option<&'a Path>,
    /// `--optval`: the option bytes of a `cgroup_sockopt` program.
    pub optval: Option<&'a Path>,
    /// `--sock`: the `bpf_sock` the `sk` pointers reach.
    pub sock: Option<&'a Path>,
    pub json: bool,
}

/// Types whose context's pointer fields reach data or a socket ([`PointerContext`]).
const POINTER_TYPES: &[ProgramType] = &[
    ProgramType::CgroupSockopt,
    ProgramType::SockOps,
    ProgramType::SkMsg,
    ProgramType::SkReuseport,
    ProgramType::CgroupSockAddr,
];

/// sk_lookup, cgroup_sock, cgroup_sock_addr, sock_ops, cgroup_device, cgroup_sysctl,
/// cgroup_sockopt, sk_msg and sk_reuseport: r1 points to the `--ctx` struct
/// (`bpf_sk_lookup`, checked and built as the kernel's test run builds it; the others
/// as given, zero-padded; sk_msg's may be left out), its pointer fields to the
/// `--packet` or `--optval` bytes and to a socket. The result carries the action and,
/// with `--json`, `ctx`: for sk_lookup the context as the test run returns it, for the
/// others the struct after the program's writes (pointer fields 0); `optval` or
/// `packet`, the data after the run, where the program may write it.
pub fn run_struct(
    vm: &mut Vm,
    ty: ProgramType,
    args: &StructRun<'_>,
) -> Result<ExitCode, CliError> {
    let json = args.json;
    let given = match args.ctx {
        Some(path) => read_file(&path.to_path_buf())?,
        None if ty == ProgramType::SkMsg => Vec::new(),
        None => {
            return Err(CliError::Usage(format!(
                "a `{ty}` program needs its context: give --ctx FILE"
            )))
        }
    };
    if args.optval.is_some() && ty != ProgramType::CgroupSockopt {
        return Err(CliError::Usage(
            "--optval is for cgroup_sockopt programs".into(),
        ));
    }
    if POINTER_TYPES.contains(&ty) {
        return run_pointers(vm, ty, &given, args);
    }
    if args.packet.is_some() || args.sock.is_some() {
        return Err(CliError::Usage(format!(
            "a `{ty}` program's context points to no packet or socket: --packet and --sock \
             do not apply"
        )));
    }
    let usage = |e: &dyn std::fmt::Display| CliError::Usage(format!("--ctx: {e}"));
    let mut model = match ty {
        ProgramType::SkLookup => sk_lookup::context(&given).map_err(|e| usage(&e))?,
        ProgramType::CgroupDevice => {
            cgroup::context("bpf_cgroup_dev_ctx", cgroup::DEV_SIZE, &given)
                .map_err(|e| usage(&e))?
        }
        ProgramType::CgroupSysctl => {
            cgroup::context("bpf_sysctl", cgroup::SYSCTL_SIZE, &given).map_err(|e| usage(&e))?
        }
        _ => sock::context(&given).map_err(|e| usage(&e))?,
    };
    let outcome = vm.run_context(&mut model);
    let r0 = match &outcome.result {
        Ok(r0) => *r0 as u32,
        Err(_) => return print_outcome(&outcome, json),
    };
    let action = ebpfvm::ctx::action_at(ty, vm.attach_type(), r0 as u64);
    if json {
        let after = match ty {
            ProgramType::SkLookup => sk_lookup::ctx_out(&given),
            _ => model,
        };
        let after: String = after.iter().map(|b| format!("{b:02x}")).collect();
        println!(
            "{}",
            json!({ "retval": r0, "action": action, "ctx": after, "insns": outcome.insns })
        );
    } else {
        println!("{r0} ({r0:#x}) {}", action.unwrap_or(""));
    }
    Ok(ExitCode::SUCCESS)
}

/// [`run_struct`] for the types whose pointer fields reach data and a socket.
fn run_pointers(
    vm: &mut Vm,
    ty: ProgramType,
    given: &[u8],
    args: &StructRun<'_>,
) -> Result<ExitCode, CliError> {
    let optional = |path: Option<&Path>| -> Result<Option<Vec<u8>>, CliError> {
        path.map(|p| read_file(&p.to_path_buf())).transpose()
    };
    let data = optional(args.packet.or(args.optval))?.unwrap_or_default();
    let sock = optional(args.sock)?;
    let sock = sock.as_deref();
    if args.packet.is_some()
        && matches!(ty, ProgramType::CgroupSockopt | ProgramType::CgroupSockAddr)
    {
        return Err(CliError::Usage(format!(
            "a `{ty}` program's context points to no packet: --packet does not apply{}",
            if ty == ProgramType::CgroupSockopt {
                " (the option bytes are --optval)"
            } else {
                ""
            }
        )));
    }
    let built = match ty {
        ProgramType::CgroupSockopt => PointerContext::sockopt(given, &data, sock),
        ProgramType::SockOps => PointerContext::sock_ops(given, &data, sock),
        ProgramType::SkMsg => PointerContext::sk_msg(given, &data, sock),
        ProgramType::SkReuseport => PointerContext::sk_reuseport(given, &data, sock),
        _ => PointerContext::sock_addr(given, sock),
    };
    let mut context = built.map_err(|e| CliError::Usage(e.to_string()))?;
    let outcome = vm.run_pointers(&mut context);
    let r0 = match &outcome.result {
        Ok(r0) => *r0 as u32,
        Err(_) => return print_outcome(&outcome, args.json),
    };
    let action = ebpfvm::ctx::action_at(ty, vm.attach_type(), r0 as u64);
    if args.json {
        let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut line = json!({
            "retval": r0,
            "action": action,
            "ctx": hex(&context.ctx_out()),
            "insns": outcome.insns,
        });
        // The data the program may have written.
        match ty {
            ProgramType::CgroupSockopt => line["optval"] = json!(hex(context.data())),
            ProgramType::SkMsg => {
                line["packet"] = json!(hex(context.data()));
                // What the msg helpers recorded for after the program.
                let (apply, cork) = context.msg_bytes();
                if let Some(n) = apply {
                    line["apply_bytes"] = json!(n);
                }
                if let Some(n) = cork {
                    line["cork_bytes"] = json!(n);
                }
                if let Some(ebpfvm::Redirect::Socket {
                    map,
                    key,
                    cookie,
                    flags,
                }) = vm.last_redirect()
                {
                    line["redirect"] =
                        json!({ "map": map, "key": hex(&key), "cookie": cookie, "flags": flags });
                }
            }
            _ => {}
        }
        println!("{line}");
    } else {
        println!("{r0} ({r0:#x}) {}", action.unwrap_or(""));
    }
    Ok(ExitCode::SUCCESS)
}

/// `1,0x10,-1`: 64-bit little-endian values, one after the other.
pub fn arguments(list: &str) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    for item in list.split(',').filter(|s| !s.trim().is_empty()) {
        let value = parse_u64(item)
            .ok_or_else(|| CliError::Usage(format!("--regs: `{item}` is not a number")))?;
        bytes.extend(value.to_le_bytes());
    }
    Ok(bytes)
}

fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    let (negative, digits) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
    let value = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

pub(super) fn print_outcome(outcome: &Outcome, json: bool) -> Result<ExitCode, CliError> {
    let code = if outcome.result.is_ok() { 0 } else { 1 };
    match (&outcome.result, json) {
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

/// The `--arch` named.
pub fn arch(name: &str) -> Result<Arch, CliError> {
    name.parse()
        .map_err(|e: ebpfvm::ctx::regs::RegsError| CliError::Usage(e.to_string()))
}

pub fn run(vm: &mut Vm, args: RegsRun<'_>) -> Result<ExitCode, CliError> {
    let arch = args.arch;
    let mut regs = match (args.regs, args.ctx) {
        (_, Some(path)) => {
            let mut bytes = read_file(&path.to_path_buf())?;
            if bytes.len() > arch.kernel_size() {
                return Err(CliError::Usage(format!(
                    "--ctx: {} bytes, more than the {} of {arch}'s pt_regs",
                    bytes.len(),
                    arch.kernel_size()
                )));
            }
            bytes.resize(arch.kernel_size(), 0);
            bytes
        }
        (list, None) => {
            pt_regs(arch, list.unwrap_or("")).map_err(|e| CliError::Usage(e.to_string()))?
        }
    };
    let outcome = vm.run_context(&mut regs);
    print_outcome(&outcome, args.json)
}
