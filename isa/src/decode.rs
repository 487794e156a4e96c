//! Decoding one slot into a typed [`Insn`], refusing every encoding RFC 9669 does not
//! define: unknown opcodes, non-zero unused fields, bad registers, writes to r10, and
//! instructions that need a newer ISA version than the loader accepts.

use crate::error::LoadErrorKind as E;
use crate::insn::*;
use crate::opcode::*;
use crate::raw::RawInsn;
use crate::version::Features;

type Result<T> = std::result::Result<T, E>;

fn reg(field: &'static str, n: u8) -> Result<Reg> {
    Reg::new(n).ok_or(E::BadRegister { field, reg: n })
}

/// A register the instruction writes: r10 is refused.
fn dst_reg(n: u8) -> Result<Reg> {
    let r = reg("dst", n)?;
    if r == Reg::FP {
        return Err(E::WritesFramePointer);
    }
    Ok(r)
}

fn zero(field: &'static str, value: i64) -> Result<()> {
    if value != 0 {
        return Err(E::NonZeroField { field, value });
    }
    Ok(())
}

fn require(enabled: bool, feature: &'static str, needs: &'static str) -> Result<()> {
    if enabled {
        Ok(())
    } else {
        Err(E::Unsupported { feature, needs })
    }
}

fn size_of(opcode: u8) -> Size {
    match opcode & 0x18 {
        SIZE_W => Size::W,
        SIZE_H => Size::H,
        SIZE_B => Size::B,
        _ => Size::DW,
    }
}

/// Decodes the slot `raw`; `next` is the following slot, which an `lddw` consumes.
///
/// Public for loaders that patch instructions before building a [`crate::Program`] (the
/// ELF linker): it checks one instruction, not jump targets or the program's end.
pub fn decode_slot(raw: RawInsn, next: Option<RawInsn>, f: &Features) -> Result<Insn> {
    match raw.opcode & 0x07 {
        CLS_ALU => decode_alu(raw, Width::W32, f),
        CLS_ALU64 => decode_alu(raw, Width::W64, f),
        CLS_JMP => decode_jmp(raw, Width::W64, f),
        CLS_JMP32 => {
            require(f.jmp32(), "the JMP32 class", "ISA v3")?;
            decode_jmp(raw, Width::W32, f)
        }
        CLS_LDX => decode_ldx(raw, f),
        CLS_ST => decode_st(raw),
        CLS_STX => decode_stx(raw, f),
        _ => decode_ld(raw, next, f),
    }
}

fn decode_alu(raw: RawInsn, width: Width, f: &Features) -> Result<Insn> {
    let by_reg = raw.opcode & SRC_X != 0;
    let op = raw.opcode & 0xf0;
    let unknown = E::UnknownOpcode(raw.opcode);
    match op {
        ALU_END => {
            let order = match (width, by_reg) {
                (Width::W32, false) => ByteOrder::ToLe,
                (Width::W32, true) => ByteOrder::ToBe,
                (Width::W64, false) => {
                    require(f.bswap(), "bswap", "ISA v4")?;
                    ByteOrder::Swap
                }
                (Width::W64, true) => return Err(unknown),
            };
            zero("src", raw.src.into())?;
            zero("off", raw.off.into())?;
            let swap_width = match raw.imm {
                16 => SwapWidth::B16,
                32 => SwapWidth::B32,
                64 => SwapWidth::B64,
                v => {
                    return Err(E::BadField {
                        insn: "byte swap",
                        field: "imm",
                        value: v.into(),
                    })
                }
            };
            Ok(Insn::Endian {
                order,
                width: swap_width,
                dst: dst_reg(raw.dst)?,
            })
        }
        ALU_NEG => {
            if by_reg {
                return Err(unknown);
            }
            zero("src", raw.src.into())?;
            zero("off", raw.off.into())?;
            zero("imm", raw.imm.into())?;
            Ok(Insn::Neg {
                width,
                dst: dst_reg(raw.dst)?,
            })
        }
        _ => {
            let op = alu_op(op, raw, width, by_reg, f)?;
            let src = if by_reg {
                zero("imm", raw.imm.into())?;
                Operand::Reg(reg("src", raw.src)?)
            } else {
                zero("src", raw.src.into())?;
                Operand::Imm(raw.imm)
            };
            Ok(Insn::Alu {
                width,
                op,
                dst: dst_reg(raw.dst)?,
                src,
            })
        }
    }
}

