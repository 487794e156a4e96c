//! Memory checks: the code that turns a guest address into a host pointer.
//!
//! # SAFETY-CRITICAL
//!
//! Every guest load, store and atomic of compiled code gets its host pointer from
//! [`Translator::checked_host_addr`] (which hands the accesses of a loop region that
//! have a check at the loop's entry to `loops.rs`, safety-critical too). A mistake
//! here lets a guest program read or write host memory it was never given: a sandbox
//! escape. Keep this file small, keep the
//! reasoning next to the code, and change it only with the differential tests
//! (`tests/differential.rs`, `tests/shared_checks.rs`) running.
//!
//! ## The address space (see `vm/src/memory.rs`)
//!
//! A guest address is `region << 32 | offset`. `MemoryMap` keeps a table of regions:
//! the host address of offset 0, and how many bytes from offset 0 may be read and
//! written (its limits, at most 2^32). The interpreter checks an access of `size` bytes
//! at `addr` with `MemoryMap::host_ptr`: region `addr >> 32` must exist and `(addr &
//! 0xffff_ffff) + size` must be at most the limit of the access's kind.
//!
//! ## The check
//!
//! Most accesses of a run hit the region the previous access of the same kind hit, so
//! the run context remembers one region per kind (`RunCtx::guess`): its guest base
//! `gbase` (`region << 32`), the host address of its offset 0 `ghost`, and its limit
//! `glimit`. Compiled code tries it first, inline:
//!
//! ```text
//! addr = base + sign_extend(off)               (wrapping, 64 bits)
//! o    = addr - gbase                          (wrapping)
//! if o > glimit - size -> the walk (cold)
//! host = ghost + o
//! ```
//!
//! Otherwise a cold block walks the region table (`MemoryMap::region_table`, entries
//! laid out as `REGION_STRIDE`, `REGION_HOST`, `REGION_READ_LEN`, `REGION_WRITE_LEN`
//! say), as `MemoryMap::host_ptr` does, and makes the region the remembered one:
//!
//! ```text
//! idx   = addr >> 32
//! idx'  = idx < table_len ? idx : 0            (entry 0 is the null region: limits 0)
//! entry = table + idx' * REGION_STRIDE
//! o     = addr & 0xffff_ffff
//! if o + size > entry.limit  -> trap           (limit: read_len or write_len)
//! host  = entry.host + o
//! ```
//!
//! The table pointer and length come from the run context, where `run` puts them and
//! the runtime refreshes them after every helper call (a helper may map a region,
//! which may move the table); compiled code never writes the table, which `MemoryMap`
//! owns, so no region maps it. Entry 0 always exists and has both limits 0, so a
//! clamped index always fails (`size >= 1`); `o < 2^32` and `size <= 8`, so `o + size`
//! does not overflow; and `limit` is at most the length of the slice behind `host`.
//!
//! The quick tier (`variant.rs`) compiles less code: every access that is not on the
//! stack fast path (below) calls [`walk_call`], the same walk in Rust, with the base
//! register's value and one constant describing the access ([`WalkInfo`]). It returns
//! the host address, or, when the access fails, records the trap as the cold block of
//! invariant 3 would and returns 0, on which the code branches to a shared block that
//! returns (a call and a branch per access, no block of its own: the quick tier's
//! compile time goes mostly into blocks). It neither reads nor writes the remembered
//! regions, and shares no checks (invariants 4 and 5 are the optimized tier's).
//!
//! Invariants it relies on, and why they hold:
//!
//! 1. **A remembered region is a current region with `glimit >= 8`.** `run` starts
//!    every run with the stack region (entry 2, `STACK_SIZE` bytes) for both kinds;
//!    the walk stores a region it found only when its limit is at least 8; the
//!    runtime resets both to the stack after every helper call (the only code that can
//!    change a region during a run, e.g. a packet helper that moves the packet's end),
//!    and compiled code never writes them otherwise (nothing maps the run context). So
//!    `glimit - size` does not wrap (`size <= 8`).
//! 2. **A passed fast check is the check `host_ptr` would pass.** `glimit <= 2^32`, so
//!    `o <= glimit - size` means `o < 2^32`: `addr` is `gbase + o`, offset `o` of the
//!    remembered region (an address outside `[gbase, gbase + 2^32)` gives `o >= 2^32`),
//!    and `o + size <= glimit` is `host_ptr`'s own test on that region. `host = ghost +
//!    o` is the address `host_ptr` would give, inside the slice the region was mapped
//!    from (borrowed, mutably when it is writable, for longer than the run). Unaligned
//!    accesses are fine on the hosts Cranelift supports, and guest loads and stores are
//!    emitted without the `aligned` flag.
//! 3. **A failed check never reaches the access.** When the walk fails the code
//!    branches to a cold block that records (pc, address, budget state) in the run
//!    context and returns from the compiled function (`run` derives size, read/write
//!    and the count from the instruction at that pc); no signal handler, no native
//!    trap. The same branch also leaves when the instruction budget ends before the
//!    access (see `translate.rs`); that never lets an access through, it only stops
//!    earlier.
//!
//! ## The stack fast path
//!
//! `r10` is only changed by calls and returns: it is `STACK_TOP - 512 * depth` with
//! `0 <= depth <= 7` (the call-depth check keeps it there), and programs cannot write it
//! (validation refuses). A function entered after a tail call or to resume a frame
//! (`tail.rs`) loads r10 and the depth that compiled code saved; the driver checks
//! this relation again before it enters (`switch` in `lib.rs`). So an access `[r10 + off]` of `size` bytes with
//! `-512 <= off` and `off + size <= 0` stays inside the stack region for every depth:
//! its stack offset `STACK_SIZE - 512 * depth + off` is in `[0, STACK_SIZE - size]`.
//! Region 2 is the stack of `STACK_SIZE` bytes, readable and writable, for every
//! `MemoryMap` (`MemoryMap::new` creates it and entries never change); `run` verifies
//! its limits before it enters compiled code and passes its host address in the
//! context. Such an access needs no check: `host = stack_host + (r10 - STACK_BASE) + off`.
//!
//! A function that runs at depth 0 throughout has `r10 = STACK_TOP` throughout, and
//! the address is `stack_host + (STACK_TOP - STACK_BASE) + off`, without r10
//! (`Translator::depth_zero`): the function of a program without bpf-to-bpf frames
//! (`Cfg::has_frames`: no local calls, `callx` or callbacks, so nothing pushes a frame)
//! that is not the *nested* variant, which `JitProgram::entry` only enters at depth 0
//! (a fresh run's r10 is `STACK_TOP`, and `switch` checks the relation above).
//!
//! ## Sharing a check within a region
//!
//! Once a check of `[base + off0, +size0)` of one kind has passed, compiled code knows,
//! for as long as `base` keeps its value, `o0` (the offset of `base + off0` in its
//! region), that region's limit `limit0` for this kind (so `o0 + size0 <= limit0`) and
//! the host address `host0`. A later access of the same kind in the same region
//! (`cfg.rs`: straight-line code, one entry) through the same register, unchanged since
//! (`Translator::set_reg` forgets the facts of a register it writes, and every region
//! starts with none), at `off` with `d = off - off0` (`|d| < 2^16`, a constant) is at
//! the guest address `base + off0 + d`:
//!
//! 4. **Covered accesses need no check.** If `[off, off + size)` lies inside offsets
//!    earlier checks of this kind passed through this register (one interval per kind,
//!    kept in [`Checked`]), every byte of it is inside the region's limit, at the
//!    offsets `o0 + d ..`: `host = host0 + d`. Only the budget test remains.
//! 5. **Other accesses compare with the limit only.** `o = o0 + d` as a signed 64-bit
//!    value (no overflow: `-2^16 < o < 2^32 + 2^16`). If `0 <= o` and `o + size <=
//!    limit0` (at most 2^32), the access is at offset `o < 2^32` of the same region,
//!    where `host_ptr` would look, and it would pass: `host = host0 + d`. Otherwise the
//!    access may still be valid in a neighbouring region (`o < 0` or `o >= 2^32`), so a
//!    cold block walks the table for it and joins with its host address; nothing is
//!    assumed on that path.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use ebpfvm_isa::Reg;
use ebpfvm_vm::{
    FRAME_SIZE, REGION_HOST, REGION_READ_LEN, REGION_STRIDE, REGION_WRITE_LEN, STACK_BASE,
    STACK_TOP,
};

