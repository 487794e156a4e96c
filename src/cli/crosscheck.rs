//! `ebpfvm crosscheck PROGRAM --type T (--packet F | --pcap F)`: runs the program on the
//! interpreter, the JIT and the running kernel (BPF_PROG_TEST_RUN), packet by packet, and
//! reports every difference in return value or packet after the run; then compares the
//! maps of an ELF object after the last packet. For program types without a packet test
//! run only the verdicts (loaded or refused) are compared, and the report says so.
//!
//! Exit status: 0 when every engine agrees, 1 when any differs, 2 when the input cannot
//! be loaded or the kernel cannot be asked (no `bpf()` permission).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ebpfvm::ctx::{AttachType, ContextKind, ProgramType};
use ebpfvm::elf::Object;
use ebpfvm::{Engine, Select, Vm};
use serde_json::{json, Value};

use super::kernel::{choose_loader, Loaded, LoaderChoice, MapContents, Source};
use super::packet::{self, PacketResult, PacketRun};
use super::{read_file, CliError};

/// Arguments of `ebpfvm crosscheck`.
#[derive(Args, Debug)]
pub struct CrosscheckArgs {
    /// The program: an ELF object, assembly (.s/.asm) or raw bytecode.
    program: PathBuf,
    /// Program type (kernel name in lower case: `xdp`, `sched_cls`, `socket_filter`,
    /// ...). Default: the ELF section's type; required for bytecode and assembly.
    #[arg(long = "type", value_name = "TYPE")]
    prog_type: Option<String>,
    /// The attach point (`connect6`, `post_bind4`, ...), as `run --attach` takes it;
    /// every engine loads the program there. Default: the ELF section's, else the type's.
    #[arg(long, value_name = "NAME")]
    attach: Option<String>,
    /// One packet (an Ethernet frame).
    #[arg(long, value_name = "FILE", conflicts_with = "pcap")]
    packet: Option<PathBuf>,
    /// A capture (pcap or pcapng): every packet in order; maps persist across them.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// The uapi context (`__sk_buff`, `xdp_md`) given with every packet, as
    /// BPF_PROG_TEST_RUN's `ctx_in`; the context after the run is compared too.
    #[arg(long, value_name = "FILE")]
    ctx: Option<PathBuf>,
    /// ELF objects: the program, by function name.
    #[arg(long = "program", value_name = "NAME")]
    program_name: Option<String>,
    /// ELF objects: the program, by section name.
    #[arg(long, value_name = "NAME")]
    section: Option<String>,
    /// ELF objects: which linker loads the object into the kernel (as `run --loader`).
    /// Default: `aya` when aya 0.14 can load the program, else `ebpfvm`.
    #[arg(long, value_enum)]
    loader: Option<LoaderChoice>,
    /// One JSON object per packet, then one for the maps and one summary.
    #[arg(long)]
    json: bool,
}

/// The program, loaded for both of our engines, and the kernel's verdict on it.
struct Engines {
    ty: ProgramType,
    interp: Vm,
    jit: Vm,
    kernel: Result<Loaded, String>,
    /// The loader of an ELF object (`None` for bytecode and assembly).
    loader: Option<LoaderChoice>,
}

