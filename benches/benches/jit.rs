//! Criterion benchmarks of the JIT on the programs of `benches/programs/`, with rbpf
//! (crates.io) as a reference column.
//!
//! * `jit/NAME`: one full run on our JIT's optimized tier (where adaptive tiering
//!   takes a program that runs this often), set up exactly as `interp/NAME` in
//!   `interp.rs` (zero the stack, fresh `MemoryMap`, input as r1, length in r2);
//!   `jit_quick/NAME` the same on the quick tier.
//! * `native/NAME`: the same C program built natively (`gcc -O2`,
//!   `ebpfvm_benches::native`), on the same input buffer: the reference column, timed
//!   in the same run as the engines.
//! * `rbpf_interp/NAME`, `rbpf_jit/NAME`, `rbpf_cranelift/NAME`: the same program on
//!   rbpf's interpreter, its x86 JIT (no memory checks) and its Cranelift JIT (checks
//!   every access), through its raw VM on the same input bytes. rbpf does not pass the
//!   length, so its program starts with `mov r2, LEN` (one instruction more).
//! * `compile/NAME` (`JitProgram::compile`: the quick tier), `compile_optimized/NAME`,
//!   `rbpf_compile/NAME`, `rbpf_cranelift_compile/NAME`: compiling the program (and
//!   freeing the previous code); `NAME` includes `mixed201`, a 201-instruction program
//!   of loads, stores, ALU and jumps.
//! * `call/*`: the cost of one call of `mov r0, 0; exit` with everything set up once:
//!   the per-call overhead of each engine (`jit`, `interp`: `JitProgram::run` and
//!   `Interpreter::run` on a memory map built once), and through the embedding API
//!   (`vm_jit`, `vm_interp`: `Vm::run` over an 8-byte slice, which also builds the
//!   memory map and zeroes what the last run may have left on the stack, as rbpf's
//!   `execute_program` takes a slice).
//!
//! Every result is checked against `expected.txt` before it is timed.
//!
//! Run with `cargo bench -p ebpfvm-benches --bench jit -- --warm-up-time 1
//! --measurement-time 3`.

// criterion_group! defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ebpfvm::{Engine, Vm};
use ebpfvm_benches::{load_all, mixed_program, native, run_jit};
use ebpfvm_isa::assemble;
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, Stack};

