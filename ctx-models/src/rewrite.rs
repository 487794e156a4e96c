//! The load-time pass that does what the kernel's `convert_ctx_accesses` does: find
//! every load and store whose base register holds the context pointer, check it against
//! the type's rules ([`crate::access`]) and rewrite it, one slot for one slot, onto the
//! backing model ([`crate::layout`]). Pcs never move, so traps and errors name the pcs
//! of the program as written.
//!
//! Which registers hold the context comes from a small forward dataflow over the
//! program's instructions: r1 at entry is the context; register moves, 8-byte stack
//! spills and fills (through r10) and bpf-to-bpf call arguments carry it; anything else
//! makes the register "not the context". Adding a constant makes it a *modified*
//! context pointer, which the kernel refuses to dereference; a register that is the
//! context on one path and something else on another may not be dereferenced either.
//! The pass also refuses what the kernel refuses around the context: atomics on it,
//! legacy packet loads outside the types that have them or without the context in r6.

use ebpfvm_isa::{AluOp, CallTarget, Cond, Insn, LoadError, Operand, Program, Reg, Size, Width};

use crate::access::{self, AccessError, AccessKind, Conversion};
use crate::regs::Arch;
use crate::sock::{self, SockPtr};
use crate::{helpers, AttachType, ProgramType};

/// What a register or stack slot holds, as far as the context is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    /// Anything but the context.
    Other,
    /// The context pointer, unmodified.
    Ctx,
    /// The context pointer plus a constant.
    CtxOff(i64),
    /// The context on some paths, something else on others.
    Mixed,
    /// A socket pointer read from the context.
    Sock(SockPtr),
}

impl Val {
    fn join(self, other: Val) -> Val {
        if self == other {
            self
        } else {
            Val::Mixed
        }
    }
}

/// Stack slots of one frame tracked for spills (512 bytes / 8).
const SLOTS: usize = 64;

#[derive(Clone, PartialEq, Eq)]
struct State {
    regs: [Val; 11],
    stack: [Val; SLOTS],
}

impl State {
    fn entry(r1: Val) -> State {
        let mut regs = [Val::Other; 11];
        regs[1] = r1;
        State {
            regs,
            stack: [Val::Other; SLOTS],
        }
    }

    /// Joins `other` into `self`; whether `self` changed.
    fn join(&mut self, other: &State) -> bool {
        let before = self.clone();
        for (a, b) in self.regs.iter_mut().zip(other.regs) {
            *a = a.join(b);
        }
        for (a, b) in self.stack.iter_mut().zip(other.stack) {
            *a = a.join(b);
        }
        *self != before
    }

    fn reg(&self, r: Reg) -> Val {
        self.regs[r.index()]
    }

    fn set(&mut self, r: Reg, v: Val) {
        self.regs[r.index()] = v;
    }

    /// The slot an access at `r10 + off` of `size` bytes touches, if it is one whole
    /// aligned 8-byte slot (`Ok`), or the slots it overlaps (`Err`).
    fn slot(off: i16, size: u32) -> Result<usize, std::ops::Range<usize>> {
        let start = off as i64 + 512;
        let end = start + size as i64;
        if start < 0 || end > 512 {
            return Err(0..0);
        }
        if size == 8 && start % 8 == 0 {
            Ok(start as usize / 8)
        } else {
            Err(start as usize / 8..(end as usize).div_ceil(8))
        }
    }

    fn clobber_stack(&mut self, off: i16, size: u32) {
        match State::slot(off, size) {
            Ok(i) => self.stack[i] = Val::Other,
            Err(range) => self.stack[range].fill(Val::Other),
        }
    }
}

/// A refusal, with the pc, in the kernel verifier's words where it has some.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pc {pc}: {message}")]
pub struct RewriteError {
    /// The instruction refused.
    pub pc: usize,
    /// Why.
    pub message: String,
    /// Whether the kernel would accept it (only this model cannot run it yet).
    pub unsupported: bool,
}

fn refuse(pc: usize, message: impl Into<String>) -> RewriteError {
    RewriteError {
        pc,
        message: message.into(),
        unsupported: false,
    }
}

