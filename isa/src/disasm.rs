//! Disassembly: text for instructions and programs, in the two dialects the assembler
//! reads.
//!
//! The conformance dialect ([`Insn`]'s `Display`, [`disassemble`]) is the round-trip
//! format: with the `pc: ` prefixes stripped, [`disassemble`]'s output assembles back
//! to the same program. So jumps print as relative offsets (`+3`), never as absolute
//! pcs, immediates print in a form the assembler takes back (signed decimal; `lddw`
//! values in hex), and every `lddw` kind has a spelling (`lddw %r1, map_value 3+16`).
//! The LLVM dialect ([`Insn::llvm`], [`disassemble_llvm`]) reads like `llvm-objdump`
//! and also assembles back.

use std::fmt::{self, Display, Formatter};

use crate::insn::*;
use crate::program::Program;

/// `%rN`, the conformance dialect's register.
struct R(Reg);

impl Display for R {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "%r{}", self.0.number())
    }
}

/// A register or an immediate, conformance dialect.
struct Op(Operand);

impl Display for Op {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Operand::Reg(r) => R(r).fmt(f),
            Operand::Imm(imm) => write!(f, "{imm}"),
        }
    }
}

/// `[%rN+off]`: the sign is always written, a zero offset is left out.
struct Mem(Reg, i16);

impl Display for Mem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.1 {
            0 => write!(f, "[{}]", R(self.0)),
            off if off < 0 => write!(f, "[{}-{}]", R(self.0), i32::from(off).unsigned_abs()),
            off => write!(f, "[{}+{off}]", R(self.0)),
        }
    }
}

/// A relative jump offset with its sign: `+3`, `-1`, `+0`.
struct Rel(i64);

impl Display for Rel {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{}", self.0.unsigned_abs())
        } else {
            write!(f, "+{}", self.0)
        }
    }
}

/// Signed hexadecimal, `0x5` or `-0x5`, as `llvm-objdump` prints jump immediates.
struct Hex(i64);

impl Display for Hex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{:#x}", self.0.unsigned_abs())
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

fn width_suffix(width: Width) -> &'static str {
    match width {
        Width::W32 => "32",
        Width::W64 => "",
    }
}

fn size_suffix(size: Size) -> &'static str {
    match size {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

fn alu_mnemonic(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Sub => "sub",
        AluOp::Mul => "mul",
        AluOp::Div => "div",
        AluOp::SDiv => "sdiv",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Lsh => "lsh",
        AluOp::Rsh => "rsh",
        AluOp::Mod => "mod",
        AluOp::SMod => "smod",
        AluOp::Xor => "xor",
        AluOp::Mov | AluOp::MovSx(_) => "mov",
        AluOp::Arsh => "arsh",
    }
}

fn cond_mnemonic(cond: Cond) -> &'static str {
    match cond {
        Cond::Eq => "jeq",
        Cond::Gt => "jgt",
        Cond::Ge => "jge",
        Cond::Set => "jset",
        Cond::Ne => "jne",
        Cond::Sgt => "jsgt",
        Cond::Sge => "jsge",
        Cond::Lt => "jlt",
        Cond::Le => "jle",
        Cond::Slt => "jslt",
        Cond::Sle => "jsle",
    }
}

fn order_name(order: ByteOrder) -> &'static str {
    match order {
        ByteOrder::ToLe => "le",
        ByteOrder::ToBe => "be",
        ByteOrder::Swap => "bswap",
    }
}

fn atomic_name(op: AtomicOp) -> &'static str {
    match op {
        AtomicOp::Add | AtomicOp::FetchAdd => "add",
        AtomicOp::Or | AtomicOp::FetchOr => "or",
        AtomicOp::And | AtomicOp::FetchAnd => "and",
        AtomicOp::Xor | AtomicOp::FetchXor => "xor",
        AtomicOp::Xchg => "xchg",
        AtomicOp::CmpXchg => "cmpxchg",
    }
}

