//! Translation of checked classic programs to eBPF ([`ebpfvm_isa::Program`]).
//!
//! Registers: A is r0, X is r7, the context pointer r6 (copied from r1), scratch r8
//! and r9; M[0..15] live in the stack frame at `r10 - 64 + 4 * k`. A and X always hold
//! zero-extended 32-bit values: every operation on them is a 32-bit eBPF operation, and
//! jumps are `JMP32` comparisons, so `k >= 2^31` compares unsigned as classic BPF does.
//!
//! Packet loads are eBPF legacy loads (`LD_ABS`/`LD_IND`: big-endian, out of range ends
//! the program with 0). Linux extensions ([`crate::ext`]) read the context
//! ([`crate::skb`] layout) or call a helper ([`HELPER_PRANDOM`], [`HELPER_CPU`],
//! [`HELPER_NLATTR`], [`HELPER_NLATTR_NEST`]). Negative packet offsets computed at run
//! time (`LD IND`) are classified at run time the same way the kernel does: network
//! range, link-layer range, or nothing.
//!
//! seccomp filters read `struct seccomp_data` from the context instead: `LD W ABS k`
//! is a 32-bit context load, `LEN` is 64.
//!
//! Classic conditional jumps reach at most 255 instructions ahead and each classic
//! instruction becomes at most 16 eBPF ones, so their offsets always fit 16 bits;
//! `JA` uses `gotol` when its offset does not.

use ebpfvm_isa::{
    AluOp as E, ByteOrder, CallTarget, Cond as ECond, Insn, LegacyMode, LoadError, Operand,
    Program, Reg, Size as ESize, SwapWidth, Width,
};

use crate::ext::{AbsTarget, Ancillary, SKF_LL_OFF, SKF_NET_OFF};
use crate::insn::{AluOp, Cond, Instr, LdSrc, LdxSrc, RetVal, Size, Src};
use crate::skb::offsets;

/// Kernel helper id of `bpf_get_prandom_u32` (`SKF_AD_RANDOM`).
pub const HELPER_PRANDOM: u32 = 7;
/// Kernel helper id of `bpf_get_smp_processor_id` (`SKF_AD_CPU`).
pub const HELPER_CPU: u32 = 8;
/// Private helper for `SKF_AD_NLATTR`: r1 = A (offset), r2 = X (attribute type).
pub const HELPER_NLATTR: u32 = 0x4342_0001;
/// Private helper for `SKF_AD_NLATTR_NEST`: r1 = A (offset), r2 = X (attribute type).
pub const HELPER_NLATTR_NEST: u32 = 0x4342_0002;

/// What the translated program reads from where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// A socket filter: packet loads, `struct __sk_buff` context, Linux extensions.
    Socket,
    /// A seccomp filter: `struct seccomp_data` context, no packet.
    Seccomp,
}

/// A translated program and what its run needs.
#[derive(Clone, Debug)]
pub struct Translation {
    /// The eBPF program.
    pub program: Program,
    /// For each classic instruction, the pc of its first eBPF instruction.
    pub starts: Vec<usize>,
    /// Helper ids the program calls.
    pub helpers: Vec<u32>,
    /// Whether the program reads `SKF_AD_PAY_OFFSET`, the one context field that needs
    /// the packet dissected.
    pub reads_payload_offset: bool,
}

/// A translation that failed: a bug in this crate, reported rather than panicking.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The generated eBPF did not validate.
    #[error("internal error: translated program refused: {0}")]
    Invalid(#[from] LoadError),
    /// A conditional jump too far for a 16-bit offset.
    #[error("internal error: jump from classic instruction {index} too far")]
    JumpTooFar {
        /// The classic instruction.
        index: usize,
    },
}

const fn reg(n: u8) -> Reg {
    match Reg::new(n) {
        Some(r) => r,
        None => panic!("register number out of range"),
    }
}

const A: Reg = Reg::R0;
const CTX: Reg = Reg::R6;
const X: Reg = reg(7);
const T: Reg = reg(8);
const SAVE: Reg = reg(9);

/// Where a jump goes before layout is known.
#[derive(Clone, Copy)]
enum Target {
    /// The first eBPF instruction of a classic instruction.
    Classic(usize),
}

