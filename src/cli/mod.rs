//! Command-line arguments (clap) and dispatch to one module per command.

mod classic;
mod conformance;
mod crosscheck;
mod disasm;
mod elf;
mod input;
mod kernel;
mod lirc;
mod map_update;
mod packet;
mod regs;
mod run;
mod seccomp;
mod socket;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// A userspace eBPF virtual machine: run, check and inspect eBPF programs.
#[derive(Parser, Debug)]
#[command(name = "ebpfvm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a program once (or --repeat N times) and print its return value (r0).
    Run(Box<run::RunArgs>),
    /// Print a program one instruction a line, with its pc.
    Disasm(disasm::DisasmArgs),
    /// Assemble a text file into raw bytecode.
    Asm(disasm::AsmArgs),
    /// Run bpf_conformance `.data` tests and report PASS/FAIL/SKIP per test and engine.
    Conformance(conformance::ConformanceArgs),
    /// Evaluate seccomp filters for syscalls and print the action per case.
    Seccomp(seccomp::SeccompArgs),
    /// Run a program on the interpreter, the JIT and the running kernel, packet by
    /// packet, and report every difference (exit 1 when any).
    Crosscheck(crosscheck::CrosscheckArgs),
}

/// Which engine runs the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    /// The checked interpreter.
    Interp,
    /// The Cranelift JIT.
    Jit,
    /// The running Linux kernel, through BPF_PROG_TEST_RUN (needs root or CAP_BPF).
    Kernel,
    /// Every engine available (conformance only).
    All,
}

/// A user-facing error: printed as `error: ...`, exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The program could not be loaded.
    #[error("{path}: {message}")]
    Load {
        /// The file.
        path: PathBuf,
        /// Why, with the pc or line.
        message: String,
    },
    /// A valid request for something that is not implemented.
    #[error("{0}")]
    NotSupported(String),
    /// Any other bad usage.
    #[error("{0}")]
    Usage(String),
}

/// Runs the command; `Err` means exit status 2.
pub fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Disasm(args) => disasm::disasm(args),
        Command::Asm(args) => disasm::asm(args),
        Command::Conformance(args) => conformance::conformance(args),
        Command::Seccomp(args) => seccomp::seccomp(args),
        Command::Crosscheck(args) => crosscheck::crosscheck(args),
    }
}

/// The facade's engine for a choice of `interp` or `jit`.
fn engine_for(engine: EngineChoice) -> Result<ebpfvm::Engine, CliError> {
    match engine {
        EngineChoice::Interp => Ok(ebpfvm::Engine::Interpreter),
        EngineChoice::Jit => Ok(ebpfvm::Engine::Jit),
        other => require_interp(other).map(|()| ebpfvm::Engine::Interpreter),
    }
}

/// Refuses the engines that do not exist yet, with a clear message.
fn require_interp(engine: EngineChoice) -> Result<(), CliError> {
    match engine {
        EngineChoice::Interp => Ok(()),
        EngineChoice::Jit => Err(CliError::NotSupported(
            "the JIT does not run this; use --engine interp".into(),
        )),
        EngineChoice::Kernel => Err(CliError::NotSupported(
            "the kernel engine runs eBPF programs of the kernel's types (bytecode, assembly, \
             ELF objects), not this; use --engine interp or jit"
                .into(),
        )),
        EngineChoice::All => Err(CliError::Usage(
            "--engine all is only for `ebpfvm conformance`".into(),
        )),
    }
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.clone(),
        source,
    })
}
