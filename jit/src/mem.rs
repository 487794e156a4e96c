//! Loads, stores and atomics. Every access gets its host address from
//! `bounds.rs`; the accesses themselves are plain native loads and stores (unaligned
//! allowed, little-endian like the guest).
//!
//! Atomics are a load, an operation and a store: the guest is single-threaded and its
//! memory is borrowed exclusively for the run. As in the interpreter, the write limit
//! is checked (an atomic needs both), and only the register the operation defines is
//! written: the source register for fetching operations, r0 for `cmpxchg`, none for
//! the plain ones; so `src` may be r0.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use ebpfvm_isa::{AtomicOp, Operand, Reg, Size, Width};

use crate::bounds::Access;
use crate::translate::Translator;

/// Flags of guest accesses: checked (no trap), not necessarily aligned.
fn guest_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl Translator<'_> {
    /// `dst = *(size *)(src + off)`, zero- or sign-extended.
    pub(crate) fn translate_load(
        &mut self,
        size: Size,
        sign_extend: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    ) {
        let p = self.checked_host_addr(src, off, size.bytes(), Access::Read);
        let f = guest_flags();
        let ins = self.b.ins();
        let i64t = types::I64;
        let v = match (size, sign_extend) {
            (Size::B, false) => ins.uload8(i64t, f, p, 0),
            (Size::H, false) => ins.uload16(i64t, f, p, 0),
            (Size::W, false) => ins.uload32(f, p, 0),
            (Size::DW, _) => ins.load(i64t, f, p, 0),
            (Size::B, true) => ins.sload8(i64t, f, p, 0),
            (Size::H, true) => ins.sload16(i64t, f, p, 0),
            (Size::W, true) => ins.sload32(f, p, 0),
        };
        self.set_reg(dst, v);
    }

    /// `*(size *)(dst + off) = src`.
    pub(crate) fn translate_store(&mut self, size: Size, dst: Reg, off: i16, src: Operand) {
        let v = match src {
            Operand::Reg(r) => self.reg(r),
            Operand::Imm(imm) => self.b.ins().iconst(types::I64, i64::from(imm)),
        };
        let p = self.checked_host_addr(dst, off, size.bytes(), Access::Write);
        let f = guest_flags();
        let ins = self.b.ins();
        match size {
            Size::B => ins.istore8(f, v, p, 0),
            Size::H => ins.istore16(f, v, p, 0),
            Size::W => ins.istore32(f, v, p, 0),
            Size::DW => ins.store(f, v, p, 0),
        };
    }

    /// An atomic read-modify-write of `*(width *)(dst + off)`.
    pub(crate) fn translate_atomic(
        &mut self,
        width: Width,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    ) {
        let (ty, size) = match width {
            Width::W32 => (types::I32, 4),
            Width::W64 => (types::I64, 8),
        };
        let p = self.checked_host_addr(dst, off, size, Access::Write);
        let f = guest_flags();
        let old = self.b.ins().load(ty, f, p, 0);
        let s = self.reg(src);
        let s = self.narrow(s, ty);
        let new = match op {
            AtomicOp::Add | AtomicOp::FetchAdd => self.b.ins().iadd(old, s),
            AtomicOp::Or | AtomicOp::FetchOr => self.b.ins().bor(old, s),
            AtomicOp::And | AtomicOp::FetchAnd => self.b.ins().band(old, s),
            AtomicOp::Xor | AtomicOp::FetchXor => self.b.ins().bxor(old, s),
            AtomicOp::Xchg => s,
            AtomicOp::CmpXchg => {
                let r0 = self.reg(Reg::R0);
                let r0 = self.narrow(r0, ty);
                let equal = self.b.ins().icmp(IntCC::Equal, old, r0);
                self.b.ins().select(equal, s, old)
            }
        };
        self.b.ins().store(f, new, p, 0);
        let old = if ty == types::I64 {
            old
        } else {
            self.b.ins().uextend(types::I64, old)
        };
        match op {
            AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => {}
            AtomicOp::CmpXchg => self.set_reg(Reg::R0, old),
            _ => self.set_reg(src, old),
        }
    }

    /// The low `ty` bits of a 64-bit value.
    fn narrow(&mut self, v: Value, ty: types::Type) -> Value {
        if ty == types::I64 {
            v
        } else {
            self.b.ins().ireduce(ty, v)
        }
    }
}
