//! Memory checks: the code that turns a guest address into a host pointer.
//!
//! # SAFETY-CRITICAL
//!
//! Every guest load, store and atomic of compiled code gets its host pointer from
//! [`Translator::checked_host_addr`]. A mistake here lets a guest program read or write
//! host memory it was never given: a sandbox escape. Keep this file small, keep the
//! reasoning next to the code, and change it only with the differential tests
//! (`tests/differential.rs`) running.
//!
//! ## The address space (see `vm/src/memory.rs`)
//!
//! A guest address is `region << 32 | offset`. `MemoryMap` keeps a table of regions, one
//! `#[repr(C)]` entry per region: `host` (the host address of offset 0), `read_len` and
//! `write_len` (how many bytes from offset 0 may be read / written; 0 for none). The
//! JIT reads the table through [`ebpfvm_vm::MemoryMap::region_table`] and the layout
//! constants `REGION_STRIDE`, `REGION_HOST`, `REGION_READ_LEN`, `REGION_WRITE_LEN`.
//!
//! ## The check (the interpreter's `MemoryMap::host_ptr`, inlined)
//!
//! ```text
//! addr  = base + sign_extend(off)              (wrapping, 64 bits)
//! idx   = addr >> 32
//! idx'  = idx < table_len ? idx : 0            (entry 0 is the null region: limits 0)
//! entry = table + idx' * REGION_STRIDE
//! o     = addr & 0xffff_ffff
//! if o + size > entry.limit  -> trap           (limit: read_len or write_len)
//! host  = entry.host + o
//! ```
//!
//! Invariants it relies on, and why they hold:
//!
//! 1. **The table pointer and length are current.** They are loaded from the run
//!    context at entry and again after every helper call (a helper may map a region,
//!    which may move the table); the runtime function refreshes them in the context
//!    before it returns. Nothing else changes the map during a run: compiled code only
//!    writes guest memory, never the table (which is owned by `MemoryMap`, so no region
//!    can map it).
//! 2. **The entry index is in bounds.** `idx'` is `idx` only when `idx < table_len`,
//!    else 0. Entry 0 always exists (`MemoryMap::new` creates it) and is the null region
//!    with both limits 0, so a clamped access always fails the limit check below
//!    (`size >= 1`). The trap reports the original address.
//! 3. **The sum cannot overflow.** `o < 2^32` and `size <= 8`, so `o + size` fits in 64
//!    bits; unsigned `o + size <= limit` is exactly "every byte is inside the region".
//! 4. **The host range is valid.** `limit <= ` the length of the slice behind `host`,
//!    borrowed (mutably when `write_len > 0`) for the map's lifetime, which outlives the
//!    run; so `host + o .. host + o + size` is inside that slice. Unaligned accesses are
//!    fine on the hosts Cranelift supports, and the loads/stores are emitted without the
//!    `aligned` flag.
//! 5. **A failed check never reaches the access.** It branches to a cold block that
//!    records (pc, address, budget state) in the run context and returns from the
//!    compiled function (`run` derives size, read/write and the count from the
//!    instruction at that pc); no signal handler, no native trap. The same
//!    branch also leaves when the instruction budget ends before the access (see
//!    `translate.rs`); that never lets an access through, it only stops earlier.
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
//! ## Sharing a check within a region
//!
//! Once the full check of `[base + off0, +size0)` has passed, compiled code knows, for
//! as long as `base` keeps its value, the region entry `entry0` and `o0 = (base + off0)
//! & 0xffff_ffff`, with `o0 + size0 <= limit0` (so `o0 < 2^32`). A later access of the
//! same region (`cfg.rs`: straight-line code, one entry) through the same register,
//! unchanged since (`Translator::set_reg` forgets the facts of a register it writes,
//! and every region starts with none), at `off` with `d = off - off0` (`|d| < 2^16`,
//! a constant) is at the guest address `base + off0 + d`:
//!
//! 6. **Covered accesses need no check.** If `[off, off + size)` lies inside offsets an
//!    earlier check *of the same kind* (read or write) passed through this register
//!    (one interval per kind, kept in [`Checked`]), every byte of it is inside region
//!    `entry0`'s limit, at the offsets `o0 + d ..`: `host = host0 + d`. Only the budget
//!    test remains.
//! 7. **Other accesses compare with the limit only.** `o = o0 + d` as a signed 64-bit
//!    value (no overflow: `-2^16 < o < 2^32 + 2^16`). If `0 <= o` and `o + size <=
//!    limit` (the limit of `entry0` for this kind, at most the slice's length, which
//!    `MemoryMap` keeps `<= 2^32`), the access is at offset
//!    `o < 2^32` of region `entry0`, which is where the full check would look, and it
//!    would pass: `host = host0 + d`. Otherwise the access may still be valid in a
//!    neighbouring region (`o < 0` or `o >= 2^32`), so a cold block does the full check
//!    above for it and joins with its host address; nothing is assumed on that path.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use ebpfvm_isa::Reg;
use ebpfvm_vm::{
    FRAME_SIZE, REGION_HOST, REGION_READ_LEN, REGION_STRIDE, REGION_WRITE_LEN, STACK_BASE,
};

use crate::translate::Translator;

/// What a passed full check proved through one register (invariants 6 and 7); valid
/// until the register is written or the region ends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checked {
    /// The offset of the access that made the full check.
    off0: i64,
    /// `(base + off0) & 0xffff_ffff`.
    o0: Value,
    /// The region's table entry.
    entry: Value,
    /// The host address of `base + off0`.
    host0: Value,
    /// Offsets (relative to the register, `[lo, hi)`) a passed check may read.
    read: Option<(i64, i64)>,
    /// Offsets a passed check may write.
    write: Option<(i64, i64)>,
    /// The read limit of `entry`, once loaded.
    read_limit: Option<Value>,
    /// The write limit of `entry`, once loaded.
    write_limit: Option<Value>,
}

