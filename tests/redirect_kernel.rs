//! Redirect maps (`devmap`, `devmap_hash`, `cpumap`, `xskmap`) and `bpf_redirect_map`
//! against the running kernel: map creation with every value size and flag, host
//! updates (result and errno, entries after), programs looking devmap entries up and
//! redirecting through each kind with every flag and key: the interpreter, the JIT and
//! the kernel's BPF_PROG_TEST_RUN give the same return value, packet and maps, and our
//! engines record the target. Skips, saying why, without `bpf()` permission.
#![cfg(feature = "kernel")]

mod common;

use common::btf_map;
use ebpfvm::ctx::{PacketContext, ProgramType};
use ebpfvm::elf::{MapDecl, Object, ProgramSpec};
use ebpfvm::vm::maps::{MapKind, MapSpec, Maps};
use ebpfvm::{Engine, Redirect, Select, Vm};
use ebpfvm_kernel::{KernelError, KernelMap, KernelObject, TestRun};

const DEVMAP: u32 = 14;
const CPUMAP: u32 = 16;
const XSKMAP: u32 = 17;
const DEVMAP_HASH: u32 = 25;

fn object(asm: &str, map: MapDecl) -> Object {
    Object {
        license: Some("GPL".into()),
        programs: vec![ProgramSpec {
            name: "prog".into(),
            section: "xdp".into(),
            prog_type: Some(ProgramType::Xdp),
            program: ebpfvm::isa::assemble(asm).unwrap(),
        }],
        maps: vec![map],
    }
}

/// The kernel's possible CPUs, or `None` (with the reason printed) without `bpf()`.
fn kernel_cpus() -> Option<u32> {
    match KernelMap::create(&btf_map("targets", DEVMAP, 4, 4, 1, 0)) {
        Err(KernelError::Unavailable { .. } | KernelError::NotLinux) => {
            eprintln!("skipping: bpf() is not available here");
            None
        }
        _ => Some(ebpfvm_kernel::possible_cpus().unwrap()),
    }
}

/// The errno of a failed kernel map operation.
fn errno(e: KernelError) -> i32 {
    match e {
        KernelError::Map { error, .. } => error.raw_os_error().unwrap_or(-1),
        other => panic!("{other}"),
    }
}

fn kind(t: u32) -> MapKind {
    MapKind::from_type_id(t).unwrap()
}

#[test]
fn creation_rules_match_the_kernel() {
    let Some(cpus) = kernel_cpus() else { return };
    for t in [DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP] {
        for (key, value, max, flags) in [
            (4, 4, 4, 0),
            (4, 8, 4, 0),
            (4, 6, 4, 0),
            (4, 12, 4, 0),
            (8, 4, 4, 0),
            (4, 4, 0, 0),
            (4, 4, 4, 1 << 3), // BPF_F_RDONLY
            (4, 4, 4, 1 << 2), // BPF_F_NUMA_NODE
            (4, 4, 4, 1),      // BPF_F_NO_PREALLOC
            (4, 4, 4, 1 << 7), // BPF_F_RDONLY_PROG
        ] {
            let theirs =
                KernelMap::create(&btf_map("targets", t, key, value, max, flags)).map_err(errno);
            let spec = MapSpec {
                flags,
                ..MapSpec::new("targets", kind(t), key, value, max)
            };
            let ours = Maps::with_cpus(cpus).create(spec).map_err(|e| e.errno());
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "type {t} key {key} value {value} max {max} flags {flags:#x}: {ours:?} vs {:?}",
                theirs.as_ref().map(|_| ())
            );
            if let (Err(ours), Err(theirs)) = (ours, theirs) {
                assert_eq!(ours, theirs, "type {t} key {key} value {value} max {max}");
            }
        }
    }
}

/// Host updates: `(key, value, flags)`; values are padded or cut to the value size.
const UPDATES: &[(u32, [u32; 2], u64)] = &[
    (0, [1, 0], 0),
    (1, [1, 0], 0),
    (1, [1, 0], 1),        // BPF_NOEXIST on an existing key
    (2, [1, 0], 2),        // BPF_EXIST on a missing key
    (3, [1, 0], 4),        // BPF_F_LOCK
    (7, [1, 0], 0),        // beyond max_entries
    (3, [1, u32::MAX], 0), // program fd -1: no program
    (1, [0, 0], 0),        // ifindex / qsize 0
    (0, [16384, 0], 0),    // the largest cpumap queue
    (2, [16385, 0], 0),    // too large a queue
    (1, [2, 0], 0),
    (0, [1, 0], 0),
    (4, [1, 0], 0),
];