/// The operation of a binary ALU instruction, including the `off`-selected v4 variants.
fn alu_op(op: u8, raw: RawInsn, width: Width, by_reg: bool, f: &Features) -> Result<AluOp> {
    let bad_off = || E::BadField {
        insn: "arithmetic",
        field: "off",
        value: raw.off.into(),
    };
    let plain = |alu: AluOp| -> Result<AluOp> {
        zero("off", raw.off.into())?;
        Ok(alu)
    };
    match op {
        ALU_ADD => plain(AluOp::Add),
        ALU_SUB => plain(AluOp::Sub),
        ALU_MUL => plain(AluOp::Mul),
        ALU_OR => plain(AluOp::Or),
        ALU_AND => plain(AluOp::And),
        ALU_LSH => plain(AluOp::Lsh),
        ALU_RSH => plain(AluOp::Rsh),
        ALU_XOR => plain(AluOp::Xor),
        ALU_ARSH => plain(AluOp::Arsh),
        ALU_DIV | ALU_MOD => {
            let signed = match raw.off {
                0 => false,
                1 => {
                    require(f.signed_division(), "sdiv/smod", "ISA v4")?;
                    true
                }
                _ => return Err(bad_off()),
            };
            Ok(match (op, signed) {
                (ALU_DIV, false) => AluOp::Div,
                (ALU_DIV, true) => AluOp::SDiv,
                (_, false) => AluOp::Mod,
                (_, true) => AluOp::SMod,
            })
        }
        ALU_MOV => {
            let sx = match (raw.off, width) {
                (0, _) => return Ok(AluOp::Mov),
                (8, _) => SignExtend::S8,
                (16, _) => SignExtend::S16,
                (32, Width::W64) => SignExtend::S32,
                _ => return Err(bad_off()),
            };
            require(f.movsx(), "movsx", "ISA v4")?;
            if !by_reg {
                return Err(E::BadField {
                    insn: "movsx",
                    field: "src (movsx takes a register)",
                    value: 0,
                });
            }
            Ok(AluOp::MovSx(sx))
        }
        _ => Err(E::UnknownOpcode(raw.opcode)),
    }
}

fn decode_jmp(raw: RawInsn, width: Width, f: &Features) -> Result<Insn> {
    let by_reg = raw.opcode & SRC_X != 0;
    let unknown = E::UnknownOpcode(raw.opcode);
    let cond = match raw.opcode & 0xf0 {
        JMP_JA => {
            if by_reg {
                return Err(unknown);
            }
            zero("dst", raw.dst.into())?;
            zero("src", raw.src.into())?;
            return match width {
                Width::W64 => {
                    zero("imm", raw.imm.into())?;
                    Ok(Insn::Ja {
                        off: raw.off.into(),
                        long: false,
                    })
                }
                Width::W32 => {
                    require(f.gotol(), "gotol", "ISA v4")?;
                    zero("off", raw.off.into())?;
                    Ok(Insn::Ja {
                        off: raw.imm,
                        long: true,
                    })
                }
            };
        }
        JMP_CALL if width == Width::W64 => return decode_call(raw, by_reg, f),
        JMP_EXIT if width == Width::W64 && !by_reg => {
            zero("dst", raw.dst.into())?;
            zero("src", raw.src.into())?;
            zero("off", raw.off.into())?;
            zero("imm", raw.imm.into())?;
            return Ok(Insn::Exit);
        }
        JMP_JEQ => Cond::Eq,
        JMP_JGT => Cond::Gt,
        JMP_JGE => Cond::Ge,
        JMP_JSET => Cond::Set,
        JMP_JNE => Cond::Ne,
        JMP_JSGT => Cond::Sgt,
        JMP_JSGE => Cond::Sge,
        JMP_JLT => Cond::Lt,
        JMP_JLE => Cond::Le,
        JMP_JSLT => Cond::Slt,
        JMP_JSLE => Cond::Sle,
        _ => return Err(unknown),
    };
    if matches!(cond, Cond::Lt | Cond::Le | Cond::Slt | Cond::Sle) {
        require(f.lt_le_jumps(), "jlt/jle/jslt/jsle", "ISA v2")?;
    }
    let src = if by_reg {
        zero("imm", raw.imm.into())?;
        Operand::Reg(reg("src", raw.src)?)
    } else {
        zero("src", raw.src.into())?;
        Operand::Imm(raw.imm)
    };
    Ok(Insn::Jump {
        width,
        cond,
        dst: reg("dst", raw.dst)?,
        src,
        off: raw.off,
    })
}

