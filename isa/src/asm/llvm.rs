//! The LLVM / kernel dialect, as `llvm-objdump` and the verifier log print it.
//!
//! `rN` is a 64-bit register, `wN` its low half: `w0 += 1` is 32-bit arithmetic,
//! `if w1 > w2 goto +1` a JMP32 jump. The forms:
//!
//! ```text
//! r0 = 1            r0 += r1          r0 s>>= 3          r0 = -r0
//! r0 = (s8)r1       r1 = be16 r1      r0 = 0x1234 ll     r1 = map_fd 3 ll
//! r0 = *(u8 *)(r1 + 2)                *(u32 *)(r10 - 8) = r1
//! r0 = *(s16 *)(r1 + 2)               r0 = *(u16 *)skb[r1 + 4]
//! lock *(u64 *)(r10 - 8) += r1        r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)
//! r1 = xchg_64(r10 - 8, r1)           r0 = cmpxchg_64(r10 - 8, r0, r1)
//! if r1 > 5 goto +3 <L7>              goto -1         gotol +70000
//! call 5            call pc+3         callx r2          call kfunc 5      exit
//! ```
//!
//! A `<...>` annotation after a jump target (the disassembler's target pc) is ignored.

use super::num::{
    imm32, imm64, imm64_kind, is_identifier, looks_like_reg, parse_int, reg_any, target,
    IMM64_KINDS,
};
use super::{Parsed, Target};
use crate::insn::*;

type Result<T> = std::result::Result<T, String>;

/// Whether a line is in this dialect rather than the conformance one. The
/// conformance dialect never uses `=`, `*(`, `if`, `goto`, `callx` or `call pc`.
pub(super) fn is_llvm_line(code: &str) -> bool {
    let mut words = code.split_whitespace();
    let first = words.next().unwrap_or("");
    code.contains('=')
        || code.starts_with('*')
        || matches!(first, "if" | "goto" | "gotol" | "callx")
        || (first == "lock" && code.contains("*("))
        || (first == "call"
            && code
                .get(4..)
                .is_some_and(|r| r.trim_start().starts_with("pc")))
}

