//! Two ELF linkers against each other: every program of every clang-built object
//! (`examples/`, `tests/programs/`, `elf/tests/programs/obj/`) that aya 0.14 can load
//! is loaded into the kernel twice, once linked by aya and once by `ebpfvm-elf`, and run
//! on the same packets there and on our interpreter and JIT: return value, packet (and
//! context, when one is given) after the run and every map after every packet must be
//! equal on all four; raw tracepoints the same on argument arrays. Programs the
//! kernel cannot test-run must get the same verdict from both loaders. Also what aya
//! cannot load is refused by name, never loaded another way.
//!
//! Every test skips, saying why, when `bpf()` is not permitted here.

mod common;

use std::path::Path;

use common::{ebpfvm, json_lines};
use ebpfvm::ctx::{AttachType, ContextKind, PacketContext, ProgramType};
use ebpfvm::elf::Object;
use ebpfvm::{Engine, Select, Vm};
use ebpfvm_kernel::{KernelError, KernelObject, Loader, TestRun};

const DIRS: [&str; 3] = ["examples", "tests/programs", "elf/tests/programs/obj"];

/// `true` (after saying why) when the kernel cannot be asked here.
fn unavailable(e: &KernelError) -> bool {
    let skip = e.is_unavailable();
    if skip {
        eprintln!("skipped: {e}");
    }
    skip
}

/// Every object our loader parses, with its bytes.
fn objects() -> Vec<(String, Vec<u8>, Object)> {
    let mut out = Vec::new();
    for dir in DIRS {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("test objects")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "o"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).expect("reads");
            // Objects our loader refuses (CO-RE, kfuncs, big-endian) have nothing to
            // compare with; elf/tests covers their refusals.
            if let Ok(object) = Object::parse(&bytes) {
                out.push((path.display().to_string(), bytes, object));
            }
        }
    }
    out
}

/// Frames of several kinds: IPv4 TCP/UDP/ICMP from different sources, IPv6, ARP.
fn packets() -> Vec<Vec<u8>> {
    let ipv4 = |proto: u8, src: u8, ttl: u8| {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend([
            0x45, 0, 0, 48, 0, 1, 0, 0, ttl, proto, 0, 0, 10, 0, 0, src, 10, 0, 0, 2,
        ]);
        f.extend([0x10, 0xe1, 0, 80, 0, 28, 0, 0]);
        f.extend([0u8; 20]);
        f
    };
    let mut ipv6 = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60];
    ipv6.extend([0u8; 53]);
    let mut arp = vec![0xff; 6];
    arp.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend([0u8; 28]);
    vec![
        ipv4(6, 1, 64),
        ipv4(17, 3, 63),
        ipv4(6, 1, 62),
        ipv4(1, 9, 1),
        ipv6,
        arp,
        ipv4(17, 3, 200),
    ]
}

/// The attach point the CLI would load `section` at.
fn attach(section: &str, ty: ProgramType) -> Option<u32> {
    AttachType::from_section(section)
        .filter(|a| a.prog_type() == ty)
        .map(|a| a.id())
        .or(ty.default_attach_type())
}

/// What every engine must agree on after one packet: r0's low 32 bits, the packet and
/// the context (when one was given) after the run, every map.
type Observed = (
    u32,
    Vec<u8>,
    Vec<u8>,
    Vec<(String, Vec<(Vec<u8>, Vec<u8>)>)>,
);

/// An `__sk_buff` given with the packet (`ctx_in`): `mark`, `priority` and `cb[]` set,
/// the fields a test run takes.
fn skb_ctx() -> Vec<u8> {
    let mut ctx = vec![0u8; 192];
    ctx[8..12].copy_from_slice(&0x55u32.to_le_bytes());
    ctx[32..36].copy_from_slice(&3u32.to_le_bytes());
    for (i, word) in ctx[48..68].chunks_mut(4).enumerate() {
        word.copy_from_slice(&(i as u32 + 1).to_le_bytes());
    }
    ctx
}

