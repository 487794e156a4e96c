//! A quick comparison of our optimized JIT with native code and rbpf's JITs on the
//! benchmark programs, interleaved in one process so that the machine's drift (run times
//! here move up to 2x within minutes) hits every engine alike:
//! `cargo run --release -p ebpfvm-benches --example vs_rbpf -- [ROUNDS] [PROGRAM]`.
//!
//! Each round times 2,000 runs of each engine in turn: the program built natively
//! (`gcc -O2`, `ebpfvm_benches::native`), our JIT, rbpf's Cranelift JIT (which checks
//! every access, as ours does) and rbpf's x86 JIT (which checks none: the stand-in for
//! the kernel's JIT); the best round of each is reported, then the geometric means of
//! the ratios. Our runs are set up as the criterion benches' (`run_jit`), rbpf's as its
//! raw VM takes them.
//! A last row, `call`, times an empty program (`mov r0, 0; exit`) 1,000,000 times per
//! round through `JitProgram::run` with its memory map built once, as `call/jit` does;
//! both loops keep only the result (`Option<u64>`), as rbpf returns it, and hide one
//! argument from the compiler (rbpf's memory, our r1). A `prepared` row does the same
//! through `JitProgram::prepare`.
//! The criterion benches (`benches/jit.rs`) remain the reference figures.

use std::hint::black_box;
use std::time::Instant;

use ebpfvm_benches::{load_all, native, run_jit};
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
    let mut ratios = Vec::new();
    for p in chosen {
        let bytes = p.rbpf_bytes();
        let mut mem = p.aligned_mem();
        let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).expect("rbpf loads the program");
        vm.cranelift_compile()
            .expect("rbpf's Cranelift JIT compiles it");
        vm.jit_compile().expect("rbpf's x86 JIT compiles it");
        let native = native::program(&p.name).expect("every program has a native build");
        let jit = p.jit_tier(Tiering::Optimized);
        let mut stack = Stack::new();
        let mut helpers = Helpers::new();
        let best = interleaved(rounds, 2000, |engine| match engine {
            0 => {
                black_box(native.run(black_box(&mut mem)));
            }
            1 => {
                let dirty = p.stack_writes.clone();
                black_box(run_jit(
                    &jit,
                    mem.as_mut_slice(),
                    &mut stack,
                    dirty,
                    &mut helpers,
                ));
            }
            2 => {
                black_box(vm.execute_program_cranelift(mem.as_mut_slice()).ok());
            }
            _ => {
                // SAFETY: rbpf's x86 JIT does not check accesses; the benchmark programs
                // stay inside their input (they check its length; the criterion benches
                // run each on rbpf's checking interpreter first).
                black_box(unsafe { vm.execute_program_jit(mem.as_mut_slice()) }.ok());
            }
        });
        let [native_t, ours, cranelift_t, x86_t] = best;
        println!(
            "{:10} native {:9.3} µs   ours {:9.3} µs   rbpf Cranelift {:9.3} µs   rbpf x86 {:9.3} µs   \
             ours/native {:.2}x   rbpf Cranelift/ours {:.2}x   rbpf x86/native {:.2}x",
            p.name,
            native_t * 1e6,
            ours * 1e6,
            cranelift_t * 1e6,
            x86_t * 1e6,
            ours / native_t,
            cranelift_t / ours,
            x86_t / native_t,
        );
        ratios.push([ours / native_t, cranelift_t / ours, x86_t / native_t]);
    }
    if !ratios.is_empty() {
        let mean = |i: usize| {
            let logs: f64 = ratios.iter().map(|r| r[i].ln()).sum();
            (logs / ratios.len() as f64).exp()
        };
        println!(
            "geometric means: ours/native {:.2}x   rbpf Cranelift/ours {:.2}x   rbpf x86/native {:.2}x",
            mean(0),
            mean(1),
            mean(2)
        );
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
    let [ours, theirs] = interleaved(rounds, runs, |engine| {
        if engine == 0 {
            let outcome = jit.run([black_box(0), 0, 0, 0, 0], &mut map, &mut helpers, None);
            black_box(outcome.result.ok());
        } else {
            rbpf_run(&mut mem);
        }
    });
    report("call", ours, theirs);
    // The same through a prepared program (`JitProgram::prepare`), interleaved again.
    let mut prepared = jit.prepare(&mut map, &mut helpers);
    let [ours, theirs] = interleaved(rounds, runs, |engine| {
        if engine == 0 {
            black_box(prepared.run([black_box(0), 0, 0, 0, 0], None).result.ok());
        } else {
            rbpf_run(&mut mem);
        }
    });
    report("prepared", ours, theirs);
}

/// The best seconds per run of each of `N` engines over `rounds` rounds, each timing
/// `runs` runs of every engine in turn (`run(i)` runs engine `i` once).
fn interleaved<const N: usize>(rounds: usize, runs: u32, mut run: impl FnMut(usize)) -> [f64; N] {
    let mut best = [f64::MAX; N];
    for _ in 0..rounds {
        for (engine, best) in best.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..runs {
                run(engine);
            }
            *best = best.min(start.elapsed().as_secs_f64() / f64::from(runs));
        }
    }
    best
}

/// Prints one per-call row: both times in ns and their ratio.
fn report(name: &str, ours: f64, theirs: f64) {
    println!(
        "{name:10} ours {:10.3} ns   rbpf Cranelift {:10.3} ns   rbpf/ours {:.2}x",
        ours * 1e9,
        theirs * 1e9,
        theirs / ours
    );
}
