//! Which stack bytes a run of a program may write: what a reused [`Stack`] must zero
//! before the next run so that no run sees what an earlier one left.
//!
//! Zeroing the whole stack (4 KiB: eight 512-byte frames) costs more than running a
//! short program, so [`stack_writes`] proves a smaller range where it can. The proof is
//! syntactic and deliberately simple. A program's stack writes stay within the
//! `r10`-relative offsets of its own `r10`-based stores when:
//!
//! * `r10` is only ever the base register of a load, store or atomic: it is never copied,
//!   compared, stored or otherwise read, so no other register can hold a stack address
//!   derived from it;
//! * every store and atomic has `r10` as its base: an address computed in another
//!   register could point into the stack even without `r10` (guest addresses are fixed:
//!   `lddw r1, STACK_BASE` forges one), so any such write might hit the stack;
//! * it calls nothing: a helper may write through any pointer it is given (again,
//!   possibly forged), and bpf-to-bpf calls, `callx` and callbacks move `r10` to other
//!   frames; tail calls are helper calls.
//!
//! Anything else gets the whole stack. Loads never write, so a program that only reads
//! through computed pointers keeps its small range.

use std::ops::Range;

use ebpfvm_isa::{Insn, Operand, Reg, Width};

use crate::memory::STACK_SIZE;

/// The offsets within the stack region (0 = [`crate::STACK_BASE`]) that a run of `insns`
/// may write; the whole stack unless the rules of the module comment prove less. An empty
/// range means the program never writes the stack.
pub fn stack_writes(insns: &[Insn]) -> Range<usize> {
    let whole = 0..STACK_SIZE;
    let fp = Reg::FP;
    let reads_fp = |op: &Operand| *op == Operand::Reg(fp);
    // The lowest and highest (exclusive) r10-relative offsets written.
    let mut low = i64::MAX;
    let mut high = i64::MIN;
    for insn in insns {
        let written = match *insn {
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                if dst != fp || reads_fp(&src) {
                    return whole;
                }
                Some((off, size.bytes()))
            }
            Insn::Atomic {
                width,
                dst,
                src,
                off,
                ..
            } => {
                if dst != fp || src == fp {
                    return whole;
                }
                let bytes = match width {
                    Width::W32 => 4,
                    Width::W64 => 8,
                };
                Some((off, bytes))
            }
            Insn::Load { dst, .. } if dst == fp => return whole,
            Insn::Load { .. } => None,
            Insn::Alu { dst, src, .. } if dst == fp || reads_fp(&src) => return whole,
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } | Insn::LoadImm64 { dst, .. }
                if dst == fp =>
            {
                return whole
            }
            Insn::Jump { dst, src, .. } if dst == fp || reads_fp(&src) => return whole,
            Insn::Call(_) => return whole,
            Insn::Alu { .. }
            | Insn::Neg { .. }
            | Insn::Endian { .. }
            | Insn::LoadImm64 { .. }
            | Insn::Imm64Tail
            | Insn::LegacyLoad { .. }
            | Insn::Ja { .. }
            | Insn::Jump { .. }
            | Insn::Exit => None,
        };
        if let Some((off, bytes)) = written {
            low = low.min(off as i64);
            high = high.max(off as i64 + bytes as i64);
        }
    }
    if low >= high {
        return 0..0;
    }
    // r10 is the top of the stack region; writes outside the region trap before they
    // write anything, so the range is clipped to it.
    let top = STACK_SIZE as i64;
    let start = (top + low).clamp(0, top) as usize;
    let end = (top + high).clamp(0, top) as usize;
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebpfvm_isa::assemble;

    fn writes(text: &str) -> Range<usize> {
        stack_writes(assemble(text).expect("assembles").insns())
    }

    const TOP: usize = STACK_SIZE;

    #[test]
    fn a_program_without_stores_writes_nothing() {
        assert_eq!(writes("mov %r0, 0\nexit"), 0..0);
        assert_eq!(writes("ldxdw %r0, [%r10-8]\nldxw %r1, [%r1]\nexit"), 0..0);
    }

    #[test]
    fn r10_based_stores_give_their_offsets() {
        let text = "stdw [%r10-16], 1\nstxb [%r10-3], %r1\nstxw [%r10-40], %r2\n\
                    lock add [%r10-48], %r3\nmov %r0, 0\nexit";
        assert_eq!(writes(text), TOP - 48..TOP - 2);
    }

    #[test]
    fn stores_outside_the_region_are_clipped() {
        assert_eq!(writes("stdw [%r10+8], 1\nexit"), TOP..TOP);
        assert_eq!(
            writes("stdw [%r10-32768], 1\nstdw [%r10-8], 1\nexit"),
            0..TOP
        );
    }

    #[test]
    fn anything_that_may_reach_the_stack_otherwise_gets_all_of_it() {
        for text in [
            // r10 copied, compared, stored, written.
            "mov %r1, %r10\nexit",
            "add %r1, %r10\nexit",
            "jeq %r10, %r1, +0\nexit",
            "jeq %r1, %r10, +0\nexit",
            "stxdw [%r10-8], %r10\nexit",
            "lock add [%r10-8], %r10\nexit",
            // Writes through other registers (the address may be forged).
            "stdw [%r1], 0\nexit",
            "lddw %r1, 0x200000ff8\nstdw [%r1], 0\nexit",
            "lock add [%r1], %r2\nexit",
            // Calls of any kind.
            "call 1\nexit",
            "call local func\nexit\nfunc:\nexit",
            "call %r1\nexit",
        ] {
            assert_eq!(writes(text), 0..TOP, "{text}");
        }
    }
}
