//! Why an object was refused: every error names the problem and where it is (section,
//! offset, symbol or BTF type), so a malformed or unsupported object is never a panic.

use ebpfvm_isa::LoadError;
use thiserror::Error;

/// A refused ELF object.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ElfError {
    /// The bytes do not start with the ELF magic.
    #[error("not an ELF file (no \\x7fELF magic)")]
    NotElf,
    /// The header is shorter than an ELF header or has an invalid identification.
    #[error("invalid ELF header: {0}")]
    BadHeader(String),
    /// A 32-bit object: eBPF objects are ELF64.
    #[error("32-bit ELF objects are not eBPF objects (eBPF objects are ELF64)")]
    Class32,
    /// A big-endian object (`clang -target bpfeb`).
    #[error("big-endian eBPF objects (clang -target bpfeb) are not supported; compile with -target bpf or bpfel")]
    BigEndian,
    /// The machine is not EM_BPF.
    #[error("not an eBPF object: e_machine is {machine} (EM_BPF is 247)")]
    NotBpf {
        /// The `e_machine` field.
        machine: u16,
    },
    /// Not a relocatable object (`clang -c` output).
    #[error("not a relocatable object: the ELF type is {kind}; eBPF objects come from `clang -c` (ET_REL)")]
    NotRelocatable {
        /// What the object is (executable, shared object, core file, ...).
        kind: &'static str,
    },
    /// The ELF structure is broken (goblin's or our own finding), with its location.
    #[error("malformed ELF at {at}: {reason}")]
    Malformed {
        /// Where: a section, symbol or table entry.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// The `.BTF` section is broken.
    #[error("malformed BTF at byte {offset} of .BTF: {reason}")]
    Btf {
        /// Byte offset inside the `.BTF` section.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A map definition cannot be read.
    #[error("map `{map}`: {reason}")]
    Map {
        /// The map's name.
        map: String,
        /// What is wrong.
        reason: String,
    },
    /// A relocation that cannot be applied.
    #[error("relocation at byte {offset:#x} of section `{section}`: {reason}")]
    Relocation {
        /// The section being relocated.
        section: String,
        /// Byte offset inside it.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The object needs CO-RE relocations (`.BTF.ext` core relocation records).
    #[error("CO-RE relocations are not supported: section `{section}` has {count} BTF core relocation record(s) in .BTF.ext (compile without __builtin_preserve_access_index / BPF_CORE_READ)")]
    CoRe {
        /// The program section that has them.
        section: String,
        /// How many records it has.
        count: u32,
    },
    /// A call to a kernel function (kfunc) or another extern function.
    #[error("kernel function calls (kfuncs) are not supported: `{name}` called at byte {offset:#x} of section `{section}`")]
    Kfunc {
        /// The extern function's name.
        name: String,
        /// The calling section.
        section: String,
        /// Byte offset of the call.
        offset: u64,
    },
    /// A reference to an extern variable (`.kconfig`, `__ksym`).
    #[error("extern variables (.kconfig, __ksym) are not supported: `{name}` referenced at byte {offset:#x} of section `{section}`")]
    Extern {
        /// The extern's name.
        name: String,
        /// The referencing section.
        section: String,
        /// Byte offset of the reference.
        offset: u64,
    },
    /// A linked program is not a valid eBPF program.
    #[error("program `{program}`: {error}")]
    Program {
        /// The program's name.
        program: String,
        /// The loader's finding, with the pc in the linked program.
        error: LoadError,
    },
}

impl ElfError {
    pub(crate) fn malformed(at: impl Into<String>, reason: impl Into<String>) -> ElfError {
        ElfError::Malformed {
            at: at.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn map(map: &str, reason: impl Into<String>) -> ElfError {
        ElfError::Map {
            map: map.to_string(),
            reason: reason.into(),
        }
    }
}
