//! The `ebpfvm` command line: run, disassemble and assemble eBPF programs, and run the
//! bpf_conformance suite. The contract is `../shared/guide/cli.md`; exit status 0 when the
//! program ran, 1 when it trapped (or a conformance test failed), 2 when the input could
//! not be loaded or the command line was wrong.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
