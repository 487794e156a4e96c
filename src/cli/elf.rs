//! `ebpfvm run` for ELF objects: choose the program (`--program`, `--section`, or the
//! only one), create the object's maps, run, print the result, the `bpf_trace_printk`
//! lines, and with `--maps-json` every map's entries after the last run.
//!
//! Program types whose context is plain memory run today (`kprobe`, `tracepoint`,
//! `raw_tracepoint`, `perf_event`, `syscall`, and sections libbpf does not name, which
//! run as `raw`): r1 points to the `--ctx` (or `--mem`) bytes, r2 holds their length;
//! `--regs` builds a kprobe's `pt_regs` (a raw tracepoint's arguments) instead.
//! Packet types (`xdp`, `sched_cls`, ...) run on `--packet`/`--pcap` through
//! [`super::packet`]; the socket and cgroup types (`cgroup/connect4`, `sockops`, ...) on
//! their `--ctx` struct at their section's attach point, through [`super::regs`]. For
//! ELF objects `--type raw` (the default) means the section's type.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ebpfvm::ctx::regs::{pt_regs, Arch};
use ebpfvm::ctx::{AttachType, ContextKind};
use ebpfvm::elf::{Object, ProgramType};
use ebpfvm::{Outcome, Program, Select, Vm};
use serde_json::{json, Map, Value};

use super::{engine_for, read_file, CliError, EngineChoice};

/// What `run` passes on for an ELF object.
pub struct ElfRun<'a> {
    pub path: &'a Path,
    pub engine: EngineChoice,
    /// `--jit-tier`.
    pub tiering: ebpfvm::jit::Tiering,
    pub prog_type: &'a str,
    /// `--attach`: the attach point (default: the section's).
    pub attach: Option<&'a str>,
    /// `--optval` and `--sock` (socket and cgroup struct types).
    pub optval: Option<&'a Path>,
    pub sock: Option<&'a Path>,
    /// `--sock` settings and `--cgroup`: what the socket helpers answer.
    pub socket: &'a ebpfvm::SocketInfo,
    /// `--map-update`: entries written into the maps before the first run.
    pub map_updates: &'a [super::map_update::MapUpdate],
    pub program: Option<&'a str>,
    pub section: Option<&'a str>,
    pub mem: Option<&'a Path>,
    pub ctx: Option<&'a Path>,
    pub packet: bool,
    /// kprobe `--regs` (raw tracepoints: the arguments).
    pub regs: Option<&'a str>,
    pub packet_file: Option<&'a Path>,
    pub pcap: Option<&'a Path>,
    pub budget: Option<u64>,
    pub repeat: u64,
    pub json: bool,
    pub maps_json: bool,
    pub cpus: Option<u32>,
    /// `--loader` for `--engine kernel` (default: aya where it can).
    pub loader: Option<super::kernel::LoaderChoice>,
}

/// Whether `path` is an ELF file (by its magic).
pub fn is_elf(path: &Path) -> Result<bool, CliError> {
    Ok(read_file(&path.to_path_buf())?.starts_with(b"\x7fELF"))
}