fn decode_call(raw: RawInsn, by_reg: bool, f: &Features) -> Result<Insn> {
    zero("off", raw.off.into())?;
    if by_reg {
        require(f.callx, "callx", "the callx feature")?;
        zero("src", raw.src.into())?;
        zero("imm", raw.imm.into())?;
        return Ok(Insn::Call(CallTarget::Reg(reg("dst", raw.dst)?)));
    }
    zero("dst", raw.dst.into())?;
    let target = match raw.src {
        CALL_HELPER => CallTarget::Helper(raw.imm),
        CALL_LOCAL => CallTarget::Local(raw.imm),
        CALL_KFUNC => CallTarget::Kfunc(raw.imm),
        v => {
            return Err(E::BadField {
                insn: "call",
                field: "src",
                value: v.into(),
            })
        }
    };
    Ok(Insn::Call(target))
}

fn decode_ldx(raw: RawInsn, f: &Features) -> Result<Insn> {
    let size = size_of(raw.opcode);
    let sign_extend = match raw.opcode & 0xe0 {
        MODE_MEM => false,
        MODE_MEMSX if size != Size::DW => {
            require(f.ldsx(), "ldsx", "ISA v4")?;
            true
        }
        _ => return Err(E::UnknownOpcode(raw.opcode)),
    };
    zero("imm", raw.imm.into())?;
    Ok(Insn::Load {
        size,
        sign_extend,
        dst: dst_reg(raw.dst)?,
        src: reg("src", raw.src)?,
        off: raw.off,
    })
}

fn decode_st(raw: RawInsn) -> Result<Insn> {
    if raw.opcode & 0xe0 != MODE_MEM {
        return Err(E::UnknownOpcode(raw.opcode));
    }
    zero("src", raw.src.into())?;
    Ok(Insn::Store {
        size: size_of(raw.opcode),
        dst: reg("dst", raw.dst)?,
        off: raw.off,
        src: Operand::Imm(raw.imm),
    })
}

