//! Lowering: each typed `Insn` becomes one flat `Op` specialised on everything known
//! before the run (width, operand kind, size, constant divisors and shift amounts,
//! absolute jump targets), so the dispatch loop does one `match` and no inner decoding.
//!
//! Ops stay one per slot, so a pc means the same thing here, in the program and in traps.

use ebpfvm_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Cond, Imm64, Insn, LegacyMode, Operand, Program, Reg,
    SignExtend, Size, SwapWidth, Width,
};

use crate::maps::Maps;
use crate::memory::code_address;

/// A register number; the loop masks it with 15 so indexing needs no bounds check.
pub(crate) type R = u8;

/// A jump target: an absolute slot index, validated at load.
pub(crate) type Pc = u32;

/// One lowered instruction. Immediates are pre-extended to the operation's width.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    // 64-bit arithmetic with an immediate (already sign-extended).
    Add64I(R, u64),
    Sub64I(R, u64),
    Mul64I(R, u64),
    Div64I(R, u64),
    SDiv64I(R, u64),
    Mod64I(R, u64),
    SMod64I(R, u64),
    Or64I(R, u64),
    And64I(R, u64),
    Xor64I(R, u64),
    Mov64I(R, u64),
    Lsh64I(R, u32),
    Rsh64I(R, u32),
    Arsh64I(R, u32),
    // 64-bit arithmetic with a register.
    Add64R(R, R),
    Sub64R(R, R),
    Mul64R(R, R),
    Div64R(R, R),
    SDiv64R(R, R),
    Mod64R(R, R),
    SMod64R(R, R),
    Or64R(R, R),
    And64R(R, R),
    Xor64R(R, R),
    Mov64R(R, R),
    Lsh64R(R, R),
    Rsh64R(R, R),
    Arsh64R(R, R),
    MovSx64R(R, R, u32),
    Neg64(R),
    // 32-bit arithmetic with an immediate.
    Add32I(R, u32),
    Sub32I(R, u32),
    Mul32I(R, u32),
    Div32I(R, u32),
    SDiv32I(R, u32),
    Mod32I(R, u32),
    SMod32I(R, u32),
    Or32I(R, u32),
    And32I(R, u32),
    Xor32I(R, u32),
    Mov32I(R, u32),
    Lsh32I(R, u32),
    Rsh32I(R, u32),
    Arsh32I(R, u32),
    // 32-bit arithmetic with a register.
    Add32R(R, R),
    Sub32R(R, R),
    Mul32R(R, R),
    Div32R(R, R),
    SDiv32R(R, R),
    Mod32R(R, R),
    SMod32R(R, R),
    Or32R(R, R),
    And32R(R, R),
    Xor32R(R, R),
    Mov32R(R, R),
    Lsh32R(R, R),
    Rsh32R(R, R),
    Arsh32R(R, R),
    MovSx32R(R, R, u32),
    Neg32(R),
    /// Keep the low 16/32 bits (`le16`, `le32` on a little-endian machine).
    Trunc16(R),
    Trunc32(R),
    /// Swap the low 16/32/64 bits (`be*` and `bswap*`).
    Swap16(R),
    Swap32(R),
    Swap64(R),
    /// Does nothing but count (`le64`).
    Nop,
    // Loads: dst, base, offset.
    Ldx8(R, R, i16),
    Ldx16(R, R, i16),
    Ldx32(R, R, i16),
    Ldx64(R, R, i16),
    Ldxs8(R, R, i16),
    Ldxs16(R, R, i16),
    Ldxs32(R, R, i16),
    // Stores of a register: base, offset, source.
    Stx8(R, i16, R),
    Stx16(R, i16, R),
    Stx32(R, i16, R),
    Stx64(R, i16, R),
    // Stores of an immediate: base, offset, value (sign-extended).
    St8(R, i16, u64),
    St16(R, i16, u64),
    St32(R, i16, u64),
    St64(R, i16, u64),
    Atomic {
        wide: bool,
        op: AtomicOp,
        dst: R,
        src: R,
        off: i16,
    },
    LdImm(R, u64),
    /// `LD_ABS` (`base` = 15, the always-zero scratch register) or `LD_IND`.
    Legacy {
        size: u8,
        base: R,
        imm: i32,
    },
    Ja(Pc),
    // Conditional jumps (dst, operand, target), one variant per condition so that the
    // loop dispatches once per jump rather than again on the condition.
    JEq64I(R, u64, Pc),
    JGt64I(R, u64, Pc),
    JGe64I(R, u64, Pc),
    JSet64I(R, u64, Pc),
    JNe64I(R, u64, Pc),
    JSgt64I(R, u64, Pc),
    JSge64I(R, u64, Pc),
    JLt64I(R, u64, Pc),
    JLe64I(R, u64, Pc),
    JSlt64I(R, u64, Pc),
    JSle64I(R, u64, Pc),
    JEq64R(R, R, Pc),
    JGt64R(R, R, Pc),
    JGe64R(R, R, Pc),
    JSet64R(R, R, Pc),
    JNe64R(R, R, Pc),
    JSgt64R(R, R, Pc),
    JSge64R(R, R, Pc),
    JLt64R(R, R, Pc),
    JLe64R(R, R, Pc),
    JSlt64R(R, R, Pc),
    JSle64R(R, R, Pc),
    JEq32I(R, u32, Pc),
    JGt32I(R, u32, Pc),
    JGe32I(R, u32, Pc),
    JSet32I(R, u32, Pc),
    JNe32I(R, u32, Pc),
    JSgt32I(R, u32, Pc),
    JSge32I(R, u32, Pc),
    JLt32I(R, u32, Pc),
    JLe32I(R, u32, Pc),
    JSlt32I(R, u32, Pc),
    JSle32I(R, u32, Pc),
    JEq32R(R, R, Pc),
    JGt32R(R, R, Pc),
    JGe32R(R, R, Pc),
    JSet32R(R, R, Pc),
    JNe32R(R, R, Pc),
    JSgt32R(R, R, Pc),
    JSge32R(R, R, Pc),
    JLt32R(R, R, Pc),
    JLe32R(R, R, Pc),
    JSlt32R(R, R, Pc),
    JSle32R(R, R, Pc),
    CallHelper(u32),
    CallLocal(Pc),
    CallReg(R),
    Exit,
    /// The second slot of an `lddw`: never reached, as no jump may land there.
    Unreachable,
}