/// Types whose programs may use legacy packet loads (the kernel's `may_access_skb`).
fn has_legacy_loads(ty: ProgramType) -> bool {
    matches!(
        ty,
        ProgramType::SocketFilter | ProgramType::SchedCls | ProgramType::SchedAct
    )
}

/// Checks and rewrites `program`'s context accesses for program type `ty` (at its
/// default attach point).
pub fn rewrite(program: &Program, ty: ProgramType) -> Result<Program, RewriteError> {
    rewrite_with(program, ty, None, Arch::default())
}

/// [`rewrite`] for a program attached at `at` (`None`: the type's default).
pub fn rewrite_at(
    program: &Program,
    ty: ProgramType,
    at: Option<AttachType>,
) -> Result<Program, RewriteError> {
    rewrite_with(program, ty, at, Arch::default())
}

/// [`rewrite`] with the access rules of a kernel built for `arch` (kprobes' `pt_regs`).
pub fn rewrite_for(
    program: &Program,
    ty: ProgramType,
    arch: Arch,
) -> Result<Program, RewriteError> {
    rewrite_with(program, ty, None, arch)
}

/// The one rewrite entry point: `program` of type `ty` attached at `at` (`None`: the
/// type's default) on a kernel built for `arch`, the rules of [`access::check_with`].
pub fn rewrite_with(
    program: &Program,
    ty: ProgramType,
    at: Option<AttachType>,
    arch: Arch,
) -> Result<Program, RewriteError> {
    let insns = program.insns();
    let states = analyse(insns, &|off| sock::socket_field(ty, off));
    let mut out = insns.to_vec();
    for (pc, insn) in insns.iter().enumerate() {
        let Some(state) = &states[pc] else { continue };
        let (base, off, size, kind) = match *insn {
            Insn::Load {
                size,
                sign_extend,
                src,
                off,
                ..
            } => (src, off, size, AccessKind::Read { sign_extend }),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                let kind = match src {
                    Operand::Reg(_) => AccessKind::WriteReg,
                    Operand::Imm(imm) => AccessKind::WriteImm(imm),
                };
                (dst, off, size, kind)
            }
            Insn::Atomic { dst, .. } => {
                let what = match state.reg(dst) {
                    Val::Ctx | Val::CtxOff(_) => "ctx",
                    Val::Sock(p) => p.name(),
                    _ => continue,
                };
                return Err(refuse(
                    pc,
                    format!(
                        "BPF_ATOMIC stores into R{} {what} is not allowed",
                        dst.number()
                    ),
                ));
            }
            Insn::Call(CallTarget::Helper(id)) => {
                check_helper(pc, ty, at.or(AttachType::default_for(ty)), id)?;
                continue;
            }
            Insn::LegacyLoad { .. } => {
                if !has_legacy_loads(ty) {
                    return Err(refuse(
                        pc,
                        "BPF_LD_[ABS|IND] instructions not allowed for this program type",
                    ));
                }
                if state.reg(Reg::R6) != Val::Ctx {
                    return Err(refuse(
                        pc,
                        "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
                    ));
                }
                continue;
            }
            _ => continue,
        };
        match state.reg(base) {
            Val::Other => continue,
            Val::Sock(ptr) => {
                let bytes = size.bytes();
                sock::deref(ptr, base.number(), off as i64, bytes, kind)
                    .map_err(|message| refuse(pc, message))?;
                // `rx_queue_mapping` with no queue recorded reads as the field's bytes
                // (0xffffffff, 0xffff for the low half), zero-extended, on the kernel
                // the tests run against (6.18.44-fc). An earlier machine's kernel gave
                // -1 in all 64 bits, which a sign-extending load reproduced; the
                // cross-check (`tests/socket_helpers_kernel.rs`) follows the kernel at
                // hand.
                continue;
            }
            Val::Mixed => {
                return Err(refuse(
                    pc,
                    "same insn cannot be used with different pointers",
                ))
            }
            Val::CtxOff(delta) => {
                return Err(refuse(
                    pc,
                    format!(
                        "dereference of modified ctx ptr R{} off={delta} disallowed",
                        base.number()
                    ),
                ))
            }
            Val::Ctx => {}
        }
        let conversion =
            access::check_with(ty, at, arch, off as i64, size.bytes(), kind).map_err(|e| {
                RewriteError {
                    pc,
                    message: e.to_string(),
                    unsupported: matches!(e, AccessError::Unsupported(_)),
                }
            })?;
        out[pc] = convert(*insn, conversion);
    }
    Program::new(out).map_err(|e: LoadError| refuse(e.pc, e.to_string()))
}

