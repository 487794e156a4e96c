//! Fuzz target `jit_diff`: the fuzzer's bytes drive the JIT's program generator
//! (`jit/tests/common/mod.rs`: valid programs mixing ALU, jumps, memory in and out of
//! bounds, helpers, bpf-to-bpf calls, `callx`, `bpf_loop`, atomics, `lddw`, map helpers
//! and map values, tail calls among up to three programs); each case runs on the
//! interpreter and on both tiers of the JIT, without a budget (or with one when it may
//! not terminate) and with budgets around its instruction count, and the outcomes
//! (result, trap kind and pc, instruction count), the memory and the maps after the run
//! must be equal.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../jit/tests/common/mod.rs"]
mod common;

use common::{check_case, Bytes, Generator};

fuzz_target!(|data: &[u8]| {
    let mut e = Bytes(data);
    let case = Generator::new(&mut e).case();
    if let Err(msg) = check_case(&case, &mut e) {
        panic!("the JIT differs from the interpreter: {msg}");
    }
});