/// A position in the line being parsed.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos = self
            .pos
            .saturating_add(rest.len() - rest.trim_start().len());
    }

    /// Consumes `token` (after whitespace) if the text continues with it.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos = self.pos.saturating_add(token.len());
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<()> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(format!("expected `{token}` at `{}`", self.found()))
        }
    }

    /// What is left, for error messages.
    fn found(&self) -> &'a str {
        let rest = self.rest().trim();
        if rest.is_empty() {
            "end of line"
        } else {
            rest
        }
    }

    /// A run of letters, digits, `_` and `.`, possibly empty.
    fn word(&mut self) -> &'a str {
        self.skip_ws();
        let rest = self.rest();
        let len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
        self.pos = self.pos.saturating_add(len);
        rest.get(..len).unwrap_or("")
    }

    /// Consumes the word `w` if it is next.
    fn eat_word(&mut self, w: &str) -> bool {
        let save = self.pos;
        if self.word() == w {
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// A number with an optional sign, as text.
    fn number(&mut self) -> &'a str {
        self.skip_ws();
        let start = self.pos;
        if self.rest().starts_with(['+', '-']) {
            self.pos = self.pos.saturating_add(1);
        }
        let _ = self.word();
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// A register word, with the conformance dialect's `%` if it is there.
    fn reg_word(&mut self) -> &'a str {
        self.skip_ws();
        let start = self.pos;
        if self.rest().starts_with('%') {
            self.pos = self.pos.saturating_add(1);
        }
        let _ = self.word();
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// A register, and whether it was written `wN`.
    fn reg(&mut self) -> Result<(Reg, bool)> {
        let save = self.pos;
        let w = self.reg_word();
        if w.is_empty() {
            self.pos = save;
            return Err(format!("expected a register at `{}`", self.found()));
        }
        reg_any(w, true)
    }

    /// A 64-bit register (`rN`), as memory bases are.
    fn reg64(&mut self) -> Result<Reg> {
        match self.reg()? {
            (r, false) => Ok(r),
            (r, true) => Err(format!(
                "expected a 64-bit register, found `w{}`",
                r.number()
            )),
        }
    }

    fn at_reg(&self) -> bool {
        let mut probe = Cursor {
            s: self.s,
            pos: self.pos,
        };
        looks_like_reg(probe.reg_word())
    }

    /// A register or a 32-bit immediate.
    fn operand(&mut self) -> Result<(Operand, Option<bool>)> {
        if self.at_reg() {
            let (r, w) = self.reg()?;
            Ok((Operand::Reg(r), Some(w)))
        } else {
            Ok((Operand::Imm(imm32(self.number())?), None))
        }
    }

    /// `(rN + off)`, `(rN - off)` or `(rN)`.
    fn mem(&mut self) -> Result<(Reg, i16)> {
        self.expect("(")?;
        let base = self.reg64()?;
        let off = self.offset()?;
        self.expect(")")?;
        Ok((base, off))
    }

    /// ` + off`, ` - off` or nothing.
    fn offset(&mut self) -> Result<i16> {
        let negative = if self.eat("+") {
            false
        } else if self.eat("-") {
            true
        } else {
            return Ok(0);
        };
        let text = self.number();
        let (value, _) = parse_int(text).ok_or_else(|| format!("invalid offset `{text}`"))?;
        let value = if negative { -value } else { value };
        i16::try_from(value).map_err(|_| format!("offset `{text}` does not fit in 16 bits"))
    }

    /// `(u32 *)`: the access size and whether it is signed (`s8`, `s16`, `s32`).
    fn access_type(&mut self) -> Result<(Size, bool)> {
        self.expect("(")?;
        let ty = self.word();
        let t = match ty {
            "u8" => (Size::B, false),
            "u16" => (Size::H, false),
            "u32" => (Size::W, false),
            "u64" => (Size::DW, false),
            "s8" => (Size::B, true),
            "s16" => (Size::H, true),
            "s32" => (Size::W, true),
            _ => return Err(format!("unknown access type `{ty}`")),
        };
        self.expect("*")?;
        self.expect(")")?;
        Ok(t)
    }

    /// A jump target, then an optional `<...>` annotation, then the end of the line.
    fn target_to_end(&mut self) -> Result<Target> {
        let t = target(self.number())?;
        if self.eat("<") {
            let close = self
                .rest()
                .find('>')
                .ok_or_else(|| "unclosed `<` annotation".to_owned())?;
            self.pos = self.pos.saturating_add(close).saturating_add(1);
        }
        self.end()?;
        Ok(t)
    }

    fn end(&mut self) -> Result<()> {
        self.skip_ws();
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected `{}`", self.found()))
        }
    }
}

fn width_of(is_w: bool) -> Width {
    if is_w {
        Width::W32
    } else {
        Width::W64
    }
}

/// Parses one instruction (comment and label already removed).
pub(super) fn parse_line(code: &str) -> Result<Parsed> {
    let mut c = Cursor { s: code, pos: 0 };
    let parsed = statement(&mut c)?;
    c.end()?;
    Ok(parsed)
}

fn statement(c: &mut Cursor) -> Result<Parsed> {
    let plain = |insn| Ok(Parsed::plain(insn));
    if c.eat("*") {
        return store(c);
    }
    let save = c.pos;
    match c.word() {
        "exit" => return plain(Insn::Exit),
        w @ ("goto" | "gotol") => {
            let long = w == "gotol";
            let t = c.target_to_end()?;
            return Ok(Parsed::with_target(Insn::Ja { off: 0, long }, t));
        }
        "if" => return jump(c),
        "lock" => return lock(c),
        "callx" => return plain(Insn::Call(CallTarget::Reg(c.reg64()?))),
        "call" => return call(c),
        _ => c.pos = save,
    }
    let (dst, is_w) = c.reg()?;
    let width = width_of(is_w);
    const OPS: [(&str, AluOp); 13] = [
        ("s>>=", AluOp::Arsh),
        ("s/=", AluOp::SDiv),
        ("s%=", AluOp::SMod),
        ("<<=", AluOp::Lsh),
        (">>=", AluOp::Rsh),
        ("+=", AluOp::Add),
        ("-=", AluOp::Sub),
        ("*=", AluOp::Mul),
        ("/=", AluOp::Div),
        ("%=", AluOp::Mod),
        ("|=", AluOp::Or),
        ("&=", AluOp::And),
        ("^=", AluOp::Xor),
    ];
    for (token, op) in OPS {
        if c.eat(token) {
            let src = same_width(c.operand()?, is_w)?;
            return plain(Insn::Alu {
                width,
                op,
                dst,
                src,
            });
        }
    }
    c.expect("=")?;
    assignment(c, dst, is_w)
}

