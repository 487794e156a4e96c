//! The typed instruction: every RFC 9669 instruction as one `Insn` value.
//!
//! A `Program` holds one `Insn` per 8-byte slot, so a pc is the same number the kernel,
//! `llvm-objdump` and the bpf_conformance suite use. The second slot of a wide `lddw` is
//! [`Insn::Imm64Tail`]: it is never executed and no jump may land on it.
//!
//! Invalid states are unrepresentable where it is cheap: a `Reg` is always r0..=r10, an
//! atomic operation is one of the ten the ISA defines, a sign-extending move only has
//! the widths the ISA allows.

use std::fmt;

/// A register, r0 to r10 (r10 is the read-only frame pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    /// r0: return value of programs and calls.
    pub const R0: Reg = Reg(0);
    /// r1: first argument.
    pub const R1: Reg = Reg(1);
    /// r2: second argument.
    pub const R2: Reg = Reg(2);
    /// r6: first callee-saved register (holds the context for legacy packet loads).
    pub const R6: Reg = Reg(6);
    /// r10: the read-only frame pointer.
    pub const FP: Reg = Reg(10);

    /// The register numbered `n`, if there is one (0..=10).
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// The register's number, 0..=10.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The register's number as the 4-bit encoding field.
    pub const fn number(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operation width: the ALU/JMP32 classes work on the low 32 bits, ALU64/JMP on 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32-bit: results are zero-extended, comparisons use the low halves.
    W32,
    /// 64-bit.
    W64,
}

/// The second operand of arithmetic, jumps and stores: a register or an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register (the `X` source).
    Reg(Reg),
    /// A 32-bit immediate (the `K` source), sign-extended for 64-bit operations.
    Imm(i32),
}

/// Access size of loads, stores and atomics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    /// The size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
}

/// Binary arithmetic operations (`neg` and byte swaps have variants of their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `dst += src`
    Add,
    /// `dst -= src`
    Sub,
    /// `dst *= src`
    Mul,
    /// Unsigned `dst /= src`; division by zero gives 0.
    Div,
    /// Signed division (v4); division by zero gives 0, `MIN / -1` gives `MIN`.
    SDiv,
    /// `dst |= src`
    Or,
    /// `dst &= src`
    And,
    /// `dst <<= src` (amount masked to the width)
    Lsh,
    /// Logical `dst >>= src` (amount masked to the width)
    Rsh,
    /// Unsigned `dst %= src`; modulo by zero leaves dst unchanged.
    Mod,
    /// Signed modulo (v4), sign of the dividend; modulo by zero leaves dst unchanged.
    SMod,
    /// `dst ^= src`
    Xor,
    /// `dst = src`
    Mov,
    /// `dst = src` sign-extended from 8, 16 or 32 bits (v4 `movsx`, register source only).
    MovSx(SignExtend),
    /// Arithmetic `dst >>= src` (amount masked to the width)
    Arsh,
}

/// The source width of a sign-extending move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignExtend {
    /// From 8 bits.
    S8,
    /// From 16 bits.
    S16,
    /// From 32 bits (64-bit `movsx` only).
    S32,
}

impl SignExtend {
    /// The number of source bits.
    pub const fn bits(self) -> u32 {
        match self {
            SignExtend::S8 => 8,
            SignExtend::S16 => 16,
            SignExtend::S32 => 32,
        }
    }
}

/// Byte-order operations (`END` class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// `le16/32/64`: convert to little-endian (truncate only, on a little-endian machine).
    ToLe,
    /// `be16/32/64`: convert to big-endian (truncate and swap on a little-endian machine).
    ToBe,
    /// `bswap16/32/64` (v4, ALU64 class): swap unconditionally.
    Swap,
}

/// The width of a byte-order operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwapWidth {
    /// 16 bits.
    B16,
    /// 32 bits.
    B32,
    /// 64 bits.
    B64,
}

impl SwapWidth {
    /// The width in bits.
    pub const fn bits(self) -> u32 {
        match self {
            SwapWidth::B16 => 16,
            SwapWidth::B32 => 32,
            SwapWidth::B64 => 64,
        }
    }
}

