//! Round trips over random encodings: decode → encode gives the same slots, typed
//! instructions re-validate to the same program, and disassembly re-assembles to it.
//!
//! Random slots are biased towards the opcodes RFC 9669 defines (listed here from the
//! RFC, not taken from the decoder) and towards small field values, so that a good
//! share of them decode.

use ebpfvm_isa::{
    assemble, disassemble, disassemble_llvm, CallTarget, Features, Imm64, Insn, IsaVersion,
    Program, RawInsn,
};
use proptest::prelude::*;
use proptest::sample::select;

const EXIT: RawInsn = RawInsn {
    opcode: 0x95,
    dst: 0,
    src: 0,
    off: 0,
    imm: 0,
};

/// Every opcode RFC 9669 defines (plus `callx`, 0x8d), by class.
fn defined_opcodes() -> Vec<u8> {
    let mut ops = Vec::new();
    // ALU and ALU64: twelve binary operations, by immediate (K) and register (X);
    // then neg and the byte swaps.
    for class in [0x04, 0x07] {
        for op in [
            0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0,
        ] {
            ops.extend([class | op, class | op | 0x08]);
        }
        ops.push(class | 0x80);
    }
    ops.extend([0xd4, 0xdc, 0xd7]);
    // JMP and JMP32: eleven conditions by K and X, and ja (gotol for JMP32).
    for class in [0x05, 0x06] {
        for op in [
            0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0,
        ] {
            ops.extend([class | op, class | op | 0x08]);
        }
        ops.push(class);
    }
    ops.extend([0x85, 0x8d, 0x95]);
    // LDX (MEM and MEMSX), ST, STX (MEM and ATOMIC), LD (lddw, ABS, IND).
    ops.extend([0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91]);
    ops.extend([0x62, 0x6a, 0x72, 0x7a]);
    ops.extend([0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb]);
    ops.extend([0x18, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50]);
    ops
}

fn raw(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn {
        opcode,
        dst,
        src,
        off,
        imm,
    }
}

/// The slots of a one-instruction program: the slot, the second slot for `lddw`,
/// and an exit.
fn with_exit(slot: RawInsn, tail: RawInsn) -> Vec<RawInsn> {
    if slot.opcode == 0x18 {
        vec![slot, tail, EXIT]
    } else {
        vec![slot, EXIT]
    }
}

/// Each defined opcode has an encoding the decoder accepts, and no other opcode has
/// one, among field values that between them make every defined instruction valid.
#[test]
fn decoder_accepts_exactly_the_defined_opcodes() {
    let defined = defined_opcodes();
    assert_eq!(defined.len(), 126);
    let fields: [(u8, u8, i16, i32); 11] = [
        (0, 0, 0, 0),  // exit, ja, gotol
        (1, 0, 0, 1),  // arithmetic and jumps by immediate, stores of an immediate
        (0, 0, 0, 1),  // ldabs, call helper
        (0, 1, 0, 1),  // ldind
        (0, 1, 0, 0),  // call local +0
        (1, 2, 0, 0),  // by register; ldx, stx, atomic add
        (1, 2, 0, 1),  // atomic fetch add
        (1, 0, 1, 1),  // sdiv/smod by immediate
        (1, 2, 1, 0),  // sdiv/smod by register
        (1, 2, 8, 0),  // movsx
        (1, 0, 0, 16), // byte swaps
    ];
    let tail = raw(0, 0, 0, 0, 0);
    for opcode in 0..=255u8 {
        let accepted = fields.iter().any(|&(dst, src, off, imm)| {
            let slots = with_exit(raw(opcode, dst, src, off, imm), tail);
            Program::from_raw(&slots, &Features::default()).is_ok()
        }) || Program::from_raw(
            &with_exit(raw(opcode, 2, 0, 0, 0), tail),
            &Features::default(),
        )
        .is_ok(); // callx
        assert_eq!(
            accepted,
            defined.contains(&opcode),
            "opcode {opcode:#04x}: accepted = {accepted}"
        );
    }
}

fn opcode() -> impl Strategy<Value = u8> {
    prop_oneof![8 => select(defined_opcodes()), 2 => any::<u8>()]
}

fn reg_field() -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(0u8), 6 => 0u8..=10, 1 => 0u8..=15]
}

fn off_field() -> impl Strategy<Value = i16> {
    prop_oneof![
        7 => Just(0i16),
        1 => select(vec![1i16, 8, 16, 32]),
        1 => -4i16..=4,
        1 => any::<i16>(),
    ]
}

fn imm_field() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => Just(0i32),
        // Byte-swap widths and the atomic operations, which live in imm.
        2 => select(vec![16i32, 32, 64, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]),
        2 => -4i32..=64,
        2 => any::<i32>(),
    ]
}

fn slot() -> impl Strategy<Value = RawInsn> {
    (opcode(), reg_field(), reg_field(), off_field(), imm_field())
        .prop_map(|(opcode, dst, src, off, imm)| raw(opcode, dst, src, off, imm))
}

