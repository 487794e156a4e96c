//! A Cranelift JIT for ebpfvm: native code with the interpreter's exact semantics.
//!
//! [`JitProgram::compile`] translates a validated [`Program`] into one native function;
//! [`JitProgram::run`] has the interpreter's signature and gives the same [`Outcome`]
//! (return value, trap kind and pc, instruction count) and leaves memory the same, for
//! every program and budget. Every load and store is checked against the same region
//! table as the interpreter, inline (`bounds.rs`); a failed check returns from the
//! compiled code (no signal handlers, no native traps), so the JIT is safe to embed in
//! any host process.
//!
//! ```
//! use ebpfvm_isa::{Features, Program};
//! use ebpfvm_jit::JitProgram;
//! use ebpfvm_vm::{Helpers, MemoryMap, RegionKind, Stack};
//!
//! // r0 = *(u8 *)(r1 + 1) + helper 7's result
//! let bytes = [
//!     0x71, 0x10, 1, 0, 0, 0, 0, 0, // ldxb r0, [r1+1]
//!     0xbf, 0x06, 0, 0, 0, 0, 0, 0, // mov r6, r0
//!     0x85, 0x00, 0, 0, 7, 0, 0, 0, // call 7
//!     0x0f, 0x60, 0, 0, 0, 0, 0, 0, // add r0, r6
//!     0x95, 0x00, 0, 0, 0, 0, 0, 0, // exit
//! ];
//! let program = Program::from_bytes(&bytes, &Features::default()).unwrap();
//! let jit = JitProgram::compile(&program).unwrap();
//! let mut helpers = Helpers::new();
//! helpers.register(7, |_ctx, _args| Ok(100));
//!
//! let mut stack = Stack::new();
//! let mut data = [5u8, 6, 7];
//! let mut memory = MemoryMap::new(&mut stack);
//! let addr = memory.map_mut(RegionKind::Memory, &mut data).unwrap();
//! let outcome = jit.run([addr, 3, 0, 0, 0], &mut memory, &mut helpers, None);
//! assert_eq!(outcome.result, Ok(106));
//! assert_eq!(outcome.insns, 5);
//! ```
//!
//! Programs with maps are compiled with [`JitProgram::with_maps`] and run over
//! `MemoryMap::with_maps`, as on the interpreter; [`JitProgram::run_linked`] takes the
//! tail-call table (each program compiled once), as `Interpreter::run_linked` does.
//! [`JitProgram::prepare`] binds a program to its memory map and helpers for many runs,
//! filling the run context once ([`Prepared`], `prepared.rs`).
//!
//! Start reading at `translate.rs` (the function layout and exact counting), then
//! `cfg.rs` (regions), `bounds.rs` (the memory check), `call.rs` (calls) and `tail.rs`
//! (runs through several programs).

mod alu;
mod bounds;
mod call;
mod cfg;
mod ctx;
mod jump;
mod loops;
mod mem;
mod prepared;
mod runtime;
mod tail;
mod translate;
mod variant;

use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ebpfvm_isa::{Imm64, Insn, Program, Width};
use ebpfvm_vm::maps::lddw_value;
use ebpfvm_vm::{
    Access, Helpers, Maps, MemoryMap, Outcome, Trap, TrapKind, FRAME_SIZE, MAX_FRAMES, REGION_HOST,
    REGION_READ_LEN, REGION_STRIDE, REGION_WRITE_LEN, STACK_BASE, STACK_REGION, STACK_SIZE,
    STACK_TOP,
};

use crate::ctx::{status, RunCtx, SAVED_WORDS, SELF};
pub use crate::prepared::Prepared;
pub(crate) use crate::variant::Shape;
use crate::variant::{EntryFn, Variant};
pub use crate::variant::{Tier, Tiering, TIER_UP_PER_SLOT};

/// Why a program could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JitError {
    /// An instruction only the kernel can run (as the interpreter's `Unsupported`).
    #[error("pc {pc}: {what} is not supported by this engine")]
    Unsupported {
        /// The slot index.
        pc: usize,
        /// What the instruction needs.
        what: &'static str,
    },
    /// Cranelift could not compile the program, or this host is not supported.
    #[error("JIT compilation failed: {0}")]
    Codegen(String),
}