struct Builder {
    insns: Vec<Insn>,
    fixups: Vec<(usize, Target, usize)>,
    helpers: Vec<u32>,
    reads_payload_offset: bool,
    flavor: Flavor,
}

fn alu32(op: E, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst,
        src,
    }
}

fn imm(k: u32) -> Operand {
    Operand::Imm(k as i32)
}

fn jump32(cond: ECond, dst: Reg, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W32,
        cond,
        dst,
        src,
        off,
    }
}

fn ldxw(dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size: ESize::W,
        sign_extend: false,
        dst,
        src,
        off,
    }
}

fn scratch(k: u32) -> i16 {
    -64 + 4 * (k as i16 & 15)
}

fn esize(s: Size) -> ESize {
    match s {
        Size::W => ESize::W,
        Size::H => ESize::H,
        Size::B => ESize::B,
    }
}

impl Builder {
    fn push(&mut self, i: Insn) {
        self.insns.push(i);
    }

    /// `r0 = 0; exit`
    fn return_zero(&mut self) {
        self.push(alu32(E::Mov, A, imm(0)));
        self.push(Insn::Exit);
    }

    fn call(&mut self, id: u32) {
        if !self.helpers.contains(&id) {
            self.helpers.push(id);
        }
        self.push(Insn::Call(CallTarget::Helper(id as i32)));
        // Helpers return 64 bits; A is 32.
        self.push(alu32(E::Mov, A, Operand::Reg(A)));
    }

    /// A = P[target:size] for a target known at translation time.
    fn load_abs(&mut self, size: Size, target: AbsTarget) {
        let legacy = |mode, imm| Insn::LegacyLoad {
            size: esize(size),
            mode,
            imm,
        };
        match target {
            AbsTarget::Packet(k) => self.push(legacy(LegacyMode::Abs, k as i32)),
            AbsTarget::Net(off) => {
                self.push(ldxw(T, CTX, offsets::NET_BIAS));
                self.push(legacy(
                    LegacyMode::Ind(T),
                    (off as i32).wrapping_add(SKF_NET_OFF),
                ));
            }
            AbsTarget::LinkLayer(off) => {
                self.push(ldxw(T, CTX, offsets::LL_BIAS));
                self.push(legacy(
                    LegacyMode::Ind(T),
                    (off as i32).wrapping_add(SKF_LL_OFF),
                ));
            }
            AbsTarget::Ancillary(a) => self.ancillary(a),
            // The checker refuses unknown extensions; nothing is below SKF_LL_OFF.
            AbsTarget::UnknownAncillary(_) | AbsTarget::Nothing => self.return_zero(),
        }
    }

    /// A = P[X + k:size], classifying a negative offset at run time.
    fn load_ind(&mut self, size: Size, k: u32) {
        self.push(alu32(E::Mov, T, Operand::Reg(X)));
        if k != 0 {
            self.push(alu32(E::Add, T, imm(k)));
        }
        // Non-negative: a plain packet offset.
        self.push(jump32(ECond::Sge, T, imm(0), 8));
        self.push(jump32(ECond::Sge, T, Operand::Imm(SKF_NET_OFF), 5));
        self.push(jump32(ECond::Sge, T, Operand::Imm(SKF_LL_OFF), 2));
        self.return_zero();
        self.push(ldxw(SAVE, CTX, offsets::LL_BIAS));
        self.push(Insn::Ja {
            off: 1,
            long: false,
        });
        self.push(ldxw(SAVE, CTX, offsets::NET_BIAS));
        self.push(alu32(E::Add, T, Operand::Reg(SAVE)));
        self.push(Insn::LegacyLoad {
            size: esize(size),
            mode: LegacyMode::Ind(T),
            imm: 0,
        });
    }

