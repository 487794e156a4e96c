//! The bpf_conformance suite on the JIT: every test of
//! `../shared/corpora/bpf_conformance/tests` passes, and on each one the JIT's outcome
//! and memory equal the interpreter's. Skipped, with a message, when the corpus is
//! absent.

use std::path::{Path, PathBuf};

use ebpfvm_conformance::{collect_files, register_helpers, run_test, Engine, TestFile, Verdict};
use ebpfvm_isa::Program;
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, Outcome, RegionKind, Stack};

/// Each test may run at most this many instructions (as the facade's engines).
const TEST_BUDGET: u64 = 10_000_000;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/bpf_conformance/tests")
}

/// Runs a prepared engine the way the facade's `Vm::run` does: r1 = a copy of the
/// memory (0 when empty, also the packet), r2 = its length.
fn run_raw(
    run: impl FnOnce([u64; 5], &mut MemoryMap<'_>, &mut Helpers) -> Outcome,
    mem: &mut [u8],
) -> (Outcome, Vec<u8>) {
    let mut helpers = Helpers::new();
    register_helpers(&mut helpers);
    let mut stack = Stack::new();
    let len = mem.len() as u64;
    let mut map = MemoryMap::new(&mut stack);
    let addr = if mem.is_empty() {
        0
    } else {
        map.map_mut(RegionKind::Memory, mem).expect("small memory")
    };
    if addr != 0 {
        map.set_packet(addr);
    }
    let outcome = run([addr, len, 0, 0, 0], &mut map, &mut helpers);
    drop(map);
    (outcome, stack.bytes().to_vec())
}

/// The JIT as a conformance engine, compiled in one tier.
struct JitEngine(Tiering);

impl Engine for JitEngine {
    fn name(&self) -> &str {
        "jit"
    }

    fn run(&mut self, program: &Program, mem: &mut [u8]) -> Result<Outcome, String> {
        let jit = JitProgram::compile_with(program, None, self.0).map_err(|e| e.to_string())?;
        let (outcome, _) = run_raw(
            |args, map, helpers| jit.run(args, map, helpers, Some(TEST_BUDGET)),
            mem,
        );
        Ok(outcome)
    }
}

/// The interpreter's outcome, memory and stack, for comparison.
fn interpret(program: &Program, mem: &[u8]) -> Option<(Outcome, Vec<u8>, Vec<u8>)> {
    let interp = Interpreter::new(program).ok()?;
    let mut mem = mem.to_vec();
    let (outcome, stack) = run_raw(
        |args, map, helpers| interp.run(args, map, helpers, Some(TEST_BUDGET)),
        &mut mem,
    );
    Some((outcome, mem, stack))
}

#[test]
fn conformance_suite_passes_on_the_jit() {
    let dir = corpus();
    if !dir.is_dir() {
        eprintln!(
            "bpf_conformance corpus not found at {}: skipped",
            dir.display()
        );
        return;
    }
    let files = collect_files(&[dir]).expect("corpus readable");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_stem().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(file).expect("readable test");
        let test = TestFile::parse(&text).expect("well-formed test");
        for tiering in [Tiering::Quick, Tiering::Optimized] {
            match run_test(&test, &mut JitEngine(tiering)) {
                Verdict::Pass => {}
                Verdict::Fail(why) | Verdict::Skip(why) => {
                    failures.push(format!("{name} ({tiering:?}): {why}"))
                }
            }
        }
        // The same outcome, memory and stack as the interpreter.
        let program = match &test.source {
            ebpfvm_conformance::Source::Asm(text) => ebpfvm_isa::assemble(text).ok(),
            ebpfvm_conformance::Source::Raw(bytes) => {
                Program::from_bytes(bytes, &ebpfvm_isa::Features::default()).ok()
            }
        };
        let Some(program) = program else { continue };
        let Some(want) = interpret(&program, &test.mem) else {
            continue;
        };
        for tiering in [Tiering::Quick, Tiering::Optimized] {
            let jit = JitProgram::compile_with(&program, None, tiering)
                .expect("the interpreter accepted it");
            let mut mem = test.mem.clone();
            let (outcome, stack) = run_raw(
                |args, map, helpers| jit.run(args, map, helpers, Some(TEST_BUDGET)),
                &mut mem,
            );
            if (&outcome, &mem, &stack) != (&want.0, &want.1, &want.2) {
                failures.push(format!(
                    "{name} ({tiering:?}): differs from the interpreter: jit {outcome:?}, interp {:?}",
                    want.0
                ));
            }
        }
    }
    println!(
        "{} conformance tests on both tiers of the JIT, {} failures",
        files.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(files.len(), 313);
}
