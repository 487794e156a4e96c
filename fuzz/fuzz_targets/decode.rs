//! Fuzz target `decode`: arbitrary bytes through `Program::from_bytes`. A program that
//! loads encodes back to the same bytes, and validating its typed instructions again
//! gives the same program.

#![no_main]

use ebpfvm_isa::{Features, Program};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(program) = Program::from_bytes(data, &Features::default()) else {
        return;
    };
    assert_eq!(
        program.to_bytes(),
        data,
        "decode then encode is not the identity"
    );
    let again = Program::new(program.insns().to_vec()).expect("a loaded program revalidates");
    assert_eq!(again, program);
});