impl From<ebpfvm_vm::Unsupported> for JitError {
    fn from(e: ebpfvm_vm::Unsupported) -> JitError {
        JitError::Unsupported {
            pc: e.pc,
            what: e.what,
        }
    }
}

/// A compiled program. Owns its native code (freed on drop); cheap to run many times,
/// from any thread (it holds no run state).
///
/// A program has up to four variants of its code per [`Tier`], of one translation
/// (`translate.rs`): *budgeted* or not (whether it stops exactly at a budget,
/// "Counting" there), and, for a program without bpf-to-bpf calls of its own, *nested*
/// or not (whether its `exit` may return into a frame of the program that tail-called
/// it, `tail.rs`). [`JitProgram::compile`] compiles the plain one of the first tier,
/// which runs every call without a budget; the others are compiled by the first run
/// that needs them, and the optimized tier as [`Tiering`] says (`variant.rs`).
pub struct JitProgram {
    /// The plain variant (no budget, not nested) of the first tier. Runs reach it
    /// through `plain`; held here to keep its code alive.
    #[expect(dead_code, reason = "owns the code `plain` points to")]
    first: Variant,
    /// The tier `first` was compiled in.
    first_tier: Tier,
    /// The other variants, by [`Tier::index`] and [`Shape::index`], once a run needed
    /// them (or why they could not be compiled).
    variants: [[OnceLock<Result<Variant, JitError>>; 4]; 2],
    /// Whether the optimized plain variant is compiled (runs use the optimized tier).
    optimized: AtomicBool,
    /// The entry of the plain variant of the current tier (an [`EntryFn`]): `first`'s,
    /// then the optimized one's. One load for the variant of most runs.
    plain: AtomicPtr<()>,
    /// Instructions run so far, and how many make [`Tiering::Adaptive`] optimize
    /// (`u64::MAX`: never).
    executed: AtomicU64,
    tier_up_at: u64,
    /// Whether the program makes bpf-to-bpf calls (then nested = not nested).
    has_frames: bool,
    /// The program, to describe traps (access size and kind, pcs of budget traps).
    insns: Box<[Insn]>,
    /// For each slot, the first slot of its region.
    region_start: Box<[u32]>,
    compile_time: Duration,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("slots", &self.insns.len())
            .field("compile_time", &self.compile_time)
            .field("tier", &self.tier())
            .finish_non_exhaustive()
    }
}

impl JitProgram {
    /// Compiles `program`. Fails on instructions only the kernel can run (map
    /// references, kfuncs, kernel variable addresses), as the interpreter does, or when
    /// Cranelift fails.
    pub fn compile(program: &Program) -> Result<JitProgram, JitError> {
        JitProgram::compile_with(program, None, Tiering::default())
    }

    /// Compiles `program` with the map table its `lddw` map references name, as
    /// `Interpreter::with_maps`: `MapIdx(i)` and `MapFd(i)` load map `i`'s handle,
    /// `MapIdxValue` and `MapValue` the guest address of a byte of a single-element
    /// array's value (run it with `MemoryMap::with_maps` of the same table). Refuses
    /// the references the interpreter refuses, with the same message.
    pub fn with_maps(program: &Program, maps: &Maps) -> Result<JitProgram, JitError> {
        JitProgram::compile_with(program, Some(maps), Tiering::default())
    }

    /// [`JitProgram::compile`] (without `maps`) or [`JitProgram::with_maps`], compiled
    /// in the tiers `tiering` says.
    pub fn compile_with(
        program: &Program,
        maps: Option<&Maps>,
        tiering: Tiering,
    ) -> Result<JitProgram, JitError> {
        match maps {
            Some(maps) => JitProgram::compile_insns(&resolve_maps(program.insns(), maps)?, tiering),
            None => JitProgram::compile_insns(program.insns(), tiering),
        }
    }

    fn compile_insns(insns: &[Insn], tiering: Tiering) -> Result<JitProgram, JitError> {
        let started = Instant::now();
        let first_tier = match tiering {
            Tiering::Optimized => Tier::Optimized,
            Tiering::Adaptive | Tiering::Quick => Tier::Quick,
        };
        let (first, cfg) = Variant::compile(insns, Shape::PLAIN, first_tier)?;
        let mut region_start = vec![0u32; insns.len()];
        for region in &cfg.regions {
            region_start[region.start..region.end].fill(region.start as u32);
        }
        let tier_up_at = match tiering {
            Tiering::Adaptive => (insns.len() as u64).saturating_mul(TIER_UP_PER_SLOT),
            Tiering::Quick | Tiering::Optimized => u64::MAX,
        };
        let plain = AtomicPtr::new(first.entry as *mut ());
        Ok(JitProgram {
            first,
            first_tier,
            variants: Default::default(),
            optimized: AtomicBool::new(first_tier == Tier::Optimized),
            plain,
            executed: AtomicU64::new(0),
            tier_up_at,
            has_frames: cfg.has_frames,
            insns: insns.into(),
            region_start: region_start.into(),
            compile_time: started.elapsed(),
        })
    }

