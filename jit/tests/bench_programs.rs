//! The benchmark programs (C compiled by clang, in `benches/programs/`) give the results
//! their native builds give (`expected.txt`) on the JIT, with the interpreter's
//! instruction counts.

use std::path::PathBuf;

use ebpfvm_isa::{Features, Program};
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, Outcome, RegionKind, Stack};

fn programs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches/programs")
}

/// Runs `run` over a fresh copy of `mem` mapped as in the benches (r1, r2 = length).
fn run_on(
    mem: &[u8],
    run: impl FnOnce([u64; 5], &mut MemoryMap<'_>) -> Outcome,
) -> (Outcome, Vec<u8>) {
    let mut mem = mem.to_vec();
    let mut stack = Stack::new();
    let len = mem.len() as u64;
    let mut map = MemoryMap::new(&mut stack);
    let addr = map.map_mut(RegionKind::Memory, &mut mem).unwrap();
    let outcome = run([addr, len, 0, 0, 0], &mut map);
    drop(map);
    (outcome, mem)
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
        let mem = std::fs::read(dir.join(format!("{name}.mem"))).unwrap();
        let program = Program::from_bytes(&bytes, &Features::default()).unwrap();
        for tiering in [Tiering::Quick, Tiering::Optimized] {
            let jit = JitProgram::compile_with(&program, None, tiering).unwrap();
            let interp = Interpreter::new(&program).unwrap();
            let (outcome, after) = run_on(&mem, |args, map| {
                jit.run(args, map, &mut Helpers::new(), None)
            });
            assert_eq!(outcome.result, Ok(want), "{name} {tiering:?}: {outcome:?}");
            let reference = run_on(&mem, |args, map| {
                interp.run(args, map, &mut Helpers::new(), None)
            });
            assert_eq!(
                (outcome, after),
                reference,
                "{name} {tiering:?}: differs from the interpreter"
            );
            println!(
                "{name}: {} slots, {tiering:?} tier compiled in {:?}",
                program.len(),
                jit.compile_time()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}