/// Runs program `name` of `object` on every packet through both loaders and both of our
/// engines; panics on the first difference. Gives the inputs run (none for types our
/// model and the kernel cannot test-run, such as sk_skb: then both loaders only loaded
/// it) and the map entries after the last, or `None` when the kernel cannot be asked.
/// The program `name` of `object` as `ty` on our interpreter and JIT, in that order.
fn our_engines(object: &Object, name: &str, cpus: u32, ty: ProgramType) -> Vec<Vm> {
    [Engine::Interpreter, Engine::Jit]
        .into_iter()
        .map(|engine| {
            let mut vm = Vm::from_object_at(object, Select::Program(name), cpus, Some(ty), None)
                .expect("our engines load it");
            vm.set_engine(engine).expect("compiles");
            vm
        })
        .collect()
}

fn compare_packets(
    file: &str,
    bytes: &[u8],
    object: &Object,
    name: &str,
) -> Option<(usize, usize)> {
    let spec = object
        .programs
        .iter()
        .find(|p| p.name == name)
        .expect("program");
    let ty = spec.prog_type.expect("typed section");
    let aya = match KernelObject::load_aya(bytes, object, Some(name)) {
        Err(e) if unavailable(&e) => return None,
        r => r.unwrap_or_else(|e| panic!("{file} {name}: aya: {e}")),
    };
    assert_eq!(aya.loader(), Loader::Aya);
    let ours = KernelObject::from_object(object, Some(name), None, attach(&spec.section, ty))
        .unwrap_or_else(|e| panic!("{file} {name}: ebpfvm loader: {e}"));
    let cpus = ebpfvm_kernel::possible_cpus().expect("cpu count");
    let mut vms = our_engines(object, name, cpus, ty);
    if ty == ProgramType::SkSkb {
        // The kernel cannot test-run sk_skb (our engines can): both loaders loaded it,
        // so their verdicts agree.
        return Some((0, 0));
    }
    // Our engines model CPU 0: per-CPU maps compare only when the kernel runs there.
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
    let (mut entries, mut runs, mut ctx_runs) = (0, 0, 0);
    // Socket-buffer types run each packet twice: without and with a context given.
    let skb = ContextKind::of(ty) == Some(ContextKind::SkBuff) && ty != ProgramType::FlowDissector;
    let ctx_in = skb_ctx();
    let inputs = packets()
        .into_iter()
        .flat_map(|p| [(p.clone(), None), (p, skb.then_some(ctx_in.as_slice()))]);
    for (index, (packet, ctx_in)) in inputs.enumerate() {
        let context = match ctx_in {
            Some(c) => PacketContext::with_ctx(ty, &packet, c),
            None => PacketContext::new(ty, &packet),
        };
        let Ok(context) = context else {
            continue; // a frame this type's test run refuses
        };
        let mut results: Vec<(&str, Observed)> = Vec::new();
        for (loader, kernel) in [("aya", &aya), ("ebpfvm", &ours)] {
            let mut run = TestRun::packet(&packet);
            if let Some(c) = ctx_in {
                run.ctx_in = c;
                run.ctx_out_capacity = c.len();
            }
            let done = kernel
                .program()
                .test_run(&run)
                .unwrap_or_else(|e| panic!("{file} {name} input {index}: {loader}: {e}"));
            let maps = kernel.map_entries().expect("maps read back");
            results.push((loader, (done.retval, done.data_out, done.ctx_out, maps)));
        }
        for (vm, engine) in vms.iter_mut().zip(["interp", "jit"]) {
            let mut ctx = context.clone();
            let r0 = vm.run_packet(&mut ctx).result.expect("no trap");
            let ctx_out = if ctx_in.is_some() {
                ctx.ctx_out()
            } else {
                Vec::new()
            };
            results.push((
                engine,
                (r0 as u32, ctx.packet_out(), ctx_out, vm.map_entries()),
            ));
        }
        for (engine, observed) in &results[1..] {
            assert_eq!(
                &results[0].1, observed,
                "{file} {name} input {index}: aya vs {engine}"
            );
        }
        entries = results[0].1 .3.iter().map(|(_, e)| e.len()).sum();
        runs += 1;
        ctx_runs += usize::from(ctx_in.is_some());
    }
    assert!(
        runs == 0 || !skb || ctx_runs > 0,
        "{file} {name}: no run with a context"
    );
    Some((runs, entries))
}