use crate::ctx::{off, RunCtx};
use crate::translate::Translator;

/// What passed checks proved through one register (invariants 4 and 5), per kind;
/// valid until the register is written or the region ends.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Checked {
    /// Facts of reads.
    read: Option<Known>,
    /// Facts of writes.
    write: Option<Known>,
}

/// What a passed check of one kind proved through a register.
#[derive(Clone, Copy, Debug)]
struct Known {
    /// The offset of the access that made the check.
    off0: i64,
    /// The offset of `base + off0` in its region.
    o0: Value,
    /// The region's limit for this kind.
    limit: Value,
    /// The host address of `base + off0`.
    host0: Value,
    /// Offsets (relative to the register, `[lo, hi)`) checks of this kind passed.
    range: (i64, i64),
}

impl Checked {
    /// The facts of `access`.
    fn kind(&mut self, access: Access) -> &mut Option<Known> {
        match access {
            Access::Read => &mut self.read,
            Access::Write => &mut self.write,
        }
    }
}

impl Known {
    /// Records that `[lo, hi)` passed: the union when the two intervals touch, else the
    /// newer one.
    fn cover(&mut self, lo: i64, hi: i64) {
        let (a, b) = self.range;
        self.range = if lo <= b && a <= hi {
            (a.min(lo), b.max(hi))
        } else {
            (lo, hi)
        };
    }
}

