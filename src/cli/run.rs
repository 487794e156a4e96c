//! `ebpfvm run`: load, run once or `--repeat N` times, print r0 or the trap.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use ebpfvm::ctx::{AttachType, ContextKind, ProgramType};
use ebpfvm::{Outcome, Vm};
use serde_json::json;

use super::{engine_for, input, read_file, CliError, EngineChoice};

/// Program types the kernel defines that later engines will model; named here so the
/// error for them says "not yet" rather than "unknown".
const KNOWN_TYPES: &[&str] = &[
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "seccomp",
];

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The program: an assembly file (.s/.asm), a bpf_conformance test (.data), or raw
    /// little-endian bytecode (8 bytes per instruction). Not given with --filter.
    #[arg(required_unless_present = "filter")]
    program: Option<PathBuf>,
    /// The engine. Default: `jit` (bytecode, assembly, classic programs and ELF objects
    /// with their maps, tail calls and `bpf_loop`).
    #[arg(long, value_enum)]
    engine: Option<EngineChoice>,
    /// ELF objects on `--engine kernel`: which linker loads the object into the kernel.
    /// Default: `aya` when aya 0.14 can load the program (a section it knows, the
    /// section's own type and attach point, no `.values` slots), else `ebpfvm` (ours,
    /// the instructions our engines run).
    #[arg(long, value_enum)]
    loader: Option<super::kernel::LoaderChoice>,
    /// When the JIT compiles optimized code: `adaptive` (quick code first, optimized
    /// once the program has run about 32 Ki instructions per instruction slot),
    /// `quick` (never) or `optimized` (at once).
    #[arg(long, value_enum, default_value_t = JitTier::Adaptive)]
    jit_tier: JitTier,
    /// Program type, by the kernel's name in lower case; `raw` means no context: r1 =
    /// the memory, r2 = its length. Packet types (`xdp`, `sched_cls`, `sched_act`,
    /// `socket_filter`, `cgroup_skb`, `lwt_in`, `lwt_out`, `lwt_xmit`) run on `--packet` or
    /// each packet of `--pcap` with the context the kernel's BPF_PROG_TEST_RUN builds
    /// (`sk_skb`: on a stream payload from the `--sock` socket, at `--attach`'s point);
    /// JSON results then carry `retval` (low 32 bits of r0), `action` and `packet` (the
    /// packet after the run, hex). `kprobe` (`--regs`), `raw_tracepoint` (`--regs`
    /// arguments), `tracepoint` (`--tracepoint`/`--format` with `--fields`, or `--ctx`)
    /// and `perf_event` (`--regs`, `--sample-period`, `--addr`, or `--ctx`) run over
    /// their contexts; `lirc_mode2` over its `--sample`; the socket and cgroup types
    /// (`sk_lookup`, `cgroup_sock`, `cgroup_sock_addr`, `cgroup_sockopt`, `sock_ops`,
    /// `sk_msg`, `sk_reuseport`, `cgroup_device`, `cgroup_sysctl`) over their `--ctx`
    /// struct, at `--attach`'s attach point. ELF objects default to their section's type.
    #[arg(long = "type", default_value = "raw", value_name = "TYPE")]
    prog_type: String,
    /// The attach point of a `cgroup_sock`, `cgroup_sock_addr`, `cgroup_sockopt`,
    /// `sk_skb` or `sk_reuseport` program, by libbpf's section suffix (`post_bind4`,
    /// `connect6`, `sendmsg_unix`, `setsockopt`, `stream_parser`, ...): the context's
    /// rules and the return value's meaning follow it, as the kernel's follow the
    /// expected attach type. Default: `sock_create`, `connect4`, `getsockopt`,
    /// `stream_verdict`, `migrate`; for ELF objects, the section's (`cgroup/bind6`).
    #[arg(long, value_name = "NAME")]
    attach: Option<String>,
    /// Bytes the program's memory starts with (`raw`: r1 points to them). Overrides the
    /// `-- mem` of a .data file.
    #[arg(long, value_name = "FILE")]
    mem: Option<PathBuf>,
    /// Treat the program as classic BPF (`struct sock_filter` array, `tcpdump -dd` or
    /// `-ddd` text; the text forms are detected without the flag). Classic programs run
    /// as `socket_filter` (or `--type seccomp`).
    #[arg(long)]
    classic: bool,
    /// One packet (an Ethernet frame) for packet program types; for `sk_skb` the stream
    /// payload (not a frame); for `sock_ops` (a TCP header), `sk_msg` (the message) and
    /// `sk_reuseport` the bytes their pointer fields span.
    #[arg(long, value_name = "FILE")]
    packet: Option<PathBuf>,
    /// A pcap or pcapng capture: runs once per packet, one result per packet, in order.
    #[arg(long, value_name = "FILE", conflicts_with = "packet")]
    pcap: Option<PathBuf>,
    /// Raw context bytes (e.g. a 64-byte `seccomp_data` for `--type seccomp`); for packet
    /// types the `__sk_buff`/`xdp_md` given to the run as the kernel's test run takes it
    /// (JSON results then carry `ctx`, the context after the run).
    #[arg(long, value_name = "FILE")]
    ctx: Option<PathBuf>,
    /// cgroup_sockopt: the option's bytes, which `optval`..`optval_end` span (the
    /// program may rewrite them; JSON results then carry `optval`, the bytes after the
    /// run). Default: none.
    #[arg(long, value_name = "FILE")]
    optval: Option<PathBuf>,
    /// cgroup_sock_addr, sock_ops, cgroup_sockopt, sk_msg, sk_reuseport: the 80-byte
    /// `bpf_sock` the context's `sk` points to (read-only). Default: one built from the
    /// context's own fields (family, addresses, ports; zeros for cgroup_sockopt).
    /// sk_skb: the socket the payload arrived on (family, addresses, ports; default
    /// zeros). Settings for the socket helpers may follow, comma-separated
    /// (`sock.bin,cookie=7` or just `cookie=7`): `cookie` (`get_socket_cookie`, default
    /// 1; the kernel's test run gives a new counter value each run), `uid`
    /// (`get_socket_uid`, default 0), `classid` (`get_cgroup_classid`, default 0).
    #[arg(long, value_name = "FILE|SETTINGS")]
    sock: Option<String>,
    /// The socket's cgroup, for `skb_cgroup_id` and `skb_ancestor_cgroup_id`: `self`
    /// (this process's cgroup v2, as the kernel's test run charges its socket), or the
    /// cgroup ids from the root down (`1,4242`). Default: the root cgroup (id 1).
    #[arg(long, value_name = "self|IDS")]
    cgroup: Option<String>,
    /// ELF objects: write an entry into a map before the first run, `NAME:KEY=VALUE`
    /// with hex bytes in memory order (`socks:00000000=2a00000000000000`); repeatable.
    /// A socket map's value is the socket's cookie.
    #[arg(long, value_name = "NAME:KEY=VALUE", value_parser = super::map_update::parse)]
    map_update: Vec<super::map_update::MapUpdate>,
    /// kprobe and perf_event: the `pt_regs` registers, by name (`di=1,si=0x10`) or by argument
    /// position (`1,0x10`: di, si, dx, cx, r8, r9 on x86_64; x0-x7 on arm64); the
    /// others are 0. raw_tracepoint: the arguments, 64 bits each (`1,0x10`). (`--ctx
    /// FILE` gives the whole context instead.)
    #[arg(long, value_name = "LIST", conflicts_with = "ctx")]
    regs: Option<String>,
    /// tracepoint: the event whose record to build, `CATEGORY/NAME` (its format is read
    /// from tracefs, /sys/kernel/tracing/events/CATEGORY/NAME/format).
    #[arg(long, value_name = "CATEGORY/NAME", conflicts_with = "ctx")]
    tracepoint: Option<String>,
    /// tracepoint: the event's tracefs `format` file, given explicitly.
    #[arg(long, value_name = "FILE", conflicts_with = "ctx")]
    format: Option<PathBuf>,
    /// tracepoint: field values, `dfd=-100,flags=2` (numbers; text for `char` arrays and
    /// `__data_loc` strings; `args[1]=5` for an array element); the others are 0,
    /// `common_type` the event's ID.
    #[arg(long, value_name = "LIST", conflicts_with = "ctx")]
    fields: Option<String>,
    /// perf_event: `sample_period` of the `bpf_perf_event_data` (with `--regs`, `--addr`).
    #[arg(long, value_name = "N", conflicts_with = "ctx", value_parser = parse_number)]
    sample_period: Option<u64>,
    /// perf_event: `addr` of the `bpf_perf_event_data`.
    #[arg(long, value_name = "A", conflicts_with = "ctx", value_parser = parse_number)]
    addr: Option<u64>,
    /// lirc_mode2: raw IR samples, one run each: `pulse:9000,space:4500` (kinds
    /// `pulse`, `space`, `frequency`, `timeout`, `overflow`; values of 24 bits) or raw
    /// 32-bit numbers.
    #[arg(long, value_name = "LIST", conflicts_with = "ctx")]
    sample: Option<String>,
    /// kprobe: the kernel's architecture, `x86_64` (default) or `arm64`: the `pt_regs`
    /// layout, register names and argument registers, and how far a program may read.
    /// Checked for every type; the other types' contexts do not depend on it.
    #[arg(long, value_name = "ARCH", default_value = "x86_64")]
    arch: String,
    /// ELF objects: the program to run, by its function name.
    #[arg(long = "program", value_name = "NAME")]
    program_name: Option<String>,
    /// ELF objects: the program to run, by its section (when it is the only one there).
    #[arg(long, value_name = "NAME", conflicts_with = "program_name")]
    section: Option<String>,
    /// After the last run, print every map of the object on one line:
    /// {"maps": {"NAME": [["<key hex>", "<value hex>"], ...]}}, entries sorted by key.
    #[arg(long)]
    maps_json: bool,
    /// ELF objects: CPUs of per-CPU maps (default: this machine's possible CPUs).
    #[arg(long, value_name = "N")]
    cpus: Option<u32>,
    /// Run N times back to back on the same memory (not restored between runs) and
    /// report the time per run; the result printed is the last run's.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Run without the verifier. (There is no verifier yet: programs always run on the
    /// checked engine, which refuses every out-of-bounds access at run time.)
    #[arg(long)]
    no_verify: bool,
    /// Stop the program after this many instructions (a trap).
    #[arg(long, value_name = "N")]
    budget: Option<u64>,
    /// Print one JSON object per run: {"retval": ..., "insns": ..., "mem": "<hex>"}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    filter: super::classic::filter::FilterArgs,
}

