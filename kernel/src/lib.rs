//! Runs ebpfvm programs in the running Linux kernel: the oracle our engines are compared
//! with, and the `kernel` engine of the command line.
//!
//! ```no_run
//! use ebpfvm_kernel::{KernelObject, KernelProgram, ProgramType, TestRun};
//!
//! // A raw program as XDP: r0 = 2 (XDP_PASS).
//! let program = ebpfvm_isa::assemble("mov %r0, 2\nexit")?;
//! let xdp = KernelProgram::load_raw(&program, ProgramType::Xdp.id(), None, "GPL")?;
//! let result = xdp.test_run(&TestRun::packet(&[0u8; 64]))?;
//! assert_eq!(result.retval, 2);
//!
//! // An ELF object with its maps; a syscall program's context comes back as ctx_out.
//! let object = KernelObject::load(&std::fs::read("examples/counter.o")?, Some("count"), None, None)?;
//! let after = object.program().test_run(&TestRun::context(&[0u8; 68]))?;
//! for (name, entries) in object.map_entries()? {
//!     println!("{name}: {} entries", entries.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A program that uses maps comes with its object: an ELF file, or an
//! `ebpfvm_elf::Object` built in code ([`KernelObject::from_object`]), whose programs
//! name maps by index (`lddw` kinds 5 and 6), as our ELF loader links them.
//!
//! An ELF object can also be linked and loaded by aya 0.14 instead
//! ([`KernelObject::load_aya`], [`Loader::Aya`]): an independent linker to check ours
//! against, for the sections aya knows under their own type and without `.values` slots
//! ([`KernelObject::aya_can_load`] says beforehand; anything else is a
//! [`KernelError::Aya`] naming the reason). The result is the same [`KernelObject`]:
//! the same test runs and map read-back.
//!
//! ```no_run
//! use ebpfvm_kernel::{KernelObject, TestRun};
//!
//! let bytes = std::fs::read("examples/xdp_port_filter.o")?;
//! let object = ebpfvm_elf::Object::parse(&bytes)?;
//! let aya = KernelObject::load_aya(&bytes, &object, Some("port_filter"))?;
//! let run = aya.program().test_run(&TestRun::packet(&[0u8; 64]))?;
//! println!("retval {}", run.retval);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Everything else goes through the `bpf()` system call (`sys.rs`, the crate's only
//! `unsafe` code; aya has its own). Off Linux the crate compiles, and every entry point returns
//! [`KernelError::NotLinux`]. Without permission (not root, no CAP_BPF) loading returns
//! [`KernelError::Unavailable`]; [`KernelError::is_unavailable`] tells tests to skip.

#[cfg(target_os = "linux")]
mod aya_object;
mod btf;
mod error;
pub mod map;
mod object;
mod program;
mod sys;

pub use ebpfvm_elf::ProgramType;
pub use error::KernelError;
pub use map::{Entry, KernelMap};
pub use object::{KernelObject, Loader};
pub use program::{KernelProgram, TestRun, TestRunResult};

/// The number of possible CPUs: how many copies of a value a per-CPU map holds.
pub fn possible_cpus() -> Result<u32, KernelError> {
    sys::possible_cpus().map_err(KernelError::Cpus)
}