/// The operand of a non-value `lddw`, shared by both dialects: `map_fd 3`,
/// `map_value 3+16`, `code_addr +5`...
fn imm64_kind(imm: Imm64, f: &mut Formatter<'_>) -> fmt::Result {
    match imm {
        Imm64::Value(v) => write!(f, "{v:#x}"),
        Imm64::MapFd(fd) => write!(f, "map_fd {fd}"),
        Imm64::MapValue { fd, offset } => write!(f, "map_value {fd}+{offset}"),
        Imm64::VarAddr(id) => write!(f, "var_addr {id}"),
        Imm64::CodeAddr(off) => write!(f, "code_addr {}", Rel(off.into())),
        Imm64::MapIdx(index) => write!(f, "map_idx {index}"),
        Imm64::MapIdxValue { index, offset } => write!(f, "map_idx_value {index}+{offset}"),
    }
}

/// The conformance dialect (`mov %r0, 1`, `jeq %r1, 5, +2`), which the assembler reads
/// back. [`Insn::Imm64Tail`] prints as a comment, so that printing every slot of a
/// program still assembles to it.
impl Display for Insn {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Insn::Alu {
                width,
                op: AluOp::MovSx(sx),
                dst,
                src,
            } => {
                let to = match width {
                    Width::W32 => 32,
                    Width::W64 => 64,
                };
                write!(f, "movsx{}{to} {}, {}", sx.bits(), R(dst), Op(src))
            }
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => write!(
                f,
                "{}{} {}, {}",
                alu_mnemonic(op),
                width_suffix(width),
                R(dst),
                Op(src)
            ),
            Insn::Neg { width, dst } => write!(f, "neg{} {}", width_suffix(width), R(dst)),
            Insn::Endian { order, width, dst } => {
                write!(f, "{}{} {}", order_name(order), width.bits(), R(dst))
            }
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => write!(
                f,
                "ldx{}{} {}, {}",
                if sign_extend { "s" } else { "" },
                size_suffix(size),
                R(dst),
                Mem(src, off)
            ),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                let x = if matches!(src, Operand::Reg(_)) {
                    "x"
                } else {
                    ""
                };
                write!(
                    f,
                    "st{x}{} {}, {}",
                    size_suffix(size),
                    Mem(dst, off),
                    Op(src)
                )
            }
            Insn::Atomic {
                width,
                op,
                dst,
                src,
                off,
            } => {
                let fetch = matches!(
                    op,
                    AtomicOp::FetchAdd
                        | AtomicOp::FetchOr
                        | AtomicOp::FetchAnd
                        | AtomicOp::FetchXor
                );
                write!(
                    f,
                    "lock {}{}{} {}, {}",
                    if fetch { "fetch " } else { "" },
                    atomic_name(op),
                    width_suffix(width),
                    Mem(dst, off),
                    R(src)
                )
            }
            Insn::LoadImm64 { dst, imm } => {
                write!(f, "lddw {}, ", R(dst))?;
                imm64_kind(imm, f)
            }
            Insn::Imm64Tail => f.write_str("# (second slot of lddw)"),
            Insn::LegacyLoad { size, mode, imm } => match mode {
                LegacyMode::Abs => write!(f, "ldabs{} {imm}", size_suffix(size)),
                LegacyMode::Ind(r) => write!(f, "ldind{} {}, {imm}", size_suffix(size), R(r)),
            },
            Insn::Ja { off, long } => {
                write!(
                    f,
                    "{} {}",
                    if long { "ja32" } else { "ja" },
                    Rel(off.into())
                )
            }
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            } => write!(
                f,
                "{}{} {}, {}, {}",
                cond_mnemonic(cond),
                width_suffix(width),
                R(dst),
                Op(src),
                Rel(off.into())
            ),
            Insn::Call(target) => match target {
                CallTarget::Helper(id) => write!(f, "call {id}"),
                CallTarget::Local(off) => write!(f, "call local {}", Rel(off.into())),
                CallTarget::Kfunc(id) => write!(f, "call kfunc {id}"),
                CallTarget::Reg(r) => write!(f, "call {}", R(r)),
            },
            Insn::Exit => f.write_str("exit"),
        }
    }
}

/// One instruction in the LLVM / kernel dialect; made by [`Insn::llvm`].
#[derive(Clone, Copy, Debug)]
pub struct Llvm<'a>(&'a Insn);