pub fn run(args: RunArgs) -> Result<ExitCode, CliError> {
    let socket = super::socket::parse(args.sock.as_deref(), args.cgroup.as_deref())?;
    let Some(path) = &args.program else {
        // clap asks for PROGRAM unless --filter is given.
        let classic = super::classic::filter::compile(&args.filter, args.pcap.as_deref())?;
        let source = Path::new(super::classic::filter::SOURCE);
        return super::classic::run(classic_run(&args, source), classic);
    };
    let elf = super::elf::is_elf(path)?;
    if args.loader.is_some() && !(elf && args.engine == Some(EngineChoice::Kernel)) {
        return Err(CliError::Usage(
            "--loader chooses how an ELF object is loaded for --engine kernel; it applies \
             to nothing else"
                .into(),
        ));
    }
    if elf {
        if super::regs::arch(&args.arch)? != Default::default() {
            return Err(CliError::NotSupported(format!(
                "--arch {} for ELF objects: their kprobes run over x86_64's pt_regs",
                args.arch
            )));
        }
        let record_flags = [
            ("--tracepoint", args.tracepoint.is_some()),
            ("--format", args.format.is_some()),
            ("--fields", args.fields.is_some()),
            ("--sample-period", args.sample_period.is_some()),
            ("--addr", args.addr.is_some()),
            ("--sample", args.sample.is_some()),
        ];
        if let Some((flag, _)) = record_flags.iter().find(|(_, given)| *given) {
            return Err(CliError::NotSupported(format!(
                "{flag} for ELF objects is not supported yet: give the context with --ctx FILE"
            )));
        }
        return super::elf::run(super::elf::ElfRun {
            path,
            engine: args.engine.unwrap_or(EngineChoice::Jit),
            tiering: args.jit_tier.into(),
            prog_type: &args.prog_type,
            attach: args.attach.as_deref(),
            optval: args.optval.as_deref(),
            sock: socket.file.as_deref(),
            socket: &socket.info,
            map_updates: &args.map_update,
            program: args.program_name.as_deref(),
            section: args.section.as_deref(),
            mem: args.mem.as_deref(),
            ctx: args.ctx.as_deref(),
            packet: args.packet.is_some() || args.pcap.is_some(),
            regs: args.regs.as_deref(),
            packet_file: args.packet.as_deref(),
            pcap: args.pcap.as_deref(),
            budget: args.budget,
            repeat: args.repeat,
            json: args.json,
            maps_json: args.maps_json,
            cpus: args.cpus,
            loader: args.loader,
        });
    }
    if let Some(program) = super::classic::load(path, args.classic)? {
        if args.engine == Some(EngineChoice::Kernel) {
            return Err(super::kernel::not_for("classic BPF programs", path));
        }
        return super::classic::run(classic_run(&args, path), program);
    }
    if !args.map_update.is_empty() {
        return Err(CliError::Usage(
            "--map-update needs an ELF object (its maps)".into(),
        ));
    }
    let prog_type = check_type(&args.prog_type)?;
    let at = attach_point(prog_type, args.attach.as_deref())?;
    let loaded = input::load(path, args.classic)?;
    if args.engine == Some(EngineChoice::Kernel) {
        if super::regs::arch(&args.arch)? != Default::default() {
            return Err(CliError::NotSupported(format!(
                "--arch {} with --engine kernel: the kernel here is x86_64",
                args.arch
            )));
        }
        let source = super::kernel::Source::Program(&loaded.program);
        return match prog_type {
            Some(ty) if ebpfvm::ctx::ContextKind::of(ty).is_some() => {
                super::kernel::run_packets(source, packet_run(&args, ty), false)
            }
            // Other types run on their context bytes where the kernel can test-run them
            // (it says so where it cannot, e.g. kprobe: only its verdict compares).
            Some(ty) => {
                let ctx = match &args.ctx {
                    Some(p) => Some(read_file(p)?),
                    None => None,
                };
                super::kernel::run_memory(source, (ty, at), ctx.as_deref(), args.json, false)
            }
            None => {
                let mem = match &args.mem {
                    Some(p) => Some(read_file(p)?),
                    None => loaded.mem,
                };
                let syscall = ebpfvm::ctx::ProgramType::Syscall;
                let syscall = (syscall, None);
                super::kernel::run_memory(source, syscall, mem.as_deref(), args.json, false)
            }
        };
    }
    let engine = engine_for(args.engine.unwrap_or(EngineChoice::Jit))?;
    let load_error = |e: ebpfvm::Error| CliError::Load {
        path: path.clone(),
        message: e.to_string(),
    };
    if let Some(ty) = prog_type {
        let extent = ebpfvm::ctx::context_extent(&loaded.program);
        // The name is checked for every type (as for ELF objects); only kprobe and
        // perf_event contexts depend on it, so the others keep x86_64's rules.
        let arch = match (ty, super::regs::arch(&args.arch)?) {
            (ProgramType::Kprobe | ProgramType::PerfEvent, arch) => arch,
            _ => Default::default(),
        };
        if ty == ProgramType::PerfEvent && arch != Default::default() {
            return Err(CliError::NotSupported(format!(
                "perf_event programs for {arch}: bpf_perf_event_data is modelled for x86_64"
            )));
        }
        // Loading checks and rewrites the context accesses as the kernel verifier does,
        // so its refusals show even for the types that cannot run.
        let mut vm = Vm::typed(loaded.program, ty, at, arch).map_err(load_error)?;
        vm.set_socket(socket.info.clone());
        vm.set_budget(args.budget);
        vm.set_jit_tiering(args.jit_tier.into());
        vm.set_engine(engine).map_err(load_error)?;
        let (regs, ctx, json) = (args.regs.as_deref(), args.ctx.as_deref(), args.json);
        return match ty {
            ProgramType::RawTracepoint => {
                super::regs::run_raw_tracepoint(&mut vm, regs, ctx, extent, json)
            }
            ProgramType::Tracepoint | ProgramType::PerfEvent => super::trace::run(
                &mut vm,
                super::trace::RecordRun {
                    ty,
                    ctx,
                    tracepoint: args.tracepoint.as_deref(),
                    format: args.format.as_deref(),
                    fields: args.fields.as_deref(),
                    regs,
                    sample_period: args.sample_period,
                    addr: args.addr,
                    extent,
                    json,
                },
            ),
            ProgramType::Kprobe => super::regs::run(
                &mut vm,
                super::regs::RegsRun {
                    regs,
                    arch,
                    ctx,
                    json,
                },
            ),
            ProgramType::LircMode2 => super::lirc::run(&mut vm, args.sample.as_deref(), ctx, json),
            t if STRUCT_TYPES.contains(&t) => {
                let inputs = super::regs::StructRun {
                    ctx,
                    packet: args.packet.as_deref(),
                    optval: args.optval.as_deref(),
                    sock: socket.file.as_deref(),
                    json,
                };
                super::regs::run_struct(&mut vm, ty, &inputs)
            }
            ProgramType::SkSkb => {
                let sock = socket.file.as_ref().map(read_file).transpose()?;
                super::packet::run_with(&mut vm, packet_run(&args, ty), sock.as_deref())
            }
            _ => super::packet::run(&mut vm, packet_run(&args, ty)),
        };
    }
    let mut mem = match &args.mem {
        Some(path) => Some(read_file(path)?),
        None => loaded.mem,
    };
    let mut vm = Vm::new(loaded.program).map_err(load_error)?;
    vm.set_budget(args.budget);
    vm.set_jit_tiering(args.jit_tier.into());
    vm.set_engine(engine).map_err(load_error)?;
    let compile_ns = vm.compile_time().map(|t| t.as_nanos() as u64);

    let mut buffer = mem.take().unwrap_or_default();
    let start = Instant::now();
    let mut outcome = vm.run(&mut buffer);
    let mut runs = 1;
    let mut total_insns = outcome.insns;
    while runs < args.repeat && outcome.result.is_ok() {
        outcome = vm.run(&mut buffer);
        runs += 1;
        total_insns += outcome.insns;
    }
    let elapsed = start.elapsed().as_nanos() as f64;
    let given_mem = args.mem.is_some() || path.extension().is_some_and(|e| e == "data");
    let timing = (args.repeat > 1).then(|| Timing {
        runs,
        ns_per_run: elapsed / runs as f64,
        ns_per_insn: if total_insns == 0 {
            0.0
        } else {
            elapsed / total_insns as f64
        },
    });
    report(
        &outcome,
        given_mem.then_some(&buffer[..]),
        timing,
        compile_ns,
        args.json,
    )
}

