//! Criterion benchmarks of the interpreter on the programs of `benches/programs/`.
//!
//! * `interp/NAME`: one full run, as an embedder does it: the stack is zeroed and a
//!   fresh `MemoryMap` is built every iteration (that is part of a run's cost); the
//!   `Stack`, the `Helpers` and the input buffer are reused (every program rewrites all
//!   the state it reads, so each run does the same work). Throughput is the number of
//!   instructions one run executes, so criterion reports instructions per second.
//! * `decode/NAME`: `Program::from_bytes` on the bytecode (decode and validate).
//! * `lower/NAME`: `Interpreter::new` on the decoded program.
//!
//! For `decode` and `lower` the throughput is the program's slot count.
//!
//! Run with `cargo bench -p ebpfvm-benches -- --warm-up-time 1 --measurement-time 3`.

// criterion_group! defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ebpfvm_benches::{load_all, run_interp, BenchProgram};
use ebpfvm_isa::{Features, Program};
use ebpfvm_vm::{Helpers, Interpreter, Stack};

fn interp(c: &mut Criterion) {
    let mut group = c.benchmark_group("interp");
    let mut helpers = Helpers::new();
    for p in load_all() {
        // Each program its own stack, zeroed where it may write, as `Vm::run` does.
        let mut stack = Stack::new();
        let interp = p.interpreter();
        let mut mem = p.aligned_mem();
        let outcome = run_interp(
            &interp,
            mem.as_mut_slice(),
            &mut stack,
            p.stack_writes.clone(),
            &mut helpers,
        );
        assert_eq!(outcome.result, Ok(p.expected), "{}: {outcome:?}", p.name);
        group.throughput(Throughput::Elements(outcome.insns));
        group.bench_function(&p.name, |b| {
            b.iter(|| {
                let outcome = run_interp(
                    black_box(&interp),
                    black_box(mem.as_mut_slice()),
                    &mut stack,
                    p.stack_writes.clone(),
                    &mut helpers,
                );
                black_box(outcome)
            })
        });
    }
    group.finish();
}

fn slots(p: &BenchProgram) -> Throughput {
    Throughput::Elements(p.program.insns().len() as u64)
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    let features = Features::default();
    for p in load_all() {
        group.throughput(slots(&p));
        group.bench_function(&p.name, |b| {
            b.iter(|| Program::from_bytes(black_box(&p.bytes), &features).unwrap())
        });
    }
    group.finish();
}

fn lower(c: &mut Criterion) {
    let mut group = c.benchmark_group("lower");
    for p in load_all() {
        group.throughput(slots(&p));
        group.bench_function(&p.name, |b| {
            b.iter(|| Interpreter::new(black_box(&p.program)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, interp, decode, lower);
criterion_main!(benches);
