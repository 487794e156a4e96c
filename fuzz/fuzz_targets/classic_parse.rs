//! Fuzz target `classic_parse`: arbitrary bytes through the classic program readers
//! (raw arrays, `tcpdump -dd` and `-ddd` text). Nothing panics; whatever parses prints
//! as `-dd` text that parses back to the same program, and disassembles.

#![no_main]

use ebpfvm_classic::{disassemble, parse_auto, parse_dd, parse_ddd};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_ddd(text);
        let _ = parse_dd(text);
    }
    let Ok((program, _)) = parse_auto(data) else {
        return;
    };
    let dd: String = program.iter().map(|f| format!("{f},\n")).collect();
    assert_eq!(parse_dd(&dd).expect("printed -dd text parses"), program);
    let listing = disassemble(&program);
    assert_eq!(listing.lines().count(), program.len());
});
