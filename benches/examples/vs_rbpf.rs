//! A quick A/B of our optimized JIT against rbpf's Cranelift JIT on the benchmark
//! programs, interleaved in one process so that the machine's drift (run times here move
//! up to 2x within minutes) hits both alike:
//! `cargo run --release -p ebpfvm-benches --example vs_rbpf -- [ROUNDS] [PROGRAM]`.
//!
//! Each round times 2,000 runs of each engine; the best round of each is reported. Our
//! runs are set up as the criterion benches' (`run_jit`), rbpf's as its raw VM takes them.
//! A last row, `call`, times an empty program (`mov r0, 0; exit`) 1,000,000 times per
//! round through `JitProgram::run` with its memory map built once, as `call/jit` does;
//! both loops keep only the result (`Option<u64>`), as rbpf returns it, and hide one
//! argument from the compiler (rbpf's memory, our r1). A `prepared` row does the same
//! through `JitProgram::prepare`.
//! The criterion benches (`benches/jit.rs`) remain the reference figures.

use std::hint::black_box;
use std::time::Instant;

use ebpfvm_benches::{load_all, run_jit};
use ebpfvm_isa::assemble;
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, MemoryMap, Stack};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let only = args.next();
    let chosen = load_all()
        .into_iter()
        .filter(|p| only.as_deref().map_or(true, |o| o == p.name));
    for p in chosen {
        let bytes = p.rbpf_bytes();
        let mut mem = p.aligned_mem();
        let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).expect("rbpf loads the program");
        vm.cranelift_compile()
            .expect("rbpf's Cranelift JIT compiles it");
        let jit = p.jit_tier(Tiering::Optimized);
        let mut stack = Stack::new();
        let mut helpers = Helpers::new();
        let best = interleaved(rounds, 2000, |side| match side {
            Side::Ours => {
                let dirty = p.stack_writes.clone();
                black_box(run_jit(
                    &jit,
                    mem.as_mut_slice(),
                    &mut stack,
                    dirty,
                    &mut helpers,
                ));
            }
            Side::Rbpf => {
                black_box(vm.execute_program_cranelift(mem.as_mut_slice()).ok());
            }
        });
        report(&p.name, best, 1e6, "µs");
    }
    if only.as_deref().map_or(true, |o| o == "call") {
        call(rounds);
    }
}

/// The `call` and `prepared` rows: the cost of one run of an empty program.
fn call(rounds: usize) {
    let empty = assemble("mov %r0, 0\nexit").expect("assembles");
    let jit = JitProgram::compile_with(&empty, None, Tiering::Optimized).expect("compiles");
    let bytes = empty.to_bytes();
    let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).expect("rbpf loads the program");
    vm.cranelift_compile()
        .expect("rbpf's Cranelift JIT compiles it");
    let mut stack = Stack::new();
    let mut helpers = Helpers::new();
    let mut map = MemoryMap::new(&mut stack);
    let mut mem = [0u8; 8];
    let runs = 1_000_000;
    let rbpf_run = |mem: &mut [u8]| {
        black_box(vm.execute_program_cranelift(black_box(mem)).ok());
    };
    let best = interleaved(rounds, runs, |side| match side {
        Side::Ours => {
            let outcome = jit.run([black_box(0), 0, 0, 0, 0], &mut map, &mut helpers, None);
            black_box(outcome.result.ok());
        }
        Side::Rbpf => rbpf_run(&mut mem),
    });
    report("call", best, 1e9, "ns");
    // The same through a prepared program (`JitProgram::prepare`), interleaved again.
    let mut prepared = jit.prepare(&mut map, &mut helpers);
    let best = interleaved(rounds, runs, |side| match side {
        Side::Ours => {
            black_box(prepared.run([black_box(0), 0, 0, 0, 0], None).result.ok());
        }
        Side::Rbpf => rbpf_run(&mut mem),
    });
    report("prepared", best, 1e9, "ns");
}

/// Which engine a timed run is for.
enum Side {
    Ours,
    Rbpf,
}

/// The best seconds per run of each side over `rounds` rounds, each timing `runs` runs
/// of ours and then `runs` of rbpf's.
fn interleaved(rounds: usize, runs: u32, mut run: impl FnMut(Side)) -> (f64, f64) {
    let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..runs {
            run(Side::Ours);
        }
        ours = ours.min(start.elapsed().as_secs_f64() / f64::from(runs));
        let start = Instant::now();
        for _ in 0..runs {
            run(Side::Rbpf);
        }
        theirs = theirs.min(start.elapsed().as_secs_f64() / f64::from(runs));
    }
    (ours, theirs)
}

/// Prints one row: both times in `unit` (`scale` per second) and their ratio.
fn report(name: &str, (ours, theirs): (f64, f64), scale: f64, unit: &str) {
    println!(
        "{name:10} ours {:10.3} {unit}   rbpf Cranelift {:10.3} {unit}   rbpf/ours {:.2}x",
        ours * scale,
        theirs * scale,
        theirs / ours
    );
}
