//! The run context: the one structure that compiled code and Rust share during a run.
//!
//! `run` fills a [`RunCtx`] and passes its address to the compiled function, which reads
//! its inputs (the registers, the budget left, the call depth) at
//! entry and writes its outputs (r0, the remaining budget, the trap details) before it
//! returns a status code. The runtime functions it calls (helpers, legacy packet loads)
//! get the same pointer. Compiled code addresses the fields by the offsets in [`off`],
//! so the struct is `#[repr(C)]`; the fields only Rust touches come last.
//!
//! A run may go through several compiled programs (`tail.rs`): a tail call, or a return
//! into a frame another program pushed, leaves one function with its whole state (r0-r10,
//! depth, budget left) in the context, and the driver enters the next function, which
//! reads it back. The frames of bpf-to-bpf calls live here for the same reason.
//!
//! Compiled code never stores to the fields it reads at entry as registers and depth
//! (`regs`, `depth`): it leaves them in `saved`, which the driver copies over. So those
//! entry loads are truly read-only for the function, and Cranelift may drop the unused
//! ones and place the others at their first use.

use std::any::Any;
use std::mem::{offset_of, MaybeUninit};

use ebpfvm_vm::{Helpers, MemoryMap, Trap, MAX_FRAMES, STACK_BASE, STACK_SIZE, STACK_TOP};

use crate::call::frame;

/// [`RunCtx::guess`] naming the stack region for both kinds: always a valid guess.
pub(crate) fn stack_guess(stack_host: *mut u8) -> [u64; 6] {
    let host = stack_host as u64;
    let size = STACK_SIZE as u64;
    [STACK_BASE, host, size, STACK_BASE, host, size]
}

/// `RunCtx::current` of the program a run was called on.
pub(crate) const SELF: u64 = u64::MAX;

/// `u64` words of the frame array: frames of all but the main function.
pub(crate) const FRAME_WORDS: usize = (MAX_FRAMES - 1) * frame::BYTES as usize / 8;

/// `u64` words of [`RunCtx::saved`]: r0-r10, then the depth.
pub(crate) const SAVED_WORDS: usize = 12;

/// Shared state of one run. Compiled code reads and writes the `u64`/pointer fields at
/// the offsets in [`off`]; the rest is Rust's.
#[repr(C)]
pub(crate) struct RunCtx<'a> {
    /// The region table ([`MemoryMap::region_table`]); refreshed after every helper call.
    pub table: *const u8,
    /// Entries in the region table.
    pub table_len: u64,
    /// The remembered region of reads, then of writes: guest base, host address,
    /// limit (`bounds.rs`, invariant 1). The stack at entry and after every helper
    /// call.
    pub guess: [u64; 6],
    /// r0-r10 at entry (compiled code only reads them).
    pub regs: [u64; 11],
    /// Active bpf-to-bpf frames at entry (compiled code only reads it).
    pub depth: u64,
    /// 0: start at the first instruction; 1: resume by returning from the top frame.
    pub mode: u64,
    /// The program running: an index of the tail-call table, or `u64::MAX` for the
    /// program `run` was called on. Frames record it.
    pub current: u64,
    /// The budget: instructions the run may execute (`u64::MAX` without a budget).
    pub budget: u64,
    /// Host address of the first stack byte (region 2, offset 0).
    pub stack_host: *mut u8,
    /// r0 when the program ended normally.
    pub result: u64,
    /// Budget left: at entry, and at the end (`insns = budget - rem`).
    pub rem: u64,
    /// The trap's pc (for a budget trap: the first pc of the region it hit).
    pub trap_pc: u64,
    /// The faulting address, or the bad call target.
    pub trap_addr: u64,
    /// For a memory trap and a budget trap: `rem` at the entry of the region.
    pub trap_info: u64,
    /// Set by runtime calls: 0 to go on, else the status the compiled code returns.
    pub call_status: u64,
    /// Programs in the tail-call table (0: every tail call fails).
    pub programs: u64,
    /// Tail calls taken so far in this run.
    pub tail_calls: u32,
    /// The program a [`status::TAIL_CALL`] goes to.
    pub next: u64,
    /// The memory map of this run.
    pub memory: *mut MemoryMap<'a>,
    /// The helper registry of this run.
    pub helpers: *mut Helpers,
    /// A trap a helper call produced (status [`status::HELPER_TRAP`]).
    pub pending: Option<Trap>,
    /// A panic a helper raised, resumed once compiled code has returned.
    pub panic: Option<Box<dyn Any + Send>>,
    /// r0-r10 and the depth at a [`status::TAIL_CALL`] or [`status::RESUME`], written
    /// by the code that leaves (`tail.rs`) and copied to `regs` and `depth` by the
    /// driver for the next function. Uninitialised until then.
    pub saved: MaybeUninit<[u64; SAVED_WORDS]>,
    /// Saved frames (layout in `call::frame`), indexed by depth - 1. Last, so that the
    /// compiler, which zeroes the neighbouring fields with one `memset`, does not
    /// extend it over these 560 uninitialised bytes (it did: half of an empty call).
    pub frames: MaybeUninit<[u64; FRAME_WORDS]>,
}

