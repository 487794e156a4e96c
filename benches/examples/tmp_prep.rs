//! temporary
use ebpfvm_isa::assemble;
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, MemoryMap, Stack};
use std::hint::black_box;
fn main() {
    let empty = assemble("mov %r0, 0\nexit").expect("assembles");
    let jit = JitProgram::compile_with(&empty, None, Tiering::Optimized).expect("compiles");
    let mut stack = Stack::new();
    let mut helpers = Helpers::new();
    let mut map = MemoryMap::new(&mut stack);
    let mut prepared = jit.prepare(&mut map, &mut helpers);
    for _ in 0..5 {
        let t = std::time::Instant::now();
        for _ in 0..20_000_000 {
            black_box(prepared.run(black_box([0; 5]), None).result.ok());
        }
        println!("{:.2} ns", t.elapsed().as_nanos() as f64 / 20e6);
    }
}