/// Refuses calls to helpers the type may not call, in the kernel's words.
fn check_helper(
    pc: usize,
    ty: ProgramType,
    at: Option<AttachType>,
    id: i32,
) -> Result<(), RewriteError> {
    let name = u32::try_from(id).ok().and_then(|id| {
        let name = helpers::NAMES.get(id as usize)?;
        Some((id, name))
    });
    match name {
        None => Err(refuse(pc, format!("invalid func unknown#{id}"))),
        Some((id, name)) if helpers::allowed_at(ty, at, id) == Some(false) => Err(refuse(
            pc,
            format!("program of this type cannot use helper bpf_{name}#{id}"),
        )),
        Some(_) => Ok(()),
    }
}

/// One past the last context byte `program` reads or writes through the context
/// pointer (the kernel's `max_ctx_offset`, which a raw tracepoint's test-run context
/// must cover).
pub fn context_extent(program: &Program) -> usize {
    let insns = program.insns();
    let states = analyse(insns, &|_| None);
    let mut extent = 0i64;
    for (insn, state) in insns.iter().zip(&states) {
        let Some(state) = state else { continue };
        let (base, off, size) = match *insn {
            Insn::Load { src, off, size, .. } => (src, off, size),
            Insn::Store { dst, off, size, .. } => (dst, off, size),
            _ => continue,
        };
        if state.reg(base) == Val::Ctx {
            extent = extent.max(off as i64 + size.bytes() as i64);
        }
    }
    extent as usize
}

fn convert(insn: Insn, conversion: Conversion) -> Insn {
    match (insn, conversion) {
        (Insn::Load { dst, src, .. }, Conversion::Pointer { slot }) => Insn::Load {
            size: Size::DW,
            sign_extend: false,
            dst,
            src,
            off: slot as i16,
        },
        (Insn::Store { dst, off, src, .. }, Conversion::Store16) => Insn::Store {
            size: Size::H,
            dst,
            off,
            src,
        },
        (
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                ..
            },
            Conversion::AtField { off },
        ) => Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off: off as i16,
        },
        (_, Conversion::Nop) => Insn::Ja {
            off: 0,
            long: false,
        },
        (insn, _) => insn,
    }
}

/// Which context reads give socket pointers (offset -> pointer), for [`analyse`].
type SockFields<'a> = &'a dyn Fn(i64) -> Option<SockPtr>;

/// The state before each reachable instruction (`None`: unreachable).
fn analyse(insns: &[Insn], sock_fields: SockFields<'_>) -> Vec<Option<State>> {
    let mut states: Vec<Option<State>> = vec![None; insns.len()];
    let mut work = Vec::new();
    if !insns.is_empty() {
        states[0] = Some(State::entry(Val::Ctx));
        work.push(0);
    }
    while let Some(pc) = work.pop() {
        let Some(state) = states[pc].clone() else {
            continue;
        };
        for (next, out) in step(insns, pc, state, sock_fields) {
            if next >= insns.len() {
                continue;
            }
            let changed = match &mut states[next] {
                Some(s) => s.join(&out),
                slot @ None => {
                    *slot = Some(out);
                    true
                }
            };
            if changed {
                work.push(next);
            }
        }
    }
    states
}

