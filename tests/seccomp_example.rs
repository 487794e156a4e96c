//! `examples/seccomp/`: the libseccomp-exported policy gives, on both engines, the
//! action each line of `cases.txt` names in its comment.

mod common;

use common::ebpfvm;

fn seccomp(engine: &str) -> Vec<String> {
    let out = ebpfvm(&[
        "seccomp",
        "examples/seccomp/policy.bpf",
        "--cases",
        "examples/seccomp/cases.txt",
        "--engine",
        engine,
    ]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The action each case's comment names (the first word after `#`, up to a colon).
fn expected() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seccomp/cases.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let comment = l.split_once('#').expect("every case names its action").1;
            let word = comment.split_whitespace().next().unwrap();
            word.trim_end_matches(':').to_string()
        })
        .collect()
}

#[test]
fn the_example_policy_gives_the_documented_actions_on_both_engines() {
    let expected = expected();
    assert_eq!(expected.len(), 12);
    for engine in ["interp", "jit"] {
        assert_eq!(seccomp(engine), expected, "{engine}");
    }
}