/// An instruction the interpreter cannot run outside the kernel, found while lowering.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pc {pc}: {what} is not supported by this engine")]
pub struct Unsupported {
    /// The slot index.
    pub pc: usize,
    /// What the instruction needs.
    pub what: &'static str,
}

fn r(reg: Reg) -> R {
    reg.number()
}

/// Lowers every slot of `program`; map references resolve through `maps`.
pub(crate) fn lower(program: &Program, maps: Option<&Maps>) -> Result<Vec<Op>, Unsupported> {
    program
        .insns()
        .iter()
        .enumerate()
        .map(|(pc, insn)| lower_one(pc, insn, maps))
        .collect()
}

/// The value an `lddw` of a map reference loads (see [`crate::maps::lddw_value`]).
fn map_reference(
    pc: usize,
    maps: Option<&Maps>,
    index: i64,
    offset: Option<u32>,
) -> Result<u64, Unsupported> {
    let Some(maps) = maps else {
        return Err(Unsupported {
            pc,
            what: "a map reference (lddw with a map source) without a map table",
        });
    };
    crate::maps::lddw_value(maps, index, offset).map_err(|what| Unsupported { pc, what })
}

fn target(pc: usize, off: i64) -> Pc {
    // Program validation guarantees 0 <= pc + 1 + off < len <= 1_000_000.
    (pc as i64 + 1 + off) as Pc
}