/// Refuses `w0 += r1` and `r0 = w1`: both sides of arithmetic have one width.
fn same_width((src, src_w): (Operand, Option<bool>), dst_w: bool) -> Result<Operand> {
    match src_w {
        Some(w) if w != dst_w => Err("mixing `r` and `w` registers in one instruction".to_owned()),
        _ => Ok(src),
    }
}

/// Everything of the form `DST = ...`.
fn assignment(c: &mut Cursor, dst: Reg, is_w: bool) -> Result<Parsed> {
    let plain = |insn| Ok(Parsed::plain(insn));
    let width = width_of(is_w);
    let rest = c.rest().trim();
    if let Some(value) = rest
        .strip_suffix("ll")
        .filter(|v| v.ends_with(char::is_whitespace))
    {
        c.pos = c.s.len();
        return lddw(dst, is_w, value.trim());
    }
    if c.eat("*") {
        return load(c, dst);
    }
    if c.eat("(") {
        // `(s8)r1`: a sign-extending move.
        let ty = c.word();
        let sx = match ty {
            "s8" => SignExtend::S8,
            "s16" => SignExtend::S16,
            "s32" => SignExtend::S32,
            _ => return Err(format!("unknown cast `({ty})`")),
        };
        c.expect(")")?;
        let (src, src_w) = c.reg()?;
        same_width((Operand::Reg(src), Some(src_w)), is_w)?;
        return plain(Insn::Alu {
            width,
            op: AluOp::MovSx(sx),
            dst,
            src: Operand::Reg(src),
        });
    }
    let save = c.pos;
    if c.eat("-") && c.at_reg() {
        let (src, _) = c.reg()?;
        if src != dst {
            return Err("negation must be `rN = -rN` with one register".to_owned());
        }
        return plain(Insn::Neg { width, dst });
    }
    c.pos = save;
    let word = c.word();
    if let Some(order_width) = endian(word) {
        let (src, _) = c.reg()?;
        if src != dst {
            return Err(format!("`{word}` must convert a register in place"));
        }
        let (order, width) = order_width;
        return plain(Insn::Endian { order, width, dst });
    }
    if let Some(parsed) = atomic_call(c, word, dst, is_w) {
        return parsed;
    }
    c.pos = save;
    let src = same_width(c.operand()?, is_w)?;
    plain(Insn::Alu {
        width,
        op: AluOp::Mov,
        dst,
        src,
    })
}

