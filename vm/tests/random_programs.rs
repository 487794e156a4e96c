//! Property test: random valid programs built from typed instructions (every ALU
//! operation, forward or arbitrary jumps, stack and memory accesses in and out of
//! bounds, atomics, helper and local calls, legacy loads) never make the interpreter
//! panic, always give an `Outcome` within the budget, and run deterministically.

use ebpfvm_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Cond, Imm64, Insn, LegacyMode, Operand, Program, Reg,
    SignExtend, Size, SwapWidth, Width,
};
use ebpfvm_vm::{
    HelperError, Helpers, Interpreter, MemoryMap, Outcome, RegionKind, Stack, TrapKind,
};
use proptest::prelude::*;

/// Instructions a run may execute.
const BUDGET: u64 = 2_000;
/// Bytes of caller memory (r1, length in r2).
const MEM_LEN: usize = 64;

/// One generated instruction; control transfers name their target as a selector that
/// [`layout`] resolves to an instruction index once the program's shape is known.
#[derive(Clone, Debug)]
enum Gen {
    /// A one-slot instruction with no control flow.
    Plain(Insn),
    /// `lddw dst, value`.
    Wide(Reg, u64),
    /// Conditional jump; the offset is filled in by `layout`.
    Jump(Width, Cond, Reg, Operand, u16),
    /// `ja`, `gotol`.
    Ja(u16, bool),
    /// `call` a program-local function (loop mode only).
    CallLocal(u16),
    /// `lddw dst, code_addr(target)` then `callx dst` (loop mode only).
    CallCodeAddr(Reg, u16),
    /// `exit` in the middle of the program.
    Exit,
}

/// The raw material of one instruction. Proptest draws plain numbers (cheap to generate
/// and to shrink, even in debug builds) and [`gen`] turns them into an instruction.
type Seed = (u8, u8, u8, u8, i16, i32, u64);

/// An immediate: mostly small, sometimes an extreme, sometimes anything.
fn immediate(sel: u8, v: i32) -> i32 {
    match sel % 8 {
        0..=3 => v % 70,
        4 => i32::MIN,
        5 => i32::MAX,
        6 => -1,
        _ => v,
    }
}

/// A base register and offset: mostly inside the stack or the memory in r1, sometimes
/// just outside, sometimes anything.
fn address(sel: u8, base: Reg, off: i16) -> (Reg, i16) {
    let r1 = Reg::new(1).unwrap();
    match sel % 9 {
        0..=3 => (Reg::FP, -1 - off.rem_euclid(512)),
        4 => (Reg::FP, off.rem_euclid(4216) - 4200),
        5..=7 => (r1, off.rem_euclid(MEM_LEN as i16 + 16) - 8),
        _ => (base, off),
    }
}

