//! Encoding typed instructions back into 8-byte slots: the inverse of `decode`.
//!
//! Invariant: for every slot sequence the decoder accepts, decoding then encoding gives
//! the same bytes back (a property test over every valid encoding checks it).

use crate::insn::*;
use crate::opcode::*;
use crate::raw::RawInsn;

fn size_bits(size: Size) -> u8 {
    match size {
        Size::W => SIZE_W,
        Size::H => SIZE_H,
        Size::B => SIZE_B,
        Size::DW => SIZE_DW,
    }
}

fn operand(src: Operand) -> (u8, u8, i32) {
    match src {
        Operand::Reg(r) => (SRC_X, r.number(), 0),
        Operand::Imm(imm) => (0, 0, imm),
    }
}

fn raw(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn {
        opcode,
        dst,
        src,
        off,
        imm,
    }
}

/// Appends the slots of `insn` to `out`: two for `lddw`, none for [`Insn::Imm64Tail`]
/// (its content is part of the `lddw` before it), one for everything else.
pub fn encode_into(insn: &Insn, out: &mut Vec<RawInsn>) {
    let slot = match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let class = if width == Width::W32 {
                CLS_ALU
            } else {
                CLS_ALU64
            };
            let (code, off) = match op {
                AluOp::Add => (ALU_ADD, 0),
                AluOp::Sub => (ALU_SUB, 0),
                AluOp::Mul => (ALU_MUL, 0),
                AluOp::Div => (ALU_DIV, 0),
                AluOp::SDiv => (ALU_DIV, 1),
                AluOp::Or => (ALU_OR, 0),
                AluOp::And => (ALU_AND, 0),
                AluOp::Lsh => (ALU_LSH, 0),
                AluOp::Rsh => (ALU_RSH, 0),
                AluOp::Mod => (ALU_MOD, 0),
                AluOp::SMod => (ALU_MOD, 1),
                AluOp::Xor => (ALU_XOR, 0),
                AluOp::Mov => (ALU_MOV, 0),
                AluOp::MovSx(sx) => (ALU_MOV, sx.bits() as i16),
                AluOp::Arsh => (ALU_ARSH, 0),
            };
            let (x, s, imm) = operand(src);
            raw(class | code | x, dst.number(), s, off, imm)
        }
        Insn::Neg { width, dst } => {
            let class = if width == Width::W32 {
                CLS_ALU
            } else {
                CLS_ALU64
            };
            raw(class | ALU_NEG, dst.number(), 0, 0, 0)
        }
        Insn::Endian { order, width, dst } => {
            let opcode = match order {
                ByteOrder::ToLe => CLS_ALU | ALU_END,
                ByteOrder::ToBe => CLS_ALU | ALU_END | SRC_X,
                ByteOrder::Swap => CLS_ALU64 | ALU_END,
            };
            raw(opcode, dst.number(), 0, 0, width.bits() as i32)
        }
        Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off,
        } => {
            let mode = if sign_extend { MODE_MEMSX } else { MODE_MEM };
            raw(
                CLS_LDX | mode | size_bits(size),
                dst.number(),
                src.number(),
                off,
                0,
            )
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Reg(s) => raw(
                CLS_STX | MODE_MEM | size_bits(size),
                dst.number(),
                s.number(),
                off,
                0,
            ),
            Operand::Imm(imm) => raw(
                CLS_ST | MODE_MEM | size_bits(size),
                dst.number(),
                0,
                off,
                imm,
            ),
        },
        Insn::Atomic {
            width,
            op,
            dst,
            src,
            off,
        } => {
            let size = if width == Width::W32 { SIZE_W } else { SIZE_DW };
            let imm = match op {
                AtomicOp::Add => ATOMIC_ADD,
                AtomicOp::Or => ATOMIC_OR,
                AtomicOp::And => ATOMIC_AND,
                AtomicOp::Xor => ATOMIC_XOR,
                AtomicOp::FetchAdd => ATOMIC_ADD | ATOMIC_FETCH,
                AtomicOp::FetchOr => ATOMIC_OR | ATOMIC_FETCH,
                AtomicOp::FetchAnd => ATOMIC_AND | ATOMIC_FETCH,
                AtomicOp::FetchXor => ATOMIC_XOR | ATOMIC_FETCH,
                AtomicOp::Xchg => ATOMIC_XCHG,
                AtomicOp::CmpXchg => ATOMIC_CMPXCHG,
            };
            raw(
                CLS_STX | MODE_ATOMIC | size,
                dst.number(),
                src.number(),
                off,
                imm,
            )
        }
        Insn::LoadImm64 { dst, imm } => {
            let (src, lo, hi) = match imm {
                Imm64::Value(v) => (IMM64_VALUE, v as u32 as i32, (v >> 32) as u32 as i32),
                Imm64::MapFd(fd) => (IMM64_MAP_FD, fd, 0),
                Imm64::MapValue { fd, offset } => (IMM64_MAP_VALUE, fd, offset as i32),
                Imm64::VarAddr(id) => (IMM64_VAR_ADDR, id, 0),
                Imm64::CodeAddr(off) => (IMM64_CODE_ADDR, off, 0),
                Imm64::MapIdx(idx) => (IMM64_MAP_IDX, idx as i32, 0),
                Imm64::MapIdxValue { index, offset } => {
                    (IMM64_MAP_IDX_VALUE, index as i32, offset as i32)
                }
            };
            out.push(raw(LDDW, dst.number(), src, 0, lo));
            raw(0, 0, 0, 0, hi)
        }
        Insn::Imm64Tail => return,
        Insn::LegacyLoad { size, mode, imm } => {
            let (m, src) = match mode {
                LegacyMode::Abs => (MODE_ABS, 0),
                LegacyMode::Ind(r) => (MODE_IND, r.number()),
            };
            raw(CLS_LD | m | size_bits(size), 0, src, 0, imm)
        }
        Insn::Ja { off, long: false } => raw(CLS_JMP | JMP_JA, 0, 0, off as i16, 0),
        Insn::Ja { off, long: true } => raw(CLS_JMP32 | JMP_JA, 0, 0, 0, off),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let class = if width == Width::W32 {
                CLS_JMP32
            } else {
                CLS_JMP
            };
            let code = match cond {
                Cond::Eq => JMP_JEQ,
                Cond::Gt => JMP_JGT,
                Cond::Ge => JMP_JGE,
                Cond::Set => JMP_JSET,
                Cond::Ne => JMP_JNE,
                Cond::Sgt => JMP_JSGT,
                Cond::Sge => JMP_JSGE,
                Cond::Lt => JMP_JLT,
                Cond::Le => JMP_JLE,
                Cond::Slt => JMP_JSLT,
                Cond::Sle => JMP_JSLE,
            };
            let (x, s, imm) = operand(src);
            raw(class | code | x, dst.number(), s, off, imm)
        }
        Insn::Call(target) => match target {
            CallTarget::Helper(id) => raw(CLS_JMP | JMP_CALL, 0, CALL_HELPER, 0, id),
            CallTarget::Local(off) => raw(CLS_JMP | JMP_CALL, 0, CALL_LOCAL, 0, off),
            CallTarget::Kfunc(id) => raw(CLS_JMP | JMP_CALL, 0, CALL_KFUNC, 0, id),
            CallTarget::Reg(r) => raw(CLS_JMP | JMP_CALL | SRC_X, r.number(), 0, 0, 0),
        },
        Insn::Exit => raw(CLS_JMP | JMP_EXIT, 0, 0, 0, 0),
    };
    out.push(slot);
}
