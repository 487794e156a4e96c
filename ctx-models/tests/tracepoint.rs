//! `TracepointFormat`: the checked-in formats (copied from this machine's tracefs,
//! Linux 6.18), every format of the running kernel when tracefs is mounted, records
//! built from named values, and malformed files refused with their line.

use std::path::Path;

use ebpfvm_ctx_models::tracepoint::{FormatError, TracepointFormat};

fn checked_in(name: &str) -> TracepointFormat {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/formats/{name}.format"));
    TracepointFormat::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn sys_enter_openat_has_its_fields_and_size() {
    let f = checked_in("sys_enter_openat");
    assert_eq!(f.name, "sys_enter_openat");
    assert!(f.id.is_some());
    let names: Vec<&str> = f.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "common_type",
            "common_flags",
            "common_preempt_count",
            "common_pid",
            "__syscall_nr",
            "dfd",
            "filename",
            "flags",
            "mode"
        ]
    );
    let filename = f.field("filename").unwrap();
    assert_eq!((filename.offset, filename.size), (24, 8));
    assert_eq!(filename.ty, "const char *");
    assert!(f.field("common_pid").unwrap().signed);
    assert_eq!(f.size(), 48);
}

#[test]
fn openat_record_from_values() {
    let f = checked_in("sys_enter_openat");
    let r = f
        .record(&[("dfd", "-100"), ("filename", "0x1000"), ("flags", "2")])
        .unwrap();
    assert_eq!(r.len(), 48);
    let id = f.id.unwrap() as u16;
    assert_eq!(r[0..2], id.to_le_bytes());
    assert_eq!(r[16..24], (-100i64).to_le_bytes());
    assert_eq!(r[24..32], 0x1000u64.to_le_bytes());
    assert_eq!(r[32..40], 2u64.to_le_bytes());
    // common_* can be set; common_type too.
    let r = f
        .record(&[("common_pid", "42"), ("common_type", "7")])
        .unwrap();
    assert_eq!(r[4..8], 42u32.to_le_bytes());
    assert_eq!(r[0..2], 7u16.to_le_bytes());
}

#[test]
fn char_arrays_take_text() {
    let f = checked_in("sched_switch");
    assert_eq!(f.field("prev_comm").unwrap().array_len, Some(16));
    assert_eq!(f.size(), 64);
    let r = f
        .record(&[
            ("prev_comm", "bash"),
            ("prev_pid", "-1"),
            ("next_comm", "x"),
        ])
        .unwrap();
    assert_eq!(&r[8..13], b"bash\0");
    assert_eq!(r[24..28], (-1i32).to_le_bytes());
    assert_eq!(&r[40..42], b"x\0");
    // One element of the array by index.
    let r = f.record(&[("prev_comm[1]", "0x41")]).unwrap();
    assert_eq!(r[9], 0x41);
    let too_long = f.record(&[("prev_comm", "seventeen chars!!")]).unwrap_err();
    assert!(
        too_long.to_string().contains("longer than its 16 bytes"),
        "{too_long}"
    );
    let index = f.record(&[("prev_comm[16]", "1")]).unwrap_err();
    assert!(index.to_string().contains("index 16 outside"), "{index}");
}

#[test]
fn data_loc_strings_follow_the_fixed_part() {
    let f = checked_in("sched_process_exec");
    let field = f.field("filename").unwrap();
    assert!(field.data_loc && field.is_text());
    assert_eq!(f.size(), 20);
    let r = f.record(&[("filename", "/bin/sh"), ("pid", "5")]).unwrap();
    assert_eq!(r.len(), 20 + 8);
    // len << 16 | offset, the NUL counted as __assign_str copies it.
    assert_eq!(r[8..12], ((8u32 << 16) | 20).to_le_bytes());
    assert_eq!(&r[20..], b"/bin/sh\0");
    assert_eq!(r[12..16], 5u32.to_le_bytes());
}