fn gen(looping: bool, (kind, a, b, c, off, imm, wide): Seed) -> Gen {
    use AluOp::*;
    const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];
    const OPS: [AluOp; 17] = [
        Add,
        Sub,
        Mul,
        Div,
        SDiv,
        Or,
        And,
        Lsh,
        Rsh,
        Mod,
        SMod,
        Xor,
        Mov,
        Arsh,
        MovSx(SignExtend::S8),
        MovSx(SignExtend::S16),
        MovSx(SignExtend::S32),
    ];
    const ATOMICS: [AtomicOp; 10] = [
        AtomicOp::Add,
        AtomicOp::Or,
        AtomicOp::And,
        AtomicOp::Xor,
        AtomicOp::FetchAdd,
        AtomicOp::FetchOr,
        AtomicOp::FetchAnd,
        AtomicOp::FetchXor,
        AtomicOp::Xchg,
        AtomicOp::CmpXchg,
    ];
    let width = if a & 0x80 != 0 {
        Width::W64
    } else {
        Width::W32
    };
    let size = SIZES[(a >> 5) as usize & 3];
    let dst = Reg::new(b % 10).unwrap(); // never r10: it is read-only
    let src = Reg::new((b >> 4) % 11).unwrap();
    let operand = if c & 0x80 != 0 {
        Operand::Reg(src)
    } else {
        Operand::Imm(immediate(c, imm))
    };
    let (base, disp) = address(c, src, off);
    let target = off as u16;
    let plain = |insn| Gen::Plain(insn);
    match kind % 40 {
        16 => plain(Insn::Neg { width, dst }),
        17 => {
            let order = [ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap][a as usize % 3];
            let width = [SwapWidth::B16, SwapWidth::B32, SwapWidth::B64][c as usize % 3];
            plain(Insn::Endian { order, width, dst })
        }
        18..=20 => plain(Insn::Load {
            size,
            sign_extend: a & 1 != 0 && size != Size::DW,
            dst,
            src: base,
            off: disp,
        }),
        21..=23 => plain(Insn::Store {
            size,
            dst: base,
            off: disp,
            src: if a & 1 != 0 {
                Operand::Reg(src)
            } else {
                Operand::Imm(immediate(a, imm))
            },
        }),
        24 | 25 => plain(Insn::Atomic {
            width,
            op: ATOMICS[a as usize % 10],
            dst: base,
            src: dst,
            off: disp,
        }),
        26 => plain(Insn::LegacyLoad {
            size: SIZES[(a >> 5) as usize % 3],
            mode: if a & 1 != 0 {
                LegacyMode::Ind(src)
            } else {
                LegacyMode::Abs
            },
            imm: imm.rem_euclid(76) - 4,
        }),
        27 => plain(Insn::Call(CallTarget::Helper(
            [1, 2, 3, 99, 5000][a as usize % 5],
        ))),
        // A register may hold a code address (`r10 >> 1` is one), which makes callx a
        // local call: only in looping programs.
        28 if looping => plain(Insn::Call(CallTarget::Reg(src))),
        29 | 30 => Gen::Wide(dst, wide),
        31..=34 => Gen::Jump(width, Cond::ALL[a as usize % 11], src, operand, target),
        35 => Gen::Ja(target, a & 1 != 0),
        36 if looping => Gen::CallLocal(target),
        37 if looping => Gen::CallCodeAddr(dst, target),
        38 => Gen::Exit,
        _ => {
            let op = OPS[a as usize % OPS.len()];
            let (op, src) = match (op, operand) {
                // movsx takes a register, and from 32 bits only in its 64-bit form.
                (MovSx(_), Operand::Imm(_)) => (Mov, operand),
                (MovSx(SignExtend::S32), _) if width == Width::W32 => {
                    (MovSx(SignExtend::S16), operand)
                }
                _ => (op, operand),
            };
            plain(Insn::Alu {
                width,
                op,
                dst,
                src,
            })
        }
    }
}

/// Lays out `items` plus a final `exit` as slots. Targets are items after the source
/// (`forward`) or any item; every target is an instruction start, never an lddw tail.
fn layout(items: &[Gen], forward: bool) -> Vec<Insn> {
    let n = items.len(); // index of the final exit
    let mut slot_of = Vec::with_capacity(n + 1);
    let mut slots = 0usize;
    for item in items {
        slot_of.push(slots);
        slots += match item {
            Gen::Wide(..) => 2,
            Gen::CallCodeAddr(..) => 3,
            _ => 1,
        };
    }
    slot_of.push(slots);
    let target = |i: usize, sel: u16| {
        let t = if forward {
            i + 1 + sel as usize % (n - i)
        } else {
            sel as usize % (n + 1)
        };
        slot_of[t] as i64
    };
    let mut out = Vec::with_capacity(slots + 1);
    for (i, item) in items.iter().enumerate() {
        let next = slot_of[i] as i64 + 1;
        match *item {
            Gen::Plain(insn) => out.push(insn),
            Gen::Wide(dst, v) => out.extend([
                Insn::LoadImm64 {
                    dst,
                    imm: Imm64::Value(v),
                },
                Insn::Imm64Tail,
            ]),
            Gen::Jump(width, cond, dst, src, sel) => out.push(Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: (target(i, sel) - next) as i16,
            }),
            Gen::Ja(sel, long) => out.push(Insn::Ja {
                off: (target(i, sel) - next) as i32,
                long,
            }),
            Gen::CallLocal(sel) => out.push(Insn::Call(CallTarget::Local(
                (target(i, sel) - next) as i32,
            ))),
            Gen::CallCodeAddr(dst, sel) => out.extend([
                Insn::LoadImm64 {
                    dst,
                    imm: Imm64::CodeAddr((target(i, sel) - next) as i32),
                },
                Insn::Imm64Tail,
                Insn::Call(CallTarget::Reg(dst)),
            ]),
            Gen::Exit => out.push(Insn::Exit),
        }
    }
    out.push(Insn::Exit);
    out
}

