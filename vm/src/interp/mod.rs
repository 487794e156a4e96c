//! The interpreter: a program lowered once into flat `Op`s (see `lower`), then a tight
//! dispatch loop over them. Every memory access goes through the [`MemoryMap`].
//!
//! Semantics shared with the JIT (and pinned by the conformance suite and the
//! differential tests): division by zero gives 0, modulo by zero keeps the dividend,
//! `MIN / -1` gives `MIN` and `MIN % -1` gives 0, shift amounts are masked to the width,
//! 32-bit results are zero-extended, helper calls leave r1-r5 as they were, a
//! bpf-to-bpf call saves r6-r9 and moves r10 down one 512-byte frame, and the budget
//! counts every instruction started (an `lddw` counts once).

mod lower;

use ebpfvm_isa::{AtomicOp, Cond, Program};

use crate::helpers::{HelperContext, HelperError, Helpers};
use crate::maps::{MapError, Maps};
use crate::memory::{MemoryMap, CODE_REGION, FRAME_SIZE, MAX_FRAMES, STACK_TOP};
use crate::trap::{Access, Outcome, Trap, TrapKind};
pub use lower::Unsupported;
use lower::{lower, Op};

/// A program prepared for interpretation. Cheap to run many times; holds no run state.
#[derive(Clone, Debug)]
pub struct Interpreter {
    ops: Vec<Op>,
}

/// What a bpf-to-bpf call (or a `bpf_loop` callback) saves.
#[derive(Clone, Copy)]
struct Frame {
    return_pc: usize,
    saved: [u64; 4],
    /// The program to return into: [`SELF`] or an index of the program table (a tail
    /// call may have replaced the callee with another program).
    prog: usize,
    /// For a `bpf_loop` callback's frame: the loop's state.
    looping: Option<LoopState>,
}

impl Default for Frame {
    fn default() -> Frame {
        Frame {
            return_pc: 0,
            saved: [0; 4],
            prog: SELF,
            looping: None,
        }
    }
}

/// A `bpf_loop` in progress: the callback's pc, the iteration running, the count and
/// the context pointer passed as r2.
#[derive(Clone, Copy)]
struct LoopState {
    callback: usize,
    i: u64,
    count: u64,
    ctx: u64,
}

/// The program index of the interpreter itself (not one of the program table's).
const SELF: usize = usize::MAX;

/// The kernel's limit on tail calls in one run (`MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALLS: u32 = 33;

/// r0 after a failed tail call.
const TAIL_CALL_FAILED: u64 = MapError::NotFound.to_retval();

impl Interpreter {
    /// Lowers `program`; fails on instructions only the kernel can run (map references
    /// without a map table, kfuncs, kernel variable addresses).
    pub fn new(program: &Program) -> Result<Interpreter, Unsupported> {
        Ok(Interpreter {
            ops: lower(program, None)?,
        })
    }

    /// Lowers `program` with the map table its `lddw` map references name: `MapIdx(i)`
    /// and `MapFd(i)` become map `i`'s handle ([`crate::MapId::handle`]), `MapIdxValue`
    /// and `MapValue` the guest address of a byte of a single-element array's value
    /// ([`crate::MapId::value_address`]; run it with `MemoryMap::with_maps` of the
    /// same table).
    pub fn with_maps(program: &Program, maps: &Maps) -> Result<Interpreter, Unsupported> {
        Ok(Interpreter {
            ops: lower(program, Some(maps))?,
        })
    }

    /// Runs the program with r1-r5 = `args` and r10 at the top of the stack in `memory`.
    /// `budget` limits the instructions executed.
    pub fn run(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
    ) -> Outcome {
        self.run_linked(args, memory, helpers, budget, &[])
    }

