//! `ebpfvm conformance`: bpf_conformance `.data` files on one or every engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ebpfvm::conformance::{InterpEngine, JitEngine};
use ebpfvm_conformance::{collect_files, run_test, Engine, TestFile, Verdict};

use super::{require_interp, CliError, EngineChoice};

/// Where the suite lives when no path is given (the repository's sibling `shared/`).
const DEFAULT_SUITE: &str = "../shared/corpora/bpf_conformance/tests";

#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// Test files or directories (walked for `*.data`). Default: the bpf_conformance
    /// suite in ../shared/corpora/bpf_conformance/tests.
    paths: Vec<PathBuf>,
    /// The engine, or `all` for every engine available.
    #[arg(long, value_enum, default_value_t = EngineChoice::Interp)]
    engine: EngineChoice,
    /// Only run tests whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    filter: Option<String>,
}

pub fn conformance(args: ConformanceArgs) -> Result<ExitCode, CliError> {
    let mut engines: Vec<Box<dyn Engine>> = match args.engine {
        EngineChoice::All => vec![Box::new(InterpEngine), Box::new(JitEngine)],
        EngineChoice::Jit => vec![Box::new(JitEngine)],
        other => {
            require_interp(other)?;
            vec![Box::new(InterpEngine)]
        }
    };
    let filter = match &args.filter {
        Some(re) => Some(
            regex_lite::Regex::new(re).map_err(|e| CliError::Usage(format!("--filter: {e}")))?,
        ),
        None => None,
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(DEFAULT_SUITE)]
    } else {
        args.paths
    };
    let files = collect_files(&paths).map_err(|e| CliError::Usage(e.to_string()))?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if filter.as_ref().is_some_and(|re| !re.is_match(&name)) {
            continue;
        }
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| TestFile::parse(&text).map_err(|e| e.to_string()));
        for engine in engines.iter_mut() {
            let verdict = match &parsed {
                Ok(test) => run_test(test, engine.as_mut()),
                Err(e) => Verdict::Fail(format!("unreadable test file: {e}")),
            };
            let engine = engine.name();
            match verdict {
                Verdict::Pass => {
                    passed += 1;
                    println!("PASS {name} [{engine}]");
                }
                Verdict::Fail(why) => {
                    failed += 1;
                    println!("FAIL {name} [{engine}]: {why}");
                }
                Verdict::Skip(why) => {
                    skipped += 1;
                    println!("SKIP {name} [{engine}]: {why}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