fn load_error(path: &Path, message: impl ToString) -> CliError {
    CliError::Load {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The object's only program, linked (for commands that show a program: `disasm`).
pub fn only_program(path: &Path) -> Result<Program, CliError> {
    let bytes = read_file(&path.to_path_buf())?;
    let vm = Vm::from_elf(&bytes, Select::Only, 1).map_err(|e| load_error(path, e))?;
    Ok(vm.program().clone())
}

/// The possible CPUs of this machine (what the kernel sizes per-CPU values by).
fn host_cpus() -> u32 {
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok();
    let parsed = possible.and_then(|s| {
        let last = s.trim().rsplit([',', '-']).next()?.parse::<u32>().ok()?;
        Some(last + 1)
    });
    parsed.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
}

/// Types whose context is plain memory.
fn memory_context(t: ProgramType) -> bool {
    matches!(
        t,
        ProgramType::Kprobe
            | ProgramType::Tracepoint
            | ProgramType::RawTracepoint
            | ProgramType::RawTracepointWritable
            | ProgramType::PerfEvent
            | ProgramType::Syscall
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn run(args: ElfRun<'_>) -> Result<ExitCode, CliError> {
    let bytes = read_file(&args.path.to_path_buf())?;
    let select = match (args.program, args.section) {
        (Some(p), _) => Select::Program(p),
        (None, Some(s)) => Select::Section(s),
        (None, None) => Select::Only,
    };
    let cpus = args.cpus.unwrap_or_else(host_cpus).max(1);
    let mut vm = Vm::from_elf(&bytes, select, cpus).map_err(|e| load_error(args.path, e))?;
    let chosen = vm.elf_program().cloned();
    let section_type = chosen.as_ref().and_then(|p| p.prog_type);
    let prog_type = match args.prog_type {
        "raw" => section_type,
        name => Some(
            name.parse::<ProgramType>()
                .map_err(|e| CliError::Usage(e.to_string()))?,
        ),
    };
    // The attach point: `--attach`, else the section's (`cgroup/connect6`).
    let at = super::run::attach_point(prog_type, args.attach)?.or_else(|| {
        let section = chosen.as_ref()?.section.as_str();
        AttachType::from_section(section).filter(|a| Some(a.prog_type()) == prog_type)
    });
    if args.engine == EngineChoice::Kernel {
        if !args.map_updates.is_empty() {
            return Err(CliError::NotSupported(
                "--map-update with --engine kernel is not supported yet".into(),
            ));
        }
        // Only our loader takes a type or attach point other than the section's.
        let section_at = chosen.as_ref().and_then(|p| {
            AttachType::from_section(&p.section).filter(|a| Some(a.prog_type()) == section_type)
        });
        let overridden = prog_type != section_type || at != section_at;
        return run_in_kernel(
            &args,
            &bytes,
            chosen.map(|p| p.name),
            (prog_type, at),
            overridden,
        );
    }
    let engine = engine_for(args.engine)?;
    if let Some(ty) = prog_type.filter(|&t| ContextKind::of(t).is_some()) {
        return run_packet(&args, &bytes, select, cpus, (ty, at));
    }
    if let Some(ty) = prog_type.filter(|&t| ebpfvm::ctx::is_socket_struct(t)) {
        return run_struct(&args, &bytes, select, cpus, (ty, at));
    }
    if let Some(t) = prog_type.filter(|&t| !memory_context(t)) {
        let (name, section) = chosen.map(|p| (p.name, p.section)).unwrap_or_default();
        return Err(CliError::NotSupported(format!(
            "program `{name}` (section `{section}`) is a `{t}` program: running `{t}` programs needs \
             their kernel context, which is not modelled yet. Runnable today: programs whose \
             context is plain memory (kprobe, tracepoint, raw_tracepoint, perf_event, syscall, and \
             sections libbpf does not name), with --ctx or --mem"
        )));
    }
    if args.packet {
        return Err(CliError::NotSupported(
            "--packet and --pcap need a packet program type, which ELF programs cannot run yet"
                .into(),
        ));
    }
    super::map_update::apply(&vm, args.map_updates)?;
    vm.set_budget(args.budget);
    vm.set_jit_tiering(args.tiering);
    vm.set_engine(engine)
        .map_err(|e| load_error(args.path, e))?;
    let compile_ns = vm.compile_time().map(|t| t.as_nanos() as u64);
    let given = args.ctx.or(args.mem);
    let mut buffer = match (given, args.regs) {
        (Some(p), _) => read_file(&p.to_path_buf())?,
        // kprobe: a pt_regs from --regs (raw tracepoints: the arguments).
        (None, Some(list)) if prog_type == Some(ProgramType::Kprobe) => {
            pt_regs(Arch::default(), list).map_err(|e| CliError::Usage(e.to_string()))?
        }
        (None, Some(list)) => super::regs::arguments(list)?,
        (None, None) => Vec::new(),
    };
    let start = Instant::now();
    let mut outcome = vm.run(&mut buffer);
    let mut runs = 1;
    while runs < args.repeat && outcome.result.is_ok() {
        outcome = vm.run(&mut buffer);
        runs += 1;
    }
    let ns_per_run = start.elapsed().as_nanos() as f64 / runs as f64;
    let trace = vm.kernel().take_trace();
    report(
        &outcome,
        given.is_some().then_some(&buffer[..]),
        &trace,
        (args.repeat > 1).then_some((runs, ns_per_run)),
        compile_ns,
        args.json,
    );
    if args.maps_json {
        println!("{}", maps_json(vm.map_entries()));
    }
    Ok(ExitCode::from(if outcome.result.is_ok() { 0 } else { 1 }))
}

/// `--engine kernel`: the chosen program and its object's maps loaded into the kernel;
/// packet types run on each packet, the others on `--ctx`/`--mem` as their context.
fn run_in_kernel(
    args: &ElfRun<'_>,
    bytes: &[u8],
    name: Option<String>,
    (prog_type, at): (Option<ProgramType>, Option<AttachType>),
    overridden: bool,
) -> Result<ExitCode, CliError> {
    use super::kernel::{self, Source};
    let object = Object::parse(bytes).map_err(|e| load_error(args.path, e))?;
    let name = name.unwrap_or_default();
    let loader = kernel::choose_loader(args.loader, (bytes, &object, &name), overridden)?;
    let source = Source::Object {
        bytes,
        object: &object,
        name: &name,
        loader,
    };
    let ty = prog_type.unwrap_or(ProgramType::Syscall);
    if ContextKind::of(ty).is_some() {
        let run = super::packet::PacketRun {
            ty,
            packet: args.packet_file,
            pcap: args.pcap,
            ctx: args.ctx,
            repeat: args.repeat,
            json: args.json,
        };
        return kernel::run_packets(source, run, args.maps_json);
    }
    let given = match args.ctx.or(args.mem) {
        Some(p) => Some(read_file(&p.to_path_buf())?),
        None => None,
    };
    kernel::run_memory(
        source,
        (ty, at),
        given.as_deref(),
        args.json,
        args.maps_json,
    )
}

/// A program of a packet type: its context accesses rewritten, run on each packet.
fn run_packet(
    args: &ElfRun<'_>,
    bytes: &[u8],
    select: Select<'_>,
    cpus: u32,
    (ty, at): (ProgramType, Option<AttachType>),
) -> Result<ExitCode, CliError> {
    let object = Object::parse(bytes).map_err(|e| load_error(args.path, e))?;
    let mut vm = Vm::from_object_at(&object, select, cpus, Some(ty), at)
        .map_err(|e| load_error(args.path, e))?;
    vm.set_socket(args.socket.clone());
    super::map_update::apply(&vm, args.map_updates)?;
    let sock = match (ty, args.sock) {
        (ProgramType::SkSkb, Some(p)) => Some(read_file(&p.to_path_buf())?),
        _ => None,
    };
    vm.set_budget(args.budget);
    vm.set_jit_tiering(args.tiering);
    vm.set_engine(engine_for(args.engine)?)
        .map_err(|e| load_error(args.path, e))?;
    let result = super::packet::run_with(
        &mut vm,
        super::packet::PacketRun {
            ty,
            packet: args.packet_file,
            pcap: args.pcap,
            ctx: args.ctx,
            repeat: args.repeat,
            json: args.json,
        },
        sock.as_deref(),
    );
    // Maps persist across the packets of one run; their contents after the last one
    // (also when a packet of the capture was refused).
    if args.maps_json {
        println!("{}", maps_json(vm.map_entries()));
    }
    result
}

/// A program whose context is a socket or cgroup struct (`cgroup/connect4`, `sockops`,
/// `cgroup/sysctl`, ...): its context accesses checked and rewritten for its attach
/// point, run on the `--ctx` struct as `run --type` runs it.
fn run_struct(
    args: &ElfRun<'_>,
    bytes: &[u8],
    select: Select<'_>,
    cpus: u32,
    (ty, at): (ProgramType, Option<AttachType>),
) -> Result<ExitCode, CliError> {
    let object = Object::parse(bytes).map_err(|e| load_error(args.path, e))?;
    let mut vm = Vm::from_object_at(&object, select, cpus, Some(ty), at)
        .map_err(|e| load_error(args.path, e))?;
    vm.set_socket(args.socket.clone());
    super::map_update::apply(&vm, args.map_updates)?;
    vm.set_budget(args.budget);
    vm.set_jit_tiering(args.tiering);
    vm.set_engine(engine_for(args.engine)?)
        .map_err(|e| load_error(args.path, e))?;
    let inputs = super::regs::StructRun {
        ctx: args.ctx,
        packet: args.packet_file,
        optval: args.optval,
        sock: args.sock,
        json: args.json,
    };
    let result = super::regs::run_struct(&mut vm, ty, &inputs);
    if args.maps_json {
        println!("{}", maps_json(vm.map_entries()));
    }
    result
}

/// `{"maps": {"NAME": [["<key hex>", "<value hex>"], ...]}}`, as cli.md gives it.
pub(super) fn maps_json(maps: super::kernel::MapContents) -> Value {
    let mut all = Map::new();
    for (name, entries) in maps {
        let list: Vec<Value> = entries
            .iter()
            .map(|(k, v)| json!([hex(k), hex(v)]))
            .collect();
        all.insert(name, Value::Array(list));
    }
    json!({ "maps": all })
}

fn report(
    outcome: &Outcome,
    mem: Option<&[u8]>,
    trace: &[String],
    timing: Option<(u64, f64)>,
    compile_ns: Option<u64>,
    as_json: bool,
) {
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
        if !trace.is_empty() {
            line["trace"] = json!(trace);
        }
        if let Some(ns) = compile_ns {
            line["compile_ns"] = json!(ns);
        }
        if let Some((runs, ns)) = timing {
            line["runs"] = json!(runs);
            line["ns_per_run"] = json!(ns);
        }
        println!("{line}");
        return;
    }
    for t in trace {
        println!("trace: {t}");
    }
    match &outcome.result {
        Ok(r0) => println!("{r0} ({r0:#x})"),
        Err(trap) => eprintln!("{trap}"),
    }
    if let Some((runs, ns)) = timing {
        println!("{runs} runs: {ns:.1} ns/run, {} insns/run", outcome.insns);
    }
}