fn lower_one(pc: usize, insn: &Insn, maps: Option<&Maps>) -> Result<Op, Unsupported> {
    let unsupported = |what| Err(Unsupported { pc, what });
    Ok(match *insn {
        Insn::Alu {
            width: Width::W64,
            op,
            dst,
            src: Operand::Imm(imm),
        } => alu64_imm(op, r(dst), imm),
        Insn::Alu {
            width: Width::W64,
            op,
            dst,
            src: Operand::Reg(src),
        } => alu64_reg(op, r(dst), r(src)),
        Insn::Alu {
            width: Width::W32,
            op,
            dst,
            src: Operand::Imm(imm),
        } => alu32_imm(op, r(dst), imm as u32),
        Insn::Alu {
            width: Width::W32,
            op,
            dst,
            src: Operand::Reg(src),
        } => alu32_reg(op, r(dst), r(src)),
        Insn::Neg { width, dst } => match width {
            Width::W64 => Op::Neg64(r(dst)),
            Width::W32 => Op::Neg32(r(dst)),
        },
        Insn::Endian { order, width, dst } => {
            let d = r(dst);
            match (order, width) {
                (ByteOrder::ToLe, SwapWidth::B16) => Op::Trunc16(d),
                (ByteOrder::ToLe, SwapWidth::B32) => Op::Trunc32(d),
                (ByteOrder::ToLe, SwapWidth::B64) => Op::Nop,
                (_, SwapWidth::B16) => Op::Swap16(d),
                (_, SwapWidth::B32) => Op::Swap32(d),
                (_, SwapWidth::B64) => Op::Swap64(d),
            }
        }
        Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off,
        } => {
            let (d, s) = (r(dst), r(src));
            match (size, sign_extend) {
                (Size::B, false) => Op::Ldx8(d, s, off),
                (Size::H, false) => Op::Ldx16(d, s, off),
                (Size::W, false) => Op::Ldx32(d, s, off),
                (Size::DW, _) => Op::Ldx64(d, s, off),
                (Size::B, true) => Op::Ldxs8(d, s, off),
                (Size::H, true) => Op::Ldxs16(d, s, off),
                (Size::W, true) => Op::Ldxs32(d, s, off),
            }
        }
        Insn::Store {
            size,
            dst,
            off,
            src: Operand::Reg(src),
        } => {
            let (d, s) = (r(dst), r(src));
            match size {
                Size::B => Op::Stx8(d, off, s),
                Size::H => Op::Stx16(d, off, s),
                Size::W => Op::Stx32(d, off, s),
                Size::DW => Op::Stx64(d, off, s),
            }
        }
        Insn::Store {
            size,
            dst,
            off,
            src: Operand::Imm(imm),
        } => {
            let (d, v) = (r(dst), imm as i64 as u64);
            match size {
                Size::B => Op::St8(d, off, v),
                Size::H => Op::St16(d, off, v),
                Size::W => Op::St32(d, off, v),
                Size::DW => Op::St64(d, off, v),
            }
        }
        Insn::Atomic {
            width,
            op,
            dst,
            src,
            off,
        } => Op::Atomic {
            wide: width == Width::W64,
            op,
            dst: r(dst),
            src: r(src),
            off,
        },
        Insn::LoadImm64 { dst, imm } => match imm {
            Imm64::Value(v) => Op::LdImm(r(dst), v),
            Imm64::CodeAddr(off) => {
                Op::LdImm(r(dst), code_address(target(pc, off.into()) as usize))
            }
            Imm64::MapFd(fd) => Op::LdImm(r(dst), map_reference(pc, maps, fd.into(), None)?),
            Imm64::MapIdx(i) => Op::LdImm(r(dst), map_reference(pc, maps, i.into(), None)?),
            Imm64::MapValue { fd, offset } => {
                Op::LdImm(r(dst), map_reference(pc, maps, fd.into(), Some(offset))?)
            }
            Imm64::MapIdxValue { index, offset } => {
                Op::LdImm(r(dst), map_reference(pc, maps, index.into(), Some(offset))?)
            }
            Imm64::VarAddr(_) => return unsupported("a kernel variable address (lddw src 3)"),
        },
        Insn::Imm64Tail => Op::Unreachable,
        Insn::LegacyLoad { size, mode, imm } => Op::Legacy {
            size: size.bytes() as u8,
            base: match mode {
                LegacyMode::Abs => ZERO_REG,
                LegacyMode::Ind(reg) => r(reg),
            },
            imm,
        },
        Insn::Ja { off, .. } => Op::Ja(target(pc, off.into())),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let (d, t) = (r(dst), target(pc, off.into()));
            match (width, src) {
                (Width::W64, Operand::Imm(imm)) => jump64_imm(cond, d, imm as i64 as u64, t),
                (Width::W64, Operand::Reg(s)) => jump64_reg(cond, d, r(s), t),
                (Width::W32, Operand::Imm(imm)) => jump32_imm(cond, d, imm as u32, t),
                (Width::W32, Operand::Reg(s)) => jump32_reg(cond, d, r(s), t),
            }
        }
        Insn::Call(CallTarget::Helper(id)) => Op::CallHelper(id as u32),
        Insn::Call(CallTarget::Local(off)) => Op::CallLocal(target(pc, off.into())),
        Insn::Call(CallTarget::Reg(reg)) => Op::CallReg(r(reg)),
        Insn::Call(CallTarget::Kfunc(_)) => return unsupported("a kernel function call (kfunc)"),
        Insn::Exit => Op::Exit,
    })
}

