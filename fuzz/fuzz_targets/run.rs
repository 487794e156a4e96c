//! Fuzz target `run`: the first 2 bytes pick the size of the caller's memory, the rest
//! is bytecode. A program that loads and lowers runs on the interpreter with a budget
//! of 10,000 instructions and two helpers; nothing may panic, and the outcome stays
//! within the budget.

#![no_main]

use ebpfvm_isa::{Features, Insn, Program};
use ebpfvm_vm::{HelperError, Helpers, Interpreter, MemoryMap, RegionKind, Stack, TrapKind};
use libfuzzer_sys::fuzz_target;

const BUDGET: u64 = 10_000;

fn helpers() -> Helpers {
    let mut helpers = Helpers::new();
    // Helper 1: the byte sum of guest memory r1..r1+r2 (at most 4 KiB), read through the
    // helper context; r3 != 0 also writes the sum back at r1.
    helpers.register(1, |ctx, [addr, len, write, _, _]| {
        let sum: u64 = ctx.read(addr, len % 4097)?.iter().map(|&b| b as u64).sum();
        if write != 0 {
            ctx.write(addr, &sum.to_le_bytes())?;
        }
        Ok(sum)
    });
    // Helper 2: ends the program with r1.
    helpers.register(2, |_, args| Err(HelperError::Exit(args[0])));
    helpers
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let mem_len = u16::from_le_bytes([data[0], data[1]]) as usize % 4097;
    let Ok(program) = Program::from_bytes(&data[2..], &Features::default()) else {
        return;
    };
    let Ok(interp) = Interpreter::new(&program) else {
        return;
    };
    let mut mem: Vec<u8> = (0..mem_len).map(|i| i as u8).collect();
    let mut stack = Stack::new();
    let mut map = MemoryMap::new(&mut stack);
    let addr = map.map_mut(RegionKind::Memory, &mut mem).unwrap();
    map.set_packet(addr);
    let outcome = interp.run(
        [addr, mem_len as u64, 0, 0, 0],
        &mut map,
        &mut helpers(),
        Some(BUDGET),
    );
    assert!(outcome.insns <= BUDGET);
    if let Err(trap) = &outcome.result {
        assert!(trap.pc < program.len());
        assert_ne!(program.insns()[trap.pc], Insn::Imm64Tail);
        if let TrapKind::BudgetExhausted { budget } = trap.kind {
            assert_eq!((budget, outcome.insns), (BUDGET, BUDGET));
        }
    }
});
