//! `ebpfvm run --type T --packet F | --pcap F` for eBPF programs of packet types
//! (`xdp`, `sched_cls`, `sched_act`, `socket_filter`, `cgroup_skb`, `lwt_in`, `lwt_out`,
//! `lwt_xmit`): each packet becomes the context the kernel's `BPF_PROG_TEST_RUN` would
//! build (with `--ctx FILE`, the uapi context given as the test run's `ctx_in`); the
//! result is the return value (the low 32 bits of r0, as the kernel reports it), its
//! named action, the packet after the run, with `--ctx` the context after it, and
//! `redirect` when the program redirected the packet: `ifindex` and `flags` for
//! `bpf_redirect`, `map`, `key` and `flags` for `bpf_redirect_map`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ebpfvm::ctx::{action_at, AttachType, PacketContext, PacketError, ProgramType};
use ebpfvm::{Redirect, Trap, Vm};
use serde_json::{json, Value};

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

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The packets to run over, in order.
pub(super) fn packets(args: &PacketRun<'_>) -> Result<Vec<Vec<u8>>, CliError> {
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
    run_with(vm, args, None)
}

/// [`run`] with the `struct bpf_sock` an `sk_skb` payload arrived on (`--sock`).
pub fn run_with(
    vm: &mut Vm,
    args: PacketRun<'_>,
    sock: Option<&[u8]>,
) -> Result<ExitCode, CliError> {
    let packets = packets(&args)?;
    let at = vm.attach_type();
    let ctx_in = args
        .ctx
        .map(|path| read_file(&path.to_path_buf()))
        .transpose()?;
    let mut trapped = false;
    let mut refused = 0;
    for (index, bytes) in packets.iter().enumerate() {
        let in_capture = args.pcap.is_some();
        let made = context_for(args.ty, bytes, ctx_in.as_deref(), sock, index, in_capture);
        let context = match made {
            Ok(context) => context,
            // One bad packet of a capture does not stop the others.
            Err(e) if in_capture => {
                report_refusal(&e, index, args.json);
                refused += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let start = Instant::now();
        let mut result = run_once(vm, &context, ctx_in.is_some());
        for _ in 1..args.repeat {
            if result.result.is_err() {
                break;
            }
            result = run_once(vm, &context, ctx_in.is_some());
        }
        let ns_per_run = start.elapsed().as_nanos() as f64 / args.repeat as f64;
        trapped |= result.result.is_err();
        let index = args.pcap.is_some().then_some(index);
        report_at(args.ty, at, &result, index, args.json);
        if args.repeat > 1 && !args.json {
            println!("{} runs: {ns_per_run:.1} ns/run", args.repeat);
        }
    }
    match refused {
        1.. => Err(refused_packets(refused)),
        0 => Ok(ExitCode::from(if trapped { 1 } else { 0 })),
    }
}

/// The error (exit status 2) after a capture some of whose packets were refused.
pub(super) fn refused_packets(count: usize) -> CliError {
    CliError::Usage(format!(
        "{count} packet(s) of the capture refused (see above); the others ran"
    ))
}

/// Says that packet `index` of a capture was refused (the kernel's test run refuses it
/// too): `{"index": N, "error": "..."}` with `--json`, a line on stderr otherwise.
pub(super) fn report_refusal(error: &CliError, index: usize, as_json: bool) {
    if as_json {
        println!("{}", json!({ "index": index, "error": error.to_string() }));
    } else {
        eprintln!("error: {error}");
    }
}

/// The context BPF_PROG_TEST_RUN would build for `bytes` (packet `index` of a capture),
/// from the uapi context `ctx_in` when one is given.
pub(super) fn context(
    ty: ProgramType,
    bytes: &[u8],
    ctx_in: Option<&[u8]>,
    index: usize,
    in_capture: bool,
) -> Result<PacketContext, CliError> {
    context_for(ty, bytes, ctx_in, None, index, in_capture)
}

/// [`context`] with the socket an `sk_skb` payload arrived on (`sock`, a `struct
/// bpf_sock`; other types have none to give).
pub(super) fn context_for(
    ty: ProgramType,
    bytes: &[u8],
    ctx_in: Option<&[u8]>,
    sock: Option<&[u8]>,
    index: usize,
    in_capture: bool,
) -> Result<PacketContext, CliError> {
    let context = match (ctx_in, sock) {
        (None, Some(sock)) if ty == ProgramType::SkSkb => PacketContext::sk_skb(bytes, Some(sock)),
        (None, Some(_)) => Err(PacketError::Unsupported(format!(
            "--sock for {ty} programs (the kernel's test run gives them a socket of its own)"
        ))),
        (Some(ctx_in), _) => PacketContext::with_ctx(ty, bytes, ctx_in),
        (None, None) => PacketContext::new(ty, bytes),
    };
    context.map_err(|e| {
        let message = match in_capture {
            true => format!("packet {index}: {e}"),
            false => e.to_string(),
        };
        match e {
            PacketError::Unsupported(_) => CliError::NotSupported(message),
            _ => CliError::Usage(message),
        }
    })
}

/// Runs `vm` once on a fresh copy of `context`; `with_ctx` also returns the context
/// after the run (as the kernel's `ctx_out`).
pub(super) fn run_once(vm: &mut Vm, context: &PacketContext, with_ctx: bool) -> PacketResult {
    let mut ctx = context.clone();
    let outcome = vm.run_packet(&mut ctx);
    PacketResult {
        result: outcome.result,
        insns: Some(outcome.insns),
        packet: ctx.packet_out().to_vec(),
        ctx: with_ctx.then(|| ctx.ctx_out().to_vec()),
        redirect: vm.last_redirect(),
    }
}

/// One packet's result on any engine (the kernel counts no instructions and never traps).
#[derive(Clone, Debug)]
pub(super) struct PacketResult {
    /// r0, or the trap that stopped the run.
    pub result: Result<u64, Trap>,
    /// Instructions executed (our engines).
    pub insns: Option<u64>,
    /// The packet after the run.
    pub packet: Vec<u8>,
    /// The uapi context after the run, when one was given.
    pub ctx: Option<Vec<u8>>,
    /// Where `bpf_redirect`/`bpf_redirect_map` sent the packet (our engines record it;
    /// the kernel's test run does not report it).
    pub redirect: Option<Redirect>,
}

impl PacketResult {
    /// What the kernel reports and what engines must agree on: the low 32 bits of r0,
    /// the packet and the context after the run, or the trap's message.
    pub fn observed(&self) -> (Result<u32, String>, &[u8], Option<&[u8]>) {
        let result = match &self.result {
            Ok(r0) => Ok(*r0 as u32),
            Err(trap) => Err(trap.to_string()),
        };
        (result, &self.packet, self.ctx.as_deref())
    }

    /// The result as one JSON object.
    pub fn to_json(&self, ty: ProgramType) -> Value {
        self.to_json_at(ty, None)
    }

    /// [`PacketResult::to_json`] for a program attached at `at` (the action's name
    /// follows it: an `sk_skb` stream parser returns a length).
    pub fn to_json_at(&self, ty: ProgramType, at: Option<AttachType>) -> Value {
        let mut line = match &self.result {
            Ok(r0) => json!({
                "retval": *r0 as u32,
                "action": action_at(ty, at, *r0),
                "packet": hex(&self.packet),
            }),
            Err(trap) => json!({ "trap": { "pc": trap.pc, "message": trap.to_string() } }),
        };
        if let (Some(ctx), Ok(_)) = (&self.ctx, &self.result) {
            line["ctx"] = json!(hex(ctx));
        }
        if let (Some(r), Ok(_)) = (&self.redirect, &self.result) {
            line["redirect"] = match r {
                Redirect::Device { ifindex, flags } => {
                    json!({ "ifindex": ifindex, "flags": flags })
                }
                Redirect::Map { map, key, flags } => {
                    json!({ "map": map, "key": key, "flags": flags })
                }
                Redirect::Socket {
                    map,
                    key,
                    cookie,
                    flags,
                } => {
                    json!({ "map": map, "key": hex(key), "cookie": cookie, "flags": flags })
                }
            };
        }
        if let Some(insns) = self.insns {
            line["insns"] = json!(insns);
        }
        line
    }
}

/// Prints one packet's result: a JSON line, or `retval (hex) ACTION` for people.
pub(super) fn report(ty: ProgramType, result: &PacketResult, index: Option<usize>, as_json: bool) {
    report_at(ty, None, result, index, as_json)
}

/// [`report`] for a program attached at `at`.
pub(super) fn report_at(
    ty: ProgramType,
    at: Option<AttachType>,
    result: &PacketResult,
    index: Option<usize>,
    as_json: bool,
) {
    if as_json {
        let mut line = result.to_json_at(ty, at);
        if let Some(i) = index {
            line["index"] = json!(i);
        }
        println!("{line}");
        return;
    }
    match &result.result {
        Ok(r0) => {
            let retval = *r0 as u32;
            let prefix = index.map(|i| format!("packet {i}: ")).unwrap_or_default();
            let name = action_at(ty, at, *r0).unwrap_or("(no named action)");
            println!("{prefix}{retval} ({retval:#x}) {name}");
        }
        Err(trap) => eprintln!("{trap}"),
    }
}