    /// [`Interpreter::run`] with a program table for tail calls: `bpf_tail_call` to
    /// program id `i` continues in `programs[i]` (see [`HelperError::TailCall`]). A trap's
    /// pc is then a pc of the program running when it happened.
    pub fn run_linked(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
        programs: &[Interpreter],
    ) -> Outcome {
        let mut regs = [0u64; 16];
        regs[1..6].copy_from_slice(&args);
        regs[10] = STACK_TOP;
        let mut insns = 0;
        let result = self.execute(
            &mut regs,
            memory,
            helpers,
            budget.unwrap_or(u64::MAX),
            &mut insns,
            programs,
        );
        Outcome { result, insns }
    }

    /// The ops of program `prog` (`SELF` or an index of `programs`).
    fn ops_of<'p>(&'p self, programs: &'p [Interpreter], prog: usize) -> &'p [Op] {
        programs.get(prog).map_or(&self.ops[..], |p| &p.ops[..])
    }

    #[inline(never)]
    fn execute(
        &self,
        regs: &mut [u64; 16],
        mem: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        limit: u64,
        count: &mut u64,
        programs: &[Interpreter],
    ) -> Result<u64, Trap> {
        let mut ops = &self.ops[..];
        let mut cur = SELF;
        let mut tail_calls = 0u32;
        let mut frames = [Frame::default(); MAX_FRAMES];
        let mut depth = 0usize;
        let mut pc = 0usize;
        let mut n = 0u64;
        macro_rules! reg {
            ($r:expr) => {
                regs[($r & 15) as usize]
            };
        }
        macro_rules! addr {
            ($base:expr, $off:expr) => {
                reg!($base).wrapping_add($off as i64 as u64)
            };
        }
        macro_rules! load {
            ($n:literal, $base:expr, $off:expr) => {{
                let a = addr!($base, $off);
                match mem.load::<$n>(a) {
                    Some(b) => b,
                    None => {
                        *count = n - 1;
                        return Err(fault(mem, pc - 1, a, $n, Access::Read));
                    }
                }
            }};
        }
        macro_rules! store {
            ($n:literal, $base:expr, $off:expr, $bytes:expr) => {{
                let a = addr!($base, $off);
                if !mem.store::<$n>(a, $bytes) {
                    *count = n - 1;
                    return Err(fault(mem, pc - 1, a, $n, Access::Write));
                }
            }};
        }
        macro_rules! jump {
            ($cond:expr, $t:expr) => {
                if $cond {
                    pc = $t as usize;
                }
            };
        }
        // A helper call's result: r0, the end of the program, a tail call or a loop.
        macro_rules! helper {
            ($id:expr) => {{
                *count = n;
                match call_helper($id, regs, mem, helpers, pc - 1, n) {
                    Ok(Control::Return(v)) => regs[0] = v,
                    Ok(Control::Exit) => return Ok(regs[0]),
                    Ok(Control::TailCall(id)) => match programs.get(id as usize) {
                        Some(p) if tail_calls < MAX_TAIL_CALLS => {
                            tail_calls += 1;
                            cur = id as usize;
                            ops = &p.ops[..];
                            pc = 0;
                        }
                        _ => regs[0] = TAIL_CALL_FAILED,
                    },
                    Ok(Control::Loop {
                        callback,
                        ctx,
                        count: iterations,
                    }) => {
                        let t = if callback >> 32 == CODE_REGION {
                            function_at(ops, callback)
                        } else {
                            None
                        };
                        let Some(t) = t else {
                            *count = n - 1;
                            return Err(Trap {
                                pc: pc - 1,
                                kind: TrapKind::BadCallTarget { target: callback },
                            });
                        };
                        if iterations == 0 {
                            regs[0] = 0;
                        } else {
                            if depth + 1 >= MAX_FRAMES {
                                *count = n - 1;
                                return Err(call_depth_trap(pc - 1));
                            }
                            frames[depth] = Frame {
                                return_pc: pc,
                                saved: [regs[6], regs[7], regs[8], regs[9]],
                                prog: cur,
                                looping: Some(LoopState {
                                    callback: t,
                                    i: 0,
                                    count: iterations,
                                    ctx,
                                }),
                            };
                            depth += 1;
                            regs[10] -= FRAME_SIZE as u64;
                            regs[1..6].copy_from_slice(&[0, ctx, 0, 0, 0]);
                            pc = t;
                        }
                    }
                    Err(trap) => {
                        *count = n - 1;
                        return Err(trap);
                    }
                }
            }};
        }
        loop {
            let op = ops[pc];
            if n == limit {
                *count = n;
                return Err(Trap {
                    pc,
                    kind: TrapKind::BudgetExhausted { budget: limit },
                });
            }
            n += 1;
            pc += 1;
            match op {
                Op::Add64I(d, v) => reg!(d) = reg!(d).wrapping_add(v),
                Op::Sub64I(d, v) => reg!(d) = reg!(d).wrapping_sub(v),
                Op::Mul64I(d, v) => reg!(d) = reg!(d).wrapping_mul(v),
                Op::Div64I(d, v) => reg!(d) /= v,
                Op::SDiv64I(d, v) => reg!(d) = (reg!(d) as i64).wrapping_div(v as i64) as u64,
                Op::Mod64I(d, v) => reg!(d) %= v,
                Op::SMod64I(d, v) => reg!(d) = (reg!(d) as i64).wrapping_rem(v as i64) as u64,
                Op::Or64I(d, v) => reg!(d) |= v,
                Op::And64I(d, v) => reg!(d) &= v,
                Op::Xor64I(d, v) => reg!(d) ^= v,
                Op::Mov64I(d, v) => reg!(d) = v,
                Op::Lsh64I(d, s) => reg!(d) <<= s,
                Op::Rsh64I(d, s) => reg!(d) >>= s,
                Op::Arsh64I(d, s) => reg!(d) = ((reg!(d) as i64) >> s) as u64,
                Op::Add64R(d, s) => reg!(d) = reg!(d).wrapping_add(reg!(s)),
                Op::Sub64R(d, s) => reg!(d) = reg!(d).wrapping_sub(reg!(s)),
                Op::Mul64R(d, s) => reg!(d) = reg!(d).wrapping_mul(reg!(s)),
                Op::Div64R(d, s) => reg!(d) = reg!(d).checked_div(reg!(s)).unwrap_or(0),
                Op::SDiv64R(d, s) => {
                    let b = reg!(s) as i64;
                    reg!(d) = if b == 0 {
                        0
                    } else {
                        (reg!(d) as i64).wrapping_div(b) as u64
                    }
                }
                Op::Mod64R(d, s) => {
                    let b = reg!(s);
                    if b != 0 {
                        reg!(d) %= b;
                    }
                }
                Op::SMod64R(d, s) => {
                    let b = reg!(s) as i64;
                    if b != 0 {
                        reg!(d) = (reg!(d) as i64).wrapping_rem(b) as u64;
                    }
                }
                Op::Or64R(d, s) => reg!(d) |= reg!(s),
                Op::And64R(d, s) => reg!(d) &= reg!(s),
                Op::Xor64R(d, s) => reg!(d) ^= reg!(s),
                Op::Mov64R(d, s) => reg!(d) = reg!(s),
                Op::Lsh64R(d, s) => reg!(d) <<= reg!(s) & 63,
                Op::Rsh64R(d, s) => reg!(d) >>= reg!(s) & 63,
                Op::Arsh64R(d, s) => reg!(d) = ((reg!(d) as i64) >> (reg!(s) & 63)) as u64,
                Op::MovSx64R(d, s, k) => reg!(d) = (((reg!(s) << k) as i64) >> k) as u64,
                Op::Neg64(d) => reg!(d) = reg!(d).wrapping_neg(),
                Op::Add32I(d, v) => reg!(d) = (reg!(d) as u32).wrapping_add(v) as u64,
                Op::Sub32I(d, v) => reg!(d) = (reg!(d) as u32).wrapping_sub(v) as u64,
                Op::Mul32I(d, v) => reg!(d) = (reg!(d) as u32).wrapping_mul(v) as u64,
                Op::Div32I(d, v) => reg!(d) = (reg!(d) as u32 / v) as u64,
                Op::SDiv32I(d, v) => {
                    reg!(d) = (reg!(d) as i32).wrapping_div(v as i32) as u32 as u64
                }
                Op::Mod32I(d, v) => reg!(d) = (reg!(d) as u32 % v) as u64,
                Op::SMod32I(d, v) => {
                    reg!(d) = (reg!(d) as i32).wrapping_rem(v as i32) as u32 as u64
                }
                Op::Or32I(d, v) => reg!(d) = (reg!(d) as u32 | v) as u64,
                Op::And32I(d, v) => reg!(d) = (reg!(d) as u32 & v) as u64,
                Op::Xor32I(d, v) => reg!(d) = (reg!(d) as u32 ^ v) as u64,
                Op::Mov32I(d, v) => reg!(d) = v as u64,
                Op::Lsh32I(d, s) => reg!(d) = ((reg!(d) as u32) << s) as u64,
                Op::Rsh32I(d, s) => reg!(d) = ((reg!(d) as u32) >> s) as u64,
                Op::Arsh32I(d, s) => reg!(d) = ((reg!(d) as i32) >> s) as u32 as u64,
                Op::Add32R(d, s) => reg!(d) = (reg!(d) as u32).wrapping_add(reg!(s) as u32) as u64,
                Op::Sub32R(d, s) => reg!(d) = (reg!(d) as u32).wrapping_sub(reg!(s) as u32) as u64,
                Op::Mul32R(d, s) => reg!(d) = (reg!(d) as u32).wrapping_mul(reg!(s) as u32) as u64,
                Op::Div32R(d, s) => {
                    reg!(d) = (reg!(d) as u32).checked_div(reg!(s) as u32).unwrap_or(0) as u64
                }
                Op::SDiv32R(d, s) => {
                    let b = reg!(s) as i32;
                    reg!(d) = if b == 0 {
                        0
                    } else {
                        (reg!(d) as i32).wrapping_div(b) as u32 as u64
                    }
                }
                Op::Mod32R(d, s) => {
                    let (a, b) = (reg!(d) as u32, reg!(s) as u32);
                    reg!(d) = if b == 0 { a } else { a % b } as u64;
                }
                Op::SMod32R(d, s) => {
                    let (a, b) = (reg!(d) as i32, reg!(s) as i32);
                    reg!(d) = if b == 0 { a } else { a.wrapping_rem(b) } as u32 as u64;
                }
                Op::Or32R(d, s) => reg!(d) = (reg!(d) as u32 | reg!(s) as u32) as u64,
                Op::And32R(d, s) => reg!(d) = (reg!(d) as u32 & reg!(s) as u32) as u64,
                Op::Xor32R(d, s) => reg!(d) = (reg!(d) as u32 ^ reg!(s) as u32) as u64,
                Op::Mov32R(d, s) => reg!(d) = reg!(s) as u32 as u64,
                Op::Lsh32R(d, s) => reg!(d) = ((reg!(d) as u32) << (reg!(s) & 31)) as u64,
                Op::Rsh32R(d, s) => reg!(d) = ((reg!(d) as u32) >> (reg!(s) & 31)) as u64,
                Op::Arsh32R(d, s) => reg!(d) = ((reg!(d) as i32) >> (reg!(s) & 31)) as u32 as u64,
                Op::MovSx32R(d, s, k) => {
                    reg!(d) = ((((reg!(s) as u32) << k) as i32) >> k) as u32 as u64
                }
                Op::Neg32(d) => reg!(d) = (reg!(d) as u32).wrapping_neg() as u64,
                Op::Trunc16(d) => reg!(d) = reg!(d) as u16 as u64,
                Op::Trunc32(d) => reg!(d) = reg!(d) as u32 as u64,
                Op::Swap16(d) => reg!(d) = (reg!(d) as u16).swap_bytes() as u64,
                Op::Swap32(d) => reg!(d) = (reg!(d) as u32).swap_bytes() as u64,
                Op::Swap64(d) => reg!(d) = reg!(d).swap_bytes(),
                Op::Nop => {}
                Op::Ldx8(d, s, off) => reg!(d) = load!(1, s, off)[0] as u64,
                Op::Ldx16(d, s, off) => reg!(d) = u16::from_le_bytes(load!(2, s, off)) as u64,
                Op::Ldx32(d, s, off) => reg!(d) = u32::from_le_bytes(load!(4, s, off)) as u64,
                Op::Ldx64(d, s, off) => reg!(d) = u64::from_le_bytes(load!(8, s, off)),
                Op::Ldxs8(d, s, off) => reg!(d) = load!(1, s, off)[0] as i8 as i64 as u64,
                Op::Ldxs16(d, s, off) => {
                    reg!(d) = i16::from_le_bytes(load!(2, s, off)) as i64 as u64
                }
                Op::Ldxs32(d, s, off) => {
                    reg!(d) = i32::from_le_bytes(load!(4, s, off)) as i64 as u64
                }
                Op::Stx8(d, off, s) => store!(1, d, off, [reg!(s) as u8]),
                Op::Stx16(d, off, s) => store!(2, d, off, (reg!(s) as u16).to_le_bytes()),
                Op::Stx32(d, off, s) => store!(4, d, off, (reg!(s) as u32).to_le_bytes()),
                Op::Stx64(d, off, s) => store!(8, d, off, reg!(s).to_le_bytes()),
                Op::St8(d, off, v) => store!(1, d, off, [v as u8]),
                Op::St16(d, off, v) => store!(2, d, off, (v as u16).to_le_bytes()),
                Op::St32(d, off, v) => store!(4, d, off, (v as u32).to_le_bytes()),
                Op::St64(d, off, v) => store!(8, d, off, v.to_le_bytes()),
                Op::Atomic {
                    wide,
                    op,
                    dst,
                    src,
                    off,
                } => {
                    let a = addr!(dst, off);
                    let size = if wide { 8 } else { 4 };
                    if mem.host_ptr(a, size, true).is_none() {
                        *count = n - 1;
                        return Err(fault(mem, pc - 1, a, size as u32, Access::Write));
                    }
                    let (r0, s) = (reg!(0u8), reg!(src));
                    let old = if wide {
                        let old = u64::from_le_bytes(load!(8, dst, off));
                        let new = atomic_value(op, old, s, r0);
                        store!(8, dst, off, new.to_le_bytes());
                        old
                    } else {
                        let old = u32::from_le_bytes(load!(4, dst, off)) as u64;
                        let new = atomic_value(op, old, s as u32 as u64, r0 as u32 as u64);
                        store!(4, dst, off, (new as u32).to_le_bytes());
                        old
                    };
                    // Only the register the operation defines is written, so `src` may
                    // be r0 (e.g. `r0 = cmpxchg(*dst, r0, r0)` leaves the old value in r0).
                    match op {
                        AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => {}
                        AtomicOp::CmpXchg => reg!(0u8) = old,
                        _ => reg!(src) = old,
                    }
                }
                Op::LdImm(d, v) => {
                    reg!(d) = v;
                    // Skip the second slot of the lddw.
                    pc += 1;
                }
                Op::Legacy { size, base, imm } => {
                    let offset = reg!(base).wrapping_add(imm as i64 as u64) as u32 as i32;
                    match legacy_load(mem.packet(), offset, size) {
                        Some(v) => reg!(0u8) = v,
                        // Out of range ends the program with 0, as in the kernel.
                        None => {
                            *count = n;
                            return Ok(0);
                        }
                    }
                }
                Op::Ja(t) => pc = t as usize,
                Op::JEq64I(d, v, t) => jump!(Cond::Eq.holds64(reg!(d), v), t),
                Op::JEq64R(d, s, t) => jump!(Cond::Eq.holds64(reg!(d), reg!(s)), t),
                Op::JEq32I(d, v, t) => jump!(Cond::Eq.holds32(reg!(d) as u32, v), t),
                Op::JEq32R(d, s, t) => jump!(compare32r(Cond::Eq, reg!(d), reg!(s)), t),
                Op::JGt64I(d, v, t) => jump!(Cond::Gt.holds64(reg!(d), v), t),
                Op::JGt64R(d, s, t) => jump!(Cond::Gt.holds64(reg!(d), reg!(s)), t),
                Op::JGt32I(d, v, t) => jump!(Cond::Gt.holds32(reg!(d) as u32, v), t),
                Op::JGt32R(d, s, t) => jump!(compare32r(Cond::Gt, reg!(d), reg!(s)), t),
                Op::JGe64I(d, v, t) => jump!(Cond::Ge.holds64(reg!(d), v), t),
                Op::JGe64R(d, s, t) => jump!(Cond::Ge.holds64(reg!(d), reg!(s)), t),
                Op::JGe32I(d, v, t) => jump!(Cond::Ge.holds32(reg!(d) as u32, v), t),
                Op::JGe32R(d, s, t) => jump!(compare32r(Cond::Ge, reg!(d), reg!(s)), t),
                Op::JSet64I(d, v, t) => jump!(Cond::Set.holds64(reg!(d), v), t),
                Op::JSet64R(d, s, t) => jump!(Cond::Set.holds64(reg!(d), reg!(s)), t),
                Op::JSet32I(d, v, t) => jump!(Cond::Set.holds32(reg!(d) as u32, v), t),
                Op::JSet32R(d, s, t) => jump!(compare32r(Cond::Set, reg!(d), reg!(s)), t),
                Op::JNe64I(d, v, t) => jump!(Cond::Ne.holds64(reg!(d), v), t),
                Op::JNe64R(d, s, t) => jump!(Cond::Ne.holds64(reg!(d), reg!(s)), t),
                Op::JNe32I(d, v, t) => jump!(Cond::Ne.holds32(reg!(d) as u32, v), t),
                Op::JNe32R(d, s, t) => jump!(compare32r(Cond::Ne, reg!(d), reg!(s)), t),
                Op::JSgt64I(d, v, t) => jump!(Cond::Sgt.holds64(reg!(d), v), t),
                Op::JSgt64R(d, s, t) => jump!(Cond::Sgt.holds64(reg!(d), reg!(s)), t),
                Op::JSgt32I(d, v, t) => jump!(Cond::Sgt.holds32(reg!(d) as u32, v), t),
                Op::JSgt32R(d, s, t) => jump!(compare32r(Cond::Sgt, reg!(d), reg!(s)), t),
                Op::JSge64I(d, v, t) => jump!(Cond::Sge.holds64(reg!(d), v), t),
                Op::JSge64R(d, s, t) => jump!(Cond::Sge.holds64(reg!(d), reg!(s)), t),
                Op::JSge32I(d, v, t) => jump!(Cond::Sge.holds32(reg!(d) as u32, v), t),
                Op::JSge32R(d, s, t) => jump!(compare32r(Cond::Sge, reg!(d), reg!(s)), t),
                Op::JLt64I(d, v, t) => jump!(Cond::Lt.holds64(reg!(d), v), t),
                Op::JLt64R(d, s, t) => jump!(Cond::Lt.holds64(reg!(d), reg!(s)), t),
                Op::JLt32I(d, v, t) => jump!(Cond::Lt.holds32(reg!(d) as u32, v), t),
                Op::JLt32R(d, s, t) => jump!(compare32r(Cond::Lt, reg!(d), reg!(s)), t),
                Op::JLe64I(d, v, t) => jump!(Cond::Le.holds64(reg!(d), v), t),
                Op::JLe64R(d, s, t) => jump!(Cond::Le.holds64(reg!(d), reg!(s)), t),
                Op::JLe32I(d, v, t) => jump!(Cond::Le.holds32(reg!(d) as u32, v), t),
                Op::JLe32R(d, s, t) => jump!(compare32r(Cond::Le, reg!(d), reg!(s)), t),
                Op::JSlt64I(d, v, t) => jump!(Cond::Slt.holds64(reg!(d), v), t),
                Op::JSlt64R(d, s, t) => jump!(Cond::Slt.holds64(reg!(d), reg!(s)), t),
                Op::JSlt32I(d, v, t) => jump!(Cond::Slt.holds32(reg!(d) as u32, v), t),
                Op::JSlt32R(d, s, t) => jump!(compare32r(Cond::Slt, reg!(d), reg!(s)), t),
                Op::JSle64I(d, v, t) => jump!(Cond::Sle.holds64(reg!(d), v), t),
                Op::JSle64R(d, s, t) => jump!(Cond::Sle.holds64(reg!(d), reg!(s)), t),
                Op::JSle32I(d, v, t) => jump!(Cond::Sle.holds32(reg!(d) as u32, v), t),
                Op::JSle32R(d, s, t) => jump!(compare32r(Cond::Sle, reg!(d), reg!(s)), t),
                Op::CallHelper(id) => helper!(id as u64),
                Op::CallLocal(t) => {
                    if depth + 1 >= MAX_FRAMES {
                        *count = n - 1;
                        return Err(call_depth_trap(pc - 1));
                    }
                    frames[depth] = Frame {
                        return_pc: pc,
                        saved: [regs[6], regs[7], regs[8], regs[9]],
                        prog: cur,
                        looping: None,
                    };
                    depth += 1;
                    regs[10] -= FRAME_SIZE as u64;
                    pc = t as usize;
                }
                Op::CallReg(r) => {
                    let target = reg!(r);
                    if target >> 32 != 0 {
                        // Not a helper id: it must be a function's code address.
                        let t = if target >> 32 == CODE_REGION {
                            function_at(ops, target)
                        } else {
                            None
                        };
                        let Some(t) = t else {
                            *count = n - 1;
                            return Err(Trap {
                                pc: pc - 1,
                                kind: TrapKind::BadCallTarget { target },
                            });
                        };
                        if depth + 1 >= MAX_FRAMES {
                            *count = n - 1;
                            return Err(call_depth_trap(pc - 1));
                        }
                        frames[depth] = Frame {
                            return_pc: pc,
                            saved: [regs[6], regs[7], regs[8], regs[9]],
                            prog: cur,
                            looping: None,
                        };
                        depth += 1;
                        regs[10] -= FRAME_SIZE as u64;
                        pc = t;
                    } else {
                        helper!(target)
                    }
                }
                Op::Exit => {
                    if depth == 0 {
                        *count = n;
                        return Ok(regs[0]);
                    }
                    let frame = &mut frames[depth - 1];
                    if let Some(l) = &mut frame.looping {
                        // A bpf_loop callback returned: call it again or end the loop.
                        let done = l.i + 1;
                        if regs[0] == 0 && done < l.count {
                            l.i = done;
                            regs[1..6].copy_from_slice(&[done, l.ctx, 0, 0, 0]);
                            regs[6..10].copy_from_slice(&frame.saved);
                            pc = l.callback;
                            if frame.prog != cur {
                                cur = frame.prog;
                                ops = self.ops_of(programs, cur);
                            }
                            continue;
                        }
                        regs[0] = if regs[0] != 0 { done } else { l.count };
                    }
                    depth -= 1;
                    let frame = frames[depth];
                    regs[6..10].copy_from_slice(&frame.saved);
                    regs[10] += FRAME_SIZE as u64;
                    pc = frame.return_pc;
                    if frame.prog != cur {
                        cur = frame.prog;
                        ops = self.ops_of(programs, cur);
                    }
                }
                Op::Unreachable => {
                    // Program validation refuses every path into an lddw's second slot.
                    unreachable!("pc {} is the second slot of an lddw", pc - 1)
                }
            }
        }
    }
}

