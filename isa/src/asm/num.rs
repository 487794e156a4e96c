//! Operand parsing shared by both dialects: numbers, registers, jump targets and the
//! non-value forms of `lddw`.
//!
//! Every function returns an error message rather than panicking or wrapping: the
//! assembler attaches the line number.

use super::Target;
use crate::insn::{Imm64, Reg};

/// Parses a decimal or `0x` hexadecimal integer with an optional sign. Returns the
/// value and whether it was written in hex (32-bit immediates treat the two
/// differently). `None` if it is not a number or does not fit 128 bits.
pub(super) fn parse_int(s: &str) -> Option<(i128, bool)> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let (radix, digits) = match body.get(..2) {
        Some("0x" | "0X") => (16, body.get(2..)?),
        _ => (10, body),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix)?;
        value = value.checked_mul(radix.into())?.checked_add(digit.into())?;
    }
    Some((if negative { -value } else { value }, radix == 16))
}

/// A 32-bit immediate. Hex may be written unsigned (`0xffffffff` is -1), as the
/// suite does for bit patterns; decimal must be a signed 32-bit value, which is how
/// the suite's own assembler refuses `mov32 %r0, 2147483648`.
pub(super) fn imm32(s: &str) -> Result<i32, String> {
    let (value, hex) = parse_int(s).ok_or_else(|| format!("invalid immediate `{s}`"))?;
    let max = if hex {
        i128::from(u32::MAX)
    } else {
        i128::from(i32::MAX)
    };
    if value < i128::from(i32::MIN) || value > max {
        return Err(format!("immediate `{s}` does not fit in 32 bits"));
    }
    // In range: negative values fit i32, others fit u32, whose bits are the i32.
    Ok(if value < 0 {
        value as i32
    } else {
        value as u32 as i32
    })
}

/// An unsigned 32-bit field (map indexes, map value offsets); negative values are
/// accepted down to `i32::MIN` and stored as their bit pattern.
pub(super) fn imm_u32(s: &str) -> Result<u32, String> {
    let (value, _) = parse_int(s).ok_or_else(|| format!("invalid immediate `{s}`"))?;
    if value < i128::from(i32::MIN) || value > i128::from(u32::MAX) {
        return Err(format!("immediate `{s}` does not fit in 32 bits"));
    }
    Ok(if value < 0 {
        value as i32 as u32
    } else {
        value as u32
    })
}

/// A 64-bit immediate (`lddw`): anything in the i64 or u64 range.
pub(super) fn imm64(s: &str) -> Result<u64, String> {
    let (value, _) = parse_int(s).ok_or_else(|| format!("invalid immediate `{s}`"))?;
    if value < i128::from(i64::MIN) || value > i128::from(u64::MAX) {
        return Err(format!("immediate `{s}` does not fit in 64 bits"));
    }
    Ok(if value < 0 {
        value as i64 as u64
    } else {
        value as u64
    })
}

/// A memory offset: must fit the signed 16-bit `off` field.
pub(super) fn offset16(s: &str) -> Result<i16, String> {
    let (value, _) = parse_int(s).ok_or_else(|| format!("invalid offset `{s}`"))?;
    i16::try_from(value).map_err(|_| format!("offset `{s}` does not fit in 16 bits"))
}

/// Whether `s` is a label name: a letter, `_` or `.` then letters, digits, `_`, `.`.
pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// A jump target: a signed offset (`+3`, `-0x2`, `3`) or a label name.
pub(super) fn target(s: &str) -> Result<Target, String> {
    if s.starts_with(['+', '-']) || s.starts_with(|c: char| c.is_ascii_digit()) {
        let (value, _) = parse_int(s).ok_or_else(|| format!("invalid jump offset `{s}`"))?;
        let rel = i64::try_from(value).map_err(|_| format!("jump offset `{s}` is too large"))?;
        Ok(Target::Rel(rel))
    } else if is_identifier(s) {
        Ok(Target::Label(s.to_owned()))
    } else {
        Err(format!("invalid jump target `{s}`"))
    }
}

