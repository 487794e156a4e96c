//! Running a parsed test on any engine and judging the outcome.

use std::path::{Path, PathBuf};

use ebpfvm_isa::{Features, Program};
use ebpfvm_vm::{HelperError, Helpers, Outcome};

use crate::parse::{Expect, Source, TestFile};

/// An engine the suite can run: prepares a program, then runs it over memory.
pub trait Engine {
    /// The engine's name, printed in results (`interp`, `jit`, ...).
    fn name(&self) -> &str;
    /// Runs `program` once over `mem` with the suite's helpers (see
    /// [`register_helpers`]). `Err` when the engine refuses the program.
    fn run(&mut self, program: &Program, mem: &mut [u8]) -> Result<Outcome, String>;
}

/// The verdict on one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As expected.
    Pass,
    /// Not as expected; the text says how.
    Fail(String),
    /// Not run; the text says why.
    Skip(String),
}

/// The suite's unwind helper (id 5): returns r1; a zero r1 ends the program with 0.
pub fn register_helpers(helpers: &mut Helpers) {
    helpers.register(5, |_ctx, args| {
        if args[0] == 0 {
            Err(HelperError::Exit(0))
        } else {
            Ok(args[0])
        }
    });
}

/// Runs one test on `engine`.
pub fn run_test(test: &TestFile, engine: &mut dyn Engine) -> Verdict {
    let program = match &test.source {
        Source::Asm(text) => ebpfvm_isa::assemble(text).map_err(|e| e.to_string()),
        Source::Raw(bytes) => {
            Program::from_bytes(bytes, &Features::default()).map_err(|e| e.to_string())
        }
    };
    let mut mem = test.mem.clone();
    let outcome = program.and_then(|p| engine.run(&p, &mut mem));
    match (&test.expect, outcome) {
        (Expect::Result(want), Ok(outcome)) => match outcome.result {
            Ok(got) if got == *want => Verdict::Pass,
            Ok(got) => Verdict::Fail(format!("expected {want:#x} got {got:#x}")),
            Err(trap) => Verdict::Fail(format!("expected {want:#x} got {trap}")),
        },
        (Expect::Result(want), Err(refused)) => {
            Verdict::Fail(format!("expected {want:#x} got refused: {refused}"))
        }
        (Expect::Error(_), Err(_)) => Verdict::Pass,
        (Expect::Error(_), Ok(Outcome { result: Err(_), .. })) => Verdict::Pass,
        (
            Expect::Error(why),
            Ok(Outcome {
                result: Ok(got), ..
            }),
        ) => Verdict::Fail(format!("expected an error ({why}) got {got:#x}")),
    }
}

/// Every `.data` file under `paths` (files as given, directories walked), sorted.
pub fn collect_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        walk(path, &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn walk(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?.path();
            if entry.is_dir() || entry.extension().is_some_and(|e| e == "data") {
                walk(&entry, files)?;
            }
        }
    } else {
        // Reading it now gives a clear error for a missing path.
        std::fs::metadata(path)?;
        files.push(path.to_path_buf());
    }
    Ok(())
}