fn helpers() -> Helpers {
    let mut helpers = Helpers::new();
    // Sums up to 64 guest bytes at r1.
    helpers.register(1, |ctx, args| {
        let bytes = ctx.read(args[0], args[1] & 63)?;
        Ok(bytes.iter().map(|&b| b as u64).sum())
    });
    // Writes r3 as 8 bytes at r1.
    helpers.register(2, |ctx, args| {
        ctx.write(args[0], &args[2].to_le_bytes())?;
        Ok(0)
    });
    // Ends the program with r1 when r2 is odd; faults when r2 % 4 == 2.
    helpers.register(3, |_, args| match args[1] % 4 {
        1 | 3 => Err(HelperError::Exit(args[0])),
        2 => Err(HelperError::Fault("asked to".into())),
        _ => Ok(args[0]),
    });
    helpers
}

fn run(interp: &Interpreter, seed: u8) -> (Outcome, Vec<u8>, Vec<u8>) {
    let mut mem: Vec<u8> = (0..MEM_LEN as u8).map(|i| i.wrapping_mul(seed)).collect();
    let mut packet = vec![seed; 20];
    let mut stack = Stack::new();
    let outcome = {
        let mut map = MemoryMap::new(&mut stack);
        let addr = map.map_mut(RegionKind::Memory, &mut mem).unwrap();
        let packet_addr = map.map_mut(RegionKind::Packet, &mut packet).unwrap();
        map.set_packet(packet_addr);
        let args = [addr, MEM_LEN as u64, packet_addr, seed as u64, 0];
        interp.run(args, &mut map, &mut helpers(), Some(BUDGET))
    };
    (outcome, mem, stack.bytes().to_vec())
}

fn check_program(items: Vec<Gen>, forward: bool, seed: u8) -> Result<(), TestCaseError> {
    let insns = layout(&items, forward);
    let program = Program::new(insns.clone());
    prop_assert!(
        program.is_ok(),
        "generated an invalid program: {:?}",
        program
    );
    let program = program.unwrap();
    let interp = Interpreter::new(&program).expect("only runnable instructions are generated");
    let (outcome, mem, stack) = run(&interp, seed);
    prop_assert!(outcome.insns <= BUDGET, "{outcome:?}");
    match &outcome.result {
        Err(trap) => {
            prop_assert!(trap.pc < insns.len());
            prop_assert_ne!(insns[trap.pc], Insn::Imm64Tail);
            if let TrapKind::BudgetExhausted { budget } = trap.kind {
                prop_assert_eq!(budget, BUDGET);
                prop_assert_eq!(outcome.insns, BUDGET);
            }
        }
        Ok(_) => prop_assert!(outcome.insns >= 1),
    }
    if forward {
        // Without backward jumps and local calls every instruction runs at most once.
        prop_assert!(outcome.insns <= insns.len() as u64, "{outcome:?}");
        let exhausted = matches!(
            &outcome.result,
            Err(t) if matches!(t.kind, TrapKind::BudgetExhausted { .. })
        );
        prop_assert!(!exhausted, "{outcome:?}");
    }
    // Deterministic: a second run from the same state ends the same way.
    let (again, mem2, stack2) = run(&interp, seed);
    prop_assert_eq!(&outcome, &again);
    prop_assert!(
        mem == mem2 && stack == stack2,
        "memory differs between runs"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 5_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn forward_programs_terminate_without_panicking(
        seeds in proptest::collection::vec(any::<Seed>(), 0..48),
        seed in any::<u8>(),
    ) {
        let items = seeds.into_iter().map(|s| gen(false, s)).collect();
        check_program(items, true, seed)?;
    }

    #[test]
    fn looping_programs_stay_within_budget(
        seeds in proptest::collection::vec(any::<Seed>(), 0..48),
        seed in any::<u8>(),
    ) {
        let items = seeds.into_iter().map(|s| gen(true, s)).collect();
        check_program(items, false, seed)?;
    }
}