impl Insn {
    /// Displays the instruction in the LLVM / kernel dialect (`r0 = 1`,
    /// `if r1 > 0x5 goto +3`, `*(u32 *)(r10 - 8) = r1`); the assembler reads it back.
    pub fn llvm(&self) -> Llvm<'_> {
        Llvm(self)
    }
}

/// `rN` or `wN`.
struct LReg(Reg, Width);

impl Display for LReg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let prefix = match self.1 {
            Width::W32 => 'w',
            Width::W64 => 'r',
        };
        write!(f, "{prefix}{}", self.0.number())
    }
}

/// `(rN + off)` / `(rN - off)`.
struct LMem(Reg, i16);

impl Display for LMem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.1 < 0 {
            write!(
                f,
                "(r{} - {})",
                self.0.number(),
                i32::from(self.1).unsigned_abs()
            )
        } else {
            write!(f, "(r{} + {})", self.0.number(), self.1)
        }
    }
}

/// A register or a decimal immediate.
struct LOp(Operand, Width);

impl Display for LOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Operand::Reg(r) => LReg(r, self.1).fmt(f),
            Operand::Imm(imm) => write!(f, "{imm}"),
        }
    }
}

fn llvm_type(size: Size, signed: bool) -> &'static str {
    match (size, signed) {
        (Size::B, false) => "u8",
        (Size::H, false) => "u16",
        (Size::W, false) => "u32",
        (Size::DW, false) => "u64",
        (Size::B, true) => "s8",
        (Size::H, true) => "s16",
        (Size::W, true) => "s32",
        // Not an encodable load; printed so that nothing panics.
        (Size::DW, true) => "s64",
    }
}

fn llvm_alu_op(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Mov | AluOp::MovSx(_) => "=",
        AluOp::Arsh => "s>>=",
    }
}

fn llvm_cond(cond: Cond) -> &'static str {
    match cond {
        Cond::Eq => "==",
        Cond::Gt => ">",
        Cond::Ge => ">=",
        Cond::Set => "&",
        Cond::Ne => "!=",
        Cond::Sgt => "s>",
        Cond::Sge => "s>=",
        Cond::Lt => "<",
        Cond::Le => "<=",
        Cond::Slt => "s<",
        Cond::Sle => "s<=",
    }
}