    /// The tier later runs use.
    pub fn tier(&self) -> Tier {
        if self.optimized.load(Ordering::Acquire) {
            Tier::Optimized
        } else {
            Tier::Quick
        }
    }

    /// Compiles the optimized tier now (if it is not yet), so that later runs use it.
    /// A failure leaves the program in the quick tier.
    pub fn optimize(&self) -> Result<(), JitError> {
        if self.first_tier == Tier::Optimized {
            return Ok(());
        }
        let slot = &self.variants[Tier::Optimized.index()][Shape::PLAIN.index()];
        let variant = slot.get_or_init(|| {
            Variant::compile(&self.insns, Shape::PLAIN, Tier::Optimized).map(|(v, _)| v)
        });
        match variant {
            Ok(variant) => {
                self.plain
                    .store(variant.entry as *mut (), Ordering::Release);
                self.optimized.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) => Err(e.clone()),
        }
    }

    /// Counts `insns` more instructions run, for [`Tiering::Adaptive`].
    #[inline]
    fn count(&self, insns: u64) {
        if self.tier_up_at != u64::MAX && !self.optimized.load(Ordering::Relaxed) {
            self.count_slow(insns);
        }
    }

    #[cold]
    #[inline(never)]
    fn count_slow(&self, insns: u64) {
        let before = self.executed.fetch_add(insns, Ordering::Relaxed);
        if before.saturating_add(insns) >= self.tier_up_at {
            // A failure keeps the quick code, which is correct; nothing to report.
            let _ = self.optimize();
        }
    }

    /// The entry of the variant for a run with or without a budget, entered at call
    /// depth `depth`, in the current tier; compiles it on first use (its error is
    /// reported as a trap).
    #[inline(always)]
    fn entry(&self, budgeted: bool, depth: u64) -> Result<EntryFn, &JitError> {
        let shape = Shape {
            budgeted,
            nested: depth > 0 && !self.has_frames,
        };
        // The common case inline, the rest out of line: with both in one body the
        // compiler set up `get_or_init`'s closure in memory on every run.
        if shape == Shape::PLAIN {
            let entry = self.plain.load(Ordering::Acquire);
            // SAFETY: `plain` only ever holds the entry of a plain variant this program
            // owns (`first`, or the optimized one, which its `OnceLock` keeps until the
            // program is dropped), stored as a pointer: the same function type back.
            return Ok(unsafe { std::mem::transmute::<*mut (), EntryFn>(entry) });
        }
        self.variant_entry(shape)
    }

    /// [`JitProgram::entry`] past the first variant.
    #[inline(never)]
    fn variant_entry(&self, shape: Shape) -> Result<EntryFn, &JitError> {
        let tier = self.tier();
        let variant = self.variants[tier.index()][shape.index()]
            .get_or_init(|| Variant::compile(&self.insns, shape, tier).map(|(v, _)| v));
        variant.as_ref().map(|v| v.entry)
    }

    /// The pc `j` instructions after `start` (an `lddw` counts once).
    fn advance(&self, start: usize, j: u64) -> usize {
        let mut pc = start;
        for _ in 0..j {
            pc += self.insns[pc].slots();
        }
        pc
    }

    /// The budget trap `j` instructions into the region starting at `start`.
    fn budget_trap(&self, start: usize, j: u64, budget: u64) -> Outcome {
        Outcome {
            result: Err(Trap {
                pc: self.advance(start, j),
                kind: TrapKind::BudgetExhausted { budget },
            }),
            insns: budget,
        }
    }