/// A raw tracepoint through both loaders and both engines, on argument arrays as its
/// context: return value and maps after every run. `None` when the kernel cannot be
/// asked; else the runs made.
fn compare_raw_tracepoint(file: &str, bytes: &[u8], object: &Object, name: &str) -> Option<usize> {
    let aya = match KernelObject::load_aya(bytes, object, Some(name)) {
        Err(e) if unavailable(&e) => return None,
        r => r.unwrap_or_else(|e| panic!("{file} {name}: aya: {e}")),
    };
    let ours = KernelObject::from_object(object, Some(name), None, None)
        .unwrap_or_else(|e| panic!("{file} {name}: ebpfvm loader: {e}"));
    let cpus = ebpfvm_kernel::possible_cpus().expect("cpu count");
    let ty = ProgramType::RawTracepoint;
    let mut vms = our_engines(object, name, cpus, ty);
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
    let mut runs = 0;
    for (a, b) in [(1u64, 59u64), (7, 0), (1, 59), (0xffff_ffff_0000_0003, 231)] {
        let mut args = a.to_le_bytes().to_vec();
        args.extend(b.to_le_bytes());
        let mut results = Vec::new();
        for (loader, kernel) in [("aya", &aya), ("ebpfvm", &ours)] {
            let done = kernel
                .program()
                .test_run(&TestRun::context(&args))
                .unwrap_or_else(|e| panic!("{file} {name}: {loader}: {e}"));
            results.push((loader, (done.retval, kernel.map_entries().expect("maps"))));
        }
        for (vm, engine) in vms.iter_mut().zip(["interp", "jit"]) {
            let r0 = vm.run(&mut args.clone()).result.expect("no trap");
            results.push((engine, (r0 as u32, vm.map_entries())));
        }
        for (engine, observed) in &results[1..] {
            assert_eq!(
                &results[0].1, observed,
                "{file} {name} args {a} {b}: aya vs {engine}"
            );
        }
        runs += 1;
    }
    Some(runs)
}

#[test]
fn both_loaders_and_our_engines_agree_on_every_program_aya_can_load() {
    let mut compared = Vec::new();
    let mut verdicts = Vec::new();
    let mut refused = Vec::new();
    for (file, bytes, object) in objects() {
        for spec in &object.programs {
            let name = spec.name.as_str();
            if let Err(e) = KernelObject::aya_can_load(&bytes, &object, Some(name)) {
                refused.push(format!("{file} {name}"));
                assert!(matches!(e, KernelError::Aya(_)), "{file} {name}: {e}");
                continue;
            }
            let ty = spec.prog_type.expect("aya knows only typed sections");
            if ContextKind::of(ty).is_some() {
                let Some((runs, entries)) = compare_packets(&file, &bytes, &object, name) else {
                    return;
                };
                // The objects written for this test fill maps of every kind they have.
                if file.ends_with("aya_link.o") {
                    assert!(entries >= 10, "{file} {name}: {entries} map entries");
                }
                // No test run (sk_skb): both loaders loaded it, the verdicts agree.
                match runs {
                    0 => verdicts.push(format!("{file} {name}")),
                    _ => compared.push(format!("{file} {name}")),
                }
                continue;
            }
            if ty == ProgramType::RawTracepoint {
                if compare_raw_tracepoint(&file, &bytes, &object, name).is_none() {
                    return;
                }
                compared.push(format!("{file} {name}"));
                continue;
            }
            // No test run: both loaders must give the kernel's same verdict.
            let aya = KernelObject::load_aya(&bytes, &object, Some(name));
            if aya.as_ref().is_err_and(unavailable) {
                return;
            }
            let ours =
                KernelObject::from_object(&object, Some(name), None, attach(&spec.section, ty));
            assert_eq!(
                aya.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                ours.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                "{file} {name}: verdicts"
            );
            verdicts.push(format!("{file} {name}"));
        }
    }
    eprintln!("compared on packets: {compared:?}\nverdicts: {verdicts:?}\nrefused: {refused:?}");
    for expected in [
        "examples/xdp_port_filter.o",
        "examples/xdp_redirect.o",
        "examples/socket_filter.o",
        "examples/cgroup_skb.o",
        "tests/programs/aya_link.o link_xdp",
        "tests/programs/aya_link.o link_tc",
        "tests/programs/aya_link.o link_socket",
        "tests/programs/aya_link.o link_cgroup",
        "tests/programs/aya_link.o link_flow",
        "tests/programs/aya_link.o link_raw_tp",
        "elf/tests/programs/obj/legacy_maps.o",
    ] {
        assert!(
            compared.iter().any(|c| c.starts_with(expected)),
            "{expected} was not compared"
        );
    }
    for expected in ["examples/kprobe_args.o", "examples/tracepoint.o"] {
        assert!(
            verdicts.iter().any(|c| c.starts_with(expected)),
            "{expected}"
        );
    }
    for expected in [
        "examples/counter.o",
        "examples/tc_marker.o",
        "examples/xdp_stats.o",
    ] {
        assert!(
            refused.iter().any(|c| c.starts_with(expected)),
            "{expected}"
        );
    }
}