#[test]
fn host_updates_match_the_kernel() {
    let Some(cpus) = kernel_cpus() else { return };
    for t in [DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP] {
        for value_size in [4u32, 8] {
            let d = btf_map("targets", t, 4, value_size, 4, 0);
            let Ok(theirs) =
                KernelObject::from_object(&object("mov %r0, 2\nexit", d.clone()), None, None, None)
            else {
                assert!(
                    t == XSKMAP && value_size == 8,
                    "type {t} value {value_size}"
                );
                continue;
            };
            let vm = Vm::from_object_typed(
                &object("mov %r0, 2\nexit", d),
                Select::Program("prog"),
                cpus,
                None,
            )
            .unwrap();
            let map = theirs.map("targets").unwrap();
            let id = vm.maps().find("targets").unwrap();
            for &(key, [first, second], flags) in UPDATES {
                let mut value = [first.to_le_bytes(), second.to_le_bytes()].concat();
                value.truncate(value_size as usize);
                // Only ifindex 1 (lo) is sure to be a device: the kernel refuses others
                // and our runtime, which has no device list, accepts them. Skip them.
                if first > 1 && matches!(t, DEVMAP | DEVMAP_HASH) {
                    continue;
                }
                let k = map.update(&key.to_le_bytes(), &value, flags).map_err(errno);
                let o = vm.maps().update(id, &key.to_le_bytes(), &value, flags);
                let what =
                    format!("type {t} value {value_size}: update {key} {value:?} flags {flags}");
                match (o, k) {
                    (Ok(()), Ok(())) => {}
                    // An xskmap entry needs an AF_XDP socket: ours refuses every update,
                    // the kernel refuses ours for the missing socket.
                    (Err(_), Err(_)) if t == XSKMAP => {}
                    (Err(o), Err(k)) => assert_eq!(o.errno(), k, "{what}"),
                    (o, k) => panic!("{what}: ours {o:?}, kernel {k:?}"),
                }
                assert_eq!(
                    vm.map_entries(),
                    theirs.map_entries().unwrap(),
                    "{what}: entries"
                );
            }
        }
    }
}

/// Runs `asm` (an XDP program over one map `d`, filled with `entries`) on the kernel,
/// the interpreter and the JIT; returns the common return value and our redirect.
fn run_all(
    asm: &str,
    d: &MapDecl,
    entries: &[(u32, Vec<u8>)],
    cpus: u32,
) -> (u32, Option<Redirect>) {
    let obj = object(asm, d.clone());
    let theirs = KernelObject::from_object(&obj, None, None, None).unwrap();
    let map = theirs.map("targets").unwrap();
    let packet: Vec<u8> = (0..64).collect();
    let mut results = Vec::new();
    for engine in [Engine::Interpreter, Engine::Jit] {
        let mut vm = Vm::from_object_typed(&obj, Select::Program("prog"), cpus, None).unwrap();
        vm.set_engine(engine).unwrap();
        let id = vm.maps().find("targets").unwrap();
        for (key, value) in entries {
            vm.maps().update(id, &key.to_le_bytes(), value, 0).unwrap();
        }
        let mut ctx = PacketContext::new(ProgramType::Xdp, &packet).unwrap();
        let r0 = vm.run_packet(&mut ctx).result.unwrap();
        results.push((
            r0 as u32,
            ctx.packet_out(),
            vm.map_entries(),
            vm.last_redirect(),
        ));
    }
    assert_eq!(results[0], results[1], "interpreter vs JIT: {asm}");
    for (key, value) in entries {
        map.update(&key.to_le_bytes(), value, 0).unwrap();
    }
    let run = theirs
        .program()
        .test_run(&TestRun::packet(&packet))
        .unwrap();
    let (r0, out, maps, redirect) = results.remove(0);
    assert_eq!(
        (r0, out, maps),
        (run.retval, run.data_out, theirs.map_entries().unwrap()),
        "{asm}"
    );
    (r0, redirect)
}

#[test]
fn redirect_map_matches_the_kernel() {
    let Some(cpus) = kernel_cpus() else { return };
    for t in [DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP] {
        let d = btf_map("targets", t, 4, 4, 4, 0);
        let value: u32 = if t == CPUMAP { 192 } else { 1 };
        let entries: Vec<(u32, Vec<u8>)> = match t {
            XSKMAP => vec![],
            _ => vec![(0, value.to_le_bytes().to_vec())],
        };
        for key in [0u64, 1, 3, 4, 1 << 32, u32::MAX as u64] {
            for flags in [0u64, 1, 2, 3, 4, 7, 8, 0x10, 0x18, 0x1b, 0x20, 1 << 40] {
                let asm = format!(
                    "lddw %r1, map_idx 0\nlddw %r2, {key:#x}\nlddw %r3, {flags:#x}\ncall 51\nexit"
                );
                let (r0, redirect) = run_all(&asm, &d, &entries, cpus);
                let expected = (r0 == 4).then(|| Redirect::Map {
                    map: "targets".into(),
                    key: key as u32,
                    flags,
                });
                assert_eq!(redirect, expected, "type {t} key {key:#x} flags {flags:#x}");
            }
        }
    }
}

