//! The bpf_conformance suite, one test per file and engine: every test of
//! `../shared/corpora/bpf_conformance/tests` passes, and the negative cases
//! (`negative/*.data`) are refused. When the corpus is absent (outside CI and this
//! repository's sibling `shared/`), the run says so and has no tests.

use std::path::{Path, PathBuf};

use ebpfvm::conformance::{InterpEngine, JitEngine};
use ebpfvm_conformance::{collect_files, run_test, Engine, Expect, TestFile, Verdict};
use libtest_mimic::{Arguments, Failed, Trial};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/bpf_conformance")
}

/// Negative cases that only a verifier refuses: they stay visible as ignored tests.
const NEEDS_VERIFIER: &[(&str, &str)] = &[(
    "error",
    "reads r0 before writing it; refusing that is the verifier's job",
)];

fn trial(group: &str, path: PathBuf, engine: fn() -> Box<dyn Engine>) -> Trial {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("{group}/{stem} [{}]", engine().name());
    let ignored = NEEDS_VERIFIER
        .iter()
        .find(|(n, _)| group == "negative" && *n == stem);
    let negative = group == "negative";
    let trial = Trial::test(name, move || {
        let text = std::fs::read_to_string(&path).map_err(|e| Failed::from(e.to_string()))?;
        let test = match TestFile::parse(&text) {
            Ok(test) => test,
            // A negative case may be malformed on purpose (an unknown section).
            Err(_) if negative => return Ok(()),
            Err(e) => return Err(e.to_string().into()),
        };
        // A negative case with `-- error` must be refused (a Pass); one with a
        // `-- result` holds an invalid program or a wrong expectation, so the runner
        // must report a failure.
        let must_fail = negative && matches!(test.expect, Expect::Result(_));
        match (run_test(&test, engine().as_mut()), must_fail) {
            (Verdict::Pass, false) | (Verdict::Fail(_), true) => Ok(()),
            (Verdict::Pass, true) => Err("a negative case passed".into()),
            (Verdict::Fail(why) | Verdict::Skip(why), _) => Err(why.into()),
        }
    });
    match ignored {
        Some((_, why)) => {
            eprintln!("ignored: negative/{stem}: {why}");
            trial.with_ignored_flag(true)
        }
        None => trial,
    }
}

fn main() {
    let args = Arguments::from_args();
    let root = corpus();
    let mut trials = Vec::new();
    if root.is_dir() {
        let engines: [fn() -> Box<dyn Engine>; 2] =
            [|| Box::new(InterpEngine), || Box::new(JitEngine)];
        for group in ["tests", "negative"] {
            let files = collect_files(&[root.join(group)]).expect("corpus readable");
            for file in files {
                for engine in engines {
                    trials.push(trial(group, file.clone(), engine));
                }
            }
        }
    } else {
        eprintln!(
            "bpf_conformance corpus not found at {}: no conformance tests",
            root.display()
        );
    }
    libtest_mimic::run(&args, trials).exit();
}
