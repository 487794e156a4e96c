//! The eBPF instruction set of RFC 9669: typed instructions, decoding with validation,
//! encoding, an assembler and a disassembler.
//!
//! Start with [`Program`]: [`Program::from_bytes`] decodes and validates bytecode,
//! [`Program::insns`] gives one typed [`Insn`] per slot, [`Program::to_bytes`] encodes it
//! back.
//!
//! ```
//! use ebpfvm_isa::{Features, Insn, Program};
//! // mov r0, 42 ; exit
//! let bytes = [0xb7, 0, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
//! let program = Program::from_bytes(&bytes, &Features::default()).unwrap();
//! assert_eq!(program.insns()[1], Insn::Exit);
//! assert_eq!(program.to_bytes(), bytes);
//! ```
//!
//! Invariant: this crate is the only one that knows numeric opcodes.

pub mod asm;
mod decode;
mod disasm;
mod encode;
mod error;
mod insn;
pub mod opcode;
mod program;
mod raw;
mod version;

pub use asm::{assemble, assemble_raw, AsmError};
pub use decode::decode_slot;
pub use disasm::{disassemble, disassemble_llvm, Llvm};
pub use encode::encode_into;
pub use error::{LoadError, LoadErrorKind};
pub use insn::*;
pub use program::Program;
pub use raw::RawInsn;
pub use version::{Features, IsaVersion};