impl Checked {
    /// The interval of `access`.
    fn range(&mut self, access: Access) -> &mut Option<(i64, i64)> {
        match access {
            Access::Read => &mut self.read,
            Access::Write => &mut self.write,
        }
    }

    /// The cached limit of `access`.
    fn limit(&mut self, access: Access) -> &mut Option<Value> {
        match access {
            Access::Read => &mut self.read_limit,
            Access::Write => &mut self.write_limit,
        }
    }

    /// Records that `[lo, hi)` passed a check of kind `access`: the union when the two
    /// intervals touch, else the newer one.
    fn cover(&mut self, access: Access, lo: i64, hi: i64) {
        let range = self.range(access);
        *range = Some(match *range {
            Some((a, b)) if lo <= b && a <= hi => (a.min(lo), b.max(hi)),
            _ => (lo, hi),
        });
    }
}

/// The offset of a limit field in a table entry.
fn limit_offset(access: Access) -> i32 {
    (match access {
        Access::Read => REGION_READ_LEN,
        Access::Write => REGION_WRITE_LEN,
    }) as i32
}

/// Whether an access reads or writes (selects the limit that applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// A load.
    Read,
    /// A store or an atomic read-modify-write.
    Write,
}

/// Flags of region-table loads: in bounds (invariant 2), aligned (the table is an
/// array of 8-byte-aligned structs) and not written while compiled code runs (invariant
/// 1; after a helper call the code loads a fresh table pointer, a different value).
fn table_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
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
        let off = i64::from(off);
        let (lo, hi) = (off, off + i64::from(size));
        if base == Reg::FP && off >= -(FRAME_SIZE as i64) && hi <= 0 {
            // The stack fast path (see the module comment).
            self.budget_test();
            let fp = self.b.use_var(self.regs[Reg::FP.index()]);
            let stack_off = self.b.ins().iadd_imm_s(fp, off - STACK_BASE as i64);
            return self.b.ins().iadd(self.stack_host, stack_off);
        }
        let Some(mut known) = self.checked[base.index()] else {
            // The first access through `base` in this region: the full check.
            let (host, checked) = self.full_check(base, off, size, access);
            let mut checked = checked;
            checked.cover(access, lo, hi);
            self.checked[base.index()] = Some(checked);
            return host;
        };
        let d = off - known.off0;
        if known.range(access).is_some_and(|(a, b)| a <= lo && hi <= b) {
            // Invariant 6.
            self.budget_test();
            return self.b.ins().iadd_imm_s(known.host0, d);
        }
        // Invariant 7: the limit compare, with the full check as the cold fallback.
        let limit = match *known.limit(access) {
            Some(limit) => limit,
            None => {
                let limit =
                    self.b
                        .ins()
                        .load(types::I64, table_flags(), known.entry, limit_offset(access));
                *known.limit(access) = Some(limit);
                limit
            }
        };
        let o = self.b.ins().iadd_imm_s(known.o0, d);
        let end = self.b.ins().iadd_imm_s(o, i64::from(size));
        let mut fails = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, limit);
        if d < 0 {
            let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, o, 0);
            fails = self.b.ins().bor(fails, negative);
        }
        if self.needs_budget_test() {
            // The fallback's own test then sends a budget stop to the trap.
            let cut = self.budget_cut();
            fails = self.b.ins().bor(fails, cut);
        }
        let host_fast = self.b.ins().iadd_imm_s(known.host0, d);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let cont = self.b.create_block();
        let host = self.b.append_block_param(cont, self.ptr);
        self.b
            .ins()
            .brif(fails, slow, &[], cont, &[host_fast.into()]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        let (host_slow, _) = self.full_check(base, off, size, access);
        self.b.ins().jump(cont, &[host_slow.into()]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
        known.cover(access, lo, hi);
        self.checked[base.index()] = Some(known);
        host
    }

    /// The budget test of an access that needs no bounds check.
    fn budget_test(&mut self) {
        if self.needs_budget_test() {
            let cut = self.budget_cut();
            self.branch_to_budget_trap(cut);
        }
    }

    /// The full check (invariants 1-5) of the access at `base + off`: its host address
    /// and what the check proved, with empty intervals.
    fn full_check(&mut self, base: Reg, off: i64, size: u32, access: Access) -> (Value, Checked) {
        let base = self.b.use_var(self.regs[base.index()]);
        let addr = self.b.ins().iadd_imm_s(base, off);
        let table = self.b.use_var(self.table);
        let table_len = self.b.use_var(self.table_len);
        // Invariant 2: clamp the index to the null region.
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
        let limit = self
            .b
            .ins()
            .load(types::I64, table_flags(), entry, limit_offset(access));
        // Invariant 3: o < 2^32 and size <= 8, so `end` does not overflow.
        let o = self.b.ins().band_imm_s(addr, 0xffff_ffff);
        let end = self.b.ins().iadd_imm_s(o, i64::from(size));
        let fails = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, limit);
        self.branch_to_memory_trap(fails, addr);
        // Invariant 4: o + size <= limit <= the slice's length.
        let host = self
            .b
            .ins()
            .load(types::I64, table_flags(), entry, REGION_HOST as i32);
        let host = self.b.ins().iadd(host, o);
        let mut checked = Checked {
            off0: off,
            o0: o,
            entry,
            host0: host,
            read: None,
            write: None,
            read_limit: None,
            write_limit: None,
        };
        *checked.limit(access) = Some(limit);
        (host, checked)
    }
}