fn endian(word: &str) -> Option<(ByteOrder, SwapWidth)> {
    let (order, bits) = if let Some(b) = word.strip_prefix("le") {
        (ByteOrder::ToLe, b)
    } else if let Some(b) = word.strip_prefix("be") {
        (ByteOrder::ToBe, b)
    } else if let Some(b) = word.strip_prefix("bswap") {
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

/// `DST = 0x1234 ll` and the non-value kinds, `DST = map_fd 3 ll`.
fn lddw(dst: Reg, is_w: bool, value: &str) -> Result<Parsed> {
    if is_w {
        return Err("a 64-bit immediate load needs an `r` register".to_owned());
    }
    let (kind, arg) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if IMM64_KINDS.contains(&kind) {
        let arg: String = arg.split_whitespace().collect();
        let (imm, target) =
            imm64_kind(kind, &arg).unwrap_or_else(|| Err(format!("unknown lddw kind `{kind}`")))?;
        return Ok(Parsed {
            insn: Insn::LoadImm64 { dst, imm },
            target,
        });
    }
    Ok(Parsed::plain(Insn::LoadImm64 {
        dst,
        imm: Imm64::Value(imm64(value)?),
    }))
}

/// `DST = *(u8 *)(rS + off)` and the legacy `r0 = *(u8 *)skb[imm]`, `skb[rS + imm]`.
fn load(c: &mut Cursor, dst: Reg) -> Result<Parsed> {
    let (size, sign_extend) = c.access_type()?;
    if c.eat_word("skb") {
        if sign_extend || size == Size::DW {
            return Err("legacy packet loads are u8, u16 or u32".to_owned());
        }
        if dst != Reg::R0 {
            return Err("legacy packet loads write r0".to_owned());
        }
        c.expect("[")?;
        let mode = if c.at_reg() {
            LegacyMode::Ind(c.reg64()?)
        } else {
            LegacyMode::Abs
        };
        let imm = match mode {
            LegacyMode::Abs => imm32(c.number())?,
            LegacyMode::Ind(_) => {
                let negative = if c.eat("+") {
                    false
                } else if c.eat("-") {
                    true
                } else {
                    c.expect("]")?;
                    return Ok(Parsed::plain(Insn::LegacyLoad { size, mode, imm: 0 }));
                };
                let v = imm32(c.number())?;
                if negative {
                    // `- 0x80000000` is i32::MIN; wrapping keeps it so.
                    v.wrapping_neg()
                } else {
                    v
                }
            }
        };
        c.expect("]")?;
        return Ok(Parsed::plain(Insn::LegacyLoad { size, mode, imm }));
    }
    let (src, off) = c.mem()?;
    Ok(Parsed::plain(Insn::Load {
        size,
        sign_extend,
        dst,
        src,
        off,
    }))
}

/// `*(u32 *)(rD + off) = rS` or `= imm`.
fn store(c: &mut Cursor) -> Result<Parsed> {
    let (size, signed) = c.access_type()?;
    if signed {
        return Err("stores take an unsigned access type".to_owned());
    }
    let (dst, off) = c.mem()?;
    c.expect("=")?;
    let (src, _) = c.operand()?;
    Ok(Parsed::plain(Insn::Store {
        size,
        dst,
        off,
        src,
    }))
}

/// `(u64 *)(rD + off)` of an atomic: the width and the address.
fn atomic_addr(c: &mut Cursor) -> Result<(Width, Reg, i16)> {
    let (size, signed) = c.access_type()?;
    let width = match (size, signed) {
        (Size::W, false) => Width::W32,
        (Size::DW, false) => Width::W64,
        _ => return Err("atomics are u32 or u64".to_owned()),
    };
    let (dst, off) = c.mem()?;
    Ok((width, dst, off))
}

/// `lock *(u64 *)(rD + off) += rS` (and `|=`, `&=`, `^=`).
fn lock(c: &mut Cursor) -> Result<Parsed> {
    c.expect("*")?;
    let (width, dst, off) = atomic_addr(c)?;
    let op = if c.eat("+=") {
        AtomicOp::Add
    } else if c.eat("|=") {
        AtomicOp::Or
    } else if c.eat("&=") {
        AtomicOp::And
    } else if c.eat("^=") {
        AtomicOp::Xor
    } else {
        return Err(format!(
            "expected `+=`, `|=`, `&=` or `^=` at `{}`",
            c.found()
        ));
    };
    let (src, _) = c.reg()?;
    Ok(Parsed::plain(Insn::Atomic {
        width,
        op,
        dst,
        src,
        off,
    }))
}

/// The function-call forms of fetching atomics: `atomic_fetch_add((u64 *)(..), rS)`,
/// `xchg_64(rD + off, rS)`, `cmpxchg_64(rD + off, r0, rS)` and their 32-bit names.
/// `None` if `word` is none of them.
fn atomic_call(c: &mut Cursor, word: &str, dst: Reg, is_w: bool) -> Option<Result<Parsed>> {
    let fetch = match word {
        "atomic_fetch_add" => Some(AtomicOp::FetchAdd),
        "atomic_fetch_or" => Some(AtomicOp::FetchOr),
        "atomic_fetch_and" => Some(AtomicOp::FetchAnd),
        "atomic_fetch_xor" => Some(AtomicOp::FetchXor),
        "xchg_64" | "xchg32_32" | "cmpxchg_64" | "cmpxchg32_32" => None,
        _ => return None,
    };
    let mut parse = || -> Result<Parsed> {
        c.expect("(")?;
        let (width, base, off, op) = match fetch {
            Some(op) => {
                let (width, base, off) = atomic_addr(c)?;
                (width, base, off, op)
            }
            None => {
                let width = if word.ends_with("_32") {
                    Width::W32
                } else {
                    Width::W64
                };
                let base = c.reg64()?;
                let off = c.offset()?;
                let op = if word.starts_with("cmpxchg") {
                    c.expect(",")?;
                    let (r0, _) = c.reg()?;
                    if r0 != Reg::R0 || dst != Reg::R0 {
                        return Err("cmpxchg compares with and writes r0".to_owned());
                    }
                    AtomicOp::CmpXchg
                } else {
                    AtomicOp::Xchg
                };
                (width, base, off, op)
            }
        };
        c.expect(",")?;
        let (src, _) = c.reg()?;
        c.expect(")")?;
        if op != AtomicOp::CmpXchg && src != dst {
            return Err(format!(
                "the fetched value goes to the source register: write `{}{} = ...({}{})`",
                if is_w { 'w' } else { 'r' },
                src.number(),
                if is_w { 'w' } else { 'r' },
                src.number()
            ));
        }
        Ok(Parsed::plain(Insn::Atomic {
            width,
            op,
            dst: base,
            src,
            off,
        }))
    };
    Some(parse())
}

/// `if DST COND SRC goto TARGET`.
fn jump(c: &mut Cursor) -> Result<Parsed> {
    const CONDS: [(&str, Cond); 11] = [
        ("s>=", Cond::Sge),
        ("s<=", Cond::Sle),
        ("s>", Cond::Sgt),
        ("s<", Cond::Slt),
        ("==", Cond::Eq),
        ("!=", Cond::Ne),
        (">=", Cond::Ge),
        ("<=", Cond::Le),
        (">", Cond::Gt),
        ("<", Cond::Lt),
        ("&", Cond::Set),
    ];
    let (dst, is_w) = c.reg()?;
    let cond = CONDS
        .iter()
        .find(|(token, _)| c.eat(token))
        .map(|&(_, cond)| cond)
        .ok_or_else(|| format!("expected a comparison at `{}`", c.found()))?;
    let src = same_width(c.operand()?, is_w)?;
    if !c.eat_word("goto") {
        return Err(format!("expected `goto` at `{}`", c.found()));
    }
    let t = c.target_to_end()?;
    Ok(Parsed::with_target(
        Insn::Jump {
            width: width_of(is_w),
            cond,
            dst,
            src,
            off: 0,
        },
        t,
    ))
}

/// `call N`, `call pc+N` (local), `call kfunc N`, `call rN` (callx).
fn call(c: &mut Cursor) -> Result<Parsed> {
    if c.eat_word("pc") {
        let t = target(c.number())?;
        return Ok(Parsed::with_target(Insn::Call(CallTarget::Local(0)), t));
    }
    if c.eat_word("kfunc") {
        return Ok(Parsed::plain(Insn::Call(CallTarget::Kfunc(imm32(
            c.number(),
        )?))));
    }
    if c.at_reg() {
        return Ok(Parsed::plain(Insn::Call(CallTarget::Reg(c.reg64()?))));
    }
    let save = c.pos;
    let w = c.word();
    if is_identifier(w) {
        return Err(format!("unknown call form `call {w}`"));
    }
    c.pos = save;
    let n = c.number();
    Ok(Parsed::plain(Insn::Call(CallTarget::Helper(imm32(n)?))))
}

// Offsets are checked by `Cursor::offset` rather than by `offset16` because the sign
// and the number are separate tokens; the tests keep the two in agreement.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::num::offset16;

    #[test]
    fn offsets_agree_with_offset16() {
        for (text, value) in [("(r1 + 8)", "8"), ("(r1 - 0x10)", "-0x10"), ("(r1)", "0")] {
            let mut c = Cursor { s: text, pos: 0 };
            assert_eq!(c.mem().unwrap().1, offset16(value).unwrap());
        }
        let mut c = Cursor {
            s: "(r1 - 32769)",
            pos: 0,
        };
        assert!(c.mem().is_err());
    }

    #[test]
    fn detection() {
        assert!(is_llvm_line("r0 = 1"));
        assert!(is_llvm_line("r0 += r1"));
        assert!(is_llvm_line("if r1 > 5 goto +3"));
        assert!(is_llvm_line("*(u32 *)(r10 - 8) = r1"));
        assert!(is_llvm_line("lock *(u64 *)(r10 - 8) += r1"));
        assert!(is_llvm_line("call pc+3"));
        assert!(!is_llvm_line("call 5"));
        assert!(!is_llvm_line("lock add [%r10-8], %r1"));
        assert!(!is_llvm_line("jeq %r1, %r2, exit"));
    }
}
