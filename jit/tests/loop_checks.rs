//! Loop checks (`loops.rs`): a loop over a buffer, `r4 = r1; r4 += r3; <access [r4 +
//! off]>; r3 += step; if r3 < end goto loop`, checks its access once per entry into the
//! loop. Every such loop, with the buffer's start or an address around it in r1, regions
//! of 0 to 12 bytes (read-only and writable), offsets and sizes around the ends, loads
//! and stores, both operand orders, and budgets that stop it anywhere, runs on the
//! optimized JIT and the interpreter with equal outcomes and memory. Fails when the
//! loop check lets an access one byte too far through (checked by changing `bound` in
//! `loops.rs`).

mod common;

use common::run_on_region;
use ebpfvm_isa::{AluOp, Cond, Insn, Operand, Program, Reg, Size, Width};
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, Outcome};

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register number in range")
}

fn alu(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: reg(dst),
        src,
    }
}

/// One loop shape.
#[derive(Clone, Copy, Debug)]
struct Shape {
    size: Size,
    off: i16,
    write: bool,
    /// `r4 = r3; r4 += r1` instead of `r4 = r1; r4 += r3`.
    swapped: bool,
    start: i32,
    step: i32,
    end: i32,
}

fn program(s: Shape) -> Program {
    let (first, second) = if s.swapped { (3, 1) } else { (1, 3) };
    let access = if s.write {
        Insn::Store {
            size: s.size,
            dst: reg(4),
            off: s.off,
            src: Operand::Reg(reg(3)),
        }
    } else {
        Insn::Load {
            size: s.size,
            sign_extend: false,
            dst: reg(5),
            src: reg(4),
            off: s.off,
        }
    };
    let insns = vec![
        alu(AluOp::Mov, 3, Operand::Imm(s.start)),
        alu(AluOp::Mov, 0, Operand::Imm(0)),
        alu(AluOp::Mov, 5, Operand::Imm(1)),
        // loop (pc 3):
        alu(AluOp::Mov, 4, Operand::Reg(reg(first))),
        alu(AluOp::Add, 4, Operand::Reg(reg(second))),
        access,
        alu(AluOp::Add, 0, Operand::Reg(reg(5))),
        alu(AluOp::Add, 3, Operand::Imm(s.step)),
        Insn::Jump {
            width: Width::W64,
            cond: Cond::Slt,
            dst: reg(3),
            src: Operand::Imm(s.end),
            off: -6,
        },
        Insn::Exit,
    ];
    Program::new(insns).expect("a valid program")
}

/// Runs with a region of `len` bytes (writable or not) and r1 = its address + `shift`,
/// followed by bytes an access past its end would find; the outcome and the bytes.
fn run(
    len: usize,
    writable: bool,
    shift: i64,
    f: impl FnOnce([u64; 5], &mut MemoryMap<'_>, &mut Helpers) -> Outcome,
) -> (Outcome, Vec<u8>) {
    let backing = (0..len as u8 + 16).map(|b| b.wrapping_mul(37)).collect();
    run_on_region(backing, len, writable, shift, f)
}

#[test]
fn loop_checks_match_the_interpreter_at_every_edge() {
    let mut compared = 0;
    let mut looped = 0;
    for len in [0usize, 1, 3, 4, 7, 8, 9, 12] {
        for writable in [false, true] {
            for size in [Size::B, Size::H, Size::W, Size::DW] {
                for off in [-9i16, -1, 0, 1, 5] {
                    for write in [false, true] {
                        for swapped in [false, true] {
                            for (start, step, end) in
                                [(0, 1, 16), (0, 4, 13), (2, 3, 9), (-3, 1, 4), (0, 1, 1)]
                            {
                                let shape = Shape {
                                    size,
                                    off,
                                    write,
                                    swapped,
                                    start,
                                    step,
                                    end,
                                };
                                let p = program(shape);
                                let interp = Interpreter::new(&p).expect("lowers");
                                let jit = JitProgram::compile_with(&p, None, Tiering::Optimized)
                                    .expect("compiles");
                                for shift in [0i64, 1, -1, 1 << 32] {
                                    for budget in [None, Some(5), Some(9), Some(14), Some(21)] {
                                        let a = run(len, writable, shift, |args, m, h| {
                                            interp.run(args, m, h, budget)
                                        });
                                        let b = run(len, writable, shift, |args, m, h| {
                                            jit.run(args, m, h, budget)
                                        });
                                        assert_eq!(
                                            a, b,
                                            "len {len}, writable {writable}, shift {shift}, \
                                             {shape:?}, budget {budget:?}"
                                        );
                                        compared += 1;
                                        looped += u32::from(a.0.insns > 12);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 50_000, "{compared} runs compared");
    assert!(looped > 5_000, "{looped} runs went round the loop twice");
}