/// Conditions of conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// `==`
    Eq,
    /// unsigned `>`
    Gt,
    /// unsigned `>=`
    Ge,
    /// `dst & src != 0`
    Set,
    /// `!=`
    Ne,
    /// signed `>`
    Sgt,
    /// signed `>=`
    Sge,
    /// unsigned `<`
    Lt,
    /// unsigned `<=`
    Le,
    /// signed `<`
    Slt,
    /// signed `<=`
    Sle,
}

impl Cond {
    /// All conditions, in encoding order.
    pub const ALL: [Cond; 11] = [
        Cond::Eq,
        Cond::Gt,
        Cond::Ge,
        Cond::Set,
        Cond::Ne,
        Cond::Sgt,
        Cond::Sge,
        Cond::Lt,
        Cond::Le,
        Cond::Slt,
        Cond::Sle,
    ];

    /// Evaluates the condition on two 64-bit values (callers truncate for 32-bit jumps).
    #[inline(always)]
    pub fn holds64(self, a: u64, b: u64) -> bool {
        match self {
            Cond::Eq => a == b,
            Cond::Gt => a > b,
            Cond::Ge => a >= b,
            Cond::Set => a & b != 0,
            Cond::Ne => a != b,
            Cond::Sgt => (a as i64) > (b as i64),
            Cond::Sge => (a as i64) >= (b as i64),
            Cond::Lt => a < b,
            Cond::Le => a <= b,
            Cond::Slt => (a as i64) < (b as i64),
            Cond::Sle => (a as i64) <= (b as i64),
        }
    }

    /// Evaluates the condition on the low 32 bits of two values.
    #[inline(always)]
    pub fn holds32(self, a: u32, b: u32) -> bool {
        match self {
            Cond::Eq => a == b,
            Cond::Gt => a > b,
            Cond::Ge => a >= b,
            Cond::Set => a & b != 0,
            Cond::Ne => a != b,
            Cond::Sgt => (a as i32) > (b as i32),
            Cond::Sge => (a as i32) >= (b as i32),
            Cond::Lt => a < b,
            Cond::Le => a <= b,
            Cond::Slt => (a as i32) < (b as i32),
            Cond::Sle => (a as i32) <= (b as i32),
        }
    }
}

/// Atomic read-modify-write operations (`STX | ATOMIC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `*dst += src`
    Add,
    /// `*dst |= src`
    Or,
    /// `*dst &= src`
    And,
    /// `*dst ^= src`
    Xor,
    /// `src = *dst; *dst += old src`
    FetchAdd,
    /// `src = *dst; *dst |= old src`
    FetchOr,
    /// `src = *dst; *dst &= old src`
    FetchAnd,
    /// `src = *dst; *dst ^= old src`
    FetchXor,
    /// `src = xchg(*dst, src)`
    Xchg,
    /// `r0 = cmpxchg(*dst, r0, src)`: stores src when `*dst == r0`; r0 always gets the old value.
    CmpXchg,
}

impl AtomicOp {
    /// Whether the operation writes the old value back into a register.
    pub const fn fetches(self) -> bool {
        !matches!(
            self,
            AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor
        )
    }
}

/// What a call instruction calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// A helper function by its static id (`src = 0`).
    Helper(i32),
    /// A program-local function: `pc + 1 + offset` (`src = 1`).
    Local(i32),
    /// A kernel function by BTF id (`src = 2`); decoded, but no userspace engine runs it.
    Kfunc(i32),
    /// `callx`: the helper id or code address held in a register.
    Reg(Reg),
}

/// The seven kinds of 64-bit immediate load (RFC 9669 section 5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Imm64 {
    /// `dst = imm64`
    Value(u64),
    /// `dst = map_by_fd(fd)`
    MapFd(i32),
    /// `dst = map_val(map_by_fd(fd)) + offset`
    MapValue {
        /// The map's file descriptor.
        fd: i32,
        /// Offset into the map's value.
        offset: u32,
    },
    /// `dst = var_addr(id)`
    VarAddr(i32),
    /// `dst = code_addr(offset)`: the instruction at `pc + 1 + offset` (a local function).
    CodeAddr(i32),
    /// `dst = map_by_idx(index)`
    MapIdx(u32),
    /// `dst = map_val(map_by_idx(index)) + offset`
    MapIdxValue {
        /// The map's index in the program's map table.
        index: u32,
        /// Offset into the map's value.
        offset: u32,
    },
}