/// Whether an access reads or writes (selects the limit that applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// A load.
    Read,
    /// A store or an atomic read-modify-write.
    Write,
}

impl Access {
    /// The offset of its remembered region in the run context: `[base, host, limit]`.
    fn guess_offset(self) -> i32 {
        off::GUESS
            + match self {
                Access::Read => 0,
                Access::Write => 24,
            }
    }
}

impl Translator<'_> {
    /// The host address of the `size`-byte access at `base + off`, after the checks
    /// above; a failed check ends the run with an out-of-bounds trap at the current
    /// instruction. Leaves the builder in the block where the access is valid.
    pub(crate) fn checked_host_addr(
        &mut self,
        base: Reg,
        off: i16,
        size: u32,
        access: Access,
    ) -> Value {
        if let Some(check) = self.loop_checks.iter().find(|c| c.pc == self.pc) {
            // A loop region's access with its check at the loop's entry (`loops.rs`).
            return self.loop_checked(*check, base);
        }
        let insn_off = off;
        let off = i64::from(off);
        let (lo, hi) = (off, off + i64::from(size));
        if base == Reg::FP && off >= -(FRAME_SIZE as i64) && hi <= 0 {
            // The stack fast path (see the module comment).
            self.budget_test();
            if self.depth_zero {
                // r10 = STACK_TOP throughout (see the module comment): a constant offset.
                let at = (STACK_TOP - STACK_BASE) as i64 + off;
                return self.b.ins().iadd_imm_s(self.stack_host, at);
            }
            let fp = self.b.use_var(self.regs[Reg::FP.index()]);
            let stack_off = self.b.ins().iadd_imm_s(fp, off - STACK_BASE as i64);
            return self.b.ins().iadd(self.stack_host, stack_off);
        }
        if self.walk_calls {
            // The quick tier: every other access is a call of the walk.
            let base_value = self.b.use_var(self.regs[base.index()]);
            return self.walk_by_call(base_value, insn_off, size, access);
        }
        let mut facts = self.checked[base.index()].unwrap_or_default();
        let Some(mut known) = *facts.kind(access) else {
            // The first access of this kind through `base` in this region.
            let (host, o0, limit) = self.first_check(base, off, size, access);
            *facts.kind(access) = Some(Known {
                off0: off,
                o0,
                limit,
                host0: host,
                range: (lo, hi),
            });
            self.checked[base.index()] = Some(facts);
            return host;
        };
        let d = off - known.off0;
        let (a, b) = known.range;
        if a <= lo && hi <= b {
            // Invariant 4.
            self.budget_test();
            return self.b.ins().iadd_imm_s(known.host0, d);
        }
        // Invariant 5: the limit compare, with the walk as the cold fallback.
        let o = self.b.ins().iadd_imm_s(known.o0, d);
        let end = self.b.ins().iadd_imm_s(o, i64::from(size));
        let mut fails = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThan, end, known.limit);
        if d < 0 {
            let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, o, 0);
            fails = self.b.ins().bor(fails, negative);
        }
        let host_fast = self.b.ins().iadd_imm_s(known.host0, d);
        let (host, _, _) =
            self.join_walk(fails, &[host_fast, o, known.limit], base, off, size, access);
        known.cover(lo, hi);
        *facts.kind(access) = Some(known);
        self.checked[base.index()] = Some(facts);
        host
    }

    /// The budget test of an access that needs no bounds check.
    fn budget_test(&mut self) {
        if self.needs_budget_test() {
            let cut = self.budget_cut();
            self.branch_to_budget_trap(cut);
        }
    }

    /// The first check of a kind through a register, with the remembered region
    /// (invariants 1 and 2), else the walk. The host address, the offset in the region
    /// and the region's limit.
    fn first_check(
        &mut self,
        base: Reg,
        off: i64,
        size: u32,
        access: Access,
    ) -> (Value, Value, Value) {
        let f = MemFlagsData::trusted();
        let at = access.guess_offset();
        let base_value = self.b.use_var(self.regs[base.index()]);
        let addr = self.b.ins().iadd_imm_s(base_value, off);
        let gbase = self.b.ins().load(types::I64, f, self.ctx, at);
        let glimit = self.b.ins().load(types::I64, f, self.ctx, at + 16);
        let o = self.b.ins().isub(addr, gbase);
        // Invariant 1: glimit >= 8 >= size, so this does not wrap.
        let max = self.b.ins().iadd_imm_s(glimit, -i64::from(size));
        let fails = self.b.ins().icmp(IntCC::UnsignedGreaterThan, o, max);
        let ghost = self.b.ins().load(types::I64, f, self.ctx, at + 8);
        let host_fast = self.b.ins().iadd(ghost, o);
        let fast = [host_fast, o, glimit];
        self.join_walk(fails, &fast, base, off, size, access)
    }

    /// Goes on with `fast` (host address, offset in the region, limit) unless `fails`
    /// (or, when this access needs it, the budget test) holds; then a cold block calls
    /// the walk (which traps when the access is not allowed) and joins with what it
    /// found.
    fn join_walk(
        &mut self,
        mut fails: Value,
        fast: &[Value; 3],
        base: Reg,
        off: i64,
        size: u32,
        access: Access,
    ) -> (Value, Value, Value) {
        if self.needs_budget_test() {
            // The walk's trap branch tests the budget again and sends a budget stop to
            // the trap.
            let cut = self.budget_cut();
            fails = self.b.ins().bor(fails, cut);
        }
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let cont = self.b.create_block();
        let host = self.b.append_block_param(cont, self.ptr);
        let o = self.b.append_block_param(cont, types::I64);
        let limit = self.b.append_block_param(cont, types::I64);
        let args = fast.map(|v| v.into());
        self.b.ins().brif(fails, slow, &[], cont, &args);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        let walked = self.walk(base, off, size, access);
        let args = walked.map(|v| v.into());
        self.b.ins().jump(cont, &args);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
        (host, o, limit)
    }

    /// The table walk for the access at `base + off` (`MemoryMap::host_ptr`, inlined in
    /// a cold block); traps when it fails (invariant 3), else remembers the region when
    /// its limit allows (invariant 1). The host address, the offset in the region and
    /// its limit.
    fn walk(&mut self, base: Reg, off: i64, size: u32, access: Access) -> [Value; 3] {
        let f = MemFlagsData::trusted();
        let base = self.b.use_var(self.regs[base.index()]);
        let addr = self.b.ins().iadd_imm_s(base, off);
        // The table pointer and length in the context are current: `run` sets them,
        // and the runtime refreshes them after every helper call.
        let table = self.b.ins().load(self.ptr, f, self.ctx, off::TABLE);
        let table_len = self.b.ins().load(types::I64, f, self.ctx, off::TABLE_LEN);
        // An index past the table selects entry 0, the null region (both limits 0),
        // where every access fails, as `host_ptr` fails it.
        let idx = self.b.ins().ushr_imm_s(addr, 32);
        let in_table = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, table_len);
        let zero = self.b.ins().iconst(types::I64, 0);
        let idx = self.b.ins().select(in_table, idx, zero);
        let scaled = if REGION_STRIDE.is_power_of_two() {
            self.b
                .ins()
                .ishl_imm_s(idx, i64::from(REGION_STRIDE.trailing_zeros()))
        } else {
            self.b.ins().imul_imm_s(idx, REGION_STRIDE as i64)
        };
        let entry = self.b.ins().iadd(table, scaled);
        let limit_at = match access {
            Access::Read => REGION_READ_LEN,
            Access::Write => REGION_WRITE_LEN,
        } as i32;
        let limit = self.b.ins().load(types::I64, f, entry, limit_at);
        // o < 2^32 and size <= 8: `end` does not overflow.
        let o = self.b.ins().band_imm_s(addr, 0xffff_ffff);
        let end = self.b.ins().iadd_imm_s(o, i64::from(size));
        let fails = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, limit);
        self.branch_to_memory_trap(fails, addr);
        // Still the slow path: keep it out of the hot code's layout (it sat between a
        // check and its access, behind a jump, on the hot path).
        let here = self.b.current_block().expect("in a block");
        self.b.set_cold_block(here);
        // o + size <= limit <= the length of the slice behind the entry's host address.
        let region_host = self.b.ins().load(types::I64, f, entry, REGION_HOST as i32);
        let host = self.b.ins().iadd(region_host, o);
        let result = [host, o, limit];
        let remember = self.b.create_block();
        self.b.set_cold_block(remember);
        let done = self.b.create_block();
        self.b.set_cold_block(done);
        let big = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, limit, 8);
        self.b.ins().brif(big, remember, &[], done, &[]);
        self.b.seal_block(remember);
        self.b.switch_to_block(remember);
        let at = access.guess_offset();
        let region_base = self.b.ins().isub(addr, o);
        self.b.ins().store(f, region_base, self.ctx, at);
        self.b.ins().store(f, region_host, self.ctx, at + 8);
        self.b.ins().store(f, limit, self.ctx, at + 16);
        self.b.ins().jump(done, &[]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        result
    }

    /// The check of the quick tier: a call of [`walk_call`] with the base register's
    /// value, which records the memory trap itself when it found no region for the
    /// access (or the budget ends before it), then a branch to the shared block that
    /// returns `status::MEMORY`. The host address.
    fn walk_by_call(&mut self, base: Value, off: i16, size: u32, access: Access) -> Value {
        let func = self
            .b
            .ins()
            .iconst(self.ptr, walk_call as *const () as usize as i64);
        let info = WalkInfo {
            off,
            size,
            write: access == Access::Write,
            budget_test: self.needs_budget_test(),
            k: self.k,
            pc: self.pc,
        };
        let info = self.b.ins().iconst(types::I64, info.pack() as i64);
        let call =
            self.b
                .ins()
                .call_indirect(self.walk_sig, func, &[self.ctx, base, info, self.rem0]);
        let host = self.b.inst_results(call)[0];
        // Invariant 3: a host address is never 0, so 0 is the failure.
        self.branch_to_memory_return(host);
        host
    }
}

