//! Fuzz target `tracepoint_format`: arbitrary text through `TracepointFormat::parse`,
//! and, for what parses, a record built from `NAME=VALUE` lines given after a NUL.
//! Nothing panics; a parsed format's fields lie inside its size, the size covers what a
//! program may read, and a record is at least the fixed part and at most 8192 bytes.

#![no_main]

use ebpfvm_ctx_models::tracepoint::{TracepointFormat, MAX_RECORD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (format_text, values_text) = text.split_once('\0').unwrap_or((text, ""));
    let Ok(format) = TracepointFormat::parse(format_text) else {
        return;
    };
    let size = format.size();
    assert!(size <= MAX_RECORD);
    assert!(format.readable() <= size);
    for f in &format.fields {
        assert!(f.offset + f.size <= size, "{f:?} outside {size}");
    }
    let values: Vec<(&str, &str)> = values_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    if let Ok(record) = format.record(&values) {
        assert!(record.len() >= size && record.len() <= MAX_RECORD);
    }
});
