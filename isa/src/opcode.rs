//! Raw opcode constants of RFC 9669.
//!
//! Invariant: this module (and the decoder/encoder next to it) is the only place in the
//! workspace that knows numeric opcodes; everything else works on [`crate::Insn`].
#![allow(
    missing_docs,
    reason = "the constants are named after the RFC's own names"
)]

/// Instruction classes (low three bits of the opcode).
pub const CLS_LD: u8 = 0x00;
pub const CLS_LDX: u8 = 0x01;
pub const CLS_ST: u8 = 0x02;
pub const CLS_STX: u8 = 0x03;
pub const CLS_ALU: u8 = 0x04;
pub const CLS_JMP: u8 = 0x05;
pub const CLS_JMP32: u8 = 0x06;
pub const CLS_ALU64: u8 = 0x07;

/// Source bit of arithmetic and jump instructions: register (X) rather than immediate (K).
pub const SRC_X: u8 = 0x08;

/// Size field of load and store instructions.
pub const SIZE_W: u8 = 0x00;
pub const SIZE_H: u8 = 0x08;
pub const SIZE_B: u8 = 0x10;
pub const SIZE_DW: u8 = 0x18;

/// Mode field of load and store instructions.
pub const MODE_IMM: u8 = 0x00;
pub const MODE_ABS: u8 = 0x20;
pub const MODE_IND: u8 = 0x40;
pub const MODE_MEM: u8 = 0x60;
pub const MODE_MEMSX: u8 = 0x80;
pub const MODE_ATOMIC: u8 = 0xc0;

/// Arithmetic operations (high four bits of ALU/ALU64 opcodes).
pub const ALU_ADD: u8 = 0x00;
pub const ALU_SUB: u8 = 0x10;
pub const ALU_MUL: u8 = 0x20;
pub const ALU_DIV: u8 = 0x30;
pub const ALU_OR: u8 = 0x40;
pub const ALU_AND: u8 = 0x50;
pub const ALU_LSH: u8 = 0x60;
pub const ALU_RSH: u8 = 0x70;
pub const ALU_NEG: u8 = 0x80;
pub const ALU_MOD: u8 = 0x90;
pub const ALU_XOR: u8 = 0xa0;
pub const ALU_MOV: u8 = 0xb0;
pub const ALU_ARSH: u8 = 0xc0;
pub const ALU_END: u8 = 0xd0;

/// Jump operations (high four bits of JMP/JMP32 opcodes).
pub const JMP_JA: u8 = 0x00;
pub const JMP_JEQ: u8 = 0x10;
pub const JMP_JGT: u8 = 0x20;
pub const JMP_JGE: u8 = 0x30;
pub const JMP_JSET: u8 = 0x40;
pub const JMP_JNE: u8 = 0x50;
pub const JMP_JSGT: u8 = 0x60;
pub const JMP_JSGE: u8 = 0x70;
pub const JMP_CALL: u8 = 0x80;
pub const JMP_EXIT: u8 = 0x90;
pub const JMP_JLT: u8 = 0xa0;
pub const JMP_JLE: u8 = 0xb0;
pub const JMP_JSLT: u8 = 0xc0;
pub const JMP_JSLE: u8 = 0xd0;

/// Atomic operations, carried in the immediate of `STX | ATOMIC` instructions.
pub const ATOMIC_ADD: i32 = 0x00;
pub const ATOMIC_OR: i32 = 0x40;
pub const ATOMIC_AND: i32 = 0x50;
pub const ATOMIC_XOR: i32 = 0xa0;
pub const ATOMIC_FETCH: i32 = 0x01;
pub const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
pub const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;

/// `src` values of a `call` instruction.
pub const CALL_HELPER: u8 = 0;
pub const CALL_LOCAL: u8 = 1;
pub const CALL_KFUNC: u8 = 2;

/// `src` values of a 64-bit immediate load (`lddw`), RFC 9669 section 5.4.
pub const IMM64_VALUE: u8 = 0;
pub const IMM64_MAP_FD: u8 = 1;
pub const IMM64_MAP_VALUE: u8 = 2;
pub const IMM64_VAR_ADDR: u8 = 3;
pub const IMM64_CODE_ADDR: u8 = 4;
pub const IMM64_MAP_IDX: u8 = 5;
pub const IMM64_MAP_IDX_VALUE: u8 = 6;

/// The opcode of the first slot of every 64-bit immediate load.
pub const LDDW: u8 = CLS_LD | SIZE_DW | MODE_IMM;