#[test]
fn devmap_lookups_match_the_kernel() {
    let Some(cpus) = kernel_cpus() else { return };
    // Look key 0 and key 1 up; return the value's words (or 99 for NULL).
    let asm = |key: u32, word: i16| {
        format!(
            "mov %r1, {key}\nstxw [%r10-4], %r1\nmov %r2, %r10\nadd %r2, -4\n\
             lddw %r1, map_idx 0\ncall 1\nmov %r1, 99\njeq %r0, 0, +1\nldxw %r1, [%r0+{word}]\n\
             mov %r0, %r1\nexit"
        )
    };
    for t in [DEVMAP, DEVMAP_HASH] {
        for value_size in [4u32, 8] {
            let d = btf_map("targets", t, 4, value_size, 4, 0);
            let mut value = vec![0u8; value_size as usize];
            value[0] = 1;
            if value_size == 8 {
                value[4..].copy_from_slice(&(-1i32).to_le_bytes());
            }
            let entries = vec![(0, value)];
            for (key, word) in [(0, 0), (1, 0)] {
                assert_eq!(
                    run_all(&asm(key, word), &d, &entries, cpus).0,
                    [1, 99][key as usize]
                );
            }
            if value_size == 8 {
                assert_eq!(run_all(&asm(0, 4), &d, &entries, cpus).0, 0, "program id");
            }
        }
    }
    // xskmaps are empty here (no AF_XDP sockets), so a lookup gives NULL, as in the
    // kernel with no socket.
    let d = btf_map("targets", XSKMAP, 4, 4, 4, 0);
    assert_eq!(run_all(&asm(0, 0), &d, &[], cpus).0, 99);
}

/// An IPv4 UDP frame to `port`, to `dest` (a MAC address's first byte, repeated).
fn udp_frame(dest: u8, port: u16) -> Vec<u8> {
    let mut f = vec![dest; 6];
    f.extend([2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend([
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend(1234u16.to_be_bytes());
    f.extend(port.to_be_bytes());
    f.extend([0, 8, 0, 0]);
    f
}

#[test]
fn the_example_matches_the_kernel() {
    let Some(cpus) = kernel_cpus() else { return };
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/xdp_redirect.o"
    ))
    .unwrap();
    let object = Object::parse(&bytes).unwrap();
    let theirs = KernelObject::from_object(&object, None, None, None).unwrap();
    let lo = 1u32.to_le_bytes();
    // Ports 1 and 2 go to lo; 0 and 3 have no device.
    let filled = [1u32, 2];
    for key in filled {
        theirs
            .map("ports")
            .unwrap()
            .update(&key.to_le_bytes(), &lo, 0)
            .unwrap();
    }
    let mut vms: Vec<Vm> = [Engine::Interpreter, Engine::Jit]
        .into_iter()
        .map(|engine| {
            let mut vm = Vm::from_object_typed(&object, Select::Only, cpus, None).unwrap();
            vm.set_engine(engine).unwrap();
            let id = vm.maps().find("ports").unwrap();
            for key in filled {
                vm.maps().update(id, &key.to_le_bytes(), &lo, 0).unwrap();
            }
            vm
        })
        .collect();
    let mut packets: Vec<Vec<u8>> = (0..8).map(|port| udp_frame(2, port)).collect();
    packets.push(udp_frame(0xff, 7));
    let mut tcp = udp_frame(2, 1);
    tcp[23] = 6;
    packets.push(tcp);
    for (i, packet) in packets.iter().enumerate() {
        let run = theirs.program().test_run(&TestRun::packet(packet)).unwrap();
        for vm in &mut vms {
            let mut ctx = PacketContext::new(ProgramType::Xdp, packet).unwrap();
            let r0 = vm.run_packet(&mut ctx).result.unwrap() as u32;
            assert_eq!(
                (r0, ctx.packet_out()),
                (run.retval, run.data_out.clone()),
                "packet {i}"
            );
            let expected = match (i, r0) {
                (8, 4) => Some(Redirect::Map {
                    map: "ports".into(),
                    key: 0,
                    flags: 0x18,
                }),
                (_, 4) => Some(Redirect::Map {
                    map: "ports".into(),
                    key: i as u32 % 4,
                    flags: 2,
                }),
                _ => None,
            };
            assert_eq!(vm.last_redirect(), expected, "packet {i}");
        }
        assert_eq!(
            vms[0].map_entries(),
            theirs.map_entries().unwrap(),
            "packet {i}"
        );
        assert_eq!(
            vms[1].map_entries(),
            theirs.map_entries().unwrap(),
            "packet {i}"
        );
    }
    // Ports 1 and 5 found lo (and counted), as did 2 and 6; the broadcast redirected.
    let sent = &vms[0].map_entries()[1].1;
    assert_eq!(sent[1].1, 2u64.to_le_bytes());
    assert_eq!(sent[2].1, 2u64.to_le_bytes());
}