impl Display for Llvm<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self.0 {
            Insn::Alu {
                width,
                op: AluOp::MovSx(sx),
                dst,
                src,
            } => write!(
                f,
                "{} = (s{}){}",
                LReg(dst, width),
                sx.bits(),
                LOp(src, width)
            ),
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => write!(
                f,
                "{} {} {}",
                LReg(dst, width),
                llvm_alu_op(op),
                LOp(src, width)
            ),
            Insn::Neg { width, dst } => write!(f, "{0} = -{0}", LReg(dst, width)),
            Insn::Endian { order, width, dst } => write!(
                f,
                "r{0} = {1}{2} r{0}",
                dst.number(),
                order_name(order),
                width.bits()
            ),
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => write!(
                f,
                "r{} = *({} *){}",
                dst.number(),
                llvm_type(size, sign_extend),
                LMem(src, off)
            ),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => write!(
                f,
                "*({} *){} = {}",
                llvm_type(size, false),
                LMem(dst, off),
                LOp(src, Width::W64)
            ),
            Insn::Atomic {
                width,
                op,
                dst,
                src,
                off,
            } => {
                let ty = match width {
                    Width::W32 => "u32",
                    Width::W64 => "u64",
                };
                let s = LReg(src, width);
                match op {
                    AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => {
                        let sym = match op {
                            AtomicOp::Add => "+=",
                            AtomicOp::Or => "|=",
                            AtomicOp::And => "&=",
                            _ => "^=",
                        };
                        write!(f, "lock *({ty} *){} {sym} {s}", LMem(dst, off))
                    }
                    AtomicOp::FetchAdd
                    | AtomicOp::FetchOr
                    | AtomicOp::FetchAnd
                    | AtomicOp::FetchXor => write!(
                        f,
                        "{s} = atomic_fetch_{}(({ty} *){}, {s})",
                        atomic_name(op),
                        LMem(dst, off)
                    ),
                    AtomicOp::Xchg | AtomicOp::CmpXchg => {
                        let (name, suffix) = match width {
                            Width::W32 => (atomic_name(op).to_owned() + "32", "32"),
                            Width::W64 => (atomic_name(op).to_owned(), "64"),
                        };
                        // `xchg_64(r10 - 8, r1)`: the address without parentheses.
                        let addr = LMem(dst, off).to_string();
                        let addr = addr.trim_start_matches('(').trim_end_matches(')');
                        if op == AtomicOp::Xchg {
                            write!(f, "{s} = {name}_{suffix}({addr}, {s})")
                        } else {
                            let r0 = LReg(Reg::R0, width);
                            write!(f, "{r0} = {name}_{suffix}({addr}, {r0}, {s})")
                        }
                    }
                }
            }
            Insn::LoadImm64 { dst, imm } => {
                write!(f, "r{} = ", dst.number())?;
                imm64_kind(imm, f)?;
                f.write_str(" ll")
            }
            Insn::Imm64Tail => f.write_str("# (second slot of lddw)"),
            Insn::LegacyLoad { size, mode, imm } => {
                let ty = llvm_type(size, false);
                match mode {
                    LegacyMode::Abs => write!(f, "r0 = *({ty} *)skb[{imm}]"),
                    LegacyMode::Ind(r) => {
                        let (sign, magnitude) = if imm < 0 {
                            ('-', imm.unsigned_abs())
                        } else {
                            ('+', imm.unsigned_abs())
                        };
                        // Hex so that `- 0x80000000` (i32::MIN) reads back.
                        write!(
                            f,
                            "r0 = *({ty} *)skb[r{} {sign} {magnitude:#x}]",
                            r.number()
                        )
                    }
                }
            }
            Insn::Ja { off, long } => write!(
                f,
                "{} {}",
                if long { "gotol" } else { "goto" },
                Rel(off.into())
            ),
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                write!(f, "if {} {} ", LReg(dst, width), llvm_cond(cond))?;
                match src {
                    Operand::Reg(r) => LReg(r, width).fmt(f)?,
                    Operand::Imm(imm) => Hex(imm.into()).fmt(f)?,
                }
                write!(f, " goto {}", Rel(off.into()))
            }
            Insn::Call(target) => match target {
                CallTarget::Helper(id) => write!(f, "call {id}"),
                CallTarget::Local(off) => write!(f, "call pc{}", Rel(off.into())),
                CallTarget::Kfunc(id) => write!(f, "call kfunc {id}"),
                CallTarget::Reg(r) => write!(f, "callx r{}", r.number()),
            },
            Insn::Exit => f.write_str("exit"),
        }
    }
}

/// The program in the conformance dialect, one `pc: instruction` line per
/// instruction (the second slot of an `lddw` has no line, so pcs skip it).
///
/// ```
/// use ebpfvm_isa::{assemble, disassemble};
/// let program = assemble("lddw %r0, 0x1\njeq %r0, 1, +0\nexit").unwrap();
/// assert_eq!(disassemble(&program), "0: lddw %r0, 0x1\n2: jeq %r0, 1, +0\n3: exit\n");
/// ```
pub fn disassemble(program: &Program) -> String {
    listing(program, |insn, _| insn.to_string())
}

/// The program in the LLVM / kernel dialect, one `pc: instruction` line per
/// instruction; jumps carry their target pc as an annotation (`goto +3 <L7>`), which the
/// assembler ignores.
pub fn disassemble_llvm(program: &Program) -> String {
    listing(program, |insn, pc| {
        let text = insn.llvm().to_string();
        match (insn, insn.branch_target(pc)) {
            (Insn::Ja { .. } | Insn::Jump { .. }, Some(target)) => format!("{text} <L{target}>"),
            _ => text,
        }
    })
}

fn listing(program: &Program, line: impl Fn(&Insn, usize) -> String) -> String {
    let mut out = String::new();
    for (pc, insn) in program.insns().iter().enumerate() {
        if *insn == Insn::Imm64Tail {
            continue;
        }
        out.push_str(&pc.to_string());
        out.push_str(": ");
        out.push_str(&line(insn, pc));
        out.push('\n');
    }
    out
}