/// A register slot that is never written and so always reads 0 (`LD_ABS` has no base).
pub(crate) const ZERO_REG: R = 15;

fn alu64_imm(op: AluOp, d: R, imm: i32) -> Op {
    let v = imm as i64 as u64;
    match op {
        AluOp::Add => Op::Add64I(d, v),
        AluOp::Sub => Op::Sub64I(d, v),
        AluOp::Mul => Op::Mul64I(d, v),
        // Division by a constant zero gives 0; modulo by it leaves dst unchanged.
        AluOp::Div | AluOp::SDiv if v == 0 => Op::Mov64I(d, 0),
        AluOp::Mod | AluOp::SMod if v == 0 => Op::Nop,
        AluOp::Div => Op::Div64I(d, v),
        AluOp::SDiv => Op::SDiv64I(d, v),
        AluOp::Mod => Op::Mod64I(d, v),
        AluOp::SMod => Op::SMod64I(d, v),
        AluOp::Or => Op::Or64I(d, v),
        AluOp::And => Op::And64I(d, v),
        AluOp::Xor => Op::Xor64I(d, v),
        AluOp::Mov => Op::Mov64I(d, v),
        // movsx with an immediate is refused at decode; treat like mov for totality.
        AluOp::MovSx(_) => Op::Mov64I(d, v),
        AluOp::Lsh => Op::Lsh64I(d, imm as u32 & 63),
        AluOp::Rsh => Op::Rsh64I(d, imm as u32 & 63),
        AluOp::Arsh => Op::Arsh64I(d, imm as u32 & 63),
    }
}

fn alu64_reg(op: AluOp, d: R, s: R) -> Op {
    match op {
        AluOp::Add => Op::Add64R(d, s),
        AluOp::Sub => Op::Sub64R(d, s),
        AluOp::Mul => Op::Mul64R(d, s),
        AluOp::Div => Op::Div64R(d, s),
        AluOp::SDiv => Op::SDiv64R(d, s),
        AluOp::Mod => Op::Mod64R(d, s),
        AluOp::SMod => Op::SMod64R(d, s),
        AluOp::Or => Op::Or64R(d, s),
        AluOp::And => Op::And64R(d, s),
        AluOp::Xor => Op::Xor64R(d, s),
        AluOp::Mov => Op::Mov64R(d, s),
        AluOp::MovSx(sx) => Op::MovSx64R(d, s, sx_shift(sx, 64)),
        AluOp::Lsh => Op::Lsh64R(d, s),
        AluOp::Rsh => Op::Rsh64R(d, s),
        AluOp::Arsh => Op::Arsh64R(d, s),
    }
}

fn alu32_imm(op: AluOp, d: R, v: u32) -> Op {
    match op {
        AluOp::Add => Op::Add32I(d, v),
        AluOp::Sub => Op::Sub32I(d, v),
        AluOp::Mul => Op::Mul32I(d, v),
        AluOp::Div | AluOp::SDiv if v == 0 => Op::Mov32I(d, 0),
        // Modulo by zero keeps dst, zero-extended like every 32-bit result.
        AluOp::Mod | AluOp::SMod if v == 0 => Op::Trunc32(d),
        AluOp::Div => Op::Div32I(d, v),
        AluOp::SDiv => Op::SDiv32I(d, v),
        AluOp::Mod => Op::Mod32I(d, v),
        AluOp::SMod => Op::SMod32I(d, v),
        AluOp::Or => Op::Or32I(d, v),
        AluOp::And => Op::And32I(d, v),
        AluOp::Xor => Op::Xor32I(d, v),
        AluOp::Mov | AluOp::MovSx(_) => Op::Mov32I(d, v),
        AluOp::Lsh => Op::Lsh32I(d, v & 31),
        AluOp::Rsh => Op::Rsh32I(d, v & 31),
        AluOp::Arsh => Op::Arsh32I(d, v & 31),
    }
}

