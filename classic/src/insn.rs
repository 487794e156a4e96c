//! `struct sock_filter` and its typed form.
//!
//! [`SockFilter`] is the raw 8-byte instruction of `linux/filter.h`; [`Instr`] is what
//! it means. [`Instr::decode`] accepts exactly the opcodes the kernel's classic checker
//! accepts (`bpf_check_classic`'s table), so every other module works on typed values.
//!
//! Invariant: this file is the only one in the crate that knows numeric classic opcodes.

use std::fmt;

/// One classic BPF instruction as the kernel's uapi defines it (`struct sock_filter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SockFilter {
    /// The opcode: class, size/operation, mode/source.
    pub code: u16,
    /// Jump offset when the condition holds (relative to the next instruction).
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// The generic field: constant, offset, scratch index or jump offset.
    pub k: u32,
}

impl SockFilter {
    /// Size of one instruction in bytes.
    pub const SIZE: usize = 8;

    /// An instruction from its four fields.
    pub const fn new(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    /// Decodes the little-endian layout libseccomp's `seccomp_export_bpf` writes on x86:
    /// `u16 code, u8 jt, u8 jf, u32 k`.
    pub fn from_le_bytes(b: [u8; 8]) -> SockFilter {
        SockFilter {
            code: u16::from_le_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The little-endian byte layout.
    pub fn to_le_bytes(self) -> [u8; 8] {
        let c = self.code.to_le_bytes();
        let k = self.k.to_le_bytes();
        [c[0], c[1], self.jt, self.jf, k[0], k[1], k[2], k[3]]
    }
}

impl fmt::Display for SockFilter {
    /// `tcpdump -dd` style: `{ 0x28, 0, 0, 0x0000000c }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{ {:#x}, {}, {}, {:#010x} }}",
            self.code, self.jt, self.jf, self.k
        )
    }
}

/// Load width of `LD ABS`/`LD IND`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 32-bit word.
    W,
    /// 16-bit half word.
    H,
    /// 8-bit byte.
    B,
}

impl Size {
    /// The size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Size::W => 4,
            Size::H => 2,
            Size::B => 1,
        }
    }
}

/// What `LD` loads into A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LdSrc {
    /// `A = P[k:size]`: packet bytes at a constant offset (or a Linux extension when
    /// `k` is negative as `i32`).
    Abs(Size, u32),
    /// `A = P[X + k:size]`.
    Ind(Size, u32),
    /// `A = M[k]`.
    Mem(u32),
    /// `A = len`: the packet length.
    Len,
    /// `A = k`.
    Imm(u32),
}

/// What `LDX` loads into X.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LdxSrc {
    /// `X = k`.
    Imm(u32),
    /// `X = M[k]`.
    Mem(u32),
    /// `X = len`.
    Len,
    /// `X = 4 * (P[k:1] & 0xf)`: the IPv4 header length trick.
    Msh(u32),
}

/// The second operand of arithmetic and jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Src {
    /// The constant `k`.
    K(u32),
    /// The index register X.
    X,
}

/// Binary arithmetic on A (32-bit, wrapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `A += src`
    Add,
    /// `A -= src`
    Sub,
    /// `A *= src`
    Mul,
    /// `A /= src` (unsigned; by X = 0 ends the program with 0)
    Div,
    /// `A |= src`
    Or,
    /// `A &= src`
    And,
    /// `A <<= src`
    Lsh,
    /// `A >>= src` (logical)
    Rsh,
    /// `A %= src` (unsigned; by X = 0 ends the program with 0)
    Mod,
    /// `A ^= src`
    Xor,
}

/// Conditions of conditional jumps (unsigned 32-bit comparisons of A with the operand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// `A == src`
    Eq,
    /// `A > src`
    Gt,
    /// `A >= src`
    Ge,
    /// `A & src != 0`
    Set,
}

/// What `RET` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetVal {
    /// The constant `k`.
    K(u32),
    /// The accumulator.
    A,
}

