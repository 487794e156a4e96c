//! Differential test against the Linux kernel: random programs (ALU of every kind,
//! forward conditional jumps, stack loads, stores and atomics) run in the kernel as XDP
//! programs through BPF_PROG_TEST_RUN, and on our interpreter and JIT as `raw` programs. The
//! program stores r0-r9 and its stack slots into the packet (kernel) or memory (ours)
//! at the end; both must be byte-for-byte equal.
//!
//! The kernel side goes through `ebpfvm-kernel`. Skips, saying why, where `bpf()` is not
//! permitted.

use ebpfvm::isa::{
    AluOp, AtomicOp, ByteOrder, Cond, Imm64, Insn, Operand, Program, Reg, SignExtend, Size,
    SwapWidth, Width,
};
use ebpfvm::{Engine, Vm};
use ebpfvm_kernel::{KernelError, KernelProgram, ProgramType, TestRun};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Bytes the epilogue writes: r0-r9, then the 8 stack slots the body uses.
const OUT_LEN: usize = 80 + 64;
/// Stack slots the body may touch: [r10-80, r10-17]; -8 and -16 are the harness's.
const SLOTS_LOW: i16 = -80;

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("r0..r10")
}

/// A tiny deterministic generator, seeded by proptest.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn reg(&mut self) -> Reg {
        reg(self.below(10) as u8)
    }
    fn imm(&mut self) -> i32 {
        match self.below(6) {
            0 => self.pick(&[0, 1, -1, i32::MIN, i32::MAX, 0x8000, 0xffff]),
            1 => self.below(64) as i32,
            2 => -(self.below(64) as i32),
            _ => self.next() as i32,
        }
    }
    fn value64(&mut self) -> u64 {
        match self.below(4) {
            0 => self.pick(&[0, 1, u64::MAX, 1 << 63, (1 << 63) - 1, 0xffff_ffff, 1 << 32]),
            1 => self.below(1000),
            _ => self.next(),
        }
    }
    fn width(&mut self) -> Width {
        if self.below(2) == 0 {
            Width::W32
        } else {
            Width::W64
        }
    }
    /// A stack offset for an access of `size` bytes, aligned, inside the body's slots.
    fn slot(&mut self, size: u32) -> i16 {
        let count = 64 / size as u64;
        SLOTS_LOW + (self.below(count) as i16) * size as i16
    }
}

fn alu(g: &mut Gen) -> Insn {
    use AluOp::*;
    let width = g.width();
    let bits = if width == Width::W64 { 64 } else { 32 };
    let op = g.pick(&[
        Add, Sub, Mul, Div, SDiv, Or, And, Lsh, Rsh, Mod, SMod, Xor, Mov, Arsh,
    ]);
    let src = if g.below(2) == 0 {
        Operand::Reg(g.reg())
    } else {
        Operand::Imm(match op {
            // The kernel refuses constant shifts out of range and division by constant 0.
            Lsh | Rsh | Arsh => g.below(bits) as i32,
            Div | SDiv | Mod | SMod => match g.imm() {
                0 => 7,
                v => v,
            },
            _ => g.imm(),
        })
    };
    Insn::Alu {
        width,
        op,
        dst: g.reg(),
        src,
    }
}