fn load(args: &CrosscheckArgs) -> Result<Engines, CliError> {
    let path = &args.program;
    let bytes = read_file(path)?;
    let load_error = |e: ebpfvm::Error| CliError::Load {
        path: path.clone(),
        message: e.to_string(),
    };
    let given = match &args.prog_type {
        Some(name) => Some(
            name.parse::<ProgramType>()
                .map_err(|e| CliError::Usage(e.to_string()))?,
        ),
        None => None,
    };
    if super::elf::is_elf(path)? {
        let object = Object::parse(&bytes).map_err(|e| load_error(e.into()))?;
        let select = match (&args.program_name, &args.section) {
            (Some(p), _) => Select::Program(p),
            (None, Some(s)) => Select::Section(s),
            (None, None) => Select::Only,
        };
        // Per-CPU maps hold one value per possible CPU in the kernel: give ours as many.
        let cpus = super::kernel::possible_cpus().unwrap_or(1);
        let probe = Vm::from_object(&object, select, cpus).map_err(load_error)?;
        let chosen = probe
            .elf_program()
            .cloned()
            .ok_or_else(|| CliError::Usage("the object has no program to check".into()))?;
        let ty = given.or(chosen.prog_type).ok_or_else(|| {
            CliError::Usage(format!(
                "section `{}` names no program type: give --type",
                chosen.section
            ))
        })?;
        let at = super::run::attach_point(Some(ty), args.attach.as_deref())?
            .or_else(|| AttachType::from_section(&chosen.section).filter(|a| a.prog_type() == ty));
        let typed = || Vm::from_object_at(&object, select, cpus, Some(ty), at);
        let interp = typed().map_err(load_error)?;
        let mut jit = typed().map_err(load_error)?;
        jit.set_engine(Engine::Jit).map_err(load_error)?;
        let section_at = AttachType::from_section(&chosen.section)
            .filter(|a| Some(a.prog_type()) == chosen.prog_type);
        let overridden = Some(ty) != chosen.prog_type || at != section_at;
        let loader = choose_loader(args.loader, (&bytes, &object, &chosen.name), overridden)?;
        let source = Source::Object {
            bytes: &bytes,
            object: &object,
            name: &chosen.name,
            loader,
        };
        let kernel = Loaded::try_load_at(source, ty, at)?;
        return Ok(Engines {
            ty,
            interp,
            jit,
            kernel,
            loader: Some(loader),
        });
    }
    if args.loader.is_some() {
        return Err(CliError::Usage(
            "--loader chooses how an ELF object is loaded; bytecode and assembly are \
             loaded as they are"
                .into(),
        ));
    }
    let ty = given.ok_or_else(|| {
        CliError::Usage("give --type: bytecode and assembly carry no program type".into())
    })?;
    let program = super::input::load(path, false)?.program;
    let at = super::run::attach_point(Some(ty), args.attach.as_deref())?;
    let typed = || match at {
        Some(a) => Vm::with_attach(program.clone(), a),
        None => Vm::with_type(program.clone(), ty),
    };
    let interp = typed().map_err(load_error)?;
    let mut jit = typed().map_err(load_error)?;
    jit.set_engine(Engine::Jit).map_err(load_error)?;
    let kernel = Loaded::try_load_at(Source::Program(&program), ty, at)?;
    Ok(Engines {
        ty,
        interp,
        jit,
        kernel,
        loader: None,
    })
}

/// Runs `ebpfvm crosscheck`.
pub fn crosscheck(args: CrosscheckArgs) -> Result<ExitCode, CliError> {
    let mut engines = load(&args)?;
    // The kernel's test run charges its socket to this process's cgroup: give our
    // engines the same ids for the cgroup helpers (the root cgroup when unreadable).
    if let Ok(cgroup) = ebpfvm::cgroup::current_ids() {
        for vm in [&mut engines.interp, &mut engines.jit] {
            let socket = ebpfvm::SocketInfo {
                cgroup: cgroup.clone(),
                ..vm.socket()
            };
            vm.set_socket(socket);
        }
    }
    let ty = engines.ty;
    let loader = engines.loader.map(LoaderChoice::name);
    let kernel = match &engines.kernel {
        Ok(loaded) => loaded,
        Err(log) => {
            // Our engines loaded it (their load-time checks passed); the kernel did not.
            verdict_report(ty, Some(log), loader, args.json);
            return Ok(ExitCode::from(1));
        }
    };
    // The kernel has no test run for these types (sk_skb included, though our engines
    // run it): its verifier's verdict is what compares.
    if ContextKind::of(ty).is_none() || ty == ProgramType::SkSkb {
        verdict_report(ty, None, loader, args.json);
        return Ok(ExitCode::SUCCESS);
    }
    let run = PacketRun {
        ty,
        packet: args.packet.as_deref(),
        pcap: args.pcap.as_deref(),
        ctx: args.ctx.as_deref(),
        repeat: 1,
        json: args.json,
    };
    let packets = packet::packets(&run)?;
    let ctx_in = match &args.ctx {
        Some(path) => Some(read_file(path)?),
        None => None,
    };
    let ctx_in = ctx_in.as_deref();
    let mut differ = 0;
    for (index, bytes) in packets.iter().enumerate() {
        let with_ctx = ctx_in.is_some();
        let kernel_result = kernel.run_packet(bytes, ctx_in).map_err(|e| e.to_string());
        let results = match packet::context(ty, bytes, ctx_in, index, args.pcap.is_some()) {
            Ok(context) => [
                (
                    "interp",
                    Ok(packet::run_once(&mut engines.interp, &context, with_ctx)),
                ),
                (
                    "jit",
                    Ok(packet::run_once(&mut engines.jit, &context, with_ctx)),
                ),
                ("kernel", kernel_result),
            ],
            // A packet our model refuses (as the kernel's test run should: EINVAL).
            Err(e) => {
                let refused = format!("refused: {e}");
                [
                    ("interp", Err(refused.clone())),
                    ("jit", Err(refused)),
                    ("kernel", kernel_result),
                ]
            }
        };
        // Refusals agree with refusals whatever their wording.
        let agree = all_equal(results.iter().map(|(_, r)| match r {
            Ok(r) => Ok(r.observed()),
            Err(_) => Err(()),
        }));
        differ += usize::from(!agree);
        packet_report(ty, index, agree, &results, args.json);
    }
    let maps = [
        ("interp", Ok(engines.interp.map_entries())),
        ("jit", Ok(engines.jit.map_entries())),
        ("kernel", kernel.map_entries().map_err(|e| e.to_string())),
    ];
    let maps_agree = all_equal(maps.iter().map(|(_, m)| m.clone()));
    maps_report(maps_agree, &maps, args.json);
    let total = packets.len();
    if args.json {
        let mut summary = json!({ "packets": total, "agree": total - differ, "differ": differ,
                                  "maps_agree": maps_agree });
        if let Some(loader) = loader {
            summary["loader"] = json!(loader);
        }
        println!("{summary}");
    } else {
        let by = loader.map_or(String::new(), |l| format!(" (kernel: the {l} loader)"));
        println!(
            "{total} packet(s): {} agree, {differ} differ{by}",
            total - differ
        );
    }
    Ok(ExitCode::from(if differ == 0 && maps_agree {
        0
    } else {
        1
    }))
}