/// What [`walk_call`] needs to know of an access besides its base register's value:
/// one constant argument, so that a check is a call with four arguments and no other
/// code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WalkInfo {
    /// The instruction's offset: the access is at `base + off`.
    pub off: i16,
    /// Bytes accessed (1, 2, 4 or 8).
    pub size: u32,
    /// A store or an atomic (checked against the write limit).
    pub write: bool,
    /// Whether the budget may end before the access (`Translator::needs_budget_test`).
    pub budget_test: bool,
    /// The access's index in its region.
    pub k: u32,
    /// The access's pc.
    pub pc: usize,
}

impl WalkInfo {
    /// Bits 0-3 the size, bit 4 `write`, bit 5 `budget_test`, bits 6-21 `off`, bits
    /// 22-41 `k`, bits 42-61 `pc` (programs have at most `Program::MAX_SLOTS` < 2^20
    /// slots, so `k` and `pc` fit).
    pub(crate) fn pack(self) -> u64 {
        const _: () = assert!(ebpfvm_isa::Program::MAX_SLOTS <= 1 << 20);
        debug_assert!(self.size <= 8 && self.k < 1 << 20 && self.pc < 1 << 20);
        u64::from(self.size)
            | u64::from(self.write) << 4
            | u64::from(self.budget_test) << 5
            | u64::from(self.off as u16) << 6
            | u64::from(self.k) << 22
            | (self.pc as u64) << 42
    }