    /// A memory access at `pc` stopped the run (status `MEMORY`): the budget trap when
    /// the budget (`rem0` at the region's entry) ended before it, else its fault.
    fn memory_trap(
        &self,
        pc: usize,
        addr: u64,
        rem0: u64,
        total: u64,
        memory: &MemoryMap<'_>,
    ) -> Outcome {
        let start = self.region_start[pc] as usize;
        let (mut k, mut at) = (0, start);
        while at < pc {
            at += self.insns[at].slots();
            k += 1;
        }
        if rem0 <= k {
            return self.budget_trap(start, rem0, total);
        }
        let (size, access) = match self.insns[pc] {
            Insn::Load { size, .. } => (size.bytes(), Access::Read),
            Insn::Store { size, .. } => (size.bytes(), Access::Write),
            Insn::Atomic {
                width: Width::W32, ..
            } => (4, Access::Write),
            _ => (8, Access::Write),
        };
        Outcome {
            result: Err(Trap {
                pc,
                kind: TrapKind::OutOfBounds {
                    addr,
                    size,
                    access,
                    region: memory.region_kind(addr),
                },
            }),
            insns: total - (rem0 - k),
        }
    }

    /// How long [`compile`](JitProgram::compile) took (the plain variant of the first
    /// tier; the others are compiled by the first run that needs them).
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// Runs the program with r1-r5 = `args` and r10 at the top of the stack in `memory`;
    /// `budget` limits the instructions executed. The same contract and the same
    /// outcome as `Interpreter::run`. A helper that panics panics here, after the
    /// compiled code has returned.
    #[inline]
    pub fn run(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
    ) -> Outcome {
        self.run_linked(args, memory, helpers, budget, &[])
    }

    /// [`JitProgram::run`] with a program table for tail calls, as
    /// `Interpreter::run_linked`: `bpf_tail_call` to program id `i` continues in
    /// `programs[i]` (registers, stack, frames and budget kept; at most
    /// `MAX_TAIL_CALLS` per run, then it fails with r0 = -ENOENT). A trap's pc is then a
    /// pc of the program running when it happened. See `tail.rs`.
    #[inline]
    pub fn run_linked(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
        programs: &[JitProgram],
    ) -> Outcome {
        let total = budget.unwrap_or(u64::MAX);
        let (table, table_len) = memory.region_table();
        let Some(stack_host) = stack_host(table, table_len) else {
            return broken_stack(memory);
        };
        let mut ctx = RunCtx::start(
            (table, table_len),
            stack_host,
            args,
            total,
            programs.len() as u64,
            &mut *memory,
            helpers,
        );
        self.drive(&mut ctx, total, budget.is_some(), programs, || ())
    }

    /// Enters the program with `ctx` set up for a run with budget `total` and takes the
    /// run to its end (`go_on` past the first function); counts it for tiering. Calls
    /// `dirty` first when the first function did not simply exit (the run may then
    /// change more of `ctx`, or unwind: `Prepared::run`).
    #[inline(always)]
    fn drive(
        &self,
        ctx: &mut RunCtx<'_>,
        total: u64,
        budgeted: bool,
        programs: &[JitProgram],
        dirty: impl FnOnce(),
    ) -> Outcome {
        // A run starts at depth 0 (`RunCtx::start`, `Prepared::catch_up`); knowing it
        // here leaves one test of the variant to call.
        let code = self.enter(budgeted, 0, ctx);
        // The common end, here so that callers build the outcome in place.
        if code == status::EXIT {
            let insns = total - ctx.rem;
            self.count(insns);
            return Outcome {
                result: Ok(ctx.result),
                insns,
            };
        }
        dirty();
        let outcome = self.go_on(code, ctx, total, budgeted, programs);
        self.count(outcome.insns);
        outcome
    }

    /// A run whose first function returned `code` (not a plain exit): tail calls and
    /// resumed frames enter the next function, anything else ends the run.
    #[cold]
    #[inline(never)]
    fn go_on(
        &self,
        mut code: u64,
        ctx: &mut RunCtx<'_>,
        total: u64,
        budgeted: bool,
        programs: &[JitProgram],
    ) -> Outcome {
        let mut program = self;
        loop {
            if code == status::EXIT {
                return Outcome {
                    result: Ok(ctx.result),
                    insns: total - ctx.rem,
                };
            }
            match switch(ctx, code, self, programs) {
                Some(next) => {
                    // A tail-call target of an optimized adaptive program is hot too.
                    if next.tier_up_at != u64::MAX && self.tier() == Tier::Optimized {
                        // A failure keeps the quick code, which is correct.
                        let _ = next.optimize();
                    }
                    program = next;
                }
                None => return program.stopped(code, ctx, total),
            }
            code = program.enter(budgeted, ctx.depth, ctx);
        }
    }

