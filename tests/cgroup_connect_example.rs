//! `examples/cgroup_connect`: every row of its README's table of expected results, run
//! through the command line on the interpreter and the JIT (action and the `denied` map
//! after the run), the kernel verifier's verdict for each section at its attach point
//! (`run --engine kernel` and `crosscheck`), and the refusal of `connect6` at `connect4`.

mod common;

use common::ebpfvm;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cgroup_connect");

fn object() -> String {
    format!("{DIR}/connect.o")
}

/// The README's table: (section, context file, action, denied[0], denied[1]).
fn expected() -> Vec<(String, String, String, u64, u64)> {
    let readme = std::fs::read_to_string(format!("{DIR}/README.md")).unwrap();
    let rows: Vec<_> = readme
        .lines()
        .filter(|l| l.starts_with("| cgroup/"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let count = |i: usize| cells[i].parse::<u64>().unwrap();
            (
                cells[0].to_string(),
                cells[1].to_string(),
                cells[3].to_string(),
                count(4),
                count(5),
            )
        })
        .collect();
    assert_eq!(rows.len(), 8, "the README's table");
    rows
}

#[test]
fn every_context_gets_the_action_its_readme_gives() {
    let object = object();
    for (section, ctx, action, v4, v6) in expected() {
        let ctx = format!("{DIR}/{ctx}");
        let mut outputs = Vec::new();
        for engine in ["interp", "jit"] {
            let out = ebpfvm(&[
                "run",
                &object,
                "--section",
                &section,
                "--ctx",
                &ctx,
                "--engine",
                engine,
                "--json",
                "--maps-json",
            ]);
            assert_eq!(out.status.code(), Some(0), "{section} {ctx}: {out:?}");
            outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        assert_eq!(
            outputs[0], outputs[1],
            "{section} {ctx}: interpreter vs JIT"
        );
        let lines: Vec<serde_json::Value> = outputs[0]
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["action"], action.as_str(), "{section} {ctx}");
        let denied = &lines[1]["maps"]["denied"];
        let value = |i: usize| {
            let hex = denied[i][1].as_str().unwrap();
            let bytes: Vec<u8> = (0..8)
                .map(|j| u8::from_str_radix(&hex[2 * j..2 * j + 2], 16).unwrap())
                .collect();
            u64::from_le_bytes(bytes.try_into().unwrap())
        };
        assert_eq!((value(0), value(1)), (v4, v6), "{section} {ctx}: denied");
    }
}

#[test]
fn the_kernel_verifier_accepts_each_section_at_its_attach_point() {
    let object = object();
    for section in ["cgroup/connect4", "cgroup/connect6"] {
        let out = ebpfvm(&[
            "run",
            &object,
            "--section",
            section,
            "--engine",
            "kernel",
            "--json",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("not permitted") || err.contains("only on Linux") {
            eprintln!("skipped: {}", err.trim());
            return;
        }
        assert_eq!(out.status.code(), Some(0), "{section}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            r#"{"loader":"aya","verifier":"accepted"}"#
        );
    }
    // crosscheck loads each section at its attach point on every engine.
    for program in ["connect4", "connect6"] {
        let out = ebpfvm(&["crosscheck", &object, "--program", program]);
        assert_eq!(out.status.code(), Some(0), "{program}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("agree: every engine loads"),
            "{program}: {out:?}"
        );
    }
    // connect6 at connect4: user_ip6 is hidden there; both refuse it at load.
    for engine in ["jit", "kernel"] {
        let out = ebpfvm(&[
            "run",
            &object,
            "--section",
            "cgroup/connect6",
            "--attach",
            "connect4",
            "--engine",
            engine,
        ]);
        assert_ne!(out.status.code(), Some(0), "{engine}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("invalid bpf_context access off=8 size=4"),
            "{engine}: {err}"
        );
    }
}
