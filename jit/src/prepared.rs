//! A program bound to one memory map and helper registry for many runs
//! ([`JitProgram::prepare`]): the run context is filled once, and each run writes only
//! what changes, which takes an empty program's run from 10-17 ns to about 5 ns here.
//!
//! A run whose first function simply exits leaves the context *clean*: compiled code
//! never stores to the fields it reads at entry (`ctx.rs`), and only `switch` changes
//! them (r0-r10, the depth, the mode, the program running), which runs only after the
//! first function left with another status (a tail call, or a frame to resume, which
//! a tail call came before). So after a clean run, a run writes only r1-r5 and the
//! budget. Every other run (a tail call, a trap, a panic) marks the context dirty
//! before it goes on, and the next run first resets every field `run` would fill.
//!
//! What a clean run leaves of the rest is valid for the next one:
//! - the region table is the map's: compiled code reloads it after every helper call,
//!   the only thing that maps regions during a run;
//! - the remembered regions (`bounds.rs`, invariant 1) are current regions: the map's
//!   regions are borrowed for its whole life and never unmapped, and only the map
//!   changes them (`MemoryMap::set_window`), which a helper call may do (the runtime
//!   then resets the remembered regions) and, between runs, only an embedder through
//!   [`Prepared::memory`], which marks the table for a reload and the remembered
//!   regions for a reset.

use std::marker::PhantomData;

use ebpfvm_vm::{Helpers, MemoryMap, Outcome};

use crate::ctx::{self, RunCtx};
use crate::{broken_stack, stack_host, JitProgram};

/// What the next run must do before it starts ([`Prepared::redo`]'s bits).
mod redo {
    /// Put back the fields a tail call, trap or panic may have changed.
    pub const RESET: u8 = 1;
    /// Reload the region table and remember the stack again: the map was reached
    /// through `Prepared::memory`.
    pub const MEMORY: u8 = 2;
    /// The map has no proper stack: every run fails (never cleared).
    pub const BROKEN: u8 = 4;
}

/// A compiled program bound to a memory map and a helper registry, for many runs
/// without filling a run context each time; see [`JitProgram::prepare`].
pub struct Prepared<'p, 'm, 'a> {
    /// The program runs start in.
    program: &'p JitProgram,
    /// The tail-call table.
    programs: &'p [JitProgram],
    /// The context, kept between runs; its `memory` and `helpers` are the borrows below.
    ctx: RunCtx<'a>,
    /// What the next run must do first (the bits of [`redo`]); 0 on the fast path,
    /// where a run writes only r1-r5 and the budget.
    redo: u8,
    /// The borrows `ctx` points through.
    _borrows: PhantomData<(&'m mut MemoryMap<'a>, &'m mut Helpers)>,
}

impl JitProgram {
    /// Binds the program to `memory` and `helpers` for many runs: [`Prepared::run`]
    /// gives the outcomes [`JitProgram::run`] gives for the same sequence of calls, at
    /// a lower cost per run. Between runs, [`Prepared::memory`] reaches the map (to
    /// write the next input, or map a region).
    pub fn prepare<'p, 'm, 'a>(
        &'p self,
        memory: &'m mut MemoryMap<'a>,
        helpers: &'m mut Helpers,
    ) -> Prepared<'p, 'm, 'a> {
        self.prepare_linked(memory, helpers, &[])
    }

    /// [`JitProgram::prepare`] with a tail-call table, as
    /// [`JitProgram::run_linked`].
    pub fn prepare_linked<'p, 'm, 'a>(
        &'p self,
        memory: &'m mut MemoryMap<'a>,
        helpers: &'m mut Helpers,
        programs: &'p [JitProgram],
    ) -> Prepared<'p, 'm, 'a> {
        let table = memory.region_table();
        let host = stack_host(table.0, table.1);
        let stack = host.unwrap_or(std::ptr::null_mut());
        let count = programs.len() as u64;
        let ctx = idle_ctx(table, stack, count, memory, helpers);
        Prepared {
            program: self,
            programs,
            ctx,
            // Regions are never unmapped or changed, so a proper stack stays so.
            redo: if host.is_some() { 0 } else { redo::BROKEN },
            _borrows: PhantomData,
        }
    }
}

/// The context of a prepared program before a run, as `prepare` makes it and a reset
/// restores it: each run sets its arguments and budget.
fn idle_ctx<'a>(
    table: (*const u8, usize),
    stack: *mut u8,
    count: u64,
    memory: *mut MemoryMap<'a>,
    helpers: *mut Helpers,
) -> RunCtx<'a> {
    RunCtx::start(table, stack, [0; 5], u64::MAX, count, memory, helpers)
}

impl<'a> Prepared<'_, '_, 'a> {
    /// Runs the program once, as [`JitProgram::run_linked`] would with the bound
    /// memory, helpers and table.
    #[inline]
    pub fn run(&mut self, args: [u64; 5], budget: Option<u64>) -> Outcome {
        if self.redo != 0 {
            if let Some(outcome) = self.catch_up() {
                return outcome;
            }
        }
        let total = budget.unwrap_or(u64::MAX);
        let ctx = &mut self.ctx;
        ctx.regs[1..6].copy_from_slice(&args);
        ctx.budget = total;
        ctx.rem = total;
        let redo = &mut self.redo;
        // Marked before anything that may change more of the context, or unwind (a
        // helper's panic is resumed there).
        let dirty = || *redo = redo::RESET;
        self.program
            .drive(ctx, total, budget.is_some(), self.programs, dirty)
    }

    /// The bound memory map, between runs.
    pub fn memory(&mut self) -> &mut MemoryMap<'a> {
        // The caller may map regions, which may move the table, or move a window.
        self.redo |= redo::MEMORY;
        // SAFETY: the `&mut` borrow this value holds, and `&mut self` excludes a run.
        unsafe { &mut *self.ctx.memory }
    }

    /// Does what [`Prepared::redo`] asks before a run; the outcome of a run that
    /// cannot start (no proper stack).
    #[cold]
    #[inline(never)]
    fn catch_up(&mut self) -> Option<Outcome> {
        if self.redo & redo::BROKEN != 0 {
            return Some(broken_stack(self.memory()));
        }
        let ctx = &mut self.ctx;
        // SAFETY: the `&mut` borrow this value holds; no run is active.
        let table = unsafe { &*ctx.memory }.region_table();
        if self.redo & redo::RESET != 0 {
            let count = self.programs.len() as u64;
            let (memory, helpers, stack) = (ctx.memory, ctx.helpers, ctx.stack_host);
            *ctx = idle_ctx(table, stack, count, memory, helpers);
        } else {
            ctx.table = table.0;
            ctx.table_len = table.1 as u64;
            ctx.guess = ctx::stack_guess(ctx.stack_host);
        }
        self.redo = 0;
        None
    }
}