fn body_insn(g: &mut Gen, remaining: usize) -> Insn {
    match g.below(20) {
        0..=8 => alu(g),
        9 => {
            let width = g.width();
            let from = match width {
                Width::W64 => g.pick(&[SignExtend::S8, SignExtend::S16, SignExtend::S32]),
                Width::W32 => g.pick(&[SignExtend::S8, SignExtend::S16]),
            };
            Insn::Alu {
                width,
                op: AluOp::MovSx(from),
                dst: g.reg(),
                src: Operand::Reg(g.reg()),
            }
        }
        10 => Insn::Neg {
            width: g.width(),
            dst: g.reg(),
        },
        11 => Insn::Endian {
            order: g.pick(&[ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap]),
            width: g.pick(&[SwapWidth::B16, SwapWidth::B32, SwapWidth::B64]),
            dst: g.reg(),
        },
        12 | 13 => {
            let size = g.pick(&[Size::B, Size::H, Size::W, Size::DW]);
            Insn::Load {
                size,
                sign_extend: size != Size::DW && g.below(3) == 0,
                dst: g.reg(),
                src: Reg::FP,
                off: g.slot(size.bytes()),
            }
        }
        14 | 15 => {
            let size = g.pick(&[Size::B, Size::H, Size::W, Size::DW]);
            let src = if g.below(2) == 0 {
                Operand::Reg(g.reg())
            } else {
                Operand::Imm(g.imm())
            };
            Insn::Store {
                size,
                dst: Reg::FP,
                off: g.slot(size.bytes()),
                src,
            }
        }
        16 => {
            use AtomicOp::*;
            let mut width = g.width();
            let op = g.pick(&[
                Add, Or, And, Xor, FetchAdd, FetchOr, FetchAnd, FetchXor, Xchg, CmpXchg,
            ]);
            // A kernel divergence, not ours: a 32-bit cmpxchg zero-extends r0 (RFC 9669,
            // and the kernel verifier's own model of r0 afterwards), but Linux 6.18's x86
            // JIT leaves r0's upper half in place when the comparison succeeds and the
            // verifier did not mark the zero extension as needed, which depends on how
            // it pruned the paths after it. Found by this test (seed 13046087508826742618,
            // 59 instructions); 64-bit cmpxchg keeps the comparison covered here, and the
            // 32-bit form is covered by conformance and the JIT-vs-interpreter tests.
            if op == CmpXchg {
                width = Width::W64;
            }
            let size = if width == Width::W64 { 8 } else { 4 };
            Insn::Atomic {
                width,
                op,
                dst: Reg::FP,
                src: g.reg(),
                off: g.slot(size),
            }
        }
        _ => {
            let src = if g.below(2) == 0 {
                Operand::Reg(g.reg())
            } else {
                Operand::Imm(g.imm())
            };
            Insn::Jump {
                width: g.width(),
                cond: g.pick(&Cond::ALL),
                dst: g.reg(),
                src,
                // Forward only, at most to the epilogue: the program terminates and has
                // no unreachable instruction.
                off: g.below(remaining as u64 + 1) as i16,
            }
        }
    }
}

fn ldxdw(dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size: Size::DW,
        sign_extend: false,
        dst,
        src,
        off,
    }
}

fn stxdw(dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::Store {
        size: Size::DW,
        dst,
        off,
        src: Operand::Reg(src),
    }
}

fn mov64(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

/// Register and stack initialisation, the random body, and the epilogue that writes
/// r0-r9 and the stack slots through the pointer saved at r10-8.
fn common_part(g: &mut Gen, body_len: usize) -> Vec<Insn> {
    let mut insns = Vec::new();
    for r in 0..10 {
        insns.push(Insn::LoadImm64 {
            dst: reg(r),
            imm: Imm64::Value(g.value64()),
        });
        insns.push(Insn::Imm64Tail);
    }
    for slot in 0..8 {
        insns.push(Insn::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: SLOTS_LOW + slot * 8,
            src: Operand::Imm(g.imm()),
        });
    }
    for i in 0..body_len {
        insns.push(body_insn(g, body_len - 1 - i));
    }
    let (r0, r1) = (reg(0), reg(1));
    insns.push(stxdw(Reg::FP, -16, r1));
    insns.push(ldxdw(r1, Reg::FP, -8));
    insns.push(stxdw(r1, 0, r0));
    insns.push(ldxdw(r0, Reg::FP, -16));
    insns.push(stxdw(r1, 8, r0));
    for r in 2..10 {
        insns.push(stxdw(r1, 8 * r as i16, reg(r)));
    }
    for slot in 0..8 {
        insns.push(ldxdw(r0, Reg::FP, SLOTS_LOW + slot * 8));
        insns.push(stxdw(r1, 80 + slot * 8, r0));
    }
    insns.push(mov64(r0, 2)); // XDP_PASS
    insns.push(Insn::Exit);
    insns
}