    /// Calls the variant of this program's code for `ctx` (at `depth`, its depth, and
    /// whether the run has a budget) and returns its status; a variant that could not
    /// be compiled ends the run with an internal-error trap.
    #[inline(always)]
    fn enter(&self, budgeted: bool, depth: u64, ctx: &mut RunCtx<'_>) -> u64 {
        match self.entry(budgeted, depth) {
            // SAFETY: `ctx` is a complete run context: the stack comes from the memory
            // map, which (with the helpers) stays borrowed for the whole run; the code
            // is alive while `self` is. The registers, depth and mode are the initial
            // ones or those compiled code left (checked by `switch`). The compiled code
            // upholds the memory checks of bounds.rs. Without a budget, `rem` starts at
            // `u64::MAX`, which no run can count down to 0, so a variant without budget
            // tests gives the same outcome; a variant that is not nested is only
            // entered at depth 0.
            Ok(entry) => unsafe { entry(ctx) },
            Err(e) => no_variant(ctx, e),
        }
    }

    /// The outcome of a run that did not simply exit.
    #[cold]
    #[inline(never)]
    fn stopped(&self, code: u64, ctx: &mut RunCtx<'_>, total: u64) -> Outcome {
        if let Some(payload) = ctx.panic.take() {
            resume_unwind(payload);
        }
        // SAFETY: the map of this run, borrowed for the whole run; no compiled code
        // runs any more, and the outcome is built before the run's caller gets it back.
        let memory = unsafe { &*ctx.memory };
        let trap = |pc: u64, kind| {
            Err(Trap {
                pc: pc as usize,
                kind,
            })
        };
        let insns = total - ctx.rem;
        match code {
            status::EXIT => Outcome {
                result: Ok(ctx.result),
                insns,
            },
            status::MEMORY => self.memory_trap(
                ctx.trap_pc as usize,
                ctx.trap_addr,
                ctx.trap_info,
                total,
                memory,
            ),
            status::BUDGET => self.budget_trap(ctx.trap_pc as usize, ctx.trap_info, total),
            status::CALL_DEPTH => Outcome {
                result: trap(
                    ctx.trap_pc,
                    TrapKind::CallDepthExceeded {
                        max_frames: MAX_FRAMES,
                    },
                ),
                insns,
            },
            status::BAD_CALL_TARGET => Outcome {
                result: trap(
                    ctx.trap_pc,
                    TrapKind::BadCallTarget {
                        target: ctx.trap_addr,
                    },
                ),
                insns,
            },
            _ => {
                debug_assert_eq!(code, status::HELPER_TRAP);
                let result = match ctx.pending.take() {
                    Some(t) => Err(t),
                    None => unreachable_status(code),
                };
                Outcome { result, insns }
            }
        }
    }
}

/// The host address of the stack region, after checking that entry 2 of the table is
/// the whole stack, readable and writable (`bounds.rs` relies on it). Always true for a
/// `MemoryMap`; checked anyway because compiled code trusts it.
pub(crate) fn stack_host(table: *const u8, len: usize) -> Option<*mut u8> {
    let index = STACK_REGION as usize;
    if len <= index {
        return None;
    }
    // SAFETY: `table` points to `len > index` entries of REGION_STRIDE bytes (the
    // contract of `MemoryMap::region_table`), and the offsets name the `#[repr(C)]`
    // fields of an entry, which are 8-byte aligned.
    unsafe {
        let entry = table.add(index * REGION_STRIDE);
        let host = entry.add(REGION_HOST).cast::<*mut u8>().read();
        let read = entry.add(REGION_READ_LEN).cast::<u64>().read();
        let write = entry.add(REGION_WRITE_LEN).cast::<u64>().read();
        (read == STACK_SIZE as u64 && write == STACK_SIZE as u64 && !host.is_null()).then_some(host)
    }
}

/// The outcome when the memory map has no proper stack region (impossible with
/// `MemoryMap::new`): a read fault on the stack before the first instruction.
pub(crate) fn broken_stack(memory: &MemoryMap<'_>) -> Outcome {
    Outcome {
        result: Err(Trap {
            pc: 0,
            kind: TrapKind::OutOfBounds {
                addr: STACK_BASE,
                size: 0,
                access: Access::Read,
                region: memory.region_kind(STACK_BASE),
            },
        }),
        insns: 0,
    }
}

