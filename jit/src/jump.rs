//! Jumps: `ja`/`gotol` and the conditional jumps (64-bit, or 32-bit on the low halves).
//! Every target is the entry block of a region, where the next count happens.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use ebpfvm_isa::{Cond, Operand, Reg, Width};

use crate::translate::Translator;

impl Translator<'_> {
    /// `goto target`.
    pub(crate) fn translate_ja(&mut self, target: usize) {
        let block = self.region_block(target);
        self.b.ins().jump(block, &[]);
    }

    /// `if dst cond src goto target` (else fall through to `next`).
    pub(crate) fn translate_jump(
        &mut self,
        width: Width,
        cond: Cond,
        dst: Reg,
        src: Operand,
        target: usize,
        next: usize,
    ) {
        let taken = self.region_block(target);
        let fallthrough = self.region_block(next);
        if taken == fallthrough {
            self.b.ins().jump(taken, &[]);
            return;
        }
        let c = self.condition(width, cond, dst, src);
        let taken_likely = self.cfg.back_edge[self.pc];
        if self.stub_unlikely && (taken_likely || target > self.pc) {
            // Cranelift splits an edge whose target has other predecessors and puts
            // that edge block (the register moves of the join) right after the branch.
            // When that was the unlikely side, the likely path jumped over it on every
            // pass. So the unlikely side goes through a stub block of our own, which is
            // not an edge block and is laid out after the likely code (or retargeted
            // away when it needs no moves). Likely: a loop's back edge, else the
            // fall-through of a forward jump (clang lays out the likely successor
            // next). A backward jump that closes no loop jumps to code laid out
            // before it: no side is known to be likely, and no stub is made.
            let stub = self.b.create_block();
            let unlikely = if taken_likely {
                self.b.ins().brif(c, taken, &[], stub, &[]);
                fallthrough
            } else {
                self.b.ins().brif(c, stub, &[], fallthrough, &[]);
                taken
            };
            self.b.seal_block(stub);
            self.b.switch_to_block(stub);
            self.b.ins().jump(unlikely, &[]);
            return;
        }
        self.b.ins().brif(c, taken, &[], fallthrough, &[]);
    }

    /// The condition as an `i8` truth value.
    fn condition(&mut self, width: Width, cond: Cond, dst: Reg, src: Operand) -> Value {
        let ty = match width {
            Width::W64 => types::I64,
            Width::W32 => types::I32,
        };
        let a = match width {
            Width::W64 => self.reg(dst),
            Width::W32 => self.reg32(dst),
        };
        let b = match src {
            Operand::Reg(r) => match width {
                Width::W64 => self.reg(r),
                Width::W32 => self.reg32(r),
            },
            // Sign-extended for 64 bits; the low half (as zero-extended bits) for 32.
            Operand::Imm(imm) => match width {
                Width::W64 => self.b.ins().iconst(ty, i64::from(imm)),
                Width::W32 => self.b.ins().iconst(ty, i64::from(imm as u32)),
            },
        };
        let cc = match cond {
            Cond::Set => {
                let both = self.b.ins().band(a, b);
                return self.b.ins().icmp_imm_s(IntCC::NotEqual, both, 0);
            }
            Cond::Eq => IntCC::Equal,
            Cond::Ne => IntCC::NotEqual,
            Cond::Gt => IntCC::UnsignedGreaterThan,
            Cond::Ge => IntCC::UnsignedGreaterThanOrEqual,
            Cond::Lt => IntCC::UnsignedLessThan,
            Cond::Le => IntCC::UnsignedLessThanOrEqual,
            Cond::Sgt => IntCC::SignedGreaterThan,
            Cond::Sge => IntCC::SignedGreaterThanOrEqual,
            Cond::Slt => IntCC::SignedLessThan,
            Cond::Sle => IntCC::SignedLessThanOrEqual,
        };
        self.b.ins().icmp(cc, a, b)
    }
}
