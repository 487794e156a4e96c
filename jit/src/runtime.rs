//! Runtime functions that compiled code calls: helper calls and legacy packet loads.
//!
//! Both take the [`RunCtx`] of the run. They mirror the interpreter's `call_helper` and
//! `legacy_load` exactly (same traps, same instruction counts). A helper that panics
//! does not unwind through compiled frames: the panic is caught, parked in the context,
//! and resumed by `run` once the compiled function has returned.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ebpfvm_vm::{HelperContext, HelperError, MapError, Trap, TrapKind, MAX_TAIL_CALLS};

use crate::ctx::{status, RunCtx};

/// Calls helper `id` with r1-r5 for the call at `pc`; `rem` is the budget left with the
/// call counted. Returns r0 and sets `call_status` to 0 to go on, to
/// [`status::LOOP`] for a `bpf_loop` the compiled code runs, to [`status::TAIL_CALL`]
/// for a tail call to program `next`, or to the status that ends the run ([`status::EXIT`] with `result`, [`status::HELPER_TRAP`], [`status::PANIC`]).
/// The region table is refreshed and the remembered regions reset: the helper may
/// have changed regions.
///
/// # Safety
/// `ctx` points to the live `RunCtx` of a run whose `memory` and `helpers` are valid and
/// not otherwise borrowed while compiled code runs.
#[allow(
    clippy::too_many_arguments,
    reason = "the compiled code's calling convention"
)]
pub(crate) unsafe extern "C" fn call_helper(
    ctx: *mut RunCtx<'_>,
    id: u64,
    r1: u64,
    r2: u64,
    r3: u64,
    r4: u64,
    r5: u64,
    pc: u64,
    rem: u64,
) -> u64 {
    // SAFETY: the caller guarantees ctx is the live context of this run.
    let ctx = unsafe { &mut *ctx };
    // SAFETY: `memory` and `helpers` come from the `&mut` borrows `run` holds for the
    // whole run; compiled code does not touch them while this function runs.
    let (memory, helpers) = unsafe { (&mut *ctx.memory, &mut *ctx.helpers) };
    let pc = pc as usize;
    let insns = ctx.budget - rem;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let helper = helpers.get_mut(id)?;
        let mut hctx = HelperContext::new(memory, pc, insns);
        Some(helper(&mut hctx, [r1, r2, r3, r4, r5]))
    }));
    let (table, len) = memory.region_table();
    ctx.table = table;
    ctx.table_len = len as u64;
    // The helper may have changed a region's limits (bounds.rs, invariant 1).
    ctx.guess = crate::ctx::stack_guess(ctx.stack_host);
    let trap = |kind| Trap { pc, kind };
    let kind = match outcome {
        Ok(Some(Ok(v))) => {
            ctx.call_status = 0;
            return v;
        }
        Ok(Some(Err(HelperError::Exit(v)))) => {
            ctx.result = v;
            ctx.rem = rem;
            ctx.call_status = status::EXIT;
            return 0;
        }
        // A tail call to a program of the table, within the limit, leaves for it (see
        // tail.rs); any other fails, and execution goes on after the call.
        Ok(Some(Err(HelperError::TailCall(target)))) => {
            if u64::from(target) < ctx.programs && ctx.tail_calls < MAX_TAIL_CALLS {
                ctx.tail_calls += 1;
                ctx.next = u64::from(target);
                ctx.call_status = status::TAIL_CALL;
                return 0;
            }
            ctx.call_status = 0;
            return MapError::NotFound.to_retval();
        }
        Ok(Some(Err(HelperError::Loop {
            callback,
            ctx: loop_ctx,
            count,
        }))) => {
            ctx.trap_addr = callback;
            ctx.trap_info = count;
            ctx.result = loop_ctx;
            ctx.call_status = status::LOOP;
            return 0;
        }
        Err(payload) => {
            ctx.panic = Some(payload);
            ctx.call_status = status::PANIC;
            return 0;
        }
        Ok(None) => TrapKind::UnknownHelper { id },
        Ok(Some(Err(HelperError::OutOfBounds { addr, size, access }))) => TrapKind::OutOfBounds {
            addr,
            size: u32::try_from(size).unwrap_or(u32::MAX),
            access,
            region: memory.region_kind(addr),
        },
        Ok(Some(Err(HelperError::Fault(message)))) => TrapKind::HelperFault {
            id: id as u32,
            message,
        },
    };
    ctx.pending = Some(trap(kind));
    // The call that trapped is not counted.
    ctx.rem = rem + 1;
    ctx.call_status = status::HELPER_TRAP;
    0
}

/// Value [`legacy_load`] returns for an access outside the packet (loads give at most 32
/// bits, so it is never a loaded value).
pub(crate) const LEGACY_OUT_OF_RANGE: u64 = u64::MAX;

/// `LD_ABS`/`LD_IND`: the big-endian value of `size` (1, 2 or 4) bytes of the packet at
/// offset `base + imm` (truncated to a signed 32-bit offset, as the interpreter does),
/// or [`LEGACY_OUT_OF_RANGE`].
///
/// # Safety
/// `ctx` points to the live `RunCtx` of a run whose `memory` is valid.
pub(crate) unsafe extern "C" fn legacy_load(ctx: *mut RunCtx<'_>, addr: u64, size: u64) -> u64 {
    // SAFETY: the caller guarantees ctx is the live context of this run, and `run`
    // holds the borrow of the memory map.
    let memory = unsafe { &*(*ctx).memory };
    let offset = addr as u32 as i32;
    let Ok(start) = usize::try_from(offset) else {
        return LEGACY_OUT_OF_RANGE;
    };
    match memory.packet().get(start..start + size as usize) {
        Some(bytes) => bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64),
        None => LEGACY_OUT_OF_RANGE,
    }
}
