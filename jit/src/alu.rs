//! Arithmetic: `ALU`/`ALU64` operations, `neg`, byte swaps and `lddw`.
//!
//! The rules (`../shared/guide/semantics.md`), all without native traps: division by
//! zero gives 0, modulo by zero keeps the dividend, `MIN / -1` gives `MIN` and
//! `MIN % -1` gives 0 (Cranelift's `sdiv`/`udiv`/`srem`/`urem` trap on a zero divisor
//! and on `MIN / -1`, so register divisors are replaced by 1 in those cases and the
//! result is selected afterwards; constant divisors are decided here). Shift amounts
//! are masked to the width (Cranelift's shifts mask the same way). 32-bit operations
//! work on the low halves and zero-extend the result.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Type, Value};
use ebpfvm_isa::{AluOp, ByteOrder, Imm64, Operand, Reg, SignExtend, SwapWidth, Width};
use ebpfvm_vm::code_address;

use crate::translate::Translator;
use crate::JitError;

impl Translator<'_> {
    /// `dst = dst op src` (32- or 64-bit).
    pub(crate) fn translate_alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Operand) {
        match width {
            Width::W64 => {
                if let Some(v) = self.alu64(op, dst, src) {
                    self.set_reg(dst, v);
                }
            }
            Width::W32 => {
                if let Some(v) = self.alu32(op, dst, src) {
                    self.set_reg32(dst, v);
                }
            }
        }
    }

    /// The new 64-bit value of `dst`, or `None` when it does not change.
    fn alu64(&mut self, op: AluOp, dst: Reg, src: Operand) -> Option<Value> {
        let ty = types::I64;
        let a = self.reg(dst);
        let b = match src {
            Operand::Imm(imm) => return self.alu_imm(ty, op, a, i64::from(imm)),
            Operand::Reg(src) => self.reg(src),
        };
        Some(self.alu_reg(ty, op, a, b))
    }

    /// The new low half of `dst` (the caller zero-extends it), or `None` when `dst`
    /// does not change.
    fn alu32(&mut self, op: AluOp, dst: Reg, src: Operand) -> Option<Value> {
        let ty = types::I32;
        let a = self.reg32(dst);
        Some(match src {
            // The 32-bit immediate as an i32 value (its bits are the operand).
            Operand::Imm(imm) => self.alu_imm(ty, op, a, i64::from(imm))?,
            Operand::Reg(src) => {
                let b = self.reg32(src);
                self.alu_reg(ty, op, a, b)
            }
        })
    }

    /// `a op imm` at type `ty`, or `None` when `a` is unchanged (modulo by zero).
    /// `imm` is the sign-extended immediate (for 32 bits Cranelift keeps the low half).
    fn alu_imm(&mut self, ty: Type, op: AluOp, a: Value, imm: i64) -> Option<Value> {
        let mask = i64::from(ty.bits()) - 1;
        // The constant as Cranelift wants it for `ty`: 32-bit constants zero-extended.
        let c = if ty == types::I32 {
            i64::from(imm as u32)
        } else {
            imm
        };
        let ins = self.b.ins();
        Some(match op {
            AluOp::Add => ins.iadd_imm_s(a, c),
            AluOp::Sub => ins.iadd_imm_s(a, c.wrapping_neg()),
            AluOp::Mul => ins.imul_imm_s(a, c),
            AluOp::Or => ins.bor_imm_s(a, c),
            AluOp::And => ins.band_imm_s(a, c),
            AluOp::Xor => ins.bxor_imm_s(a, c),
            // movsx with an immediate does not decode; a plain move, as the interpreter.
            AluOp::Mov | AluOp::MovSx(_) => ins.iconst(ty, c),
            AluOp::Lsh => ins.ishl_imm_s(a, imm & mask),
            AluOp::Rsh => ins.ushr_imm_s(a, imm & mask),
            AluOp::Arsh => ins.sshr_imm_s(a, imm & mask),
            // Division by zero gives 0; modulo by zero keeps dst (32 bits: zero-extended
            // by the caller).
            AluOp::Div | AluOp::SDiv if imm == 0 => ins.iconst(ty, 0),
            AluOp::Mod | AluOp::SMod if imm == 0 => return (ty == types::I32).then_some(a),
            // MIN / -1 = MIN (wrapping negation), MIN % -1 = 0.
            AluOp::SDiv if imm == -1 => ins.ineg(a),
            AluOp::SMod if imm == -1 => ins.iconst(ty, 0),
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => {
                let b = ins.iconst(ty, c);
                let ins = self.b.ins();
                match op {
                    AluOp::Div => ins.udiv(a, b),
                    AluOp::SDiv => ins.sdiv(a, b),
                    AluOp::Mod => ins.urem(a, b),
                    _ => ins.srem(a, b),
                }
            }
        })
    }

    /// `a op b` at type `ty`.
    fn alu_reg(&mut self, ty: Type, op: AluOp, a: Value, b: Value) -> Value {
        match op {
            AluOp::Add => self.b.ins().iadd(a, b),
            AluOp::Sub => self.b.ins().isub(a, b),
            AluOp::Mul => self.b.ins().imul(a, b),
            AluOp::Or => self.b.ins().bor(a, b),
            AluOp::And => self.b.ins().band(a, b),
            AluOp::Xor => self.b.ins().bxor(a, b),
            AluOp::Mov => b,
            AluOp::MovSx(sx) => {
                let narrow = match sx {
                    SignExtend::S8 => types::I8,
                    SignExtend::S16 => types::I16,
                    SignExtend::S32 => types::I32,
                };
                if narrow == ty {
                    // 32-bit movsx from 32 bits does not decode; a plain move.
                    return b;
                }
                let low = self.b.ins().ireduce(narrow, b);
                self.b.ins().sextend(ty, low)
            }
            // Cranelift masks shift amounts to the width, as eBPF does.
            AluOp::Lsh => self.b.ins().ishl(a, b),
            AluOp::Rsh => self.b.ins().ushr(a, b),
            AluOp::Arsh => self.b.ins().sshr(a, b),
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => self.divide(ty, op, a, b),
        }
    }

    /// `a / b` or `a % b` (unsigned or signed) with eBPF's rules for a register divisor.
    fn divide(&mut self, ty: Type, op: AluOp, a: Value, b: Value) -> Value {
        let zero = self.b.ins().iconst(ty, 0);
        let one = self.b.ins().iconst(ty, 1);
        let b_zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        match op {
            AluOp::Div | AluOp::Mod => {
                let safe = self.b.ins().select(b_zero, one, b);
                if op == AluOp::Div {
                    let q = self.b.ins().udiv(a, safe);
                    self.b.ins().select(b_zero, zero, q)
                } else {
                    let r = self.b.ins().urem(a, safe);
                    self.b.ins().select(b_zero, a, r)
                }
            }
            _ => {
                // b = 0 or -1 divides by 1 instead: a % 1 = 0 is right for -1, and the
                // quotient is fixed up below (a / -1 = -a, wrapping: MIN / -1 = MIN).
                let b_minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
                let unsafe_b = self.b.ins().bor(b_zero, b_minus_one);
                let safe = self.b.ins().select(unsafe_b, one, b);
                if op == AluOp::SDiv {
                    let q = self.b.ins().sdiv(a, safe);
                    let neg = self.b.ins().ineg(a);
                    let q = self.b.ins().select(b_minus_one, neg, q);
                    self.b.ins().select(b_zero, zero, q)
                } else {
                    let r = self.b.ins().srem(a, safe);
                    self.b.ins().select(b_zero, a, r)
                }
            }
        }
    }

    /// `dst = -dst`.
    pub(crate) fn translate_neg(&mut self, width: Width, dst: Reg) {
        match width {
            Width::W64 => {
                let a = self.reg(dst);
                let v = self.b.ins().ineg(a);
                self.set_reg(dst, v);
            }
            Width::W32 => {
                let low = self.reg32(dst);
                let v = self.b.ins().ineg(low);
                self.set_reg32(dst, v);
            }
        }
    }

    /// `le`/`be`/`bswap` of the low 16, 32 or 64 bits (the host is little-endian).
    pub(crate) fn translate_endian(&mut self, order: ByteOrder, width: SwapWidth, dst: Reg) {
        let swap = order != ByteOrder::ToLe;
        match width {
            SwapWidth::B16 => {
                let a = self.reg(dst);
                let low = self.b.ins().ireduce(types::I16, a);
                let low = if swap { self.b.ins().bswap(low) } else { low };
                let v = self.b.ins().uextend(types::I64, low);
                self.set_reg(dst, v);
            }
            SwapWidth::B32 => {
                let low = self.reg32(dst);
                let low = if swap { self.b.ins().bswap(low) } else { low };
                self.set_reg32(dst, low);
            }
            SwapWidth::B64 if swap => {
                let a = self.reg(dst);
                let v = self.b.ins().bswap(a);
                self.set_reg(dst, v);
            }
            // le64 changes nothing on a little-endian host.
            SwapWidth::B64 => {}
        }
    }

    /// `lddw dst, imm`: a value or a code address; map references and kernel variables
    /// need the kernel.
    pub(crate) fn translate_lddw(&mut self, dst: Reg, imm: Imm64) -> Result<(), JitError> {
        let value = match imm {
            Imm64::Value(v) => v,
            Imm64::CodeAddr(off) => code_address((self.pc as i64 + 1 + i64::from(off)) as usize),
            Imm64::MapFd(_)
            | Imm64::MapValue { .. }
            | Imm64::MapIdx(_)
            | Imm64::MapIdxValue { .. } => {
                return Err(self.unsupported("a map reference (lddw with a map source)"))
            }
            Imm64::VarAddr(_) => {
                return Err(self.unsupported("a kernel variable address (lddw src 3)"))
            }
        };
        let v = self.b.ins().iconst(types::I64, value as i64);
        self.set_reg(dst, v);
        Ok(())
    }
}