impl<'a> RunCtx<'a> {
    /// The context a run starts with: r1-r5 = `args`, r10 at the top of the stack at
    /// `stack_host`, the budget `total`, the region table `table`, `programs` programs
    /// in the tail-call table, and the run's memory map and helpers.
    #[inline(always)]
    pub(crate) fn start(
        table: (*const u8, usize),
        stack_host: *mut u8,
        args: [u64; 5],
        total: u64,
        programs: u64,
        memory: *mut MemoryMap<'a>,
        helpers: *mut Helpers,
    ) -> RunCtx<'a> {
        let [a1, a2, a3, a4, a5] = args;
        // Written in place, element by element: building the array first and copying
        // it made wide loads span narrower stores (a store-forwarding stall that cost
        // more than the rest of an empty call).
        let regs = [0, a1, a2, a3, a4, a5, 0, 0, 0, 0, STACK_TOP];
        RunCtx {
            table: table.0,
            table_len: table.1 as u64,
            guess: stack_guess(stack_host),
            regs,
            depth: 0,
            mode: 0,
            current: SELF,
            budget: total,
            stack_host,
            result: 0,
            rem: total,
            trap_pc: 0,
            trap_addr: 0,
            trap_info: 0,
            call_status: 0,
            programs,
            tail_calls: 0,
            next: 0,
            memory,
            helpers,
            pending: None,
            panic: None,
            // Compiled code writes a frame before it reads it, and the driver only
            // reads frames below the depth: no need to clear them. `saved` is written
            // by the code that leaves before the driver reads it.
            frames: MaybeUninit::uninit(),
            saved: MaybeUninit::uninit(),
        }
    }
}

/// Field offsets of [`RunCtx`] for compiled code.
pub(crate) mod off {
    use super::*;

    type Ctx = RunCtx<'static>;
    pub const GUESS: i32 = offset_of!(Ctx, guess) as i32;
    pub const TABLE: i32 = offset_of!(Ctx, table) as i32;
    pub const TABLE_LEN: i32 = offset_of!(Ctx, table_len) as i32;
    pub const REGS: i32 = offset_of!(Ctx, regs) as i32;
    pub const DEPTH: i32 = offset_of!(Ctx, depth) as i32;
    pub const MODE: i32 = offset_of!(Ctx, mode) as i32;
    pub const CURRENT: i32 = offset_of!(Ctx, current) as i32;
    pub const FRAMES: i32 = offset_of!(Ctx, frames) as i32;
    pub const SAVED: i32 = offset_of!(Ctx, saved) as i32;
    pub const STACK_HOST: i32 = offset_of!(Ctx, stack_host) as i32;
    pub const RESULT: i32 = offset_of!(Ctx, result) as i32;
    pub const REM: i32 = offset_of!(Ctx, rem) as i32;
    pub const TRAP_PC: i32 = offset_of!(Ctx, trap_pc) as i32;
    pub const TRAP_ADDR: i32 = offset_of!(Ctx, trap_addr) as i32;
    pub const TRAP_INFO: i32 = offset_of!(Ctx, trap_info) as i32;
    pub const CALL_STATUS: i32 = offset_of!(Ctx, call_status) as i32;
}

/// What the compiled function returns (and what runtime calls put in `call_status`).
pub(crate) mod status {
    /// The program ended: r0 in `result`, `rem` set.
    pub const EXIT: u64 = 1;
    /// A memory access at `trap_pc` (address `trap_addr`) stopped the run: out of
    /// bounds, or the budget ended before it (`run` tells which from `trap_info`, the
    /// region's `rem` at entry, and the access's index in its region).
    pub const MEMORY: u64 = 2;
    /// The budget ran out in the region starting at `trap_pc` after `trap_info`
    /// instructions.
    pub const BUDGET: u64 = 3;
    /// A bpf-to-bpf call past the deepest frame: `trap_pc`, `rem`.
    pub const CALL_DEPTH: u64 = 4;
    /// `callx` to a code address that is no instruction: `trap_pc`, `trap_addr`, `rem`.
    pub const BAD_CALL_TARGET: u64 = 5;
    /// A helper call trapped: the trap is in `pending`, `rem` set.
    pub const HELPER_TRAP: u64 = 6;
    /// A helper panicked: the payload is in `panic`.
    pub const PANIC: u64 = 7;
    /// Only in `call_status`: the helper asked for a `bpf_loop` (callback code address
    /// in `trap_addr`, iterations in `trap_info`, the callbacks' r2 in `result`).
    pub const LOOP: u64 = 8;
    /// A tail call to program `next`: the state is in `saved`.
    pub const TAIL_CALL: u64 = 9;
    /// `exit` popped a frame another program pushed: the state (before the pop) is
    /// in `saved`; that program resumes.
    pub const RESUME: u64 = 10;
}
