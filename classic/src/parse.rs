//! Reading classic programs: raw `struct sock_filter` arrays, `tcpdump -dd` and
//! `tcpdump -ddd` text.
//!
//! Parsing only reads fields; whether the program is valid is the checker's job
//! ([`crate::check`]). Text errors carry the 1-based line, raw errors the instruction
//! index.

use crate::insn::SockFilter;

/// Why a program could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A raw array whose length is not a multiple of 8 bytes.
    #[error("raw sock_filter array of {len} bytes is not a multiple of 8 (instruction {index} is truncated)")]
    Truncated {
        /// The length in bytes.
        len: usize,
        /// The index of the incomplete instruction.
        index: usize,
    },
    /// A line of text that is not an instruction.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `tcpdump -ddd` text whose first line announces a different count.
    #[error("line 1: the count says {expected} instructions but {found} follow")]
    CountMismatch {
        /// The count on the first line.
        expected: usize,
        /// The instructions found.
        found: usize,
    },
    /// Nothing to read.
    #[error("no instructions")]
    Empty,
}

/// The format a program was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// 8 bytes per instruction, little-endian (`seccomp_export_bpf`).
    Raw,
    /// `tcpdump -dd`: `{ 0x28, 0, 0, 0x0000000c },` lines.
    Dd,
    /// `tcpdump -ddd`: a count line, then `code jt jf k` in decimal.
    Ddd,
}

/// Reads a raw little-endian `struct sock_filter` array.
pub fn parse_raw(bytes: &[u8]) -> Result<Vec<SockFilter>, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    if bytes.len() % SockFilter::SIZE != 0 {
        return Err(ParseError::Truncated {
            len: bytes.len(),
            index: bytes.len() / SockFilter::SIZE,
        });
    }
    Ok(bytes
        .chunks_exact(SockFilter::SIZE)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            SockFilter::from_le_bytes(b)
        })
        .collect())
}

/// Which text format `text` looks like, if any (first non-blank line decides).
pub fn detect_text(text: &str) -> Option<Format> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?;
    if first.starts_with('{') {
        return Some(Format::Dd);
    }
    let is_numbers = |l: &str, n: usize| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        fields.len() == n && fields.iter().all(|f| parse_number(f).is_some())
    };
    if is_numbers(first, 1) && lines.next().map_or(true, |l| is_numbers(l, 4)) {
        return Some(Format::Ddd);
    }
    None
}

/// Reads `bytes` as `tcpdump -dd`/`-ddd` text when it looks like it, else as a raw array.
pub fn parse_auto(bytes: &[u8]) -> Result<(Vec<SockFilter>, Format), ParseError> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        match detect_text(text) {
            Some(Format::Dd) => return Ok((parse_dd(text)?, Format::Dd)),
            Some(Format::Ddd) => return Ok((parse_ddd(text)?, Format::Ddd)),
            _ => {}
        }
    }
    Ok((parse_raw(bytes)?, Format::Raw))
}

/// Reads `tcpdump -dd` text: `{ code, jt, jf, k },` groups (numbers in decimal or
/// `0x` hex; commas between groups optional), usually one per line as tcpdump prints
/// them. Blank lines and `//` or `#` comments are skipped.
pub fn parse_dd(text: &str) -> Result<Vec<SockFilter>, ParseError> {
    let mut out = Vec::new();
    for (i, raw_line) in text.lines().enumerate() {
        let syntax = |message: String| ParseError::Syntax {
            line: i + 1,
            message,
        };
        let mut rest = strip_comment(raw_line);
        while !rest.is_empty() {
            let body = rest.strip_prefix('{').ok_or_else(|| {
                syntax(format!("expected `{{ code, jt, jf, k }},`, found `{rest}`"))
            })?;
            let end = body
                .find('}')
                .ok_or_else(|| syntax(format!("missing `}}` in `{rest}`")))?;
            let fields: Vec<&str> = body[..end].split(',').map(str::trim).collect();
            out.push(fields_to_insn(&fields).map_err(syntax)?);
            rest = body[end + 1..].trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        }
    }
    if out.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(out)
}

/// Reads `tcpdump -ddd` text: the instruction count, then one `code jt jf k` line
/// (decimal, or `0x` hex) per instruction.
pub fn parse_ddd(text: &str) -> Result<Vec<SockFilter>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, strip_comment(l)))
        .filter(|(_, l)| !l.is_empty());
    let Some((count_line, first)) = lines.next() else {
        return Err(ParseError::Empty);
    };
    let expected = parse_number(first)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| ParseError::Syntax {
            line: count_line,
            message: format!("expected the instruction count, found `{first}`"),
        })?;
    let mut out = Vec::new();
    for (line, l) in lines {
        let fields: Vec<&str> = l.split_whitespace().collect();
        let insn =
            fields_to_insn(&fields).map_err(|message| ParseError::Syntax { line, message })?;
        out.push(insn);
    }
    if out.len() != expected {
        return Err(ParseError::CountMismatch {
            expected,
            found: out.len(),
        });
    }
    if out.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    let end = [line.find("//"), line.find('#')]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(line.len());
    line[..end].trim()
}