/// One classic instruction, typed. Every opcode the kernel accepts has a form here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Instr {
    /// `LD`: load into A.
    Ld(LdSrc),
    /// `LDX`: load into X.
    Ldx(LdxSrc),
    /// `ST`: `M[k] = A`.
    St(u32),
    /// `STX`: `M[k] = X`.
    Stx(u32),
    /// Arithmetic on A.
    Alu(AluOp, Src),
    /// `A = -A`.
    Neg,
    /// `goto pc + 1 + k`.
    Ja(u32),
    /// `if A cond src goto pc + 1 + jt else goto pc + 1 + jf`.
    Jump {
        /// The condition.
        cond: Cond,
        /// The second operand.
        src: Src,
        /// Offset when it holds.
        jt: u8,
        /// Offset when it does not.
        jf: u8,
    },
    /// End the program.
    Ret(RetVal),
    /// `X = A`.
    Tax,
    /// `A = X`.
    Txa,
}

// Opcode fields (linux/bpf_common.h, linux/filter.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const MSH: u16 = 0xa0;
const X: u16 = 0x08;
const RET_A: u16 = 0x10;
const NEG: u16 = 0x80;
const TAX: u16 = 0x00;
const TXA: u16 = 0x80;

const ALU_OPS: [(u16, AluOp); 10] = [
    (0x00, AluOp::Add),
    (0x10, AluOp::Sub),
    (0x20, AluOp::Mul),
    (0x30, AluOp::Div),
    (0x40, AluOp::Or),
    (0x50, AluOp::And),
    (0x60, AluOp::Lsh),
    (0x70, AluOp::Rsh),
    (0x90, AluOp::Mod),
    (0xa0, AluOp::Xor),
];

const CONDS: [(u16, Cond); 4] = [
    (0x10, Cond::Eq),
    (0x20, Cond::Gt),
    (0x30, Cond::Ge),
    (0x40, Cond::Set),
];

const SIZES: [(u16, Size); 3] = [(W, Size::W), (H, Size::H), (B, Size::B)];

impl Instr {
    /// The typed form of `f`, or `None` when the kernel does not know the opcode.
    pub fn decode(f: SockFilter) -> Option<Instr> {
        let SockFilter { code, jt, jf, k } = f;
        let sized = |mode: u16| {
            SIZES
                .iter()
                .find(|(s, _)| code == LD | mode | s)
                .map(|x| x.1)
        };
        let instr = match code & 0x07 {
            LD => match code {
                c if c == LD | W | MEM => Instr::Ld(LdSrc::Mem(k)),
                c if c == LD | W | LEN => Instr::Ld(LdSrc::Len),
                c if c == LD | W | IMM => Instr::Ld(LdSrc::Imm(k)),
                _ => {
                    if let Some(size) = sized(ABS) {
                        Instr::Ld(LdSrc::Abs(size, k))
                    } else {
                        Instr::Ld(LdSrc::Ind(sized(IND)?, k))
                    }
                }
            },
            LDX => match code {
                c if c == LDX | W | IMM => Instr::Ldx(LdxSrc::Imm(k)),
                c if c == LDX | W | MEM => Instr::Ldx(LdxSrc::Mem(k)),
                c if c == LDX | W | LEN => Instr::Ldx(LdxSrc::Len),
                c if c == LDX | B | MSH => Instr::Ldx(LdxSrc::Msh(k)),
                _ => return None,
            },
            ST if code == ST => Instr::St(k),
            STX if code == STX => Instr::Stx(k),
            ALU if code == ALU | NEG => Instr::Neg,
            ALU => {
                let (_, op) = ALU_OPS.iter().find(|(o, _)| code & !X == ALU | o)?;
                Instr::Alu(*op, if code & X != 0 { Src::X } else { Src::K(k) })
            }
            JMP if code == JMP => Instr::Ja(k),
            JMP => {
                let (_, cond) = CONDS.iter().find(|(o, _)| code & !X == JMP | o)?;
                let src = if code & X != 0 { Src::X } else { Src::K(k) };
                Instr::Jump {
                    cond: *cond,
                    src,
                    jt,
                    jf,
                }
            }
            RET if code == RET => Instr::Ret(RetVal::K(k)),
            RET if code == RET | RET_A => Instr::Ret(RetVal::A),
            MISC if code == MISC | TAX => Instr::Tax,
            MISC if code == MISC | TXA => Instr::Txa,
            _ => return None,
        };
        Some(instr)
    }