#[test]
fn values_that_do_not_fit_are_refused() {
    let f = checked_in("sched_switch");
    for (field, value, expect) in [
        ("prev_pid", "0x100000000", "does not fit 4 bytes"),
        ("prev_pid", "-2147483649", "does not fit 4 bytes"),
        ("prev_pid", "twelve", "not a number"),
        ("nope", "1", "no such field"),
        ("prev_comm[x]", "1", "name[index]"),
        ("prev_pid[0]", "1", "not an array"),
    ] {
        let e = f.record(&[(field, value)]).unwrap_err();
        assert!(
            matches!(e, FormatError::Value { .. }) && e.to_string().contains(expect),
            "{field}={value}: {e}"
        );
    }
    // The extremes that do fit.
    f.record(&[("prev_pid", "0xffffffff"), ("next_pid", "-2147483648")])
        .unwrap();
}

#[test]
fn malformed_lines_are_named() {
    let good = "name: t\nID: 1\nformat:\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n";
    assert!(TracepointFormat::parse(good).is_ok());
    for (text, line, expect) in [
        ("name: t\nID: x\n", 2, "ID `x` is not a number"),
        ("format:\n\tfield:int a;\toffset:z;\tsize:4;\tsigned:1;\n", 2, "offset"),
        ("format:\n\tfield:int a;\tsize:4;\n", 2, "expected `field:"),
        ("\n\n\tfield:int a;\toffset:8;\tsz:4;\n", 3, "expected `size:N`"),
        ("field:int;\toffset:8;\tsize:4;\tsigned:1;\n", 1, "not `TYPE NAME`"),
        ("field:char a[3];\toffset:8;\tsize:4;\tsigned:0;\n", 1, "do not split"),
        ("field:int a;\toffset:8190;\tsize:4;\tsigned:1;\n", 1, "record limit"),
        ("field:__data_loc char[] s;\toffset:8;\tsize:8;\tsigned:0;\n", 1, "not 4"),
        ("field:int a;\toffset:8;\tsize:4;\tsigned:1;\nfield:int a;\toffset:12;\tsize:4;\tsigned:1;\n", 2, "twice"),
        ("format:\nsomething else\n", 2, "unexpected line"),
        // Found by the fuzz target: a name after a character of several bytes.
        ("field:char\u{351}a[3];\toffset:8;\tsize:4;\tsigned:0;\n", 1, "do not split"),
        ("field:int \u{351};\toffset:8;\tsize:4;\tsigned:0;\n", 1, "not `TYPE NAME`"),
        ("field:int a;\toffset:8;\tsize:4;\tsigned:1;\textra:1;\n", 1, "unexpected `extra:1`"),
    ] {
        match TracepointFormat::parse(text) {
            Err(FormatError::Line { line: l, message }) => {
                assert_eq!(l, line, "{text:?}: {message}");
                assert!(message.contains(expect), "{text:?}: {message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert_eq!(
        TracepointFormat::parse("name: t\n"),
        Err(FormatError::NoFields)
    );
}

#[test]
fn flexible_arrays_parse_but_take_no_values() {
    let f = TracepointFormat::parse(
        "field:unsigned long args[];\toffset:16;\tsize:0;\tsigned:0;\n\
         field:int n;\toffset:8;\tsize:4;\tsigned:1;\n",
    )
    .unwrap();
    assert_eq!(f.field("args").unwrap().array_len, Some(0));
    assert!(f.record(&[("args", "1")]).is_err());
    assert!(f.record(&[("args[0]", "1")]).is_err());
}

/// Every format of the running kernel parses, its fields inside the record and not
/// overlapping (a check on the parser, since the kernel's layout never overlaps).
#[test]
fn every_format_of_this_kernel_parses() {
    let root = Path::new("/sys/kernel/tracing/events");
    let Ok(categories) = std::fs::read_dir(root) else {
        eprintln!("skipped: tracefs is not mounted at /sys/kernel/tracing");
        return;
    };
    let mut count = 0;
    for category in categories.flatten() {
        let Ok(events) = std::fs::read_dir(category.path()) else {
            continue;
        };
        for event in events.flatten() {
            let path = event.path().join("format");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let f = TracepointFormat::parse(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut spans: Vec<(usize, usize)> = f
                .fields
                .iter()
                .map(|f| (f.offset, f.offset + f.size))
                .collect();
            spans.sort();
            for w in spans.windows(2) {
                assert!(w[0].1 <= w[1].0, "{}: overlapping fields", path.display());
            }
            assert!(f.size() >= spans.last().unwrap().1);
            count += 1;
        }
    }
    eprintln!("{count} formats parsed");
    assert!(count > 0);
}