/// Ends a run whose variant could not be compiled with an internal-error trap.
#[cold]
#[inline(never)]
fn no_variant(ctx: &mut RunCtx<'_>, e: &JitError) -> u64 {
    ctx.pending = Some(internal_error(&e.to_string()));
    status::HELPER_TRAP
}

/// After a [`status::TAIL_CALL`] or [`status::RESUME`]: prepares `ctx` for the program
/// to enter next and returns it. `None` for any other status, and (never expected) for
/// a state compiled code cannot have left, which the caller then reports as an
/// internal error rather than enter code with it.
fn switch<'p>(
    ctx: &mut RunCtx<'_>,
    code: u64,
    first: &'p JitProgram,
    programs: &'p [JitProgram],
) -> Option<&'p JitProgram> {
    if code != status::TAIL_CALL && code != status::RESUME {
        return None;
    }
    // SAFETY: compiled code returns TAIL_CALL and RESUME only from its `leave` block,
    // which writes all of `saved` first (`tail.rs`).
    let saved = unsafe { ctx.saved.assume_init() };
    let depth = saved[SAVED_WORDS - 1];
    // bounds.rs relies on r10 = STACK_TOP - 512 * depth with depth < MAX_FRAMES, and
    // the frame array on depth <= MAX_FRAMES - 1; compiled code keeps both, and they
    // are checked here before another function trusts them.
    if depth >= MAX_FRAMES as u64 || saved[10] != STACK_TOP - depth * FRAME_SIZE as u64 {
        ctx.pending = Some(internal_error("bad state at a tail call"));
        return None;
    }
    ctx.regs.copy_from_slice(&saved[..11]);
    ctx.depth = depth;
    let (current, mode) = match code {
        status::TAIL_CALL => (ctx.next, 0),
        status::RESUME if depth > 0 => {
            let word = (depth as usize - 1) * call::frame::BYTES as usize / 8
                + call::frame::PROG as usize / 8;
            // SAFETY: frame `depth - 1` was written by the compiled code that pushed it
            // (every push writes the whole frame), and `word` is inside the array.
            let owner = unsafe { ctx.frames.as_ptr().cast::<u64>().add(word).read() };
            (owner, 1)
        }
        _ => return None,
    };
    let next = if current == SELF {
        first
    } else {
        let Some(p) = usize::try_from(current).ok().and_then(|i| programs.get(i)) else {
            ctx.pending = Some(internal_error("tail call to a missing program"));
            return None;
        };
        p
    };
    ctx.current = current;
    ctx.mode = mode;
    Some(next)
}

/// A trap for a state the JIT never produces (reported, never a panic).
fn internal_error(what: &str) -> Trap {
    Trap {
        pc: 0,
        kind: TrapKind::HelperFault {
            id: 0,
            message: format!("internal error: {what}"),
        },
    }
}

/// A status the compiled code never returns without its trap: report it as a helper
/// fault rather than panic.
fn unreachable_status(code: u64) -> Result<u64, Trap> {
    Err(internal_error(&format!("JIT status {code} without a trap")))
}

/// `insns` with every `lddw` map reference replaced by the value it loads with `maps`
/// (the interpreter's lowering does the same, with the same refusals).
fn resolve_maps(insns: &[Insn], maps: &Maps) -> Result<Vec<Insn>, JitError> {
    let mut out = insns.to_vec();
    for (pc, insn) in out.iter_mut().enumerate() {
        let Insn::LoadImm64 { dst, imm } = *insn else {
            continue;
        };
        let (index, offset) = match imm {
            Imm64::MapFd(fd) => (i64::from(fd), None),
            Imm64::MapIdx(i) => (i64::from(i), None),
            Imm64::MapValue { fd, offset } => (i64::from(fd), Some(offset)),
            Imm64::MapIdxValue { index, offset } => (i64::from(index), Some(offset)),
            _ => continue,
        };
        let value =
            lddw_value(maps, index, offset).map_err(|what| JitError::Unsupported { pc, what })?;
        *insn = Insn::LoadImm64 {
            dst,
            imm: Imm64::Value(value),
        };
    }
    Ok(out)
}
