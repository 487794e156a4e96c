//! The first pass: cut the program into regions and find the call targets and return
//! sites.
//!
//! A *region* is a run of instructions entered only at its first one, so that counting
//! can be done once per region while every count stays exact (see `translate.rs`). A
//! region starts at pc 0, at every jump and local-call target, at every code address an
//! `lddw` loads, after every instruction that transfers control or may end the run by
//! itself (jumps, calls, `exit`, legacy packet loads: their continuation is a region of
//! its own), and, when the program has a `callx`, at every instruction (a register may
//! hold any code address). Inside a region only loads, stores and atomics can end the
//! run early.
//!
//! *Code targets* are the pcs a code address held in a register may reach: every
//! instruction in a program with `callx`; otherwise the local-call targets and `lddw`
//! code addresses, which are all a `bpf_loop` callback can be (the kernel only accepts a
//! callback loaded by such an `lddw`).

use ebpfvm_isa::{CallTarget, Imm64, Insn};

/// One region: the slots `start..end`, holding `count` instructions (an `lddw` counts
/// once but fills two slots).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    /// First slot.
    pub start: usize,
    /// One past the last slot.
    pub end: usize,
    /// Instructions in the region.
    pub count: u32,
}

/// The regions and call sites of a program.
#[derive(Debug)]
pub(crate) struct Cfg {
    /// Regions in program order.
    pub regions: Vec<Region>,
    /// For each slot, the region that starts there (`NONE` elsewhere).
    pub region_at: Vec<u32>,
    /// For each slot, whether a code address may call it (always a region start).
    pub code_target: Vec<bool>,
    /// The pc each call may return to (call pc + 1), in program order: local calls,
    /// `callx`, and helper calls when a helper may start a `bpf_loop`. A frame records
    /// the index.
    pub return_sites: Vec<usize>,
    /// Whether frames exist (so `exit` may return).
    pub has_frames: bool,
    /// Whether a helper call may start a `bpf_loop` (some code target exists).
    pub loops: bool,
}

/// `region_at` of a slot where no region starts.
pub(crate) const NONE: u32 = u32::MAX;

/// Whether `insn` ends a region (control leaves, or the run may end by itself).
pub(crate) fn ends_region(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Ja { .. } | Insn::Jump { .. } | Insn::Call(_) | Insn::Exit | Insn::LegacyLoad { .. }
    )
}

impl Cfg {
    /// Analyses a validated program (jump targets are in range and never an `lddw`'s
    /// second slot).
    pub(crate) fn new(insns: &[Insn]) -> Cfg {
        let len = insns.len();
        let has = |f: fn(&Insn) -> bool| insns.iter().any(f);
        let has_callx = has(|i| matches!(i, Insn::Call(CallTarget::Reg(_))));
        let has_local = has(|i| matches!(i, Insn::Call(CallTarget::Local(_))));
        let has_helper = has_callx || has(|i| matches!(i, Insn::Call(CallTarget::Helper(_))));

        let mut starts = vec![false; len];
        let mut code_target = vec![false; len];
        starts[0] = true;
        let mut pc = 0;
        while pc < len {
            let insn = &insns[pc];
            let next = pc + insn.slots();
            if has_callx {
                code_target[pc] = true;
            }
            if let Some(t) = insn.branch_target(pc) {
                starts[t as usize] = true;
                if matches!(
                    insn,
                    Insn::Call(CallTarget::Local(_))
                        | Insn::LoadImm64 {
                            imm: Imm64::CodeAddr(_),
                            ..
                        }
                ) {
                    code_target[t as usize] = true;
                }
            }
            if ends_region(insn) && next < len {
                starts[next] = true;
            }
            pc = next;
        }
        let loops = has_helper && code_target.contains(&true);
        let mut return_sites = Vec::new();
        let mut pc = 0;
        while pc < len {
            let insn = &insns[pc];
            let returns = match insn {
                Insn::Call(CallTarget::Local(_) | CallTarget::Reg(_)) => true,
                Insn::Call(CallTarget::Helper(_)) => loops,
                _ => false,
            };
            if returns {
                return_sites.push(pc + 1);
            }
            starts[pc] |= code_target[pc];
            pc += insn.slots();
        }

        let mut regions: Vec<Region> = Vec::new();
        let mut region_at = vec![NONE; len];
        let mut pc = 0;
        while pc < len {
            if starts[pc] {
                if let Some(last) = regions.last_mut() {
                    last.end = pc;
                }
                region_at[pc] = regions.len() as u32;
                regions.push(Region {
                    start: pc,
                    end: len,
                    count: 0,
                });
            }
            if let Some(last) = regions.last_mut() {
                last.count += 1;
            }
            pc += insns[pc].slots();
        }
        Cfg {
            regions,
            region_at,
            code_target,
            has_frames: has_local || has_callx || loops,
            return_sites,
            loops,
        }
    }
}