/// The second slot of an `lddw`: mostly well-formed with any immediate.
fn tail() -> impl Strategy<Value = RawInsn> {
    prop_oneof![
        8 => prop_oneof![1 => Just(0i32), 1 => any::<i32>()].prop_map(|imm| raw(0, 0, 0, 0, imm)),
        2 => slot(),
    ]
}

fn features() -> impl Strategy<Value = Features> {
    (
        select(vec![
            IsaVersion::V1,
            IsaVersion::V2,
            IsaVersion::V3,
            IsaVersion::V4,
        ]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(version, callx, legacy_packet_loads)| Features {
            version,
            callx,
            legacy_packet_loads,
        })
}

/// Decoded instructions of one random slot (and its `lddw` tail), if it decodes
/// alone before an exit. A jump whose random target is outside this tiny program is
/// tried again with its offset fields cleared (or a code address of +1), since
/// [`retarget`] picks its real target afterwards.
fn decode_alone(slot: RawInsn, tail: RawInsn) -> Option<Vec<Insn>> {
    [
        (slot.off, slot.imm),
        (0, slot.imm),
        (slot.off, 0),
        (0, 0),
        (0, 1),
    ]
    .into_iter()
    .find_map(|(off, imm)| {
        let slots = with_exit(RawInsn { off, imm, ..slot }, tail);
        let program = Program::from_raw(&slots, &Features::default()).ok()?;
        let n = program.len() - 1;
        Some(program.insns().get(..n)?.to_vec())
    })
}

/// Points every jump, local call and code address of `insns` at a valid target
/// chosen by `choices`; `None` if a target does not fit the instruction's field.
fn retarget(mut insns: Vec<Insn>, choices: &[u16]) -> Vec<Insn> {
    let targets: Vec<usize> = (0..insns.len())
        .filter(|&pc| insns[pc] != Insn::Imm64Tail)
        .collect();
    for pc in 0..insns.len() {
        if insns[pc].branch_target(pc).is_none() {
            continue;
        }
        let choice = usize::from(choices[pc % choices.len()]);
        let target = targets[choice % targets.len()];
        let rel = target as i64 - pc as i64 - 1;
        let rel32 = i32::try_from(rel).expect("small program");
        let rel16 = i16::try_from(rel).expect("small program");
        insns[pc] = match insns[pc] {
            Insn::Ja { long, .. } => Insn::Ja { off: rel32, long },
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                ..
            } => Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: rel16,
            },
            Insn::Call(CallTarget::Local(_)) => Insn::Call(CallTarget::Local(rel32)),
            Insn::LoadImm64 {
                dst,
                imm: Imm64::CodeAddr(_),
            } => Insn::LoadImm64 {
                dst,
                imm: Imm64::CodeAddr(rel32),
            },
            other => other,
        };
    }
    insns
}

/// Biased random field values drawn from one seed (splitmix64). Whole programs are
/// built from seeds because proptest's combinators, per slot, are slow in debug
/// builds for programs of dozens of slots; the bias is the same as [`slot`]'s.
struct Bits(u64);

impl Bits {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn reg(&mut self) -> u8 {
        match self.below(10) {
            0..=2 => 0,
            3..=8 => self.below(11) as u8,
            _ => self.below(16) as u8,
        }
    }

    fn off(&mut self) -> i16 {
        match self.below(10) {
            0..=6 => 0,
            7 => self.pick(&[1, 8, 16, 32]),
            8 => self.below(9) as i16 - 4,
            _ => self.next() as i16,
        }
    }

    fn imm(&mut self) -> i32 {
        match self.below(10) {
            0..=3 => 0,
            4 | 5 => self.pick(&[
                16, 32, 64, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1,
            ]),
            6 | 7 => self.below(69) as i32 - 4,
            _ => self.next() as i32,
        }
    }

    fn slot(&mut self, defined: &[u8]) -> RawInsn {
        let opcode = if self.below(10) < 8 {
            self.pick(defined)
        } else {
            self.next() as u8
        };
        raw(opcode, self.reg(), self.reg(), self.off(), self.imm())
    }

    fn tail(&mut self, defined: &[u8]) -> RawInsn {
        match self.below(10) {
            0..=3 => raw(0, 0, 0, 0, 0),
            4..=7 => raw(0, 0, 0, 0, self.next() as i32),
            _ => self.slot(defined),
        }
    }
}

/// A random valid program: random slots that decode, an exit, jumps retargeted.
fn program() -> impl Strategy<Value = Program> {
    (
        prop::collection::vec(any::<u64>(), 1..40),
        prop::collection::vec(any::<u16>(), 1..8),
    )
        .prop_map(|(seeds, choices)| {
            let defined = defined_opcodes();
            let mut insns: Vec<Insn> = seeds
                .into_iter()
                .filter_map(|seed| {
                    let mut bits = Bits(seed);
                    let s = bits.slot(&defined);
                    let t = bits.tail(&defined);
                    decode_alone(s, t)
                })
                .flatten()
                .collect();
            insns.push(Insn::Exit);
            let insns = retarget(insns, &choices);
            Program::new(insns.clone()).unwrap_or_else(|e| panic!("{insns:?}: {e}"))
        })
}

