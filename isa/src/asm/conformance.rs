//! The bpf_conformance / uBPF dialect: `mnemonic operand, operand, ...`.
//!
//! Registers are `%rN` (or `rN`), memory operands `[%rN+off]`, jump targets `+N`,
//! `-N` or a label. Arithmetic takes a `32` suffix for the ALU class (`add32`), jumps
//! a `32` suffix for the JMP32 class (`jeq32`); `movsx{from}{to}` names both widths.
//! Atomics are `lock [fetch] op[32] [%rD+off], %rS`; `lddw` also takes the non-value
//! forms the disassembler prints (`lddw %r1, map_value 3+16`).

use super::num::{imm32, imm64, imm64_kind, looks_like_reg, offset16, reg, target, IMM64_KINDS};
use super::Parsed;
use crate::insn::*;

type Result<T> = std::result::Result<T, String>;

/// Parses one instruction (comment and label already removed).
pub(super) fn parse_line(code: &str) -> Result<Parsed> {
    let (mnemonic, rest) = match code.split_once(char::is_whitespace) {
        Some((m, r)) => (m, r),
        None => (code, ""),
    };
    let mnemonic = mnemonic.to_ascii_lowercase();
    let ops = operands(rest)?;
    parse_insn(&mnemonic, &ops)
}

/// Splits operands on commas and whitespace; a bracketed memory operand is one
/// operand even with spaces inside (`[%r10 - 8]`).
fn operands(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_bracket = false;
    for c in s.chars() {
        if in_bracket {
            match c {
                ']' => {
                    current.push(c);
                    in_bracket = false;
                }
                '[' => return Err("nested `[` in a memory operand".to_owned()),
                c if c.is_whitespace() => {}
                c => current.push(c),
            }
        } else if c == ',' || c.is_whitespace() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            in_bracket = c == '[';
            current.push(c);
        }
    }
    if in_bracket {
        return Err("unclosed `[` in a memory operand".to_owned());
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

fn count(mnemonic: &str, ops: &[String], n: usize) -> Result<()> {
    if ops.len() == n {
        Ok(())
    } else {
        let s = if n == 1 { "" } else { "s" };
        Err(format!(
            "`{mnemonic}` takes {n} operand{s}, found {}",
            ops.len()
        ))
    }
}

/// `[%rN+off]`, `[%rN-off]` or `[%rN]`.
fn mem(s: &str) -> Result<(Reg, i16)> {
    let inner = s
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| format!("expected a memory operand `[%rN+off]`, found `{s}`"))?;
    match inner.find(['+', '-']) {
        Some(i) => {
            let base = inner.get(..i).unwrap_or("");
            // Keep the sign: `-8` and `+0x10` are both offsets `offset16` reads.
            let off = inner.get(i..).unwrap_or("");
            let off = off.strip_prefix('+').unwrap_or(off);
            Ok((reg(base)?, offset16(off)?))
        }
        None => Ok((reg(inner)?, 0)),
    }
}

/// A register or a 32-bit immediate.
fn operand(s: &str) -> Result<Operand> {
    if looks_like_reg(s) {
        reg(s).map(Operand::Reg)
    } else {
        imm32(s).map(Operand::Imm)
    }
}

fn size_of(suffix: &str) -> Option<Size> {
    Some(match suffix {
        "b" => Size::B,
        "h" => Size::H,
        "w" => Size::W,
        "dw" => Size::DW,
        _ => return None,
    })
}

fn alu_op(name: &str) -> Option<AluOp> {
    Some(match name {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::SDiv,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "mod" => AluOp::Mod,
        "smod" => AluOp::SMod,
        "xor" => AluOp::Xor,
        "mov" => AluOp::Mov,
        "arsh" => AluOp::Arsh,
        _ => return None,
    })
}

fn cond(name: &str) -> Option<Cond> {
    Some(match name {
        "jeq" => Cond::Eq,
        "jgt" => Cond::Gt,
        "jge" => Cond::Ge,
        "jset" => Cond::Set,
        "jne" => Cond::Ne,
        "jsgt" => Cond::Sgt,
        "jsge" => Cond::Sge,
        "jlt" => Cond::Lt,
        "jle" => Cond::Le,
        "jslt" => Cond::Slt,
        "jsle" => Cond::Sle,
        _ => return None,
    })
}

/// Splits a width suffix off a mnemonic: `add32` is 32-bit, `add` and `add64` 64-bit.
fn split_width(mnemonic: &str) -> (&str, Width) {
    if let Some(base) = mnemonic.strip_suffix("32") {
        (base, Width::W32)
    } else {
        (mnemonic.strip_suffix("64").unwrap_or(mnemonic), Width::W64)
    }
}

