//! Builds the benchmark programs natively (`programs/native.c`, `gcc -O2` as the
//! programs' README builds its reference), so that the benches can time native code in
//! the same process as the engines: `native::program` in the crate.

fn main() {
    let programs = std::path::Path::new("programs");
    for file in [
        "native.c",
        "common.h",
        "alu64.c",
        "checksum.c",
        "parser.c",
        "sort.c",
        "collatz.c",
        "memcpy.c",
    ] {
        println!("cargo:rerun-if-changed={}", programs.join(file).display());
    }
    cc::Build::new()
        .file(programs.join("native.c"))
        // The harness's `main` would clash with ours; only the programs are used.
        .define("main", "ebpfvm_native_harness_main")
        .opt_level(2)
        .warnings(false)
        .compile("ebpfvm_native_programs");
}
