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
    /// For each slot holding a jump, whether its taken edge is a retreating edge of a
    /// depth-first walk from the entry and the code targets: in the CFGs clang emits
    /// (reducible), a loop's back edge, the likely side of the branch (`jump.rs`).
    pub back_edge: Vec<bool>,
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
        let back_edge = back_edges(insns, &regions, &region_at, &code_target);
        Cfg {
            regions,
            region_at,
            code_target,
            has_frames: has_local || has_callx || loops,
            return_sites,
            loops,
            back_edge,
        }
    }
}

/// [`Cfg::back_edge`]: an iterative depth-first walk over the regions. A region's
/// successors are its jump's target and its fall-through (calls return, so their
/// targets are walked as roots of their own).
fn back_edges(
    insns: &[Insn],
    regions: &[Region],
    region_at: &[u32],
    code_target: &[bool],
) -> Vec<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let len = insns.len();
    let mut back = vec![false; len];
    let mut mark = vec![Mark::New; regions.len()];
    // The last instruction's pc of each region.
    let last = |r: usize| {
        let mut pc = regions[r].start;
        while pc + insns[pc].slots() < regions[r].end {
            pc += insns[pc].slots();
        }
        pc
    };
    // (region, successors visited so far) on the walk's stack.
    let mut stack: Vec<(usize, u8)> = Vec::new();
    let roots = std::iter::once(0).chain((0..len).filter(|&pc| code_target[pc]));
    for root in roots {
        let root = region_at[root] as usize;
        if mark[root] != Mark::New {
            continue;
        }
        mark[root] = Mark::OnStack;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (r, k) = *top;
            top.1 += 1;
            let pc = last(r);
            let insn = &insns[pc];
            let next = pc + insn.slots();
            let falls = !matches!(insn, Insn::Ja { .. } | Insn::Exit) && next < len;
            let target = match insn {
                Insn::Ja { .. } | Insn::Jump { .. } => insn.branch_target(pc),
                _ => None,
            };
            let succ = match k {
                0 => target.map(|t| (t as usize, true)),
                1 if falls => Some((next, false)),
                1 => None,
                _ => {
                    mark[r] = Mark::Done;
                    stack.pop();
                    continue;
                }
            };
            let Some((to, taken)) = succ else { continue };
            let s = region_at[to] as usize;
            match mark[s] {
                Mark::New => {
                    mark[s] = Mark::OnStack;
                    stack.push((s, 0));
                }
                Mark::OnStack if taken => back[pc] = true,
                _ => {}
            }
        }
    }
    back
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebpfvm_isa::assemble;

    /// The slots whose jump is a back edge.
    fn back(text: &str) -> Vec<usize> {
        let program = assemble(text).expect("assembles");
        let cfg = Cfg::new(program.insns());
        (0..cfg.back_edge.len())
            .filter(|&pc| cfg.back_edge[pc])
            .collect()
    }

    #[test]
    fn a_loop_closed_by_a_backward_jump() {
        let text = "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 10, loop\nexit";
        assert_eq!(back(text), [2]);
    }

    #[test]
    fn a_rotated_loop_closed_by_a_forward_jump() {
        // As clang lays out collatz: the header after the latch, entered by a jump.
        let text = "mov %r0, 0\nja head\nlatch:\nadd %r0, 1\njne %r0, 10, head\nexit\n\
                    head:\nadd %r0, 2\nja latch";
        assert_eq!(back(text), [3]);
    }

    #[test]
    fn forward_jumps_and_joins_are_not_back_edges() {
        let text =
            "mov %r0, 0\njeq %r1, 0, skip\nmov %r0, 1\nskip:\njeq %r2, 0, +1\nmov %r0, 2\nexit";
        assert_eq!(back(text), Vec::<usize>::new());
        // A backward jump to a join that closes no loop.
        let text = "ja second\nfirst:\nexit\nsecond:\njeq %r1, 0, first\nmov %r0, 1\nja first";
        assert_eq!(back(text), Vec::<usize>::new());
    }
}