/// `Cond::holds32` on the low halves of two registers. Each jump variant passes a
/// constant condition, so the `match` inside folds away.
#[inline(always)]
fn compare32r(c: Cond, a: u64, b: u64) -> bool {
    c.holds32(a as u32, b as u32)
}

/// The value an atomic operation leaves in memory (operands already truncated for
/// 32-bit operations; the caller truncates the result).
fn atomic_value(op: AtomicOp, old: u64, src: u64, r0: u64) -> u64 {
    match op {
        AtomicOp::Add | AtomicOp::FetchAdd => old.wrapping_add(src),
        AtomicOp::Or | AtomicOp::FetchOr => old | src,
        AtomicOp::And | AtomicOp::FetchAnd => old & src,
        AtomicOp::Xor | AtomicOp::FetchXor => old ^ src,
        AtomicOp::Xchg => src,
        AtomicOp::CmpXchg => {
            if old == r0 {
                src
            } else {
                old
            }
        }
    }
}

/// A big-endian packet load for `LD_ABS`/`LD_IND`; `None` when out of range.
fn legacy_load(packet: &[u8], offset: i32, size: u8) -> Option<u64> {
    let start = usize::try_from(offset).ok()?;
    let bytes = packet.get(start..start.checked_add(size as usize)?)?;
    Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

/// The slot a code address names, when it is the start of an instruction.
fn function_at(ops: &[Op], target: u64) -> Option<usize> {
    let offset = target & 0xffff_ffff;
    if offset % 8 != 0 {
        return None;
    }
    let pc = (offset / 8) as usize;
    match ops.get(pc)? {
        Op::Unreachable => None,
        _ => Some(pc),
    }
}

fn call_depth_trap(pc: usize) -> Trap {
    Trap {
        pc,
        kind: TrapKind::CallDepthExceeded {
            max_frames: MAX_FRAMES,
        },
    }
}

#[cold]
fn fault(mem: &MemoryMap<'_>, pc: usize, addr: u64, size: u32, access: Access) -> Trap {
    Trap {
        pc,
        kind: TrapKind::OutOfBounds {
            addr,
            size,
            access,
            region: mem.region_kind(addr),
        },
    }
}

/// What the loop does after a helper call.
enum Control {
    /// Go on with r0 = the value.
    Return(u64),
    /// The helper ended the program (r0 already set).
    Exit,
    /// `bpf_tail_call` to this program id.
    TailCall(u32),
    /// `bpf_loop`.
    Loop { callback: u64, ctx: u64, count: u64 },
}

/// Calls helper `id`; `Err` on a fault.
#[inline(never)]
fn call_helper(
    id: u64,
    regs: &mut [u64; 16],
    mem: &mut MemoryMap<'_>,
    helpers: &mut Helpers,
    pc: usize,
    insns: u64,
) -> Result<Control, Trap> {
    let trap = |kind| Err(Trap { pc, kind });
    let Some(helper) = helpers.get_mut(id) else {
        return trap(TrapKind::UnknownHelper { id });
    };
    let args = [regs[1], regs[2], regs[3], regs[4], regs[5]];
    let mut ctx = HelperContext::new(mem, pc, insns);
    match helper(&mut ctx, args) {
        Ok(v) => Ok(Control::Return(v)),
        Err(HelperError::Exit(v)) => {
            regs[0] = v;
            Ok(Control::Exit)
        }
        Err(HelperError::TailCall(id)) => Ok(Control::TailCall(id)),
        Err(HelperError::Loop {
            callback,
            ctx,
            count,
        }) => Ok(Control::Loop {
            callback,
            ctx,
            count,
        }),
        Err(HelperError::OutOfBounds { addr, size, access }) => trap(TrapKind::OutOfBounds {
            addr,
            size: u32::try_from(size).unwrap_or(u32::MAX),
            access,
            region: mem.region_kind(addr),
        }),
        Err(HelperError::Fault(message)) => trap(TrapKind::HelperFault {
            id: id as u32,
            message,
        }),
    }
}
