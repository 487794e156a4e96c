//! Parsing bpf_conformance `.data` files.

use thiserror::Error;

/// Where a test's program comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Assembly text.
    Asm(String),
    /// Bytecode.
    Raw(Vec<u8>),
}

/// What a test expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The program runs and returns this r0.
    Result(u64),
    /// The program is refused (the text says why, informally).
    Error(String),
}

/// One parsed test file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestFile {
    /// The program.
    pub source: Source,
    /// The memory r1 points to.
    pub mem: Vec<u8>,
    /// The expected outcome.
    pub expect: Expect,
}

/// A malformed test file.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

fn parse_hex_u64(text: &str, line: usize) -> Result<u64, ParseError> {
    let digits = text.trim_start_matches("0x").trim_start_matches("0X");
    u64::from_str_radix(digits, 16).or_else(|_| err(line, format!("bad hex number `{text}`")))
}

impl TestFile {
    /// Parses the text of a `.data` file.
    pub fn parse(text: &str) -> Result<TestFile, ParseError> {
        let mut section: Option<&str> = None;
        let mut asm = String::new();
        let mut has_asm = false;
        let mut raw: Option<Vec<u8>> = None;
        let mut mem = Vec::new();
        let mut result = None;
        let mut error: Option<String> = None;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if let Some(name) = line.strip_prefix("-- ") {
                let name = name.trim();
                match name {
                    "asm" => has_asm = true,
                    "raw" => raw = Some(Vec::new()),
                    "error" => error = Some(String::new()),
                    "mem" | "result" | "c" | "no register offset" => {}
                    other => return err(n, format!("unknown section `-- {other}`")),
                }
                section = Some(name);
                continue;
            }
            match section {
                None => {
                    if !strip_comment(line).is_empty() {
                        return err(n, "text before the first section");
                    }
                }
                Some("asm") => {
                    asm.push_str(line);
                    asm.push('\n');
                }
                Some("raw") => {
                    // Either one 64-bit word a line (`0x5566778800000018`, the opcode in
                    // the low byte) or the 8 bytes in order (`07 00 01 00 01 00 00 00`).
                    let fields: Vec<&str> = strip_comment(line).split_whitespace().collect();
                    let r = raw.get_or_insert_with(Vec::new);
                    match fields[..] {
                        [] => {}
                        [word] => r.extend_from_slice(&parse_hex_u64(word, n)?.to_le_bytes()),
                        _ => {
                            for byte in fields {
                                let v = u8::from_str_radix(byte, 16)
                                    .or_else(|_| err(n, format!("bad byte `{byte}`")))?;
                                r.push(v);
                            }
                        }
                    }
                }
                Some("mem") => {
                    for byte in strip_comment(line).split_whitespace() {
                        let v = u8::from_str_radix(byte, 16)
                            .or_else(|_| err(n, format!("bad memory byte `{byte}`")))?;
                        mem.push(v);
                    }
                }
                Some("result") => {
                    let value = strip_comment(line);
                    if !value.is_empty() {
                        if result.is_some() {
                            return err(n, "more than one result");
                        }
                        result = Some(parse_hex_u64(value, n)?);
                    }
                }
                Some("error") => {
                    if let Some(e) = error.as_mut() {
                        e.push_str(line.trim());
                    }
                }
                Some(_) => {}
            }
        }
        let source = match (raw, has_asm) {
            (Some(bytes), _) => Source::Raw(bytes),
            (None, true) => Source::Asm(asm),
            (None, false) => Source::Asm(String::new()),
        };
        let expect = match (result, error) {
            (Some(v), None) => Expect::Result(v),
            (None, Some(e)) => Expect::Error(e),
            (None, None) => Expect::Error("no result: the program must be refused".into()),
            (Some(_), Some(_)) => return err(0, "both `-- result` and `-- error`"),
        };
        Ok(TestFile {
            source,
            mem,
            expect,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_asm_mem_result() {
        let t = TestFile::parse(
            "# c\n-- asm\nmov %r0, 1 # one\nexit\n-- mem\n00 01\nff\n-- result\n0x1\n",
        )
        .unwrap();
        assert_eq!(t.source, Source::Asm("mov %r0, 1 # one\nexit\n".into()));
        assert_eq!(t.mem, vec![0, 1, 0xff]);
        assert_eq!(t.expect, Expect::Result(1));
    }

    #[test]
    fn raw_wins_over_asm() {
        let t =
            TestFile::parse("-- asm\nexit\n-- raw\n0x0000000000000095\n-- result\n0x0\n").unwrap();
        assert_eq!(t.source, Source::Raw(vec![0x95, 0, 0, 0, 0, 0, 0, 0]));
        let bytes = TestFile::parse("-- raw\n07 00 01 00 01 00 00 00\n-- error\n").unwrap();
        assert_eq!(bytes.source, Source::Raw(vec![7, 0, 1, 0, 1, 0, 0, 0]));
    }

    #[test]
    fn error_section_and_empty_file() {
        let t = TestFile::parse("-- raw\n95\n-- error\nbad\n").unwrap();
        assert_eq!(t.expect, Expect::Error("bad".into()));
        let empty = TestFile::parse("# only a comment\n").unwrap();
        assert_eq!(empty.source, Source::Asm(String::new()));
        assert!(matches!(empty.expect, Expect::Error(_)));
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(TestFile::parse("-- mem\nzz\n").unwrap_err().line, 2);
        assert_eq!(TestFile::parse("-- result\nxyz\n").unwrap_err().line, 2);
        assert_eq!(TestFile::parse("-- nonsense\n").unwrap_err().line, 1);
        assert_eq!(TestFile::parse("mov\n").unwrap_err().line, 1);
    }
}
