//! The bpf_conformance corpus against the assembler and the decoder: every test's
//! `-- asm` assembles (and matches its `-- raw` where it has one), every negative
//! `invalid_*` asm is refused, every negative `unused-*` raw program is refused at pc 0.
//!
//! The corpus lives in `shared/` beside the repository; where it is missing the tests
//! say so and pass, since CI always has it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use ebpfvm_isa::{assemble, Features, Program};

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/bpf_conformance");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "bpf_conformance corpus not found at {}: skipping",
            dir.display()
        );
        None
    }
}

/// The `.data` files of `sub` whose names start with `prefix`, sorted.
fn data_files(sub: &str, prefix: &str) -> Option<Vec<PathBuf>> {
    let dir = corpus_dir()?.join(sub);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(prefix) && name.ends_with(".data")
        })
        .collect();
    files.sort();
    Some(files)
}

/// Sections of a `.data` file: `-- name` starts one and runs to the next.
fn sections(path: &Path) -> HashMap<String, String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("-- ") {
            if let Some((n, body)) = current.take() {
                out.insert(n, body);
            }
            current = Some((name.trim().to_owned(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((n, body)) = current {
        out.insert(n, body);
    }
    out
}

/// A `-- raw` section: lines of eight hex bytes (`07 00 01 00 ...`) or one
/// little-endian 64-bit word each (`0x5566778800000018`); `#` lines are comments.
fn raw_bytes(section: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in section.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(hex) = line.strip_prefix("0x") {
            let word = u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{line}: {e}"));
            out.extend_from_slice(&word.to_le_bytes());
        } else {
            for byte in line.split_whitespace() {
                out.push(u8::from_str_radix(byte, 16).unwrap_or_else(|e| panic!("{line}: {e}")));
            }
        }
    }
    out
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The file's asm assembles; where it also has raw bytes, they are the same program.
fn check_assembles(path: &Path) -> bool {
    let s = sections(path);
    let Some(asm) = s.get("asm") else {
        panic!("{}: no asm section", name(path));
    };
    let program = assemble(asm).unwrap_or_else(|e| panic!("{}: {e}", name(path)));
    if let Some(raw) = s.get("raw") {
        assert_eq!(
            program.to_bytes(),
            raw_bytes(raw),
            "{}: assembled bytes differ from the raw section",
            name(path)
        );
        return true;
    }
    false
}

fn check_asm_refused(path: &Path) {
    let s = sections(path);
    let asm = s.get("asm").map(String::as_str).unwrap_or("");
    if let Ok(program) = assemble(asm) {
        panic!("{}: assembled, to {program:?}", name(path));
    }
}

fn check_raw_refused_at_pc0(path: &Path) {
    let s = sections(path);
    let raw = s
        .get("raw")
        .unwrap_or_else(|| panic!("{}: no raw section", name(path)));
    match Program::from_bytes(&raw_bytes(raw), &Features::default()) {
        Ok(program) => panic!("{}: accepted, as {program:?}", name(path)),
        Err(e) => assert_eq!(e.pc, 0, "{}: {e}", name(path)),
    }
}

#[test]
fn every_conformance_test_assembles() {
    let Some(files) = data_files("tests", "") else {
        return;
    };
    assert!(files.len() >= 300, "only {} test files", files.len());
    let with_raw = files.iter().filter(|p| check_assembles(p)).count();
    assert!(with_raw >= 1, "lddw.data's raw section was not compared");
}

#[test]
fn every_invalid_asm_is_refused() {
    let Some(mut files) = data_files("negative", "invalid_") else {
        return;
    };
    files.extend(data_files("negative", "empty_instructions").unwrap_or_default());
    assert!(files.len() >= 12, "only {} files", files.len());
    for path in &files {
        check_asm_refused(path);
    }
}

#[test]
fn every_unused_field_program_is_refused_at_pc0() {
    let Some(files) = data_files("negative", "unused-") else {
        return;
    };
    assert!(files.len() >= 40, "only {} files", files.len());
    for path in &files {
        check_raw_refused_at_pc0(path);
    }
}

/// Each negative asm file is refused for the reason it was written for, on its line.
#[test]
fn invalid_asm_errors_name_the_reason() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let cases = [
        ("invalid_imm32_dec_range", 2, "does not fit in 32 bits"),
        ("invalid_imm32_hex_range", 2, "does not fit in 32 bits"),
        ("invalid_label", 1, "undefined label `NOT_A_LABEL`"),
        ("invalid_lock", 1, "takes 2 operands, found 1"),
        ("invalid_lock2", 1, "needs an operation"),
        ("invalid_mnemonic", 2, "unknown mnemonic `ldxq`"),
        ("invalid_offset", 1, "expected a memory operand"),
        ("invalid_offset_range", 2, "does not fit in 16 bits"),
        ("invalid_operand_count", 1, "`lddw` takes 2 operands"),
        ("invalid_register", 1, "invalid register `%r50`"),
        ("invalid_unknown_directive", 1, "empty"),
        ("empty_instructions", 1, "empty"),
    ];
    for (file, line, message) in cases {
        let s = sections(&dir.join("negative").join(format!("{file}.data")));
        let asm = s.get("asm").map(String::as_str).unwrap_or("");
        let e = assemble(asm).expect_err(file);
        assert!(
            e.line == line && e.message.contains(message),
            "{file}: got `{e}`, want line {line}: ...{message}..."
        );
    }
}
