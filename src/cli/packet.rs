//! `ebpfvm run --type T --packet F | --pcap F` for eBPF programs of packet types
//! (`xdp`, `sched_cls`, `sched_act`, `socket_filter`, `cgroup_skb`, `lwt_in`, `lwt_out`,
//! `lwt_xmit`): each packet becomes the context the kernel's `BPF_PROG_TEST_RUN` would
//! build (with `--ctx FILE`, the uapi context given as the test run's `ctx_in`); the
//! result is the return value (the low 32 bits of r0, as the kernel reports it), its
//! named action, the packet after the run, with `--ctx` the context after it, and
//! `redirect` (`ifindex`, `flags`) when the program called `bpf_redirect`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ebpfvm::ctx::{action, PacketContext, PacketError, ProgramType};
use ebpfvm::{Outcome, Redirect, Vm};
use serde_json::json;

use super::{read_file, CliError};

/// What `run` passes on for a packet-type program.
pub struct PacketRun<'a> {
    pub ty: ProgramType,
    pub packet: Option<&'a Path>,
    pub pcap: Option<&'a Path>,
    /// The uapi context given with each packet (`ctx_in`).
    pub ctx: Option<&'a Path>,
    pub repeat: u64,
    pub json: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The packets to run over, in order.
fn packets(args: &PacketRun<'_>) -> Result<Vec<Vec<u8>>, CliError> {
    match (args.packet, args.pcap) {
        (Some(path), None) => Ok(vec![read_file(&path.to_path_buf())?]),
        (None, Some(path)) => Ok(super::classic::pcap::read(path)?
            .into_iter()
            .map(|p| p.bytes)
            .collect()),
        _ => Err(CliError::Usage(format!(
            "a `{}` program runs on a packet: give --packet FILE or --pcap FILE",
            args.ty
        ))),
    }
}

/// Runs `vm` (loaded for `args.ty`) once per packet and prints one result per packet.
pub fn run(vm: &mut Vm, args: PacketRun<'_>) -> Result<ExitCode, CliError> {
    let packets = packets(&args)?;
    let ctx_in = args
        .ctx
        .map(|path| read_file(&path.to_path_buf()))
        .transpose()?;
    let mut trapped = false;
    for (index, bytes) in packets.iter().enumerate() {
        let context = match &ctx_in {
            Some(ctx_in) => PacketContext::with_ctx(args.ty, bytes, ctx_in),
            None => PacketContext::new(args.ty, bytes),
        };
        let context = context.map_err(|e| {
            let message = match args.pcap {
                Some(_) => format!("packet {index}: {e}"),
                None => e.to_string(),
            };
            match e {
                PacketError::Unsupported(_) => CliError::NotSupported(message),
                _ => CliError::Usage(message),
            }
        })?;
        let start = Instant::now();
        let mut ctx = context.clone();
        let mut outcome = vm.run_packet(&mut ctx);
        for _ in 1..args.repeat {
            if outcome.result.is_err() {
                break;
            }
            ctx = context.clone();
            outcome = vm.run_packet(&mut ctx);
        }
        let ns_per_run = start.elapsed().as_nanos() as f64 / args.repeat as f64;
        trapped |= outcome.result.is_err();
        let index = args.pcap.is_some().then_some(index);
        let ctx_out = args.ctx.is_some().then(|| ctx.ctx_out());
        let extra = Extra {
            ctx: ctx_out.as_deref(),
            redirect: vm.last_redirect(),
            index,
        };
        report(args.ty, &outcome, &ctx.packet_out(), extra, args.json);
        if args.repeat > 1 && !args.json {
            println!("{} runs: {ns_per_run:.1} ns/run", args.repeat);
        }
    }
    Ok(ExitCode::from(if trapped { 1 } else { 0 }))
}

/// What a result line may carry besides the value and the packet.
struct Extra<'a> {
    ctx: Option<&'a [u8]>,
    redirect: Option<Redirect>,
    index: Option<usize>,
}

fn report(ty: ProgramType, outcome: &Outcome, packet: &[u8], extra: Extra<'_>, as_json: bool) {
    let index = extra.index;
    let result = outcome
        .result
        .as_ref()
        .map(|&r0| (r0 as u32, action(ty, r0)));
    if as_json {
        let mut line = match &result {
            Ok((retval, name)) => json!({
                "retval": retval,
                "action": name,
                "packet": hex(packet),
                "insns": outcome.insns,
            }),
            Err(trap) => json!({
                "trap": { "pc": trap.pc, "message": trap.to_string() },
                "insns": outcome.insns,
            }),
        };
        if let (Some(ctx), Ok(_)) = (extra.ctx, &result) {
            line["ctx"] = json!(hex(ctx));
        }
        if let (Some(r), Ok(_)) = (extra.redirect, &result) {
            line["redirect"] = json!({ "ifindex": r.ifindex, "flags": r.flags });
        }
        if let Some(i) = index {
            line["index"] = json!(i);
        }
        println!("{line}");
        return;
    }
    match result {
        Ok((retval, name)) => {
            let prefix = index.map(|i| format!("packet {i}: ")).unwrap_or_default();
            println!(
                "{prefix}{retval} ({retval:#x}) {}",
                name.unwrap_or("(no named action)")
            );
        }
        Err(trap) => eprintln!("{trap}"),
    }
}