/// What a classic program (`program` names it in errors) runs with.
fn classic_run<'a>(args: &'a RunArgs, program: &'a Path) -> super::classic::ClassicRun<'a> {
    super::classic::ClassicRun {
        program,
        engine: args.engine.unwrap_or(EngineChoice::Jit),
        prog_type: &args.prog_type,
        packet: args.packet.as_deref(),
        pcap: args.pcap.as_deref(),
        ctx: args.ctx.as_deref(),
        mem: args.mem.as_deref(),
        budget: args.budget,
        repeat: args.repeat,
        json: args.json,
    }
}

struct Timing {
    runs: u64,
    ns_per_run: f64,
    ns_per_insn: f64,
}

/// Types whose context is its own backing model, run by `regs.rs`.
const OWN_MODEL: &[ProgramType] = &[
    ProgramType::Kprobe,
    ProgramType::RawTracepoint,
    ProgramType::Tracepoint,
    ProgramType::PerfEvent,
    ProgramType::SkLookup,
    ProgramType::CgroupSock,
    ProgramType::CgroupSockAddr,
    ProgramType::SockOps,
    ProgramType::CgroupDevice,
    ProgramType::CgroupSysctl,
    ProgramType::CgroupSockopt,
    ProgramType::LircMode2,
    ProgramType::SkMsg,
    ProgramType::SkReuseport,
];