/// The reason aya cannot load program `name` of `file`.
fn refusal(file: &str, name: &str) -> String {
    let bytes = std::fs::read(file).expect("reads");
    let object = Object::parse(&bytes).expect("parses");
    let checked = KernelObject::aya_can_load(&bytes, &object, Some(name));
    let loaded = KernelObject::load_aya(&bytes, &object, Some(name));
    let (Err(KernelError::Aya(a)), Err(KernelError::Aya(b))) = (checked, loaded) else {
        panic!("{file} {name}: aya must refuse it");
    };
    assert_eq!(a, b, "the check and the load give the same reason");
    a
}

#[test]
fn what_aya_cannot_load_is_refused_by_name() {
    // A syscall program: aya 0.14 knows no `syscall` section.
    let e = refusal("examples/counter.o", "count");
    assert!(e.contains("syscall"), "{e}");
    // `tc` is libbpf's name for classifier sections; aya 0.14 knows only `classifier`.
    let e = refusal("examples/tc_marker.o", "marker");
    assert!(e.contains("`tc`"), "{e}");
    // A prog array filled from `.values`.
    let e = refusal("examples/xdp_stats.o", "xdp_stats");
    assert!(e.contains(".values") && e.contains("`next`"), "{e}");
}

/// `true` (after saying why) when the command could not ask the kernel.
fn skipped(out: &std::process::Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    let skip = err.contains("not permitted");
    if skip {
        eprintln!("skipped: {}", err.trim());
    }
    skip
}

#[test]
fn the_cli_says_which_loader_it_used_and_refuses_aya_with_overrides() {
    let packet = common::scratch("aya_loader_packet.bin", &packets()[0]);
    let packet = packet.as_str();
    let run = |object: &str, extra: &[&str]| {
        let mut args = vec![
            "run", object, "--engine", "kernel", "--packet", packet, "--json",
        ];
        args.extend(extra);
        ebpfvm(&args)
    };
    // Default: aya where it can, ours where it cannot.
    let out = run("examples/xdp_port_filter.o", &[]);
    if skipped(&out) {
        return;
    }
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json_lines(&out)[0]["loader"], "aya");
    let out = run("examples/tc_marker.o", &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json_lines(&out)[0]["loader"], "ebpfvm");
    let out = run("examples/xdp_port_filter.o", &["--loader", "ebpfvm"]);
    assert_eq!(json_lines(&out)[0]["loader"], "ebpfvm");
    // A type other than the section's goes through our loader by default ...
    let out = run("examples/socket_filter.o", &["--type", "sched_cls"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json_lines(&out)[0]["loader"], "ebpfvm");
    // ... and is refused with --loader aya, as is a program aya cannot load.
    let out = run(
        "examples/socket_filter.o",
        &["--type", "sched_cls", "--loader", "aya"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--loader ebpfvm"), "{err}");
    let out = run("examples/tc_marker.o", &["--loader", "aya"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aya") && err.contains("`tc`"), "{err}");
    // crosscheck through aya: every engine agrees, and the summary names the loader.
    let pcap = Path::new("examples/xdp_port_filter.o");
    let out = ebpfvm(&[
        "crosscheck",
        pcap.to_str().expect("path"),
        "--packet",
        packet,
        "--json",
        "--loader",
        "aya",
    ]);
    assert!(out.status.success(), "{out:?}");
    let lines = json_lines(&out);
    let summary = lines.last().expect("summary");
    assert_eq!(summary["loader"], "aya");
    assert_eq!(summary["differ"], 0);
}
