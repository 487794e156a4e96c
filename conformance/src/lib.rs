//! The bpf_conformance test format and a runner that does not care which engine runs.
//!
//! A `.data` file has sections introduced by `-- NAME` lines: `asm` (the program in the
//! bpf_conformance assembler dialect), `raw` (the program as 64-bit hex words, one
//! instruction a line, preferred over `asm` when both are present), `mem` (hex bytes:
//! the memory r1 points to), `result` (the expected 64-bit r0) or `error` (the program
//! must be refused: at assembly, at load or by a trap). `c` and `no register offset`
//! are informational. `#` starts a comment outside `asm`.
//!
//! The contract (see `../shared/guide/semantics.md`): ISA v4 with callx; r1 = a copy of
//! `mem` (0 when absent), r2 = its length; helper 5 is "unwind": it returns r1, and a
//! zero return ends the program with r0 = 0.

mod parse;
mod runner;

pub use parse::{Expect, ParseError, Source, TestFile};
pub use runner::{collect_files, register_helpers, run_test, Engine, Verdict};