/// Types that run on a uapi struct given with `--ctx` (`regs::run_struct`).
const STRUCT_TYPES: &[ProgramType] = &[
    ProgramType::SkLookup,
    ProgramType::CgroupSock,
    ProgramType::CgroupSockAddr,
    ProgramType::SockOps,
    ProgramType::CgroupDevice,
    ProgramType::CgroupSysctl,
    ProgramType::CgroupSockopt,
    ProgramType::SkMsg,
    ProgramType::SkReuseport,
];

/// The attach point `--attach` names for `ty` (`None` when not given: the type's
/// default); refused for types with one attach point.
pub(super) fn attach_point(
    ty: Option<ProgramType>,
    name: Option<&str>,
) -> Result<Option<AttachType>, CliError> {
    let (Some(ty), Some(name)) = (ty, name) else {
        return match name {
            Some(_) => Err(CliError::Usage(
                "--attach needs a program type (--type, or an ELF section)".into(),
            )),
            None => Ok(None),
        };
    };
    AttachType::parse(ty, name)
        .map(Some)
        .map_err(|e| CliError::Usage(format!("--attach: {e}")))
}

/// Whether `--type` takes `ty`.
fn modelled(ty: ProgramType) -> bool {
    ContextKind::of(ty).is_some() || OWN_MODEL.contains(&ty)
}