fn alu32_reg(op: AluOp, d: R, s: R) -> Op {
    match op {
        AluOp::Add => Op::Add32R(d, s),
        AluOp::Sub => Op::Sub32R(d, s),
        AluOp::Mul => Op::Mul32R(d, s),
        AluOp::Div => Op::Div32R(d, s),
        AluOp::SDiv => Op::SDiv32R(d, s),
        AluOp::Mod => Op::Mod32R(d, s),
        AluOp::SMod => Op::SMod32R(d, s),
        AluOp::Or => Op::Or32R(d, s),
        AluOp::And => Op::And32R(d, s),
        AluOp::Xor => Op::Xor32R(d, s),
        AluOp::Mov => Op::Mov32R(d, s),
        AluOp::MovSx(sx) => Op::MovSx32R(d, s, sx_shift(sx, 32)),
        AluOp::Lsh => Op::Lsh32R(d, s),
        AluOp::Rsh => Op::Rsh32R(d, s),
        AluOp::Arsh => Op::Arsh32R(d, s),
    }
}

/// The shift pair that sign-extends from `sx` bits within a `width`-bit value:
/// `(x << k) >> k` (arithmetic) with `k = width - bits`.
fn sx_shift(sx: SignExtend, width: u32) -> u32 {
    width - sx.bits()
}

/// A 64-bit conditional jump against an immediate (sign-extended).
fn jump64_imm(cond: Cond, d: R, v: u64, t: Pc) -> Op {
    match cond {
        Cond::Eq => Op::JEq64I(d, v, t),
        Cond::Gt => Op::JGt64I(d, v, t),
        Cond::Ge => Op::JGe64I(d, v, t),
        Cond::Set => Op::JSet64I(d, v, t),
        Cond::Ne => Op::JNe64I(d, v, t),
        Cond::Sgt => Op::JSgt64I(d, v, t),
        Cond::Sge => Op::JSge64I(d, v, t),
        Cond::Lt => Op::JLt64I(d, v, t),
        Cond::Le => Op::JLe64I(d, v, t),
        Cond::Slt => Op::JSlt64I(d, v, t),
        Cond::Sle => Op::JSle64I(d, v, t),
    }
}

/// A 64-bit conditional jump against a register.
fn jump64_reg(cond: Cond, d: R, s: R, t: Pc) -> Op {
    match cond {
        Cond::Eq => Op::JEq64R(d, s, t),
        Cond::Gt => Op::JGt64R(d, s, t),
        Cond::Ge => Op::JGe64R(d, s, t),
        Cond::Set => Op::JSet64R(d, s, t),
        Cond::Ne => Op::JNe64R(d, s, t),
        Cond::Sgt => Op::JSgt64R(d, s, t),
        Cond::Sge => Op::JSge64R(d, s, t),
        Cond::Lt => Op::JLt64R(d, s, t),
        Cond::Le => Op::JLe64R(d, s, t),
        Cond::Slt => Op::JSlt64R(d, s, t),
        Cond::Sle => Op::JSle64R(d, s, t),
    }
}

/// A 32-bit conditional jump against an immediate.
fn jump32_imm(cond: Cond, d: R, v: u32, t: Pc) -> Op {
    match cond {
        Cond::Eq => Op::JEq32I(d, v, t),
        Cond::Gt => Op::JGt32I(d, v, t),
        Cond::Ge => Op::JGe32I(d, v, t),
        Cond::Set => Op::JSet32I(d, v, t),
        Cond::Ne => Op::JNe32I(d, v, t),
        Cond::Sgt => Op::JSgt32I(d, v, t),
        Cond::Sge => Op::JSge32I(d, v, t),
        Cond::Lt => Op::JLt32I(d, v, t),
        Cond::Le => Op::JLe32I(d, v, t),
        Cond::Slt => Op::JSlt32I(d, v, t),
        Cond::Sle => Op::JSle32I(d, v, t),
    }
}

/// A 32-bit conditional jump against a register.
fn jump32_reg(cond: Cond, d: R, s: R, t: Pc) -> Op {
    match cond {
        Cond::Eq => Op::JEq32R(d, s, t),
        Cond::Gt => Op::JGt32R(d, s, t),
        Cond::Ge => Op::JGe32R(d, s, t),
        Cond::Set => Op::JSet32R(d, s, t),
        Cond::Ne => Op::JNe32R(d, s, t),
        Cond::Sgt => Op::JSgt32R(d, s, t),
        Cond::Sge => Op::JSge32R(d, s, t),
        Cond::Lt => Op::JLt32R(d, s, t),
        Cond::Le => Op::JLe32R(d, s, t),
        Cond::Slt => Op::JSlt32R(d, s, t),
        Cond::Sle => Op::JSle32R(d, s, t),
    }
}