/// Whether `s` looks like a register in either dialect (`%r1`, `%foo`, `r1`, `w1`),
/// so that a bad one is reported as a bad register rather than a bad immediate.
pub(super) fn looks_like_reg(s: &str) -> bool {
    if s.starts_with('%') {
        return true;
    }
    let mut chars = s.chars();
    matches!(chars.next(), Some('r' | 'w')) && s.len() > 1 && chars.all(|c| c.is_ascii_digit())
}

/// A register `%rN` or `rN`, and whether it was written `wN` (the LLVM dialect's
/// 32-bit view; the conformance dialect only takes `r`).
pub(super) fn reg_any(s: &str, allow_w: bool) -> Result<(Reg, bool), String> {
    let invalid = || format!("invalid register `{s}`");
    let bare = s.strip_prefix('%').unwrap_or(s);
    let (is_w, digits) = if let Some(d) = bare.strip_prefix('r') {
        (false, d)
    } else if let Some(d) = bare.strip_prefix('w').filter(|_| allow_w) {
        (true, d)
    } else if looks_like_reg(s) {
        return Err(invalid());
    } else {
        return Err(format!("expected a register, found `{s}`"));
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
        return Err(invalid());
    }
    let n: u8 = digits.parse().map_err(|_| invalid())?;
    let reg = Reg::new(n).ok_or_else(invalid)?;
    Ok((reg, is_w))
}

/// A conformance-dialect register: `%rN` or `rN`.
pub(super) fn reg(s: &str) -> Result<Reg, String> {
    reg_any(s, false).map(|(r, _)| r)
}

/// The keywords of the non-value `lddw` forms, as the disassembler prints them.
pub(super) const IMM64_KINDS: [&str; 6] = [
    "map_fd",
    "map_value",
    "var_addr",
    "code_addr",
    "map_idx",
    "map_idx_value",
];

/// Splits `a+b` into `a` and `b` (the `+` after a leading sign); `b` is absent if
/// there is no `+`.
fn split_plus(s: &str) -> (&str, Option<&str>) {
    let start = usize::from(s.starts_with(['+', '-']));
    match s.get(start..).and_then(|t| t.find('+')) {
        Some(i) => {
            let at = start.saturating_add(i);
            (s.get(..at).unwrap_or(s), s.get(at.saturating_add(1)..))
        }
        None => (s, None),
    }
}

/// A non-value `lddw` operand: `kind` is one of [`IMM64_KINDS`], `arg` its argument
/// with whitespace removed (`3`, `3+16`, `+5`, a label). `None` if `kind` is not one.
pub(super) fn imm64_kind(kind: &str, arg: &str) -> Option<Result<(Imm64, Option<Target>), String>> {
    let pair = || -> Result<(i32, u32), String> {
        let (a, b) = split_plus(arg);
        Ok((imm32(a)?, b.map(imm_u32).transpose()?.unwrap_or(0)))
    };
    let pair_u = || -> Result<(u32, u32), String> {
        let (a, b) = split_plus(arg);
        Ok((imm_u32(a)?, b.map(imm_u32).transpose()?.unwrap_or(0)))
    };
    let result = match kind {
        "map_fd" => imm32(arg).map(|fd| (Imm64::MapFd(fd), None)),
        "map_value" => pair().map(|(fd, offset)| (Imm64::MapValue { fd, offset }, None)),
        "var_addr" => imm32(arg).map(|id| (Imm64::VarAddr(id), None)),
        "code_addr" => target(arg).map(|t| (Imm64::CodeAddr(0), Some(t))),
        "map_idx" => imm_u32(arg).map(|index| (Imm64::MapIdx(index), None)),
        "map_idx_value" => {
            pair_u().map(|(index, offset)| (Imm64::MapIdxValue { index, offset }, None))
        }
        _ => return None,
    };
    Some(result)
}