/// The program type named, `None` for `raw`; types without a modelled context are
/// refused as not supported yet.
fn check_type(name: &str) -> Result<Option<ProgramType>, CliError> {
    if name == "raw" {
        return Ok(None);
    }
    match name.parse::<ProgramType>() {
        Ok(ty) if modelled(ty) => return Ok(Some(ty)),
        _ => {}
    }
    if KNOWN_TYPES.contains(&name) {
        let modelled: Vec<&str> = ProgramType::ALL
            .iter()
            .filter(|&&t| modelled(t))
            .map(|t| t.name())
            .collect();
        Err(CliError::NotSupported(format!(
            "program type `{name}` is not supported yet for eBPF programs; modelled: raw, {}",
            modelled.join(", ")
        )))
    } else {
        Err(CliError::Usage(format!(
            "unknown program type `{name}`; known: raw, {}",
            KNOWN_TYPES.join(", ")
        )))
    }
}

/// A decimal or `0x` hexadecimal u64.
fn parse_number(text: &str) -> Result<u64, String> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|_| format!("`{text}` is not a number"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn report(
    outcome: &Outcome,
    mem: Option<&[u8]>,
    timing: Option<Timing>,
    compile_ns: Option<u64>,
    as_json: bool,
) -> Result<ExitCode, CliError> {
    let code = if outcome.result.is_ok() { 0 } else { 1 };
    if as_json {
        let mut line = match &outcome.result {
            Ok(r0) => json!({ "retval": r0, "insns": outcome.insns }),
            Err(trap) => json!({
                "trap": { "pc": trap.pc, "message": trap.to_string() },
                "insns": outcome.insns,
            }),
        };
        if let Some(mem) = mem {
            line["mem"] = json!(hex(mem));
        }
        if let Some(ns) = compile_ns {
            line["compile_ns"] = json!(ns);
        }
        if let Some(t) = &timing {
            line["runs"] = json!(t.runs);
            line["ns_per_run"] = json!(t.ns_per_run);
            line["ns_per_insn"] = json!(t.ns_per_insn);
        }
        println!("{line}");
    } else {
        match &outcome.result {
            Ok(r0) => println!("{r0} ({r0:#x})"),
            Err(trap) => eprintln!("{trap}"),
        }
        if let Some(t) = timing {
            println!(
                "{} runs: {:.1} ns/run, {:.2} ns/insn, {} insns/run",
                t.runs, t.ns_per_run, t.ns_per_insn, outcome.insns
            );
        }
    }
    Ok(ExitCode::from(code))
}

/// The packet inputs of a packet-type run.
fn packet_run(args: &RunArgs, ty: ebpfvm::ctx::ProgramType) -> super::packet::PacketRun<'_> {
    super::packet::PacketRun {
        ty,
        packet: args.packet.as_deref(),
        pcap: args.pcap.as_deref(),
        ctx: args.ctx.as_deref(),
        repeat: args.repeat,
        json: args.json,
    }
}

/// `--jit-tier`: [`ebpfvm::jit::Tiering`] on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum JitTier {
    Adaptive,
    Quick,
    Optimized,
}

impl From<JitTier> for ebpfvm::jit::Tiering {
    fn from(tier: JitTier) -> ebpfvm::jit::Tiering {
        match tier {
            JitTier::Adaptive => ebpfvm::jit::Tiering::Adaptive,
            JitTier::Quick => ebpfvm::jit::Tiering::Quick,
            JitTier::Optimized => ebpfvm::jit::Tiering::Optimized,
        }
    }
}
