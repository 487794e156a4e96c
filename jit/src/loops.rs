//! Loop checks: one region lookup per entry into a loop instead of a full check per
//! access, for the loops clang emits over a buffer (`r4 = r1; r4 += r3; ldx [r4]`).
//!
//! # SAFETY-CRITICAL
//!
//! Like `bounds.rs`, this code decides which guest accesses reach host memory unchecked
//! by the table walk; keep the reasoning next to it and change it only with the
//! differential tests (`tests/differential.rs`, `tests/loop_checks.rs`) running.
//!
//! ## The shape
//!
//! A *loop region* is a region (`cfg.rs`) whose last instruction jumps back to its first
//! (a conditional jump or `ja`). Regions end at every call, so a loop region runs no
//! helper: no region of the map changes while it iterates. For each load or store of the
//! loop region through a register `rX` whose last two writes in the region are
//! `rX = rA; rX += rI` (64-bit), one of `rA`, `rI` that the region never writes is the
//! access's *anchor* `rB` (`candidates`). The pattern only chooses where the loop check
//! pays off; the argument below holds for any `rX`.
//!
//! ## The preheader
//!
//! The region's entry block (where every jump to the region lands, `Translator::
//! region_block`) becomes a *preheader*: it computes, for each such access, from the
//! anchor's value `vB` at entry, without trapping (the loop may never reach the access):
//!
//! ```text
//! idx   = vB >> 32, or 0 (the null region, limits 0) when idx >= table_len
//! limit = the region's limit for the access's kind, host its offset 0's host address
//! w     = (vB & 0xffff_ffff) + off            (no overflow: -2^15 < w < 2^32 + 2^15)
//! k     = limit - size - w                    (-2^32 - 2^15 < k <= 2^32 + 2^15)
//! bound = k + 1 if w >= 0 and k >= 0, else 0  (so 0 <= bound <= 2^32 + 1)
//! hostk = host + w
//! ```
//!
//! and jumps to the loop's body, a new block; the body's back edge goes to the body, so
//! the preheader runs once per entry into the loop.
//!
//! ## The check
//!
//! In the body, the access computes `d = rX - vB` (wrapping) and goes on with host
//! address `hostk + d` when `d < bound` (unsigned; with the budget test of the access,
//! `translate.rs`). Why that is the check `MemoryMap::host_ptr` would pass:
//!
//! 1. **`vB` is the anchor's value at the access.** The region never writes the anchor,
//!    and the body is only entered from the preheader or from its own back edge.
//! 2. **The limits are current.** Regions change only in helper calls, and none runs
//!    between the preheader and the access (no call in a region, and the back edge does
//!    not leave it).
//! 3. **A passed check is in bounds.** `d < bound` needs `bound > 0`, so `w >= 0`,
//!    `k >= 0`, and `idx` was in the table (else `limit = 0` makes `k < 0`). Then `o = w +
//!    d` lies in `[w, w + k] = [w, limit - size]`, so `0 <= o` and `o + size <= limit
//!    <= 2^32`. The guest address is `rX + off = vB + d + off = idx * 2^32 + o` (no
//!    wrap: `o < 2^32` and `idx < 2^32`): offset `o` of region `idx`, where `host_ptr`
//!    looks, and where it passes, giving `host + o = hostk + d`.
//!
//! A failed check (or a budget that ends before the access) branches to a cold copy of
//! the rest of the region from that access, translated with the full checks of
//! `bounds.rs` (`Translator::translate_span`): the access traps there exactly as it
//! would without this file, or goes on. The copy's back edge goes to the preheader.
//! Nothing is learnt from a loop check (`Translator::checked` forgets `rX`), and the copy
//! starts with no facts.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use ebpfvm_isa::{AluOp, Insn, Operand, Reg, Width};
use ebpfvm_vm::{REGION_HOST, REGION_READ_LEN, REGION_STRIDE, REGION_WRITE_LEN};

use crate::bounds::Access;
use crate::cfg::Region;
use crate::ctx::off;
use crate::translate::Translator;

/// At most this many accesses of one loop get a loop check: each adds a cold copy of
/// the rest of the region.
const MAX_LOOP_CHECKS: usize = 8;

/// What the preheader computed for one access of the loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoopCheck {
    /// The access's pc.
    pub pc: usize,
    /// The anchor's value at entry, `vB`.
    anchor: Value,
    /// `bound` (module comment).
    bound: Value,
    /// `hostk` (module comment).
    host: Value,
}

/// An access of a loop region that gets a loop check: its pc, anchor, offset, size and
/// kind.
struct Candidate {
    pc: usize,
    anchor: Reg,
    off: i16,
    size: u32,
    access: Access,
}

/// Whether `insn` may write `r` (conservatively: calls and legacy loads write them
/// all, though a loop region holds neither).
fn writes(insn: &Insn, r: Reg) -> bool {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LoadImm64 { dst, .. } => dst == r,
        Insn::Atomic { src, .. } => src == r || r == Reg::R0,
        Insn::LegacyLoad { .. } | Insn::Call(_) => true,
        Insn::Store { .. } | Insn::Imm64Tail | Insn::Ja { .. } | Insn::Jump { .. } | Insn::Exit => {
            false
        }
    }
}

