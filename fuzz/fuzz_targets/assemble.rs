//! Fuzz target `assemble`: arbitrary UTF-8 text through `assemble`. A program that
//! assembles disassembles (in both dialects) to text that assembles back to the same
//! program.

#![no_main]

use ebpfvm_isa::{assemble, disassemble, disassemble_llvm, Program};
use libfuzzer_sys::fuzz_target;

/// A listing without its `pc: ` line prefixes.
fn strip_pcs(listing: &str) -> String {
    listing
        .lines()
        .map(|line| line.split_once(": ").map_or(line, |(_, insn)| insn))
        .collect::<Vec<_>>()
        .join("\n")
}

fn round_trip(program: &Program, listing: &str, dialect: &str) {
    let text = strip_pcs(listing);
    match assemble(&text) {
        Ok(again) => assert_eq!(&again, program, "{dialect} round trip of\n{text}"),
        Err(e) => panic!("{dialect} disassembly does not assemble: {e}\n{text}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(program) = assemble(text) else {
        return;
    };
    round_trip(&program, &disassemble(&program), "conformance");
    round_trip(&program, &disassemble_llvm(&program), "llvm");
});