fn decode_stx(raw: RawInsn, f: &Features) -> Result<Insn> {
    let size = size_of(raw.opcode);
    let dst = reg("dst", raw.dst)?;
    let src = reg("src", raw.src)?;
    match raw.opcode & 0xe0 {
        MODE_MEM => {
            zero("imm", raw.imm.into())?;
            Ok(Insn::Store {
                size,
                dst,
                off: raw.off,
                src: Operand::Reg(src),
            })
        }
        MODE_ATOMIC if matches!(size, Size::W | Size::DW) => {
            let op = match raw.imm {
                ATOMIC_ADD => AtomicOp::Add,
                ATOMIC_OR => AtomicOp::Or,
                ATOMIC_AND => AtomicOp::And,
                ATOMIC_XOR => AtomicOp::Xor,
                v if v == ATOMIC_ADD | ATOMIC_FETCH => AtomicOp::FetchAdd,
                v if v == ATOMIC_OR | ATOMIC_FETCH => AtomicOp::FetchOr,
                v if v == ATOMIC_AND | ATOMIC_FETCH => AtomicOp::FetchAnd,
                v if v == ATOMIC_XOR | ATOMIC_FETCH => AtomicOp::FetchXor,
                ATOMIC_XCHG => AtomicOp::Xchg,
                ATOMIC_CMPXCHG => AtomicOp::CmpXchg,
                v => {
                    return Err(E::BadField {
                        insn: "atomic",
                        field: "imm",
                        value: v.into(),
                    })
                }
            };
            if op != AtomicOp::Add {
                require(f.extended_atomics(), "this atomic operation", "ISA v3")?;
            }
            if op.fetches() && op != AtomicOp::CmpXchg && src == Reg::FP {
                return Err(E::WritesFramePointer);
            }
            let width = if size == Size::W {
                Width::W32
            } else {
                Width::W64
            };
            Ok(Insn::Atomic {
                width,
                op,
                dst,
                src,
                off: raw.off,
            })
        }
        _ => Err(E::UnknownOpcode(raw.opcode)),
    }
}

fn decode_ld(raw: RawInsn, next: Option<RawInsn>, f: &Features) -> Result<Insn> {
    if raw.opcode == LDDW {
        return decode_lddw(raw, next);
    }
    let size = size_of(raw.opcode);
    let mode = raw.opcode & 0xe0;
    if size == Size::DW || (mode != MODE_ABS && mode != MODE_IND) {
        return Err(E::UnknownOpcode(raw.opcode));
    }
    require(
        f.legacy_packet_loads,
        "legacy packet loads (LD_ABS/LD_IND)",
        "the legacy packet loads feature",
    )?;
    zero("dst", raw.dst.into())?;
    zero("off", raw.off.into())?;
    let mode = if mode == MODE_ABS {
        zero("src", raw.src.into())?;
        LegacyMode::Abs
    } else {
        LegacyMode::Ind(reg("src", raw.src)?)
    };
    Ok(Insn::LegacyLoad {
        size,
        mode,
        imm: raw.imm,
    })
}

fn decode_lddw(raw: RawInsn, next: Option<RawInsn>) -> Result<Insn> {
    let tail = next.ok_or(E::MissingImm64Tail)?;
    if tail.opcode != 0 || tail.dst != 0 || tail.src != 0 || tail.off != 0 {
        return Err(E::BadImm64Tail);
    }
    zero("off", raw.off.into())?;
    let dst = dst_reg(raw.dst)?;
    let lo = raw.imm as u32 as u64;
    let hi = tail.imm;
    let no_hi = || zero("imm (second slot)", hi.into());
    let imm = match raw.src {
        IMM64_VALUE => Imm64::Value(lo | ((hi as u32 as u64) << 32)),
        IMM64_MAP_FD => {
            no_hi()?;
            Imm64::MapFd(raw.imm)
        }
        IMM64_MAP_VALUE => Imm64::MapValue {
            fd: raw.imm,
            offset: hi as u32,
        },
        IMM64_VAR_ADDR => {
            no_hi()?;
            Imm64::VarAddr(raw.imm)
        }
        IMM64_CODE_ADDR => {
            no_hi()?;
            Imm64::CodeAddr(raw.imm)
        }
        IMM64_MAP_IDX => {
            no_hi()?;
            Imm64::MapIdx(raw.imm as u32)
        }
        IMM64_MAP_IDX_VALUE => Imm64::MapIdxValue {
            index: raw.imm as u32,
            offset: hi as u32,
        },
        v => {
            return Err(E::BadField {
                insn: "lddw",
                field: "src",
                value: v.into(),
            })
        }
    };
    Ok(Insn::LoadImm64 { dst, imm })
}
