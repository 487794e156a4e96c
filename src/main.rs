//! The `ebpfvm` command line.
fn main() {}
