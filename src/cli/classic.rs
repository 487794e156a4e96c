//! `ebpfvm run` for classic BPF: socket filters over one packet or every packet of a
//! pcap/pcapng capture (one result per packet, in order), and seccomp filters over a
//! `seccomp_data` context.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ebpfvm::vm::{Interpreter, Outcome, Stack};
use ebpfvm_classic::seccomp::{run_seccomp, Action, SeccompFilter};
use ebpfvm_classic::{parse_auto, parse_raw, Engine, PacketMeta, SockFilter, SocketFilter};
use serde_json::json;

use super::{read_file, CliError, EngineChoice};

pub mod filter;
pub(super) mod pcap;

/// What `run` passes on for a classic program.
pub struct ClassicRun<'a> {
    pub program: &'a Path,
    pub engine: EngineChoice,
    pub prog_type: &'a str,
    pub packet: Option<&'a Path>,
    pub pcap: Option<&'a Path>,
    pub ctx: Option<&'a Path>,
    pub mem: Option<&'a Path>,
    pub budget: Option<u64>,
    pub repeat: u64,
    pub json: bool,
}

fn load_error(path: &Path, message: impl ToString) -> CliError {
    CliError::Load {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The classic program in `path` when `force` is set or its text looks like
/// `tcpdump -dd`/`-ddd` output; `None` for everything else.
pub fn load(path: &PathBuf, force: bool) -> Result<Option<Vec<SockFilter>>, CliError> {
    let bytes = read_file(path)?;
    if bytes.starts_with(b"\x7fELF") {
        return Ok(None);
    }
    let is_text = std::str::from_utf8(&bytes)
        .ok()
        .and_then(ebpfvm_classic::parse::detect_text)
        .is_some();
    if !force && !is_text {
        return Ok(None);
    }
    let program = if is_text {
        parse_auto(&bytes).map(|(p, _)| p)
    } else {
        parse_raw(&bytes)
    };
    program.map(Some).map_err(|e| load_error(path, e))
}

/// The eBPF translation of the classic socket filter in `path`.
pub fn translated(path: &PathBuf, force: bool) -> Result<ebpfvm::Program, CliError> {
    let Some(classic) = load(path, force)? else {
        return Err(load_error(path, "not a classic BPF program"));
    };
    let filter = SocketFilter::new(classic).map_err(|e| load_error(path, e))?;
    Ok(filter.program().clone())
}

/// The JIT behind the classic crate's engine trait.
struct Jit(ebpfvm_jit::JitProgram);

impl Engine for Jit {
    fn run(
        &self,
        args: [u64; 5],
        memory: &mut ebpfvm::vm::MemoryMap<'_>,
        helpers: &mut ebpfvm::vm::Helpers,
        budget: Option<u64>,
    ) -> Outcome {
        self.0.run(args, memory, helpers, budget)
    }
}

/// The engine that runs a translated `program` (`interpreter` is already prepared).
pub fn engine<'a>(
    choice: EngineChoice,
    program: &ebpfvm::Program,
    interpreter: &'a Interpreter,
) -> Result<Box<dyn Engine + 'a>, CliError> {
    match choice {
        EngineChoice::Interp => Ok(Box::new(interpreter.clone())),
        EngineChoice::Jit => match ebpfvm_jit::JitProgram::compile(program) {
            Ok(jit) => Ok(Box::new(Jit(jit))),
            Err(e) => Err(CliError::NotSupported(format!(
                "the JIT cannot run this program: {e}"
            ))),
        },
        EngineChoice::Kernel => Err(CliError::NotSupported(
            "the kernel engine does not run classic programs yet; use --engine interp or jit"
                .into(),
        )),
        EngineChoice::All => Err(CliError::Usage(
            "--engine all is only for `ebpfvm conformance`".into(),
        )),
    }
}

/// Runs a classic program as `run` was asked to.
pub fn run(args: ClassicRun<'_>, classic: Vec<SockFilter>) -> Result<ExitCode, CliError> {
    match args.prog_type {
        "raw" | "socket_filter" => run_socket(&args, classic),
        "seccomp" => run_seccomp_ctx(&args, classic),
        other => Err(CliError::Usage(format!(
            "classic programs run as `socket_filter` (the default) or `seccomp`, not `{other}`"
        ))),
    }
}