    /// The fields [`WalkInfo::pack`] packed.
    pub(crate) fn unpack(info: u64) -> WalkInfo {
        WalkInfo {
            off: (info >> 6) as u16 as i16,
            size: (info & 0xf) as u32,
            write: info >> 4 & 1 == 1,
            budget_test: info >> 5 & 1 == 1,
            k: (info >> 22) as u32 & 0xf_ffff,
            pc: (info >> 42) as usize & 0xf_ffff,
        }
    }
}

/// The check of the quick tier, as a function: the table walk of
/// [`Translator::walk`] for the access `info` describes ([`WalkInfo`]) at `base +
/// off` (wrapping, as the interpreter computes it). The
/// host address; or, when the access is not allowed or the budget ends before it
/// (`rem0 <= k`, tested only when `budget_test`), 0 after recording the memory trap in
/// the run context as the `memory_trap` block does (pc, address, `rem0`: `run` tells
/// the two causes apart). It leaves the remembered regions alone.
///
/// # Safety
/// `ctx` points to the live `RunCtx` of a run, whose table pointer and length are
/// current (as for the inline walk).
pub(crate) unsafe extern "C" fn walk_call(
    ctx: *mut RunCtx<'_>,
    base: u64,
    info: u64,
    rem0: u64,
) -> u64 {
    let info = WalkInfo::unpack(info);
    let addr = base.wrapping_add(info.off as i64 as u64);
    // SAFETY: the caller guarantees ctx is the live context of this run.
    let host = unsafe { walk_host(&*ctx, addr, info) };
    if host != 0 && !(info.budget_test && rem0 <= u64::from(info.k)) {
        return host;
    }
    // SAFETY: as above; compiled code keeps none of these fields in registers.
    unsafe {
        (*ctx).trap_pc = info.pc as u64;
        (*ctx).trap_addr = addr;
        (*ctx).trap_info = rem0;
    }
    0
}