fn jit(c: &mut Criterion) {
    for (group_name, tiering) in [("jit", Tiering::Optimized), ("jit_quick", Tiering::Quick)] {
        let mut group = c.benchmark_group(group_name);
        let mut helpers = Helpers::new();
        for p in load_all() {
            // Each program its own stack, zeroed where it may write, as `Vm::run` does.
            let mut stack = Stack::new();
            let jit = p.jit_tier(tiering);
            let mut mem = p.aligned_mem();
            let outcome = run_jit(
                &jit,
                mem.as_mut_slice(),
                &mut stack,
                p.stack_writes.clone(),
                &mut helpers,
            );
            assert_eq!(outcome.result, Ok(p.expected), "{}: {outcome:?}", p.name);
            group.throughput(Throughput::Elements(outcome.insns));
            group.bench_function(&p.name, |b| {
                b.iter(|| {
                    let outcome = run_jit(
                        black_box(&jit),
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
}

fn native_runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("native");
    for p in load_all() {
        let native = native::program(&p.name).expect("every program has a native build");
        let mut mem = p.aligned_mem();
        assert_eq!(native.run(&mut mem), p.expected, "{}: native", p.name);
        group.bench_function(&p.name, |b| {
            b.iter(|| black_box(native.run(black_box(&mut mem))))
        });
    }
    group.finish();
}

fn rbpf_runs(c: &mut Criterion) {
    let programs = load_all();
    let bytes: Vec<Vec<u8>> = programs.iter().map(|p| p.rbpf_bytes()).collect();
    let mut mems: Vec<_> = programs.iter().map(|p| p.aligned_mem()).collect();
    let mut vms = Vec::new();
    for ((p, bytes), mem) in programs.iter().zip(&bytes).zip(&mut mems) {
        let mut vm = rbpf::EbpfVmRaw::new(Some(bytes)).expect("rbpf loads the program");
        vm.jit_compile().expect("rbpf's JIT compiles the program");
        vm.cranelift_compile()
            .expect("rbpf's Cranelift JIT compiles the program");
        let interp = vm.execute_program(mem.as_mut_slice());
        assert_eq!(
            interp.ok(),
            Some(p.expected),
            "{}: rbpf interpreter",
            p.name
        );
        // SAFETY: rbpf's x86 JIT does not check accesses; its (checking) interpreter
        // has just run the same program on the same input without a memory error.
        let jitted = unsafe { vm.execute_program_jit(mem.as_mut_slice()) };
        assert_eq!(jitted.ok(), Some(p.expected), "{}: rbpf x86 JIT", p.name);
        let cl = vm.execute_program_cranelift(mem.as_mut_slice());
        assert_eq!(cl.ok(), Some(p.expected), "{}: rbpf Cranelift", p.name);
        vms.push(vm);
    }
    let mut group = c.benchmark_group("rbpf_interp");
    for ((p, vm), mem) in programs.iter().zip(&vms).zip(&mut mems) {
        group.bench_function(&p.name, |b| {
            b.iter(|| black_box(vm.execute_program(black_box(mem.as_mut_slice()))))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("rbpf_jit");
    for ((p, vm), mem) in programs.iter().zip(&vms).zip(&mut mems) {
        group.bench_function(&p.name, |b| {
            // SAFETY: as above, the same program on the same input.
            b.iter(|| black_box(unsafe { vm.execute_program_jit(black_box(mem.as_mut_slice())) }))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("rbpf_cranelift");
    for ((p, vm), mem) in programs.iter().zip(&vms).zip(&mut mems) {
        group.bench_function(&p.name, |b| {
            b.iter(|| black_box(vm.execute_program_cranelift(black_box(mem.as_mut_slice()))))
        });
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut programs: Vec<_> = load_all()
        .into_iter()
        .map(|p| (p.name.clone(), p.program.clone()))
        .collect();
    programs.push(("mixed201".to_string(), mixed_program()));
    for (group_name, tiering) in [
        ("compile", Tiering::Adaptive),
        ("compile_optimized", Tiering::Optimized),
    ] {
        let mut group = c.benchmark_group(group_name);
        for (name, program) in &programs {
            group.throughput(Throughput::Elements(program.len() as u64));
            group.bench_function(name, |b| {
                b.iter(|| {
                    JitProgram::compile_with(black_box(program), None, tiering).expect("compiles")
                })
            });
        }
        group.finish();
    }
    let bytes: Vec<Vec<u8>> = programs.iter().map(|(_, p)| p.to_bytes()).collect();
    let mut vms: Vec<_> = bytes
        .iter()
        .map(|b| rbpf::EbpfVmRaw::new(Some(b)).expect("rbpf loads the program"))
        .collect();
    let mut group = c.benchmark_group("rbpf_compile");
    for ((name, _), vm) in programs.iter().zip(&mut vms) {
        group.bench_function(name, |b| b.iter(|| vm.jit_compile().expect("compiles")));
    }
    group.finish();
    let mut group = c.benchmark_group("rbpf_cranelift_compile");
    for ((name, _), vm) in programs.iter().zip(&mut vms) {
        group.bench_function(name, |b| {
            b.iter(|| vm.cranelift_compile().expect("compiles"))
        });
    }
    group.finish();
}

/// The cost of one run of an empty program. Every engine keeps only the result
/// (`Option<u64>`): passing a whole `Outcome` or rbpf's `Result<u64, Error>` through
/// `black_box` costs more than rbpf's run itself.
fn call(c: &mut Criterion) {
    let empty = assemble("mov %r0, 0\nexit").expect("assembles");
    let jit = JitProgram::compile(&empty).expect("compiles");
    let interp = Interpreter::new(&empty).expect("lowers");
    let mut stack = Stack::new();
    let mut helpers = Helpers::new();
    let mut map = MemoryMap::new(&mut stack);
    assert_eq!(jit.run([0; 5], &mut map, &mut helpers, None).result, Ok(0));
    assert_eq!(
        interp.run([0; 5], &mut map, &mut helpers, None).result,
        Ok(0)
    );
    let mut group = c.benchmark_group("call");
    group.bench_function("jit", |b| {
        b.iter(|| {
            black_box(
                jit.run([black_box(0), 0, 0, 0, 0], &mut map, &mut helpers, None)
                    .result
                    .ok(),
            )
        })
    });
    {
        let mut prepared = jit.prepare(&mut map, &mut helpers);
        group.bench_function("jit_prepared", |b| {
            b.iter(|| black_box(prepared.run([black_box(0), 0, 0, 0, 0], None).result.ok()))
        });
    }
    group.bench_function("interp", |b| {
        b.iter(|| {
            black_box(
                interp
                    .run([black_box(0), 0, 0, 0, 0], &mut map, &mut helpers, None)
                    .result
                    .ok(),
            )
        })
    });
    let mut mem = [0u8; 8];
    for (name, engine) in [("vm_jit", Engine::Jit), ("vm_interp", Engine::Interpreter)] {
        let mut vm = Vm::new(empty.clone()).expect("prepares");
        vm.set_engine(engine).expect("compiles");
        assert_eq!(vm.run(&mut mem).result, Ok(0));
        group.bench_function(name, |b| {
            b.iter(|| black_box(vm.run(black_box(&mut mem)).result.ok()))
        });
    }
    let bytes = empty.to_bytes();
    let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).expect("rbpf loads the program");
    vm.jit_compile().expect("compiles");
    vm.cranelift_compile().expect("compiles");
    group.bench_function("rbpf_jit", |b| {
        // SAFETY: the program touches no memory.
        b.iter(|| black_box(unsafe { vm.execute_program_jit(black_box(&mut mem)) }.ok()))
    });
    group.bench_function("rbpf_cranelift", |b| {
        b.iter(|| black_box(vm.execute_program_cranelift(black_box(&mut mem)).ok()))
    });
    group.finish();
}

criterion_group!(benches, jit, native_runs, rbpf_runs, compile, call);
criterion_main!(benches);