/// Addressing mode of a legacy packet load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LegacyMode {
    /// `LD_ABS`: packet offset `imm`.
    Abs,
    /// `LD_IND`: packet offset `src + imm`.
    Ind(Reg),
}

/// One decoded eBPF instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// Binary arithmetic: `dst = dst op src`.
    Alu {
        /// 32- or 64-bit operation.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// `dst = -dst`.
    Neg {
        /// 32- or 64-bit operation.
        width: Width,
        /// The register negated.
        dst: Reg,
    },
    /// Byte-order conversion of `dst`.
    Endian {
        /// `le`, `be` or `bswap`.
        order: ByteOrder,
        /// How many low bits are kept and converted.
        width: SwapWidth,
        /// The register converted.
        dst: Reg,
    },
    /// `dst = *(size *)(src + off)`, optionally sign-extending (`ldsx`, v4).
    Load {
        /// Access size.
        size: Size,
        /// Whether the loaded value is sign-extended (`MEMSX` mode).
        sign_extend: bool,
        /// Destination register.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Byte offset from the base.
        off: i16,
    },
    /// `*(size *)(dst + off) = src` (`STX` with a register, `ST` with an immediate).
    Store {
        /// Access size.
        size: Size,
        /// Base address register.
        dst: Reg,
        /// Byte offset from the base.
        off: i16,
        /// The value stored.
        src: Operand,
    },
    /// Atomic read-modify-write on `*(width *)(dst + off)`.
    Atomic {
        /// 32- or 64-bit access.
        width: Width,
        /// The operation.
        op: AtomicOp,
        /// Base address register.
        dst: Reg,
        /// Operand register (receives the old value for fetching operations).
        src: Reg,
        /// Byte offset from the base.
        off: i16,
    },
    /// 64-bit immediate load (`lddw`), occupying this slot and the next.
    LoadImm64 {
        /// Destination register.
        dst: Reg,
        /// What is loaded.
        imm: Imm64,
    },
    /// The second slot of an `lddw`; never executed.
    Imm64Tail,
    /// Legacy packet load (`LD_ABS`/`LD_IND`) into r0, big-endian.
    LegacyLoad {
        /// Access size (1, 2 or 4 bytes).
        size: Size,
        /// Absolute or indirect.
        mode: LegacyMode,
        /// Constant packet offset.
        imm: i32,
    },
    /// `goto pc + 1 + off`: `ja` with a 16-bit offset, or `gotol` (`long`) with a 32-bit one.
    Ja {
        /// Offset in slots from the next instruction.
        off: i32,
        /// `gotol`: JMP32-class `ja` taking its offset from the immediate.
        long: bool,
    },
    /// Conditional jump: `if dst cond src goto pc + 1 + off`.
    Jump {
        /// 64-bit (JMP) or 32-bit (JMP32) comparison.
        width: Width,
        /// The condition.
        cond: Cond,
        /// First operand.
        dst: Reg,
        /// Second operand.
        src: Operand,
        /// Offset in slots from the next instruction.
        off: i16,
    },
    /// Function call.
    Call(CallTarget),
    /// Return from a function, or end the program with r0.
    Exit,
}

impl Insn {
    /// Slots the instruction occupies (2 for `lddw`, else 1).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LoadImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The pc this instruction at `pc` may transfer control to besides falling through:
    /// jump targets and local call targets. `None` for everything else.
    pub fn branch_target(&self, pc: usize) -> Option<i64> {
        let next = pc as i64 + 1;
        match *self {
            Insn::Ja { off, .. } => Some(next + off as i64),
            Insn::Jump { off, .. } => Some(next + off as i64),
            Insn::Call(CallTarget::Local(off)) => Some(next + off as i64),
            Insn::LoadImm64 {
                imm: Imm64::CodeAddr(off),
                ..
            } => Some(next + off as i64),
            _ => None,
        }
    }
}