/// The accesses of `region` that get a loop check; none unless it is a loop region.
fn candidates(insns: &[Insn], region: Region) -> Vec<Candidate> {
    let mut pcs = Vec::new();
    let mut pc = region.start;
    while pc < region.end {
        pcs.push(pc);
        pc += insns[pc].slots();
    }
    let is_loop = pcs.last().is_some_and(|&last| {
        matches!(insns[last], Insn::Ja { .. } | Insn::Jump { .. })
            && insns[last].branch_target(last) == Some(region.start as i64)
    });
    if !is_loop {
        return Vec::new();
    }
    let invariant = |r: Reg| !pcs.iter().any(|&pc| writes(&insns[pc], r));
    let mut found = Vec::new();
    for (i, &pc) in pcs.iter().enumerate() {
        let (base, off, size, access) = match insns[pc] {
            Insn::Load { src, off, size, .. } => (src, off, size.bytes(), Access::Read),
            Insn::Store { dst, off, size, .. } => (dst, off, size.bytes(), Access::Write),
            _ => continue,
        };
        // The stack fast path (`bounds.rs`) needs no check at all.
        if base == Reg::FP {
            continue;
        }
        let mut defs = pcs[..i].iter().rev().filter(|&&p| writes(&insns[p], base));
        let (Some(&add), Some(&mov)) = (defs.next(), defs.next()) else {
            continue;
        };
        let (
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                src: Operand::Reg(index),
                ..
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                src: Operand::Reg(start),
                ..
            },
        ) = (insns[add], insns[mov])
        else {
            continue;
        };
        let Some(anchor) = [start, index]
            .into_iter()
            .find(|&r| r != base && r != Reg::FP && invariant(r))
        else {
            continue;
        };
        found.push(Candidate {
            pc,
            anchor,
            off,
            size,
            access,
        });
        if found.len() == MAX_LOOP_CHECKS {
            break;
        }
    }
    found
}

impl Translator<'_> {
    /// In the entry block of `region`: the preheader's values (module comment) for each
    /// access that gets a loop check; empty unless it is a loop region.
    pub(crate) fn loop_preheader(&mut self, region: Region) -> Vec<LoopCheck> {
        let found = candidates(self.insns, region);
        if found.is_empty() {
            return Vec::new();
        }
        let f = MemFlagsData::trusted();
        // Current: `run` sets them, the runtime refreshes them after every helper call.
        let table = self.b.ins().load(self.ptr, f, self.ctx, off::TABLE);
        let table_len = self.b.ins().load(types::I64, f, self.ctx, off::TABLE_LEN);
        let zero = self.b.ins().iconst(types::I64, 0);
        let mut checks = Vec::with_capacity(found.len());
        for c in found {
            let anchor = self.reg(c.anchor);
            let idx = self.b.ins().ushr_imm_s(anchor, 32);
            let in_table = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, table_len);
            let idx = self.b.ins().select(in_table, idx, zero);
            let scaled = self.b.ins().imul_imm_s(idx, REGION_STRIDE as i64);
            let entry = self.b.ins().iadd(table, scaled);
            let limit_at = match c.access {
                Access::Read => REGION_READ_LEN,
                Access::Write => REGION_WRITE_LEN,
            } as i32;
            let limit = self.b.ins().load(types::I64, f, entry, limit_at);
            let host = self.b.ins().load(types::I64, f, entry, REGION_HOST as i32);
            let offset = self.b.ins().band_imm_s(anchor, 0xffff_ffff);
            let w = self.b.ins().iadd_imm_s(offset, i64::from(c.off));
            let last = self.b.ins().iadd_imm_s(limit, -i64::from(c.size));
            let k = self.b.ins().isub(last, w);
            let w_ok = self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, w, 0);
            let k_ok = self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, k, 0);
            let ok = self.b.ins().band(w_ok, k_ok);
            let k1 = self.b.ins().iadd_imm_s(k, 1);
            let bound = self.b.ins().select(ok, k1, zero);
            let host = self.b.ins().iadd(host, w);
            checks.push(LoopCheck {
                pc: c.pc,
                anchor,
                bound,
                host,
            });
        }
        checks
    }

    /// The host address of the access through `base` with loop check `check` (module
    /// comment); a failed check, or a budget that ends before the access, goes to the
    /// cold copy of the rest of the region from here (recorded in `deopts`).
    pub(crate) fn loop_checked(&mut self, check: LoopCheck, base: Reg) -> Value {
        let rx = self.reg(base);
        let d = self.b.ins().isub(rx, check.anchor);
        let mut fails = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, d, check.bound);
        if self.needs_budget_test() {
            let cut = self.budget_cut();
            fails = self.b.ins().bor(fails, cut);
        }
        let host = self.b.ins().iadd(check.host, d);
        let (copy, cont) = self.cold_split(fails);
        self.b.switch_to_block(cont);
        self.deopts.push((self.pc, self.k, copy));
        // Nothing proved about `rX`'s region (module comment).
        self.checked[base.index()] = None;
        host
    }
}
