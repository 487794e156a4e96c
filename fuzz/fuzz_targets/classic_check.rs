//! Fuzz target `classic_check`: arbitrary bytes as a raw `struct sock_filter` array
//! through the kernel's classic checker and seccomp's. An accepted program translates,
//! and its translation runs to a return value without trapping, as a socket filter on
//! a packet made of the input and as a seccomp filter.

#![no_main]

use ebpfvm_classic::seccomp::{SeccompData, SeccompFilter};
use ebpfvm_classic::{check_classic, parse_raw, PacketMeta, SocketFilter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(program) = parse_raw(&data[..data.len() / 8 * 8]) else {
        return;
    };
    if check_classic(&program).is_ok() {
        let filter = SocketFilter::new(program.clone()).expect("checked programs translate");
        let outcome = filter.run(data, &PacketMeta::for_ethernet(data));
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    }
    if let Ok(filter) = SeccompFilter::new(program) {
        let nr = data.first().copied().unwrap_or(0) as i32;
        let run = filter.run(&SeccompData {
            nr,
            ..SeccompData::default()
        });
        assert!(run.is_ok(), "{run:?}");
    }
});
