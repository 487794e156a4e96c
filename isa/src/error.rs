//! Why a program was refused at load, and where.

use thiserror::Error;

/// A refused program: the slot (pc) at fault and the reason.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid program at pc {pc}: {kind}")]
pub struct LoadError {
    /// The slot index of the offending instruction.
    pub pc: usize,
    /// What is wrong with it.
    pub kind: LoadErrorKind,
}

/// The reasons a program is refused at load.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LoadErrorKind {
    /// The program has no instructions.
    #[error("the program is empty")]
    Empty,
    /// The byte length is not a multiple of 8.
    #[error("truncated instruction: {len} bytes is not a multiple of 8")]
    Truncated {
        /// The byte length given.
        len: usize,
    },
    /// The opcode byte is not an instruction.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A field the instruction does not use is not zero.
    #[error("unused field `{field}` must be zero, is {value}")]
    NonZeroField {
        /// The field's name (`dst`, `src`, `off` or `imm`).
        field: &'static str,
        /// Its value.
        value: i64,
    },
    /// A register field names no register.
    #[error("invalid register r{reg} in `{field}`")]
    BadRegister {
        /// The field's name.
        field: &'static str,
        /// The number found.
        reg: u8,
    },
    /// The instruction would write the read-only frame pointer.
    #[error("r10 is read-only")]
    WritesFramePointer,
    /// A field holds a value the instruction does not define.
    #[error("invalid `{field}` value {value} for {insn}")]
    BadField {
        /// The instruction's name.
        insn: &'static str,
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: i64,
    },
    /// The instruction needs a newer ISA version or a feature that is off.
    #[error("{feature} is not enabled (needs {needs})")]
    Unsupported {
        /// What the instruction is.
        feature: &'static str,
        /// What would enable it.
        needs: &'static str,
    },
    /// An `lddw` is the last slot.
    #[error("lddw is missing its second slot")]
    MissingImm64Tail,
    /// The second slot of an `lddw` has a non-zero opcode, register or offset.
    #[error("the second slot of lddw must have zero opcode, registers and offset")]
    BadImm64Tail,
    /// A jump or call leaves the program.
    #[error("jump target {target} is outside the program (0..{len})")]
    TargetOutOfRange {
        /// The computed target pc.
        target: i64,
        /// The program length in slots.
        len: usize,
    },
    /// A jump or call lands on the second slot of an `lddw`.
    #[error("jump target {target} is the second slot of an lddw")]
    TargetInImm64 {
        /// The computed target pc.
        target: usize,
    },
    /// The last instruction can fall through past the end of the program.
    #[error("the last instruction can fall off the end of the program (must be exit or ja)")]
    FallsOffEnd,
    /// More slots than the loader accepts.
    #[error("the program has {len} slots, more than the limit of {max}")]
    TooLong {
        /// The program length in slots.
        len: usize,
        /// The limit.
        max: usize,
    },
}
