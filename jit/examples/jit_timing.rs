//! A quick timing harness (release mode: `cargo run --release -p ebpfvm-jit --example
//! jit_timing`): per-run time of the benchmark programs on the JIT (both tiers) and the
//! interpreter, compile time per program in each tier, and the per-call overhead of an
//! empty program. The criterion benches in `benches/` are the reference numbers; this is for
//! quick checks while working on the JIT.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ebpfvm_isa::{Features, Program};
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, Outcome, RegionKind, Stack};

/// Runs `f` repeatedly for about `target` and returns the mean time per call.
fn per_call(target: Duration, mut f: impl FnMut()) -> Duration {
    let mut n = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        let t = start.elapsed();
        if t >= target {
            return t / n;
        }
        n = n.saturating_mul(2);
    }
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches/programs");
    let expected = std::fs::read_to_string(dir.join("expected.txt")).expect("expected.txt");
    let target = Duration::from_millis(
        std::env::var("TIMING_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500),
    );
    println!(
        "{:<10} {:>6} {:>12} {:>12} {:>12} {:>8} {:>12} {:>12}",
        "program", "slots", "interp", "jit", "jit quick", "speedup", "compile", "optimized"
    );
    let mut log_speedup = 0.0;
    let mut programs = 0;
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line.split_once(' ').expect("NAME VALUE");
        let want = u64::from_str_radix(value.trim().trim_start_matches("0x"), 16).expect("hex");
        let bytes = std::fs::read(dir.join(format!("{name}.bin"))).expect("program");
        let mut mem = std::fs::read(dir.join(format!("{name}.mem"))).expect("memory");
        let program = Program::from_bytes(&bytes, &Features::default()).expect("valid");
        let interp = Interpreter::new(&program).expect("supported");
        // Compile time: the median of several compiles, per tier.
        let compile_median = |tiering| {
            let mut compiles: Vec<Duration> = (0..21)
                .map(|_| {
                    JitProgram::compile_with(&program, None, tiering)
                        .expect("compiles")
                        .compile_time()
                })
                .collect();
            compiles.sort();
            compiles[compiles.len() / 2]
        };
        let compile = compile_median(Tiering::Adaptive);
        let optimized = compile_median(Tiering::Optimized);
        let jit = JitProgram::compile_with(&program, None, Tiering::Optimized).expect("compiles");
        let quick = JitProgram::compile_with(&program, None, Tiering::Quick).expect("compiles");
        let mut stack = Stack::new();
        let mut helpers = Helpers::new();
        let len = mem.len() as u64;
        let mut run = |engine: &dyn Fn([u64; 5], &mut MemoryMap<'_>, &mut Helpers) -> Outcome| {
            let mut map = MemoryMap::new(&mut stack);
            let addr = map.map_mut(RegionKind::Memory, &mut mem).expect("mapped");
            let outcome = engine([addr, len, 0, 0, 0], &mut map, &mut helpers);
            assert_eq!(outcome.result, Ok(want), "{name}");
            black_box(outcome);
        };
        let t_interp = per_call(target, || {
            run(&|a, m, h| interp.run(a, m, h, None));
        });
        let t_jit = per_call(target, || {
            run(&|a, m, h| jit.run(a, m, h, None));
        });
        let t_quick = per_call(target, || {
            run(&|a, m, h| quick.run(a, m, h, None));
        });
        let speedup = t_interp.as_secs_f64() / t_jit.as_secs_f64();
        log_speedup += speedup.ln();
        programs += 1;
        println!(
            "{name:<10} {:>6} {:>12?} {:>12?} {:>12?} {:>7.1}x {:>12?} {:>12?}",
            program.len(),
            t_interp,
            t_jit,
            t_quick,
            speedup,
            compile,
            optimized
        );
    }
    println!(
        "geometric mean speedup: {:.1}x",
        (log_speedup / f64::from(programs)).exp()
    );

    // Per-call overhead: `mov r0, 0; exit`, with the map built once.
    let empty = ebpfvm_isa::assemble("mov %r0, 0\nexit").expect("assembles");
    let jit = JitProgram::compile(&empty).expect("compiles");
    let interp = Interpreter::new(&empty).expect("supported");
    let mut stack = Stack::new();
    let mut map = MemoryMap::new(&mut stack);
    let mut helpers = Helpers::new();
    let t_jit = per_call(target, || {
        black_box(jit.run(black_box([0; 5]), &mut map, &mut helpers, None));
    });
    let t_interp = per_call(target, || {
        black_box(interp.run(black_box([0; 5]), &mut map, &mut helpers, None));
    });
    println!("empty program per call: jit {t_jit:?}, interp {t_interp:?}");
    // Compile time of a 200-instruction program mixing the usual instructions.
    let mut text = String::new();
    for i in 0..40 {
        text += &format!(
            "ldxdw %r2, [%r1+{}]\nadd %r0, %r2\nstxdw [%r10-{}], %r0\nxor %r3, %r0\njgt %r3, {}, +0\n",
            (i % 8) * 8,
            8 + (i % 16) * 8,
            i
        );
    }
    text += "exit";
    let mixed = ebpfvm_isa::assemble(&text).expect("assembles");
    for tiering in [Tiering::Adaptive, Tiering::Optimized] {
        let mut compiles: Vec<Duration> = (0..21)
            .map(|_| {
                JitProgram::compile_with(&mixed, None, tiering)
                    .expect("compiles")
                    .compile_time()
            })
            .collect();
        compiles.sort();
        println!(
            "compile of a {}-instruction mixed program ({tiering:?}): {:?}",
            mixed.len(),
            compiles[compiles.len() / 2]
        );
    }
}