    fn ancillary(&mut self, a: Ancillary) {
        let field = |b: &mut Builder, off: i16| b.push(ldxw(A, CTX, off));
        match a {
            Ancillary::Protocol => {
                field(self, offsets::PROTOCOL);
                self.push(be16(A));
            }
            Ancillary::VlanTpid => {
                field(self, offsets::VLAN_PROTO);
                self.push(be16(A));
            }
            Ancillary::PktType => field(self, offsets::PKT_TYPE),
            Ancillary::Ifindex => field(self, offsets::IFINDEX),
            Ancillary::Mark => field(self, offsets::MARK),
            Ancillary::Queue => field(self, offsets::QUEUE_MAPPING),
            Ancillary::Hatype => field(self, offsets::HATYPE),
            Ancillary::RxHash => field(self, offsets::HASH),
            Ancillary::VlanTag => field(self, offsets::VLAN_TCI),
            Ancillary::PayOffset => {
                self.reads_payload_offset = true;
                field(self, offsets::PAY_OFFSET);
            }
            Ancillary::VlanTagPresent => {
                field(self, offsets::VLAN_PRESENT);
                self.push(jump32(ECond::Eq, A, imm(0), 1));
                self.push(alu32(E::Mov, A, imm(1)));
            }
            Ancillary::AluXorX => self.push(alu32(E::Xor, A, Operand::Reg(X))),
            Ancillary::Cpu => self.call(HELPER_CPU),
            Ancillary::Random => self.call(HELPER_PRANDOM),
            Ancillary::NlAttr | Ancillary::NlAttrNest => {
                self.push(alu32(E::Mov, Reg::R1, Operand::Reg(A)));
                self.push(alu32(E::Mov, Reg::R2, Operand::Reg(X)));
                let id = if a == Ancillary::NlAttr {
                    HELPER_NLATTR
                } else {
                    HELPER_NLATTR_NEST
                };
                self.call(id);
            }
        }
    }

    fn len(&mut self, dst: Reg) {
        match self.flavor {
            Flavor::Socket => self.push(ldxw(dst, CTX, offsets::LEN)),
            Flavor::Seccomp => self.push(alu32(E::Mov, dst, imm(64))),
        }
    }

    fn jump_to(&mut self, target: usize, pc: usize) {
        self.fixups
            .push((self.insns.len(), Target::Classic(target), pc));
        self.push(Insn::Ja {
            off: 0,
            long: false,
        });
    }

    fn translate(&mut self, pc: usize, instr: Instr) {
        match instr {
            Instr::Ld(LdSrc::Abs(size, k)) => match self.flavor {
                Flavor::Socket => self.load_abs(size, AbsTarget::of_abs(k)),
                // The seccomp checker allows only aligned W loads inside the data.
                Flavor::Seccomp => self.push(ldxw(A, CTX, (k & 0x3c) as i16)),
            },
            Instr::Ld(LdSrc::Ind(size, k)) => self.load_ind(size, k),
            Instr::Ld(LdSrc::Mem(k)) => self.push(ldxw(A, Reg::FP, scratch(k))),
            Instr::Ld(LdSrc::Len) => self.len(A),
            Instr::Ld(LdSrc::Imm(k)) => self.push(alu32(E::Mov, A, imm(k))),
            Instr::Ldx(LdxSrc::Imm(k)) => self.push(alu32(E::Mov, X, imm(k))),
            Instr::Ldx(LdxSrc::Mem(k)) => self.push(ldxw(X, Reg::FP, scratch(k))),
            Instr::Ldx(LdxSrc::Len) => self.len(X),
            Instr::Ldx(LdxSrc::Msh(k)) => {
                self.push(alu32(E::Mov, SAVE, Operand::Reg(A)));
                self.load_abs(Size::B, AbsTarget::of_negative(k as i32));
                self.push(alu32(E::And, A, imm(0xf)));
                self.push(alu32(E::Lsh, A, imm(2)));
                self.push(alu32(E::Mov, X, Operand::Reg(A)));
                self.push(alu32(E::Mov, A, Operand::Reg(SAVE)));
            }
            Instr::St(k) | Instr::Stx(k) => self.push(Insn::Store {
                size: ESize::W,
                dst: Reg::FP,
                off: scratch(k),
                src: Operand::Reg(if matches!(instr, Instr::St(_)) { A } else { X }),
            }),
            Instr::Alu(op, src) => {
                let operand = match src {
                    Src::K(k) => imm(k),
                    Src::X => Operand::Reg(X),
                };
                if matches!((op, src), (AluOp::Div | AluOp::Mod, Src::X)) {
                    // Division by X = 0 ends the program with 0.
                    self.push(jump32(ECond::Ne, X, imm(0), 2));
                    self.return_zero();
                }
                self.push(alu32(alu_op(op), A, operand));
            }
            Instr::Neg => self.push(Insn::Neg {
                width: Width::W32,
                dst: A,
            }),
            Instr::Ja(0) => {}
            Instr::Ja(k) => self.jump_to(pc + 1 + k as usize, pc),
            Instr::Jump { cond, src, jt, jf } => {
                let operand = match src {
                    Src::K(k) => imm(k),
                    Src::X => Operand::Reg(X),
                };
                let (t, f) = (pc + 1 + jt as usize, pc + 1 + jf as usize);
                if t != f {
                    self.fixups.push((self.insns.len(), Target::Classic(t), pc));
                    self.push(jump32(cond_op(cond), A, operand, 0));
                }
                if f != pc + 1 {
                    self.jump_to(f, pc);
                }
            }
            Instr::Ret(RetVal::K(k)) => {
                self.push(alu32(E::Mov, A, imm(k)));
                self.push(Insn::Exit);
            }
            Instr::Ret(RetVal::A) => self.push(Insn::Exit),
            Instr::Tax => self.push(alu32(E::Mov, X, Operand::Reg(A))),
            Instr::Txa => self.push(alu32(E::Mov, A, Operand::Reg(X))),
        }
    }
}