fn fields_to_insn(fields: &[&str]) -> Result<SockFilter, String> {
    let [code, jt, jf, k] = fields else {
        return Err(format!(
            "expected 4 fields (code jt jf k), found {}",
            fields.len()
        ));
    };
    let num = |name: &str, s: &str, max: i64| -> Result<i64, String> {
        let v = parse_number(s).ok_or_else(|| format!("{name}: `{s}` is not a number"))?;
        if v > max || v < -(1i64 << 31) || (v < 0 && name != "k") {
            return Err(format!("{name}: {s} does not fit"));
        }
        Ok(v)
    };
    Ok(SockFilter {
        code: num("code", code, u16::MAX as i64)? as u16,
        jt: num("jt", jt, u8::MAX as i64)? as u8,
        jf: num("jf", jf, u8::MAX as i64)? as u8,
        // A negative k (some tools print SKF_AD_OFF + n signed) is its two's complement.
        k: num("k", k, u32::MAX as i64)? as u32,
    })
}

/// A 64-bit value written in decimal or `0x` hex (up to `u64::MAX`), or a negative
/// decimal number down to `i64::MIN`, taken as its two's complement.
pub fn parse_int(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(digits) = s.strip_prefix('-') {
        let v: u64 = parse_int(digits)?;
        return if v <= 1 << 63 {
            Some(v.wrapping_neg())
        } else {
            None
        };
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16)
            .ok()
            .filter(|_| !hex.starts_with('+'));
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A decimal or `0x`-hex number, optionally negative.
pub(crate) fn parse_number(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u64>().ok()?
    };
    let v = i64::try_from(v).ok()?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DD: &str = "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000800 },\n\
                      { 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n";
    const DDD: &str = "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n";

    #[test]
    fn dd_and_ddd_agree() {
        let dd = parse_dd(DD).unwrap();
        assert_eq!(dd, parse_ddd(DDD).unwrap());
        assert_eq!(dd[1], SockFilter::new(0x15, 0, 1, 0x800));
        assert_eq!(parse_auto(DD.as_bytes()).unwrap().1, Format::Dd);
        assert_eq!(parse_auto(DDD.as_bytes()).unwrap().1, Format::Ddd);
        let raw: Vec<u8> = dd.iter().flat_map(|f| f.to_le_bytes()).collect();
        assert_eq!(parse_auto(&raw).unwrap(), (dd, Format::Raw));
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse_dd("{ 0x28, 0, 0, 12 },\n{ 0x28, 0, 0 },\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: expected 4 fields (code jt jf k), found 3"
        );
        let err = parse_ddd("2\n40 0 0 12\n6 0 300 0\n").unwrap_err();
        assert_eq!(err.to_string(), "line 3: jf: 300 does not fit");
        assert_eq!(
            parse_ddd("3\n40 0 0 12\n").unwrap_err(),
            ParseError::CountMismatch {
                expected: 3,
                found: 1
            }
        );
        assert!(matches!(
            parse_raw(&[0; 9]),
            Err(ParseError::Truncated { len: 9, index: 1 })
        ));
        assert_eq!(parse_raw(&[]), Err(ParseError::Empty));
        assert_eq!(parse_dd("\n"), Err(ParseError::Empty));
        assert!(parse_dd("garbage").is_err());
        assert!(parse_dd("{ 1, 2, 3, 4 } x").is_err());
        assert!(parse_dd("{ 1, 2, 3, 4").is_err());
        assert_eq!(
            parse_dd("{ 6, 0, 0, 1 }, { 6, 0, 0, 2 },").unwrap().len(),
            2
        );
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_int("-1"), Some(u64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Some(1 << 63));
        assert_eq!(parse_int("-9223372036854775809"), None);
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("0x+1"), None);
        assert_eq!(parse_int("--1"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("1e3"), None);
    }

    #[test]
    fn negative_k_is_twos_complement() {
        let f = parse_ddd("1\n32 0 0 -4096\n").unwrap();
        assert_eq!(f[0].k, 0xffff_f000);
        assert!(parse_ddd("1\n-32 0 0 0\n").is_err());
    }
}