/// One packet to filter and what the filter knows about it.
pub(super) struct Packet {
    pub(super) bytes: Vec<u8>,
    meta: PacketMeta,
}

fn packets(args: &ClassicRun<'_>) -> Result<Vec<Packet>, CliError> {
    if let Some(path) = args.pcap {
        if args.packet.is_some() {
            return Err(CliError::Usage("give --packet or --pcap, not both".into()));
        }
        return pcap::read(path);
    }
    let bytes = match args.packet.or(args.mem) {
        Some(path) => read_file(&path.to_path_buf())?,
        None => Vec::new(),
    };
    let meta = PacketMeta::for_ethernet(&bytes);
    Ok(vec![Packet { bytes, meta }])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn run_socket(args: &ClassicRun<'_>, classic: Vec<SockFilter>) -> Result<ExitCode, CliError> {
    let filter = SocketFilter::new(classic).map_err(|e| load_error(args.program, e))?;
    let engine = engine(args.engine, filter.program(), filter.interpreter())?;
    let packets = packets(args)?;
    let mut stack = Stack::new();
    let mut trapped = false;
    for (index, packet) in packets.iter().enumerate() {
        let start = Instant::now();
        let mut outcome = Outcome {
            result: Ok(0),
            insns: 0,
        };
        for _ in 0..args.repeat {
            outcome = filter.run_with(
                engine.as_ref(),
                &mut stack,
                &packet.bytes,
                &packet.meta,
                args.budget,
            );
            if outcome.result.is_err() {
                break;
            }
        }
        let ns_per_run = start.elapsed().as_nanos() as f64 / args.repeat as f64;
        trapped |= outcome.result.is_err();
        if args.json {
            let mut line = match &outcome.result {
                Ok(r0) => json!({ "retval": r0, "insns": outcome.insns }),
                Err(trap) => json!({
                    "trap": { "pc": trap.pc, "message": trap.to_string() },
                    "insns": outcome.insns,
                }),
            };
            if args.pcap.is_some() {
                line["index"] = json!(index);
            }
            if args.pcap.is_some() || args.packet.is_some() || args.mem.is_some() {
                line["packet"] = json!(hex(&packet.bytes));
            }
            if args.repeat > 1 {
                line["runs"] = json!(args.repeat);
                line["ns_per_run"] = json!(ns_per_run);
            }
            println!("{line}");
        } else {
            match &outcome.result {
                Ok(r0) => println!("{r0} ({r0:#x})"),
                Err(trap) => {
                    println!("trap");
                    eprintln!("packet {index}: {trap}");
                }
            }
        }
    }
    Ok(ExitCode::from(if trapped { 1 } else { 0 }))
}

fn run_seccomp_ctx(args: &ClassicRun<'_>, classic: Vec<SockFilter>) -> Result<ExitCode, CliError> {
    let filter = SeccompFilter::new(classic).map_err(|e| load_error(args.program, e))?;
    let engine = engine(args.engine, filter.program(), filter.interpreter())?;
    let mut data = [0u8; 64];
    if let Some(path) = args.ctx.or(args.mem) {
        let bytes = read_file(&path.to_path_buf())?;
        if bytes.len() != 64 {
            return Err(CliError::Usage(format!(
                "{}: a seccomp_data context is 64 bytes, not {}",
                path.display(),
                bytes.len()
            )));
        }
        data.copy_from_slice(&bytes);
    }
    let mut stack = Stack::new();
    let outcome = run_seccomp(engine.as_ref(), &mut stack, &data, args.budget);
    match &outcome.result {
        Ok(r0) => {
            let action = Action::from_ret(*r0 as u32);
            if args.json {
                println!(
                    "{}",
                    json!({ "retval": r0, "action": action.to_string(), "insns": outcome.insns })
                );
            } else {
                println!("{r0} ({r0:#x}) {action}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(trap) => {
            if args.json {
                println!(
                    "{}",
                    json!({ "trap": { "pc": trap.pc, "message": trap.to_string() } })
                );
            }
            eprintln!("{trap}");
            Ok(ExitCode::from(1))
        }
    }
}
