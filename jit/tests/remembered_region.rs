//! The remembered region (`bounds.rs`, invariant 1): a region shorter than 8 bytes must
//! never become the remembered one, or an 8-byte access would pass the fast check past
//! its end. Every pair of accesses through two registers into regions of 0 to 10
//! bytes (read-only and writable), at every offset around the end, runs on the JIT and
//! the interpreter with equal outcomes and memory. Fails when the walk remembers short
//! regions (checked by changing the limit test in `bounds.rs`).

mod common;

use common::run_on_region;
use ebpfvm_isa::{AluOp, Insn, Operand, Program, Reg, Size, Width};
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Interpreter, Outcome};

/// Runs with a region of `len` bytes (writable or not) in r1, followed by bytes that an
/// access past its end would find; the outcome and the bytes.
fn run(
    len: usize,
    writable: bool,
    f: impl FnOnce([u64; 5], &mut ebpfvm_vm::MemoryMap<'_>, &mut ebpfvm_vm::Helpers) -> Outcome,
) -> (Outcome, Vec<u8>) {
    run_on_region(vec![0x11u8; len + 16], len, writable, 0, f)
}

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register number in range")
}

/// `r2 = r1; <first access through r1>; <second access through r2>; r0 = 7; exit`.
fn program(first: (Size, i16, bool), second: (Size, i16, bool)) -> Program {
    let access = |(size, off, write): (Size, i16, bool), base: Reg| {
        if write {
            Insn::Store {
                size,
                dst: base,
                off,
                src: Operand::Imm(0x5a),
            }
        } else {
            Insn::Load {
                size,
                sign_extend: false,
                dst: reg(3),
                src: base,
                off,
            }
        }
    };
    let insns = vec![
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: reg(2),
            src: Operand::Reg(reg(1)),
        },
        access(first, reg(1)),
        access(second, reg(2)),
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: reg(0),
            src: Operand::Imm(7),
        },
        Insn::Exit,
    ];
    Program::new(insns).expect("a valid program")
}

#[test]
fn short_regions_are_never_remembered() {
    let sizes = [Size::B, Size::H, Size::W, Size::DW];
    let mut compared = 0;
    for len in 0..=10usize {
        for writable in [false, true] {
            for &s1 in &sizes {
                for &s2 in &[Size::W, Size::DW] {
                    for w1 in [false, true] {
                        for w2 in [false, true] {
                            for off2 in [0i16, 1, len as i16 - 4, len as i16 - 1] {
                                let p = program((s1, 0, w1), (s2, off2, w2));
                                let interp = Interpreter::new(&p).expect("lowers");
                                let jit = JitProgram::compile_with(&p, None, Tiering::Optimized)
                                    .expect("compiles");
                                for budget in [None, Some(2), Some(3)] {
                                    let a = run(len, writable, |args, m, h| {
                                        interp.run(args, m, h, budget)
                                    });
                                    let b = run(len, writable, |args, m, h| {
                                        jit.run(args, m, h, budget)
                                    });
                                    assert_eq!(
                                        a, b,
                                        "len {len}, writable {writable}, first {s1:?} write \
                                         {w1}, second {s2:?}+{off2} write {w2}, budget {budget:?}"
                                    );
                                    compared += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 4000, "{compared} runs compared");
}
