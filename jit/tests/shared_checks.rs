//! Shared memory checks (`bounds.rs`, invariants 4 and 5): straight-line runs of loads,
//! stores and atomics through the same unchanged base register, at offsets around the
//! ends of caller memory, the read-only region and the stack, must behave as on the
//! interpreter, with every budget (so a cut before each access is tested too).

mod common;

use common::{run_interp, run_jit, Case, Entropy, SplitMix, GLOBAL_LEN, MEM_LEN, RO_LEN};
use ebpfvm_isa::{AluOp, AtomicOp, Insn, Operand, Program, Reg, Size, Width};
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::Interpreter;

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register number in range")
}

/// A random program: a few groups, each setting a base register (r1 = caller memory,
/// r3 = read-only, or r6 = a pointer into one of them or the stack) and then accessing
/// through it several times, with ALU noise on other registers in between.
fn case(e: &mut SplitMix) -> Case {
    let mut insns = Vec::new();
    for _ in 0..1 + e.next() % 3 {
        let (base, len) = match e.next() % 4 {
            0 => (reg(1), MEM_LEN as i64),
            1 => (reg(3), RO_LEN as i64),
            2 => {
                // r6 = r1 + k: offsets relative to a pointer inside caller memory.
                let k = (e.next() % (MEM_LEN as u64 + 8)) as i32;
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: reg(6),
                    src: Operand::Reg(reg(1)),
                });
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: reg(6),
                    src: Operand::Imm(k),
                });
                (reg(6), MEM_LEN as i64 - i64::from(k))
            }
            _ => {
                // r6 = r10 - k: a stack pointer the fast path does not cover.
                let k = (e.next() % 600) as i32;
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: reg(6),
                    src: Operand::Reg(Reg::FP),
                });
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: reg(6),
                    src: Operand::Imm(-k),
                });
                (reg(6), i64::from(k))
            }
        };
        for _ in 0..2 + e.next() % 6 {
            let size = [Size::B, Size::H, Size::W, Size::DW][(e.next() % 4) as usize];
            // Mostly in bounds, sometimes just past either end.
            // (`len` is negative when r6 points past the end of caller memory.)
            let off = (e.next() % (len.max(0) as u64 + 24)) as i64 - 12 + len.min(0);
            let off = off.clamp(-32768, 32767) as i16;
            let insn = match e.next() % 5 {
                0 | 1 => Insn::Load {
                    size,
                    sign_extend: false,
                    dst: reg(7),
                    src: base,
                    off,
                },
                2 | 3 => Insn::Store {
                    size,
                    dst: base,
                    off,
                    src: Operand::Reg(reg(8)),
                },
                _ => Insn::Atomic {
                    width: Width::W64,
                    op: AtomicOp::Add,
                    dst: base,
                    src: reg(8),
                    off,
                },
            };
            insns.push(insn);
            if e.next().is_multiple_of(3) {
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: reg(8),
                    src: Operand::Reg(reg(7)),
                });
            }
        }
    }
    insns.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: reg(0),
        src: Operand::Reg(reg(8)),
    });
    insns.push(Insn::Exit);
    let mem = (0..MEM_LEN).map(|_| e.next() as u8).collect();
    let ro = (0..RO_LEN).map(|_| e.next() as u8).collect();
    Case {
        program: Program::new(insns).expect("valid program"),
        tails: Vec::new(),
        global: vec![0; GLOBAL_LEN as usize],
        mem,
        ro,
        extra_args: [e.next(), e.next()],
        wild: false,
    }
}

#[test]
fn shared_checks_match_the_interpreter() {
    let (mut faults, mut exits) = (0, 0);
    for seed in 0..2_000u64 {
        let mut e = SplitMix(0x5ba2_ed00 + seed);
        let case = case(&mut e);
        let interp = [Interpreter::new(&case.program).expect("lowers")];
        let jit = [
            JitProgram::compile_with(&case.program, None, Tiering::Optimized).expect("compiles"),
        ];
        let full = run_interp(&case, &interp, None);
        let text = || ebpfvm_isa::disassemble(&case.program);
        assert_eq!(full, run_jit(&case, &jit, None), "seed {seed}\n{}", text());
        match full.0.result {
            Ok(_) => exits += 1,
            Err(_) => faults += 1,
        }
        for budget in 0..=full.0.insns + 1 {
            let want = run_interp(&case, &interp, Some(budget));
            let got = run_jit(&case, &jit, Some(budget));
            assert_eq!(want, got, "seed {seed}, budget {budget}\n{}", text());
        }
    }
    // Both the faults and the passes of shared checks are exercised.
    assert!(
        faults > 200 && exits > 200,
        "{faults} faults, {exits} exits"
    );
}