fn endian(mnemonic: &str) -> Option<(ByteOrder, SwapWidth)> {
    let (order, bits) = if let Some(b) = mnemonic.strip_prefix("le") {
        (ByteOrder::ToLe, b)
    } else if let Some(b) = mnemonic.strip_prefix("be") {
        (ByteOrder::ToBe, b)
    } else if let Some(b) = mnemonic
        .strip_prefix("bswap")
        .or_else(|| mnemonic.strip_prefix("swap"))
    {
        (ByteOrder::Swap, b)
    } else {
        return None;
    };
    let width = match bits {
        "16" => SwapWidth::B16,
        "32" => SwapWidth::B32,
        "64" => SwapWidth::B64,
        _ => return None,
    };
    Some((order, width))
}

fn movsx(mnemonic: &str) -> Option<(SignExtend, Width)> {
    Some(match mnemonic.strip_prefix("movsx")? {
        "832" => (SignExtend::S8, Width::W32),
        "1632" => (SignExtend::S16, Width::W32),
        "864" => (SignExtend::S8, Width::W64),
        "1664" => (SignExtend::S16, Width::W64),
        "3264" => (SignExtend::S32, Width::W64),
        _ => return None,
    })
}

fn parse_insn(m: &str, ops: &[String]) -> Result<Parsed> {
    let plain = |insn| Ok(Parsed::plain(insn));
    match m {
        "exit" => {
            count(m, ops, 0)?;
            return plain(Insn::Exit);
        }
        "ja" | "ja32" | "gotol" => {
            count(m, ops, 1)?;
            let insn = Insn::Ja {
                off: 0,
                long: m != "ja",
            };
            return Ok(Parsed::with_target(insn, target(&ops[0])?));
        }
        "call" => return call(ops),
        "callx" => {
            count(m, ops, 1)?;
            return plain(Insn::Call(CallTarget::Reg(reg(&ops[0])?)));
        }
        "lock" => return lock(ops),
        "lddw" => return lddw(ops),
        _ => {}
    }
    if let Some((order, width)) = endian(m) {
        count(m, ops, 1)?;
        return plain(Insn::Endian {
            order,
            width,
            dst: reg(&ops[0])?,
        });
    }
    if let Some((sx, width)) = movsx(m) {
        count(m, ops, 2)?;
        if !looks_like_reg(&ops[1]) {
            return Err(format!("`{m}` takes a register source, found `{}`", ops[1]));
        }
        return plain(Insn::Alu {
            width,
            op: AluOp::MovSx(sx),
            dst: reg(&ops[0])?,
            src: Operand::Reg(reg(&ops[1])?),
        });
    }
    if let Some(rest) = m.strip_prefix("ldx") {
        let (sign_extend, suffix) = match rest.strip_prefix('s') {
            Some(s) if s != "dw" => (true, s),
            _ => (false, rest),
        };
        if let Some(size) = size_of(suffix) {
            count(m, ops, 2)?;
            let (src, off) = mem(&ops[1])?;
            return plain(Insn::Load {
                size,
                sign_extend,
                dst: reg(&ops[0])?,
                src,
                off,
            });
        }
    }
    if let Some(size) = m.strip_prefix("stx").and_then(size_of) {
        count(m, ops, 2)?;
        let (dst, off) = mem(&ops[0])?;
        return plain(Insn::Store {
            size,
            dst,
            off,
            src: Operand::Reg(reg(&ops[1])?),
        });
    }
    if let Some(size) = m.strip_prefix("st").and_then(size_of) {
        count(m, ops, 2)?;
        let (dst, off) = mem(&ops[0])?;
        return plain(Insn::Store {
            size,
            dst,
            off,
            src: Operand::Imm(imm32(&ops[1])?),
        });
    }
    if let Some(size) = m.strip_prefix("ldabs").and_then(size_of) {
        count(m, ops, 1)?;
        return legacy(m, size, LegacyMode::Abs, &ops[0]);
    }
    if let Some(size) = m.strip_prefix("ldind").and_then(size_of) {
        count(m, ops, 2)?;
        return legacy(m, size, LegacyMode::Ind(reg(&ops[0])?), &ops[1]);
    }
    let (base, width) = split_width(m);
    if base == "neg" {
        count(m, ops, 1)?;
        return plain(Insn::Neg {
            width,
            dst: reg(&ops[0])?,
        });
    }
    if let Some(op) = alu_op(base) {
        count(m, ops, 2)?;
        return plain(Insn::Alu {
            width,
            op,
            dst: reg(&ops[0])?,
            src: operand(&ops[1])?,
        });
    }
    // Jumps only take the `32` suffix: `jeq64` is not a mnemonic.
    let (base, width) = match m.strip_suffix("32") {
        Some(b) => (b, Width::W32),
        None => (m, Width::W64),
    };
    if let Some(cond) = cond(base) {
        count(m, ops, 3)?;
        let insn = Insn::Jump {
            width,
            cond,
            dst: reg(&ops[0])?,
            src: operand(&ops[1])?,
            off: 0,
        };
        return Ok(Parsed::with_target(insn, target(&ops[2])?));
    }
    Err(format!("unknown mnemonic `{m}`"))
}

