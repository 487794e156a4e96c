//! Fuzz target `jit_prepared`: the fuzzer's bytes drive the JIT's program generator
//! (`jit/tests/common/mod.rs`), and the case's main program runs 11 times through
//! `JitProgram::prepare_linked` on one memory, with budgets that cut runs short between
//! unbudgeted runs (so runs follow clean and dirty run contexts alike), in the tier the
//! first byte picks. The outcomes, the memory, the stack and the maps must equal those
//! of the same sequence of `run_linked` calls.

#![no_main]

use ebpfvm_jit::Tiering;
use libfuzzer_sys::fuzz_target;

#[path = "../../jit/tests/common/mod.rs"]
mod common;

use common::{check_prepared, Bytes, Generator};

fuzz_target!(|data: &[u8]| {
    let Some((&tier, data)) = data.split_first() else {
        return;
    };
    let tiering = if tier % 2 == 0 {
        Tiering::Quick
    } else {
        Tiering::Optimized
    };
    let mut e = Bytes(data);
    let case = Generator::new(&mut e).case();
    if let Err(msg) = check_prepared(&case, &mut e, tiering) {
        panic!("prepared runs differ from run_linked: {msg}");
    }
});
