//! The C examples in `examples/` (clang-built objects, committed) through the facade and
//! the command line: return values, map contents, ring-buffer records and trace output.

mod common;

use common::{ebpfvm, scratch};

use ebpfvm::vm::MapId;
use ebpfvm::{Engine, Select, Vm};

/// Every test runs on both engines: the same results, maps and output.
const ENGINES: [Engine; 2] = [Engine::Interpreter, Engine::Jit];

/// Program `select` of example `name` on `engine`.
fn load(engine: Engine, name: &str, select: Select<'_>, cpus: u32) -> Vm {
    let mut vm = Vm::from_elf(&object(name), select, cpus).unwrap();
    vm.set_engine(engine).unwrap();
    vm
}

fn object(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn map(vm: &Vm, name: &str) -> MapId {
    vm.maps()
        .find(name)
        .unwrap_or_else(|| panic!("no map {name}"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

/// `struct request { u32 n; u32 values[16]; }`
fn request(values: &[u32]) -> Vec<u8> {
    let mut out = (values.len() as u32).to_le_bytes().to_vec();
    for i in 0..16 {
        out.extend(values.get(i).copied().unwrap_or(0).to_le_bytes());
    }
    out
}

#[test]
fn counter_counts_with_maps_global_data_calls_and_loops() {
    for engine in ENGINES {
        let mut vm = load(engine, "counter.o", Select::Program("count"), 2);
        let mut req = request(&[3, 12, 3, 20, 7]);
        // bpf_loop stops at i = 5 (the callback returns 1): 6 iterations.
        assert_eq!(vm.run(&mut req).result, Ok(6));
        assert_eq!(vm.run(&mut req).result, Ok(6));
        let counts = map(&vm, "counts");
        let entries = vm.maps().entries(counts).unwrap();
        let got: Vec<(u32, u64)> = entries
            .iter()
            .map(|(k, v)| (u32::from_le_bytes(k[..4].try_into().unwrap()), u64_at(v, 0)))
            .collect();
        // Sorted by key bytes (little-endian u32s).
        assert_eq!(got, [(3, 4), (7, 2), (12, 2), (20, 2)]);
        let stats = map(&vm, "stats");
        // Two values above the threshold (10) per run, times weight 2 (.data).
        assert_eq!(
            u64_at(&vm.maps().lookup(stats, &0u32.to_le_bytes()).unwrap(), 0),
            8
        );
        assert_eq!(
            u64_at(&vm.maps().lookup(stats, &1u32.to_le_bytes()).unwrap(), 0),
            12
        );
        let bss = map(&vm, ".bss");
        assert_eq!(
            u64_at(&vm.maps().lookup(bss, &0u32.to_le_bytes()).unwrap(), 0),
            2,
            "runs"
        );
        let rodata = map(&vm, ".rodata");
        assert_eq!(
            vm.maps().lookup(rodata, &0u32.to_le_bytes()).unwrap()[..4],
            10u32.to_le_bytes()
        );
    }
}

#[test]
fn tail_calls_dispatch_through_the_declared_prog_array() {
    for engine in ENGINES {
        let mut vm = load(engine, "tail_calls.o", Select::Program("dispatch"), 1);
        let op = |code: u32, arg: u32| [code.to_le_bytes(), arg.to_le_bytes()].concat();
        assert_eq!(vm.run(&mut op(0, 5)).result, Ok(1), "on_add");
        assert_eq!(vm.run(&mut op(1, 3)).result, Ok(2), "on_mul");
        assert_eq!(
            vm.run(&mut op(2, 3)).result.map(|r| r as u32),
            Ok(u32::MAX),
            "empty slot"
        );
        let data = map(&vm, ".data");
        assert_eq!(
            u64_at(&vm.maps().lookup(data, &0u32.to_le_bytes()).unwrap(), 0),
            18
        );
        let handlers = map(&vm, "handlers");
        assert_eq!(vm.maps().entries(handlers).unwrap().len(), 2);
    }
}

#[test]
fn events_go_to_the_ring_buffer_queue_and_trace() {
    for engine in ENGINES {
        let mut vm = load(engine, "events.o", Select::Only, 1);
        vm.kernel().with(|k| {
            k.time_ns = 5000;
            k.tgid = 77;
        });
        assert_eq!(vm.run(&mut 42u64.to_le_bytes()).result, Ok(32));
        assert_eq!(vm.run(&mut 43u64.to_le_bytes()).result, Ok(64));
        let events = map(&vm, "events");
        let recs = vm.maps().ringbuf_consume(events).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(u32::from_le_bytes(recs[0][..4].try_into().unwrap()), 77);
        assert_eq!((u64_at(&recs[0], 8), u64_at(&recs[0], 16)), (42, 5000));
        let recent = map(&vm, "recent");
        let values: Vec<u64> = vm
            .maps()
            .entries(recent)
            .unwrap()
            .iter()
            .map(|(_, v)| u64_at(v, 0))
            .collect();
        assert_eq!(values, [42, 43]);
        assert_eq!(vm.kernel().take_trace(), ["value 42", "value 43"]);
    }
}

#[test]
fn selecting_programs() {
    let bytes = object("tail_calls.o");
    let err = Vm::from_elf(&bytes, Select::Only, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("dispatch") && err.contains("on_mul"), "{err}");
    let err = Vm::from_elf(&bytes, Select::Program("nope"), 1)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no such program"), "{err}");
    let vm = Vm::from_elf(&bytes, Select::Program("on_add"), 1).unwrap();
    assert_eq!(vm.elf_program().unwrap().section, "syscall");
}

#[test]
fn cli_runs_an_object_and_prints_its_maps() {
    let ctx = scratch("req.bin", &request(&[1, 1, 2]));
    let out = ebpfvm(&[
        "run",
        "examples/counter.o",
        "--program",
        "count",
        "--ctx",
        &ctx,
        "--json",
        "--maps-json",
        "--cpus",
        "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["retval"], 4);
    let maps = &lines[1]["maps"];
    assert_eq!(
        maps["counts"],
        serde_json::json!([
            ["01000000", "0200000000000000"],
            ["02000000", "0100000000000000"]
        ])
    );
    assert_eq!(
        maps[".bss"],
        serde_json::json!([["00000000", "0100000000000000"]])
    );
    assert_eq!(
        maps["stats"][1],
        serde_json::json!(["01000000", "0400000000000000"])
    );
    // The JIT is the default (it reports its compile time); the interpreter gives the
    // same run and maps.
    assert!(lines[0]["compile_ns"].is_u64(), "{text}");
    let ctx_path = ctx.as_str();
    let interp = ebpfvm(&[
        "run",
        "examples/counter.o",
        "--program",
        "count",
        "--ctx",
        ctx_path,
        "--json",
        "--maps-json",
        "--cpus",
        "1",
        "--engine",
        "interp",
    ]);
    assert_eq!(interp.status.code(), Some(0));
    let interp: Vec<serde_json::Value> = String::from_utf8_lossy(&interp.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(interp[0].get("compile_ns").is_none());
    assert_eq!(
        (&interp[0]["retval"], &interp[0]["insns"], &interp[1]),
        (&lines[0]["retval"], &lines[0]["insns"], &lines[1])
    );

    // Packet types need a packet, exit 2.
    let out = ebpfvm(&[
        "run",
        "elf/tests/programs/obj/btf_maps.o",
        "--program",
        "first",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`xdp` program runs on a packet"), "{err}");
    // Several programs: the error lists them.
    let out = ebpfvm(&["run", "examples/tail_calls.o"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("on_mul"));
    // Unsupported features are named.
    let out = ebpfvm(&["run", "elf/tests/programs/obj/core.o"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("CO-RE"));
    // --section picks the only program of a section, or lists the candidates.
    let value = scratch("value.bin", &0u64.to_le_bytes());
    let value = value.as_str();
    let out = ebpfvm(&[
        "run",
        "examples/events.o",
        "--section",
        "syscall",
        "--mem",
        value,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"trace\":[\"value 0\"]"));
    let out = ebpfvm(&["run", "examples/tail_calls.o", "--section", "syscall"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("several programs match"));
    // disasm shows the only program of an object.
    let out = ebpfvm(&["disasm", "examples/events.o"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("call 131"));
}