fn all_equal<T: PartialEq>(mut items: impl Iterator<Item = T>) -> bool {
    match items.next() {
        Some(first) => items.all(|x| x == first),
        None => true,
    }
}

type EngineResult = (&'static str, Result<PacketResult, String>);

fn packet_report(ty: ProgramType, index: usize, agree: bool, results: &[EngineResult], json: bool) {
    if json {
        let mut line = json!({ "index": index, "agree": agree });
        for (name, result) in results {
            line[*name] = match result {
                Ok(r) => r.to_json(ty),
                Err(e) => json!({ "error": e }),
            };
        }
        println!("{line}");
        return;
    }
    let describe = |result: &Result<PacketResult, String>| match result {
        Ok(r) => match &r.result {
            Ok(r0) => {
                let retval = *r0 as u32;
                let name = ebpfvm::ctx::action(ty, *r0).unwrap_or("(no named action)");
                format!("{retval} ({retval:#x}) {name}")
            }
            Err(trap) => trap.to_string(),
        },
        Err(e) => format!("error: {e}"),
    };
    if agree {
        let first = &results[0].1;
        println!("packet {index}: agree: {}", describe(first));
        return;
    }
    println!("packet {index}: DIFFER");
    for (name, result) in results {
        let packet = match result {
            Ok(r) => format!(" packet {}", packet::hex(&r.packet)),
            Err(_) => String::new(),
        };
        println!("  {name:<6} {}{packet}", describe(result));
    }
}

fn maps_report(agree: bool, maps: &[(&str, Result<MapContents, String>)], json: bool) {
    let count = maps[0].1.as_ref().map_or(0, Vec::len);
    if json {
        let mut line = json!({ "maps_agree": agree });
        if !agree {
            for (name, contents) in maps {
                line[*name] = match contents {
                    Ok(m) => super::elf::maps_json(m.clone())["maps"].clone(),
                    Err(e) => json!({ "error": e }),
                };
            }
        }
        println!("{line}");
        return;
    }
    if count == 0 && agree {
        return;
    }
    if agree {
        println!("maps: agree ({count} map(s))");
        return;
    }
    println!("maps: DIFFER");
    for (name, contents) in maps {
        let text = match contents {
            Ok(m) => super::elf::maps_json(m.clone())["maps"].to_string(),
            Err(e) => format!("error: {e}"),
        };
        println!("  {name:<6} {text}");
    }
}

/// The report for a program compared by verdict only: refused by the kernel (`log`), or
/// a type the kernel cannot test-run with a packet.
fn verdict_report(ty: ProgramType, refused: Option<&str>, loader: Option<&str>, json: bool) {
    let kernel: Value = match refused {
        Some(log) => json!({ "verdict": "refused", "log": log }),
        None => json!({ "verdict": "accepted" }),
    };
    if json {
        let mut line = json!({
            "type": ty.name(),
            "agree": refused.is_none(),
            "interp": { "verdict": "accepted" },
            "jit": { "verdict": "accepted" },
            "kernel": kernel,
            "note": "only the verdicts are compared",
        });
        if let Some(loader) = loader {
            line["loader"] = json!(loader);
        }
        println!("{line}");
        return;
    }
    match refused {
        Some(log) => {
            let by = loader.map_or(String::new(), |l| format!(" (loaded by the {l} loader)"));
            println!("DIFFER: interp and jit load the program; the kernel{by} refuses it:");
            println!("{log}");
        }
        None => println!(
            "agree: every engine loads the program; `{ty}` programs have no packet test run \
             here, so only the verdicts are compared{}",
            loader.map_or(String::new(), |l| format!(" (kernel: the {l} loader)"))
        ),
    }
}