fn legacy(m: &str, size: Size, mode: LegacyMode, imm: &str) -> Result<Parsed> {
    if size == Size::DW {
        return Err(format!("unknown mnemonic `{m}`"));
    }
    Ok(Parsed::plain(Insn::LegacyLoad {
        size,
        mode,
        imm: imm32(imm)?,
    }))
}

/// `call N` (helper), `call local TARGET`, `call kfunc N`, `call %rN` (callx).
fn call(ops: &[String]) -> Result<Parsed> {
    match ops {
        [kind, arg] if kind == "local" => Ok(Parsed::with_target(
            Insn::Call(CallTarget::Local(0)),
            target(arg)?,
        )),
        [kind, arg] if kind == "kfunc" => {
            Ok(Parsed::plain(Insn::Call(CallTarget::Kfunc(imm32(arg)?))))
        }
        [arg] if looks_like_reg(arg) => Ok(Parsed::plain(Insn::Call(CallTarget::Reg(reg(arg)?)))),
        [arg] => Ok(Parsed::plain(Insn::Call(CallTarget::Helper(imm32(arg)?)))),
        [kind, _] => Err(format!(
            "unknown call form `call {kind}` (expected `call N`, `call local TARGET`, `call kfunc N` or `call %rN`)"
        )),
        _ => Err(format!("`call` takes 1 or 2 operands, found {}", ops.len())),
    }
}

/// `lock [fetch] op[32] [%rD+off], %rS`.
fn lock(ops: &[String]) -> Result<Parsed> {
    let (fetch, rest) = match ops.split_first() {
        Some((first, rest)) if first == "fetch" => (true, rest),
        _ => (false, ops),
    };
    let Some((name, args)) = rest.split_first() else {
        return Err(
            "`lock` needs an operation (add, or, and, xor, xchg or cmpxchg, with or without `fetch`)"
                .to_owned(),
        );
    };
    let (base, width) = split_width(name);
    let op = match (fetch, base) {
        (false, "add") => AtomicOp::Add,
        (false, "or") => AtomicOp::Or,
        (false, "and") => AtomicOp::And,
        (false, "xor") => AtomicOp::Xor,
        (true, "add") => AtomicOp::FetchAdd,
        (true, "or") => AtomicOp::FetchOr,
        (true, "and") => AtomicOp::FetchAnd,
        (true, "xor") => AtomicOp::FetchXor,
        // xchg and cmpxchg always fetch; `lock fetch xchg` is accepted as the same.
        (_, "xchg") => AtomicOp::Xchg,
        (_, "cmpxchg") => AtomicOp::CmpXchg,
        _ => return Err(format!("unknown atomic operation `{name}`")),
    };
    let [dst, src] = args else {
        return Err(format!(
            "`lock {name}` takes 2 operands, found {}",
            args.len()
        ));
    };
    let (dst, off) = mem(dst)?;
    Ok(Parsed::plain(Insn::Atomic {
        width,
        op,
        dst,
        src: reg(src)?,
        off,
    }))
}

/// `lddw %rD, imm64` or `lddw %rD, KIND ARG` for the other six kinds.
fn lddw(ops: &[String]) -> Result<Parsed> {
    let [dst, value, rest @ ..] = ops else {
        return Err(format!("`lddw` takes 2 operands, found {}", ops.len()));
    };
    let dst = reg(dst)?;
    if IMM64_KINDS.contains(&value.as_str()) {
        let arg = rest.concat();
        let (imm, target) = imm64_kind(value, &arg)
            .unwrap_or_else(|| Err(format!("unknown lddw kind `{value}`")))?;
        return Ok(Parsed {
            insn: Insn::LoadImm64 { dst, imm },
            target,
        });
    }
    if !rest.is_empty() {
        return Err(format!("`lddw` takes 2 operands, found {}", ops.len()));
    }
    Ok(Parsed::plain(Insn::LoadImm64 {
        dst,
        imm: Imm64::Value(imm64(value)?),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_split_on_commas_and_spaces_but_not_inside_brackets() {
        assert_eq!(
            operands("[%r10 - 8], %r1").unwrap(),
            vec!["[%r10-8]".to_owned(), "%r1".to_owned()]
        );
        assert_eq!(operands("%r1,%r2 ,  3").unwrap().len(), 3);
        assert!(operands("[%r1+8").is_err());
    }

    #[test]
    fn memory_operands() {
        assert_eq!(mem("[%r1+8]").unwrap(), (Reg::R1, 8));
        assert_eq!(mem("[%r10-8]").unwrap(), (Reg::FP, -8));
        assert_eq!(mem("[%r1]").unwrap(), (Reg::R1, 0));
        assert_eq!(mem("[%r1+0x10]").unwrap(), (Reg::R1, 16));
        assert_eq!(mem("[%r1-32768]").unwrap(), (Reg::R1, i16::MIN));
        assert!(mem("[%r1+32768]").is_err());
        assert!(mem("[%r1+0x10000]").is_err());
        assert!(mem("%r1").is_err());
    }
}