/// The walk of [`walk_call`]: the host address of the access, or 0.
///
/// # Safety
/// As [`walk_call`].
unsafe fn walk_host(ctx: &RunCtx<'_>, addr: u64, info: WalkInfo) -> u64 {
    let size = u64::from(info.size);
    let write = info.write;
    // An index past the table selects entry 0, the null region (both limits 0).
    let idx = addr >> 32;
    let idx = if idx < ctx.table_len { idx } else { 0 };
    let limit_at = if write {
        REGION_WRITE_LEN
    } else {
        REGION_READ_LEN
    };
    // SAFETY: `table` points to `table_len > idx` entries of REGION_STRIDE bytes (the
    // contract of `MemoryMap::region_table`), and the offsets name 8-byte aligned
    // fields of an entry.
    let (region_host, limit) = unsafe {
        let entry = ctx.table.add(idx as usize * REGION_STRIDE);
        (
            entry.add(REGION_HOST).cast::<u64>().read(),
            entry.add(limit_at).cast::<u64>().read(),
        )
    };
    // o < 2^32 and size <= 8: no overflow.
    let o = addr & 0xffff_ffff;
    if o + size > limit {
        return 0;
    }
    // o + size <= limit <= the length of the slice behind the entry's host address,
    // which is not null.
    region_host + o
}

#[cfg(test)]
mod tests {
    use super::WalkInfo;

    #[test]
    fn walk_info_survives_packing_at_every_field_extreme() {
        let last = ebpfvm_isa::Program::MAX_SLOTS - 1;
        for off in [i16::MIN, -1, 0, 1, i16::MAX] {
            for size in [1, 2, 4, 8] {
                for (k, pc) in [(0, 0), (1, 7), (last as u32, last), (3, last)] {
                    for (write, budget_test) in [(false, false), (true, false), (false, true)] {
                        let info = WalkInfo {
                            off,
                            size,
                            write,
                            budget_test,
                            k,
                            pc,
                        };
                        assert_eq!(WalkInfo::unpack(info.pack()), info);
                    }
                }
            }
        }
    }
}