    /// The `sock_filter` for this instruction (unused fields zero).
    pub fn encode(self) -> SockFilter {
        let size_bits = |s: Size| SIZES.iter().find(|x| x.1 == s).map_or(0, |x| x.0);
        let alu_bits = |o: AluOp| ALU_OPS.iter().find(|x| x.1 == o).map_or(0, |x| x.0);
        let cond_bits = |c: Cond| CONDS.iter().find(|x| x.1 == c).map_or(0, |x| x.0);
        let src_bits = |s: Src| match s {
            Src::K(k) => (0, k),
            Src::X => (X, 0),
        };
        let (code, jt, jf, k) = match self {
            Instr::Ld(LdSrc::Abs(s, k)) => (LD | ABS | size_bits(s), 0, 0, k),
            Instr::Ld(LdSrc::Ind(s, k)) => (LD | IND | size_bits(s), 0, 0, k),
            Instr::Ld(LdSrc::Mem(k)) => (LD | W | MEM, 0, 0, k),
            Instr::Ld(LdSrc::Len) => (LD | W | LEN, 0, 0, 0),
            Instr::Ld(LdSrc::Imm(k)) => (LD | W | IMM, 0, 0, k),
            Instr::Ldx(LdxSrc::Imm(k)) => (LDX | W | IMM, 0, 0, k),
            Instr::Ldx(LdxSrc::Mem(k)) => (LDX | W | MEM, 0, 0, k),
            Instr::Ldx(LdxSrc::Len) => (LDX | W | LEN, 0, 0, 0),
            Instr::Ldx(LdxSrc::Msh(k)) => (LDX | B | MSH, 0, 0, k),
            Instr::St(k) => (ST, 0, 0, k),
            Instr::Stx(k) => (STX, 0, 0, k),
            Instr::Alu(op, src) => {
                let (x, k) = src_bits(src);
                (ALU | alu_bits(op) | x, 0, 0, k)
            }
            Instr::Neg => (ALU | NEG, 0, 0, 0),
            Instr::Ja(k) => (JMP, 0, 0, k),
            Instr::Jump { cond, src, jt, jf } => {
                let (x, k) = src_bits(src);
                (JMP | cond_bits(cond) | x, jt, jf, k)
            }
            Instr::Ret(RetVal::K(k)) => (RET, 0, 0, k),
            Instr::Ret(RetVal::A) => (RET | RET_A, 0, 0, 0),
            Instr::Tax => (MISC | TAX, 0, 0, 0),
            Instr::Txa => (MISC | TXA, 0, 0, 0),
        };
        SockFilter { code, jt, jf, k }
    }

    /// Whether the instruction ends the program or always jumps (no fall-through).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Instr::Ret(_) | Instr::Ja(_) | Instr::Jump { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_opcode_round_trips() {
        let mut accepted = 0;
        for code in 0..=u16::MAX {
            let f = SockFilter::new(code, 3, 4, 5);
            let Some(instr) = Instr::decode(f) else {
                continue;
            };
            accepted += 1;
            let back = instr.encode();
            assert_eq!(back.code, code, "{instr:?}");
            assert_eq!(Instr::decode(back), Some(instr));
        }
        // The kernel's table: 20 ALU + NEG, 9 LD, 4 LDX, ST, STX, TAX, TXA, 2 RET,
        // JA and 8 conditional jumps.
        assert_eq!(accepted, 21 + 9 + 4 + 2 + 2 + 2 + 9);
    }

    #[test]
    fn known_encodings() {
        let ldh12 = SockFilter::new(0x28, 0, 0, 12);
        assert_eq!(
            Instr::decode(ldh12),
            Some(Instr::Ld(LdSrc::Abs(Size::H, 12)))
        );
        assert_eq!(
            Instr::decode(SockFilter::new(0xb1, 0, 0, 14)),
            Some(Instr::Ldx(LdxSrc::Msh(14)))
        );
        assert_eq!(
            Instr::decode(SockFilter::new(0x16, 0, 0, 0)),
            Some(Instr::Ret(RetVal::A))
        );
        // RET X, NEG with the X bit and LD H MEM are not in the kernel's table.
        for code in [0x0e, 0x8c, 0x68, 0x0a, 0x09] {
            assert_eq!(
                Instr::decode(SockFilter::new(code, 0, 0, 0)),
                None,
                "{code:#x}"
            );
        }
        assert_eq!(ldh12.to_string(), "{ 0x28, 0, 0, 0x0000000c }");
        assert_eq!(SockFilter::from_le_bytes(ldh12.to_le_bytes()), ldh12);
    }
}