/// The successors of `pc` with the state each receives.
fn step(
    insns: &[Insn],
    pc: usize,
    mut s: State,
    sock_fields: SockFields<'_>,
) -> Vec<(usize, State)> {
    let next = pc + insns[pc].slots();
    match insns[pc] {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let v = match (width, op, src, s.reg(dst)) {
                (Width::W64, AluOp::Mov, Operand::Reg(r), _) => s.reg(r),
                (Width::W64, AluOp::Add, Operand::Imm(k), Val::Ctx) => Val::CtxOff(k as i64),
                (Width::W64, AluOp::Add, Operand::Imm(k), Val::CtxOff(d)) => ctx_plus(d + k as i64),
                (Width::W64, AluOp::Sub, Operand::Imm(k), Val::Ctx) => ctx_plus(-(k as i64)),
                (Width::W64, AluOp::Sub, Operand::Imm(k), Val::CtxOff(d)) => ctx_plus(d - k as i64),
                _ => Val::Other,
            };
            s.set(dst, v);
            vec![(next, s)]
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } | Insn::LoadImm64 { dst, .. } => {
            s.set(dst, Val::Other);
            vec![(next, s)]
        }
        Insn::Load {
            size,
            dst,
            src,
            off,
            ..
        } => {
            let v = match (src == Reg::FP, State::slot(off, size.bytes())) {
                (true, Ok(i)) => s.stack[i],
                _ if s.reg(src) == Val::Ctx && size == Size::DW => {
                    sock_fields(off as i64).map_or(Val::Other, Val::Sock)
                }
                _ => Val::Other,
            };
            s.set(dst, v);
            vec![(next, s)]
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            if dst == Reg::FP {
                match (State::slot(off, size.bytes()), src) {
                    (Ok(i), Operand::Reg(r)) => s.stack[i] = s.reg(r),
                    _ => s.clobber_stack(off, size.bytes()),
                }
            }
            vec![(next, s)]
        }
        Insn::Atomic {
            width,
            op,
            dst,
            src,
            off,
        } => {
            if dst == Reg::FP {
                s.clobber_stack(off, if width == Width::W64 { 8 } else { 4 });
            }
            if op.fetches() {
                s.set(src, Val::Other);
            }
            // cmpxchg writes r0.
            s.set(Reg::R0, Val::Other);
            vec![(next, s)]
        }
        Insn::LegacyLoad { .. } => {
            clobber_call(&mut s);
            vec![(next, s)]
        }
        Insn::Ja { off, .. } => vec![((next as i64 + off as i64) as usize, s)],
        Insn::Jump {
            off,
            cond,
            dst,
            src,
            width,
        } => {
            let mut taken = s.clone();
            // A socket pointer compared with NULL is not NULL on one branch (and a
            // scalar 0 on the other), as the verifier learns.
            if let (Val::Sock(p), Operand::Imm(0), Width::W64) = (s.reg(dst), src, width) {
                let (null, other) = match cond {
                    Cond::Eq => (&mut taken, &mut s),
                    Cond::Ne => (&mut s, &mut taken),
                    _ => return vec![((next as i64 + off as i64) as usize, taken), (next, s)],
                };
                null.set(dst, Val::Other);
                other.set(dst, Val::Sock(p.checked()));
            }
            vec![((next as i64 + off as i64) as usize, taken), (next, s)]
        }
        Insn::Call(CallTarget::Local(off)) => {
            // The callee starts with the arguments r1-r5 and a fresh frame; the caller
            // resumes with r6-r9 and its frame kept.
            let mut callee = State::entry(Val::Other);
            callee.regs[1..=5].copy_from_slice(&s.regs[1..=5]);
            clobber_call(&mut s);
            vec![((next as i64 + off as i64) as usize, callee), (next, s)]
        }
        Insn::Call(_) => {
            clobber_call(&mut s);
            vec![(next, s)]
        }
        Insn::Imm64Tail | Insn::Exit => Vec::new(),
    }
}

fn ctx_plus(delta: i64) -> Val {
    if delta == 0 {
        Val::Ctx
    } else {
        Val::CtxOff(delta)
    }
}

/// After a call, r0 is the result and r1-r5 are dead.
fn clobber_call(s: &mut State) {
    for r in 0..=5 {
        s.regs[r] = Val::Other;
    }
}
