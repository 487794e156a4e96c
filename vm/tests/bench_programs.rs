//! The benchmark programs (C compiled by clang, in `benches/programs/`) give the results
//! their native gcc builds give (`expected.txt`), on the interpreter.

use std::path::PathBuf;

use ebpfvm_isa::{Features, Program};
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, RegionKind, Stack};

fn programs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches/programs")
}

#[test]
fn bench_programs_match_native_results() {
    let dir = programs_dir();
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let mut checked = 0;
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line.split_once(' ').unwrap();
        let want = u64::from_str_radix(value.trim().trim_start_matches("0x"), 16).unwrap();
        let bytes = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
        let mut mem = std::fs::read(dir.join(format!("{name}.mem"))).unwrap();
        let program = Program::from_bytes(&bytes, &Features::default()).unwrap();
        let interp = Interpreter::new(&program).unwrap();
        let mut stack = Stack::new();
        let len = mem.len() as u64;
        let mut map = MemoryMap::new(&mut stack);
        let addr = map.map_mut(RegionKind::Memory, &mut mem).unwrap();
        let outcome = interp.run([addr, len, 0, 0, 0], &mut map, &mut Helpers::new(), None);
        assert_eq!(outcome.result, Ok(want), "{name}: {outcome:?}");
        checked += 1;
    }
    assert_eq!(checked, 6);
}
