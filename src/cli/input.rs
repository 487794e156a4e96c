//! Program inputs: detected from content first, extension second (ELF, assembly,
//! bpf_conformance `.data`, classic BPF text, raw bytecode).

use std::path::{Path, PathBuf};

use ebpfvm::{Features, Program};
use ebpfvm_conformance::{Source, TestFile};

use super::{read_file, CliError};

/// A loaded program and, for `.data` files, the memory the file gives.
pub struct Loaded {
    pub program: Program,
    pub mem: Option<Vec<u8>>,
}

fn load_error(path: &Path, message: impl ToString) -> CliError {
    CliError::Load {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, CliError> {
    std::str::from_utf8(bytes).map_err(|e| load_error(path, format!("not UTF-8 text: {e}")))
}

/// Loads the program in `path`.
pub fn load(path: &PathBuf, classic: bool) -> Result<Loaded, CliError> {
    let bytes = read_file(path)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if bytes.starts_with(b"\x7fELF") {
        let program = super::elf::only_program(path)?;
        return Ok(Loaded { program, mem: None });
    }
    if classic || looks_like_classic_text(&bytes) {
        // Classic BPF: its eBPF translation as a socket filter.
        let program = super::classic::translated(path, classic)?;
        return Ok(Loaded { program, mem: None });
    }
    let program = match ext {
        "s" | "asm" => ebpfvm::isa::assemble(text(path, &bytes)?),
        "data" => return load_data(path, text(path, &bytes)?),
        _ => {
            return Program::from_bytes(&bytes, &Features::default())
                .map(|program| Loaded { program, mem: None })
                .map_err(|e| load_error(path, e))
        }
    };
    program
        .map(|program| Loaded { program, mem: None })
        .map_err(|e| load_error(path, e))
}

fn load_data(path: &Path, text: &str) -> Result<Loaded, CliError> {
    let test = TestFile::parse(text).map_err(|e| load_error(path, e))?;
    let program = match &test.source {
        Source::Asm(asm) => ebpfvm::isa::assemble(asm).map_err(|e| load_error(path, e))?,
        Source::Raw(raw) => {
            Program::from_bytes(raw, &Features::default()).map_err(|e| load_error(path, e))?
        }
    };
    Ok(Loaded {
        program,
        mem: Some(test.mem),
    })
}

/// `tcpdump -ddd` (a count, then `code jt jf k` lines) or `tcpdump -dd`
/// (`{ 0x28, 0, 0, 0x0000000c },` lines).
fn looks_like_classic_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    if first.starts_with("{ 0x") && first.ends_with("},") {
        return true;
    }
    let numbers = |l: &str, n: usize| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        fields.len() == n && fields.iter().all(|f| f.parse::<u64>().is_ok())
    };
    numbers(first, 1) && lines.next().is_some_and(|l| numbers(l, 4))
}

#[cfg(test)]
mod tests {
    use super::looks_like_classic_text;

    #[test]
    fn detects_tcpdump_output() {
        assert!(looks_like_classic_text(b"2\n40 0 0 12\n6 0 0 65535\n"));
        assert!(looks_like_classic_text(b"{ 0x28, 0, 0, 0x0000000c },\n"));
        assert!(!looks_like_classic_text(b"mov %r0, 1\nexit\n"));
        assert!(!looks_like_classic_text(&[0x95, 0, 0, 0, 0, 0, 0, 0]));
    }
}