fn strip_pcs(listing: &str) -> String {
    listing
        .lines()
        .map(|l| l.split_once(": ").map_or(l, |(_, text)| text))
        .collect::<Vec<_>>()
        .join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Whatever the decoder accepts encodes back to the same slots, and its typed
    /// instructions validate again to the same program; only defined opcodes decode;
    /// what a loader with fewer features accepts, one with all of them accepts too.
    #[test]
    fn decode_encode_round_trip(s in slot(), t in tail(), f in features()) {
        let slots = with_exit(s, t);
        if let Ok(program) = Program::from_raw(&slots, &Features::default()) {
            prop_assert!(defined_opcodes().contains(&s.opcode));
            prop_assert_eq!(program.to_raw(), slots.clone());
            prop_assert_eq!(Program::new(program.insns().to_vec()), Ok(program.clone()));
            let bytes = program.to_bytes();
            prop_assert_eq!(Program::from_bytes(&bytes, &Features::default()), Ok(program.clone()));
        }
        if let Ok(restricted) = Program::from_raw(&slots, &f) {
            prop_assert_eq!(Program::from_raw(&slots, &Features::default()), Ok(restricted));
        }
    }
}

/// The name of an instruction's form, for checking the generators' coverage:
/// the variant, and for `lddw` and `call` the kind.
fn form(insn: &Insn) -> String {
    let debug = match insn {
        Insn::LoadImm64 { imm, .. } => format!("LoadImm64 {imm:?}"),
        Insn::Call(target) => format!("Call {target:?}"),
        Insn::Alu { op, .. } => format!("Alu {op:?}"),
        Insn::Atomic { op, .. } => format!("Atomic {op:?}"),
        other => format!("{other:?}"),
    };
    debug
        .split(['{', '('])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The generators make what they are meant to: many random slots decode, random
/// programs are not mostly a lone exit, and every form of instruction shows up.
#[test]
fn generators_are_useful() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;
    let mut runner = TestRunner::deterministic();
    let (mut decoded, mut long_programs) = (0, 0);
    let mut forms = BTreeSet::new();
    for _ in 0..2000 {
        let s = slot().new_tree(&mut runner).unwrap().current();
        let t = tail().new_tree(&mut runner).unwrap().current();
        decoded += usize::from(Program::from_raw(&with_exit(s, t), &Features::default()).is_ok());
        let p = program().new_tree(&mut runner).unwrap().current();
        long_programs += usize::from(p.len() >= 4);
        forms.extend(p.insns().iter().map(form));
    }
    assert!(decoded > 400, "only {decoded} of 2000 random slots decode");
    assert!(
        long_programs > 1000,
        "only {long_programs} of 2000 programs have 4+ slots"
    );
    let expected = [
        "Alu Add",
        "Alu Sub",
        "Alu Mul",
        "Alu Div",
        "Alu SDiv",
        "Alu Or",
        "Alu And",
        "Alu Lsh",
        "Alu Rsh",
        "Alu Mod",
        "Alu SMod",
        "Alu Xor",
        "Alu Mov",
        "Alu MovSx",
        "Alu Arsh",
        "Neg",
        "Endian",
        "Load",
        "Store",
        "Atomic Add",
        "Atomic Or",
        "Atomic And",
        "Atomic Xor",
        "Atomic FetchAdd",
        "Atomic FetchOr",
        "Atomic FetchAnd",
        "Atomic FetchXor",
        "Atomic Xchg",
        "Atomic CmpXchg",
        "LoadImm64 Value",
        "LoadImm64 MapFd",
        "LoadImm64 MapValue",
        "LoadImm64 VarAddr",
        "LoadImm64 CodeAddr",
        "LoadImm64 MapIdx",
        "LoadImm64 MapIdxValue",
        "Imm64Tail",
        "LegacyLoad",
        "Ja",
        "Jump",
        "Call Helper",
        "Call Local",
        "Call Kfunc",
        "Call Reg",
        "Exit",
    ];
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|f| !forms.contains(*f))
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}

proptest! {
    // Each program has a dozen or so instructions, so this is ~75k instructions; more
    // cases only slow the debug-build test run down.
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    /// Disassembly (either dialect, pcs stripped) assembles back to the program, and so
    /// does the `Display` of every slot.
    #[test]
    fn disassembly_round_trip(program in program()) {
        let text = strip_pcs(&disassemble(&program));
        prop_assert_eq!(assemble(&text), Ok(program.clone()), "{}", text);
        let llvm = strip_pcs(&disassemble_llvm(&program));
        prop_assert_eq!(assemble(&llvm), Ok(program.clone()), "{}", llvm);
        let slots: Vec<String> = program.insns().iter().map(Insn::to_string).collect();
        prop_assert_eq!(assemble(&slots.join("\n")), Ok(program));
    }
}
