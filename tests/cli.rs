//! The command line as users and scripts drive it: outputs and exit codes 0/1/2.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{ebpfvm, scratch, stderr, stdout};

fn check(args: &[&str], code: i32, stdout_has: &str, stderr_has: &str) -> Output {
    let out = ebpfvm(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(stdout_has),
        "{args:?} stdout: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(stderr_has),
        "{args:?} stderr: {}",
        stderr(&out)
    );
    out
}

#[test]
fn runs_assembly_and_prints_r0() {
    let prog = scratch("answer.s", b"mov %r0, 40\nadd %r0, 2\nexit\n");
    check(&["run", &prog], 0, "42 (0x2a)", "");
    for engine in ["interp", "jit"] {
        let p = &prog;
        check(&["run", p, "--engine", engine], 0, "42 (0x2a)", "");
    }
}

#[test]
fn jit_is_the_default_and_reports_its_compile_time() {
    let prog = scratch("jit.s", b"mov %r0, 7\nexit\n");
    let out = check(&["run", &prog, "--json"], 0, "", "");
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["retval"], 7);
    assert!(v["compile_ns"].as_u64().unwrap() > 0);
    let out = check(&["run", &prog, "--json", "--engine", "interp"], 0, "", "");
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(v.get("compile_ns").is_none());
}

#[test]
fn traps_agree_between_engines() {
    let prog = scratch("oob2.s", b"mov %r0, 0\nldxdw %r0, [%r1+4]\nexit\n");
    let mem = scratch("oob2.mem", &[0; 8]);
    for engine in ["interp", "jit"] {
        let args = ["run", &prog, "--mem", &mem, "--engine", engine];
        check(
            &args,
            1,
            "",
            "trap at pc 1: out-of-bounds read of 8 bytes at 0x300000004 (memory region)",
        );
    }
}

#[test]
fn json_reports_retval_insns_and_memory() {
    let prog = scratch("store.s", b"stb [%r1+1], 0xab\nmov %r0, %r2\nexit\n");
    let mem = scratch("store.mem", &[1, 2, 3]);
    let out = check(&["run", &prog, "--mem", &mem, "--json"], 0, "", "");
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["retval"], 3);
    assert_eq!(v["insns"], 3);
    assert_eq!(v["mem"], "01ab03");
}

#[test]
fn repeat_reports_time_per_run_and_per_instruction() {
    let dir = Path::new("benches/programs");
    let out = check(
        &[
            "run",
            dir.join("checksum.bin").to_str().unwrap(),
            "--mem",
            dir.join("checksum.mem").to_str().unwrap(),
            "--repeat",
            "20",
            "--json",
        ],
        0,
        "",
        "",
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["retval"], 0x5dc00008eec_u64);
    assert_eq!(v["runs"], 20);
    assert!(v["ns_per_run"].as_f64().unwrap() > 0.0);
    assert!(v["ns_per_insn"].as_f64().unwrap() > 0.0);
}

#[test]
fn trap_exits_1_with_pc_and_address() {
    let prog = scratch("oob.s", b"mov %r0, 0\nldxdw %r0, [%r1+4]\nexit\n");
    let mem = scratch("oob.mem", &[0; 8]);
    check(
        &["run", &prog, "--mem", &mem],
        1,
        "",
        "trap at pc 1: out-of-bounds read of 8 bytes at 0x300000004 (memory region)",
    );
    let out = check(&["run", &prog, "--json"], 1, "", "");
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["trap"]["pc"], 1);
}

#[test]
fn budget_traps() {
    let prog = scratch("loop.s", b"mov %r0, 0\nja -1\n");
    check(
        &["run", &prog, "--budget", "100"],
        1,
        "",
        "budget of 100 exhausted",
    );
}

#[test]
fn bad_inputs_exit_2_with_a_location() {
    let truncated = scratch("trunc.bin", &[0x95, 0, 0]);
    check(&["run", &truncated], 2, "", "truncated");
    let unknown = scratch(
        "unknown.bin",
        &[0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    );
    check(&["run", &unknown], 2, "", "pc 0: unknown opcode 0xff");
    let bad_asm = scratch("bad.s", b"mov %r0, 1\nfrobnicate %r1\nexit\n");
    check(&["run", &bad_asm], 2, "", "line 2");
    check(
        &["run", "/nonexistent/prog.bin"],
        2,
        "",
        "/nonexistent/prog.bin",
    );
    check(&["run"], 2, "", "PROGRAM");
    check(&["run", &bad_asm, "--repeat", "0"], 2, "", "repeat");
    check(&["frobnicate"], 2, "", "unrecognized subcommand");
}

#[test]
fn engines_and_types_not_built_yet_are_refused_clearly() {
    let prog = scratch("ok.s", b"mov %r0, 1\nexit\n");
    let p = &prog;
    check(
        &["run", p, "--engine", "all"],
        2,
        "",
        "--engine all is only for `ebpfvm conformance`",
    );
    check(
        &["run", p, "--type", "struct_ops"],
        2,
        "",
        "`struct_ops` is not supported yet",
    );
    check(
        &["run", p, "--type", "xdp"],
        2,
        "",
        "give --packet FILE or --pcap FILE",
    );
    check(
        &["run", p, "--type", "bogus"],
        2,
        "",
        "unknown program type",
    );
    let elf = scratch("obj.o", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    check(&["run", &elf], 2, "", "invalid ELF header");
}

#[test]
fn asm_then_disasm_round_trips() {
    let src = scratch(
        "rt.s",
        b"lddw %r1, 0x1122334455667788\nmov %r0, %r1\njeq %r0, 0, +1\nexit\nexit\n",
    );
    let out = scratch("rt.bin", b"");
    check(&["asm", &src, "-o", &out], 0, "", "");
    assert_eq!(std::fs::read(&out).unwrap().len(), 6 * 8);
    let listing = check(&["disasm", &out], 0, "0: lddw %r1, 0x1122334455667788", "");
    assert!(
        stdout(&listing).contains("\n2: mov %r0, %r1"),
        "{}",
        stdout(&listing)
    );
}

#[test]
fn every_command_has_help() {
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["disasm", "--help"],
        &["asm", "--help"],
        &["conformance", "--help"],
    ] {
        check(cmd, 0, "Usage", "");
    }
}

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/bpf_conformance");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("bpf_conformance corpus absent: skipping");
        None
    }
}

#[test]
fn conformance_command_passes_the_whole_suite() {
    let Some(dir) = corpus() else { return };
    let out = check(
        &["conformance", dir.join("tests").to_str().unwrap()],
        0,
        "313 passed, 0 failed, 0 skipped",
        "",
    );
    check(
        &[
            "conformance",
            dir.join("tests").to_str().unwrap(),
            "--engine",
            "all",
        ],
        0,
        "626 passed, 0 failed, 0 skipped",
        "",
    );
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("PASS "))
            .count(),
        313
    );
    check(
        &[
            "conformance",
            dir.join("tests").to_str().unwrap(),
            "--filter",
            "^lock_",
        ],
        0,
        "PASS lock_xchg [interp]",
        "",
    );
}

#[test]
fn unused_field_negatives_are_refused_at_load() {
    let Some(dir) = corpus() else { return };
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("negative")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("unused-") {
            check(
                &["run", path.to_str().unwrap()],
                2,
                "",
                "invalid program at pc 0",
            );
            seen += 1;
        }
    }
    assert!(seen >= 40, "only {seen} unused-* files");
}
