//! Every program of every clang-built object (`examples/` and `elf/tests/programs/obj/`)
//! on the interpreter and on the JIT: several runs in a row over different inputs (maps
//! keep their state between runs), then runs cut short by budgets, must give the same
//! outcomes (result, trap kind and pc, instruction count), memory, map contents,
//! ring-buffer records and trace output. Objects the loader refuses (CO-RE, kfuncs,
//! big-endian) are skipped; `elf/tests/objects.rs` covers the refusals.

use ebpfvm::elf::Object;
use ebpfvm::vm::maps::Entry;
use ebpfvm::vm::MapId;
use ebpfvm::{Engine, Outcome, Select, Vm};

/// What one engine did over the whole sequence of runs.
#[derive(Debug, PartialEq)]
struct Record {
    outcomes: Vec<(Outcome, Vec<u8>)>,
    maps: Vec<(String, Vec<Entry>)>,
    ringbufs: Vec<Vec<Vec<u8>>>,
    trace: Vec<String>,
}

/// The inputs, in run order: zeros, a counting pattern, small `u32`s (the examples'
/// `struct request`), and bytes that look like pointers and lengths.
fn inputs() -> Vec<Vec<u8>> {
    let mut request = 5u32.to_le_bytes().to_vec();
    for v in [3u32, 12, 3, 20, 7, 0, 1, 2, 9, 11, 13, 17, 19, 23, 29, 31] {
        request.extend(v.to_le_bytes());
    }
    request.resize(128, 0);
    vec![
        vec![0; 128],
        (0..128).map(|i| i as u8).collect(),
        request,
        (0..128).map(|i| (i * 37 + 11) as u8).collect(),
        1u64.to_le_bytes().to_vec(),
    ]
}

fn record(object: &Object, name: &str, engine: Engine) -> Record {
    let mut vm = Vm::from_object(object, Select::Program(name), 2).unwrap();
    vm.set_engine(engine).unwrap();
    let mut outcomes = Vec::new();
    for mut mem in inputs() {
        let outcome = vm.run(&mut mem);
        outcomes.push((outcome, mem));
    }
    // Budgets that cut the last input's run anywhere (and the runs change maps too).
    let mut last = inputs().pop().unwrap();
    let full = vm.run(&mut last.clone()).insns;
    for budget in [0, 1, full / 3, full / 2, full.saturating_sub(1)] {
        vm.set_budget(Some(budget));
        let outcome = vm.run(&mut last);
        outcomes.push((outcome, last.clone()));
    }
    let ringbufs = vm
        .maps()
        .ids()
        .filter_map(|id: MapId| vm.maps().ringbuf_consume(id).ok())
        .collect();
    Record {
        outcomes,
        maps: vm.map_entries(),
        ringbufs,
        trace: vm.kernel().take_trace(),
    }
}

#[test]
fn every_object_program_runs_the_same_on_both_engines() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut paths = Vec::new();
    for dir in ["examples", "elf/tests/programs/obj"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "o") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut compared = 0;
    for path in &paths {
        let Ok(object) = Object::parse(&std::fs::read(path).unwrap()) else {
            continue;
        };
        for program in &object.programs {
            let interp = record(&object, &program.name, Engine::Interpreter);
            let jit = record(&object, &program.name, Engine::Jit);
            assert_eq!(
                interp,
                jit,
                "{} program {}: interpreter, JIT",
                path.display(),
                program.name
            );
            compared += 1;
        }
    }
    // The examples alone have 6 programs; the test objects more.
    assert!(compared >= 10, "only {compared} programs compared");
    println!("{compared} programs from {} objects compared", paths.len());
}