fn be16(dst: Reg) -> Insn {
    Insn::Endian {
        order: ByteOrder::ToBe,
        width: SwapWidth::B16,
        dst,
    }
}

fn alu_op(op: AluOp) -> E {
    match op {
        AluOp::Add => E::Add,
        AluOp::Sub => E::Sub,
        AluOp::Mul => E::Mul,
        AluOp::Div => E::Div,
        AluOp::Or => E::Or,
        AluOp::And => E::And,
        AluOp::Lsh => E::Lsh,
        AluOp::Rsh => E::Rsh,
        AluOp::Mod => E::Mod,
        AluOp::Xor => E::Xor,
    }
}

fn cond_op(c: Cond) -> ECond {
    match c {
        Cond::Eq => ECond::Eq,
        Cond::Gt => ECond::Gt,
        Cond::Ge => ECond::Ge,
        Cond::Set => ECond::Set,
    }
}

/// Translates checked classic instructions (from [`crate::check`]).
pub fn translate(instrs: &[Instr], flavor: Flavor) -> Result<Translation, TranslateError> {
    let mut b = Builder {
        insns: Vec::with_capacity(instrs.len() * 2 + 3),
        fixups: Vec::new(),
        helpers: Vec::new(),
        reads_payload_offset: false,
        flavor,
    };
    b.push(Insn::Alu {
        width: Width::W64,
        op: E::Mov,
        dst: CTX,
        src: Operand::Reg(Reg::R1),
    });
    b.push(alu32(E::Mov, A, imm(0)));
    b.push(alu32(E::Mov, X, imm(0)));
    let mut starts = Vec::with_capacity(instrs.len());
    for (pc, instr) in instrs.iter().enumerate() {
        starts.push(b.insns.len());
        b.translate(pc, *instr);
    }
    for &(at, Target::Classic(target), pc) in &b.fixups {
        let Some(&dest) = starts.get(target) else {
            return Err(TranslateError::JumpTooFar { index: pc });
        };
        let off = dest as i64 - (at as i64 + 1);
        match &mut b.insns[at] {
            Insn::Ja { off: o, long } => {
                *o = off as i32;
                *long = i16::try_from(off).is_err();
            }
            Insn::Jump { off: o, .. } => {
                *o = i16::try_from(off).map_err(|_| TranslateError::JumpTooFar { index: pc })?;
            }
            _ => return Err(TranslateError::JumpTooFar { index: pc }),
        }
    }
    let program = Program::new(b.insns)?;
    Ok(Translation {
        program,
        starts,
        helpers: b.helpers,
        reads_payload_offset: b.reads_payload_offset,
    })
}
