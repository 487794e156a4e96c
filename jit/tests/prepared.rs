//! `JitProgram::prepare`: a prepared program's runs must give what the same sequence of
//! `run_linked` calls gives on the same memory: outcomes, memory, stack and maps after
//! every run of a sequence that mixes budgets which cut runs short (traps), unbudgeted
//! runs, tail calls and helper calls, so runs follow clean and dirty contexts alike.

mod common;

use common::{check_prepared, Generator, SplitMix};
use ebpfvm_isa::assemble;
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, MemoryMap, Stack};

#[test]
fn prepared_runs_match_run_linked_on_random_programs() {
    let cases: u64 = if cfg!(debug_assertions) { 300 } else { 3_000 };
    for i in 0..cases {
        let seed = 0x9e9a_0000 + i;
        let mut e = SplitMix(seed);
        let case = Generator::new(&mut e).case();
        let tiering = if i % 2 == 0 {
            Tiering::Quick
        } else {
            Tiering::Optimized
        };
        if let Err(msg) = check_prepared(&case, &mut e, tiering) {
            panic!("seed {seed:#x}: {msg}");
        }
    }
}

/// The embedder writes the next input through `Prepared::memory` between runs, and a
/// run sees it.
#[test]
fn prepared_runs_see_memory_written_between_runs() {
    let program = assemble("ldxdw %r0, [%r1]\nadd %r0, %r2\nexit").expect("assembles");
    let jit = JitProgram::compile(&program).expect("compiles");
    let mut stack = Stack::new();
    let mut helpers = Helpers::new();
    let mut input = [0u8; 8];
    let mut map = MemoryMap::new(&mut stack);
    let addr = map
        .map_mut(ebpfvm_vm::RegionKind::Memory, &mut input)
        .expect("maps");
    let mut prepared = jit.prepare(&mut map, &mut helpers);
    for k in 0..5u64 {
        assert!(prepared.memory().store(addr, (k * 1000).to_le_bytes()));
        let outcome = prepared.run([addr, k, 0, 0, 0], None);
        assert_eq!(outcome.result, Ok(k * 1000 + k));
        assert_eq!(outcome.insns, 3);
    }
    // A fault, then a clean run again.
    let fault = prepared.run([0, 0, 0, 0, 0], None);
    assert!(fault.result.is_err());
    assert_eq!(prepared.run([addr, 1, 0, 0, 0], None).result, Ok(4001));
}

/// Regions mapped through `Prepared::memory` between runs are seen by the next run,
/// also once so many are mapped that the map's region table moves to the heap (a run
/// that kept the old table would trap on the new region, or read freed memory).
#[test]
fn prepared_runs_see_regions_mapped_between_runs() {
    let program = assemble("ldxdw %r0, [%r1]\nexit").expect("assembles");
    let jit = JitProgram::compile(&program).expect("compiles");
    let mut stack = Stack::new();
    let mut helpers = Helpers::new();
    let mut inputs: Vec<[u8; 8]> = (0..12u64).map(|k| (k + 7).to_le_bytes()).collect();
    let mut map = MemoryMap::new(&mut stack);
    let mut inputs = inputs.iter_mut();
    let first = inputs.next().expect("an input");
    let addr = map
        .map_mut(ebpfvm_vm::RegionKind::Memory, first)
        .expect("maps");
    let mut prepared = jit.prepare(&mut map, &mut helpers);
    assert_eq!(prepared.run([addr, 0, 0, 0, 0], None).result, Ok(7));
    for (k, input) in (1..).zip(inputs) {
        let addr = prepared
            .memory()
            .map_mut(ebpfvm_vm::RegionKind::Memory, input)
            .expect("maps");
        assert_eq!(prepared.run([addr, 0, 0, 0, 0], None).result, Ok(k + 7));
    }
}

/// A window shrunk through `Prepared::memory` between runs is seen by the next run of
/// optimized code, which remembers the last region it used (`bounds.rs`): a clean run
/// leaves the window remembered, and a run that kept it would read past the new end.
#[test]
fn prepared_runs_see_windows_moved_between_runs() {
    let program = assemble("ldxdw %r0, [%r1+32]\nexit").expect("assembles");
    let jit = JitProgram::compile_with(&program, None, Tiering::Optimized).expect("compiles");
    let mut stack = Stack::new();
    let mut helpers = Helpers::new();
    let mut packet = [0u8; 64];
    packet[32] = 9;
    let mut map = MemoryMap::new(&mut stack);
    let addr = map
        .map_window(ebpfvm_vm::RegionKind::Packet, &mut packet, 0, 64, true)
        .expect("maps");
    let mut prepared = jit.prepare(&mut map, &mut helpers);
    assert_eq!(prepared.run([addr, 0, 0, 0, 0], None).result, Ok(9));
    assert!(prepared.memory().set_window(addr, 0, 16));
    let outcome = prepared.run([addr, 0, 0, 0, 0], None);
    let trap = outcome.result.expect_err("reads past the window's new end");
    assert!(
        matches!(trap.kind, ebpfvm_vm::TrapKind::OutOfBounds { .. }),
        "{trap:?}"
    );
    // Moved back, the same read passes again.
    assert!(prepared.memory().set_window(addr, 0, 64));
    assert_eq!(prepared.run([addr, 0, 0, 0, 0], None).result, Ok(9));
}