/// The kernel's version: find the packet through the XDP context and check its length.
fn kernel_program(common: &[Insn]) -> Program {
    let (r1, r2, r3) = (reg(1), reg(2), reg(3));
    let load32 = |dst, off| Insn::Load {
        size: Size::W,
        sign_extend: false,
        dst,
        src: r1,
        off,
    };
    let mut insns = vec![
        load32(r2, 4), // data_end
        load32(r1, 0), // data
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r3,
            src: Operand::Reg(r1),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: r3,
            src: Operand::Imm(OUT_LEN as i32),
        },
        Insn::Jump {
            width: Width::W64,
            cond: Cond::Gt,
            dst: r3,
            src: Operand::Reg(r2),
            off: common.len() as i16 + 1,
        },
        stxdw(Reg::FP, -8, r1),
    ];
    insns.extend_from_slice(common);
    insns.push(mov64(reg(0), 0)); // XDP_ABORTED: packet too short
    insns.push(Insn::Exit);
    Program::new(insns).expect("valid kernel program")
}

/// Ours: r1 is the memory already.
fn raw_program(common: &[Insn]) -> Program {
    let mut insns = vec![stxdw(Reg::FP, -8, reg(1))];
    insns.extend_from_slice(common);
    Program::new(insns).expect("valid raw program")
}

fn check_seed(seed: u64, body_len: usize) -> Result<(), TestCaseError> {
    let mut g = Gen(seed | 1);
    let common = common_part(&mut g, body_len);
    let kernel = kernel_program(&common);
    let ours = raw_program(&common);
    let listing = ebpfvm::isa::disassemble(&ours);
    let packet = vec![0u8; OUT_LEN];
    let loaded = match load_xdp(&kernel) {
        Ok(p) => p,
        Err(KernelError::Refused { log, .. }) => {
            return Err(TestCaseError::fail(format!(
                "the kernel refused a generated program:\n{listing}\n{log}"
            )))
        }
        Err(e) => return Err(TestCaseError::fail(e.to_string())),
    };
    let run = loaded
        .test_run(&TestRun::packet(&packet))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (retval, kernel_out) = (run.retval, run.data_out);
    for engine in [Engine::Interpreter, Engine::Jit] {
        let mut mem = packet.clone();
        let mut vm = Vm::new(ours.clone()).expect("lowers");
        vm.set_engine(engine).expect("compiles");
        let outcome = vm.run(&mut mem);
        prop_assert_eq!(
            outcome.result,
            Ok(retval as u64),
            "{:?} retval\n{}",
            engine,
            listing
        );
        for (i, (k, o)) in kernel_out.chunks(8).zip(mem.chunks(8)).enumerate() {
            let what = if i < 10 {
                format!("r{i}")
            } else {
                format!("stack[r10{}]", SLOTS_LOW as i64 + 8 * (i as i64 - 10))
            };
            prop_assert_eq!(k, o, "{:?}: {} differs\n{}", engine, what, listing);
        }
    }
    Ok(())
}

fn load_xdp(program: &Program) -> Result<KernelProgram, KernelError> {
    KernelProgram::load_raw(program, ProgramType::Xdp.id(), None, "GPL")
}

fn kernel_available() -> bool {
    let exit_only = Program::new(vec![mov64(reg(0), 2), Insn::Exit]).expect("valid");
    match load_xdp(&exit_only) {
        Ok(_) => true,
        Err(e) if e.is_unavailable() => {
            eprintln!("skipping kernel differential tests: {e}");
            false
        }
        Err(e) => panic!("the kernel refused `mov r0, 2; exit`: {e}"),
    }
}

#[test]
fn random_programs_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    // EBPFVM_KERNEL_CASES=N runs a longer campaign.
    let cases = std::env::var("EBPFVM_KERNEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(any::<u64>(), 1usize..60), |(seed, len)| {
            check_seed(seed, len)
        })
        .unwrap();
}
