//! Helpers the command-line tests share: run the `ebpfvm` binary, write scratch
//! files, read its output. Each test crate includes this module (`mod common;`) and
//! uses part of it.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the `ebpfvm` binary with `args` from the repository root (paths in tests are
/// relative to it).
pub fn ebpfvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebpfvm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs")
}

/// A file with `content` in a directory of this test binary's own (named after the
/// test crate and the process), returned as the path argument the CLI takes.
pub fn scratch(name: &str, content: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "ebpfvm-{}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str()
        .expect("a UTF-8 temporary directory")
        .to_string()
}

/// Lower-case hex, two digits a byte, as the CLI's JSON prints bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every line of standard output, parsed as JSON.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A BTF-defined map declaration of kernel map type `t`, as an ELF object would give
/// it, for creating the same map in the kernel and in our engines.
pub fn btf_map(
    name: &str,
    t: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
) -> ebpfvm::elf::MapDecl {
    ebpfvm::elf::MapDecl {
        name: name.into(),
        map_type: ebpfvm::elf::MapType(t),
        key_size,
        value_size,
        max_entries,
        flags,
        initial_data: None,
        inner: None,
        initial_values: vec![],
        origin: ebpfvm::elf::MapOrigin::Btf,
        map_extra: 0,
    }
}
