//! Interpreter semantics pinned instruction by instruction: arithmetic corner cases,
//! byte swaps, atomics, traps, helpers, calls, legacy packet loads and instruction
//! counting. Programs are built from typed `Insn`s and run through one `check` helper.

use ebpfvm_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Cond, Imm64, Insn, LegacyMode, Operand, Program, Reg,
    SignExtend, Size, SwapWidth, Width,
};
use ebpfvm_vm::{
    code_address, Access, HelperError, Helpers, Interpreter, MemoryMap, Outcome, RegionKind, Stack,
    Trap, TrapKind, FRAME_SIZE, MAX_FRAMES, STACK_BASE, STACK_SIZE, STACK_TOP,
};

// ---------------------------------------------------------------------------------------
// Building programs
// ---------------------------------------------------------------------------------------

fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

fn imm(v: i32) -> Operand {
    Operand::Imm(v)
}

fn reg(n: u8) -> Operand {
    Operand::Reg(r(n))
}

fn alu(width: Width, op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst: r(dst),
        src,
    }
}

fn alu64(op: AluOp, dst: u8, src: Operand) -> Insn {
    alu(Width::W64, op, dst, src)
}

fn mov64(dst: u8, v: i32) -> Insn {
    alu64(AluOp::Mov, dst, imm(v))
}

/// `lddw dst, v`: two slots, returned as a pair to splice into a program.
fn lddw(dst: u8, v: u64) -> [Insn; 2] {
    [
        Insn::LoadImm64 {
            dst: r(dst),
            imm: Imm64::Value(v),
        },
        Insn::Imm64Tail,
    ]
}

fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        sign_extend: false,
        dst: r(dst),
        src: r(src),
        off,
    }
}

fn ldsx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        sign_extend: true,
        dst: r(dst),
        src: r(src),
        off,
    }
}

fn stx(size: Size, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Store {
        size,
        dst: r(dst),
        off,
        src: reg(src),
    }
}

fn st(size: Size, dst: u8, off: i16, v: i32) -> Insn {
    Insn::Store {
        size,
        dst: r(dst),
        off,
        src: imm(v),
    }
}

fn atomic(width: Width, op: AtomicOp, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Atomic {
        width,
        op,
        dst: r(dst),
        src: r(src),
        off,
    }
}

fn jump(cond: Cond, dst: u8, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        cond,
        dst: r(dst),
        src,
        off,
    }
}

fn ja(off: i32) -> Insn {
    Insn::Ja { off, long: false }
}

fn call_helper(id: i32) -> Insn {
    Insn::Call(CallTarget::Helper(id))
}

fn call_local(off: i32) -> Insn {
    Insn::Call(CallTarget::Local(off))
}

fn callx(n: u8) -> Insn {
    Insn::Call(CallTarget::Reg(r(n)))
}

fn legacy(size: Size, mode: LegacyMode, imm: i32) -> Insn {
    Insn::LegacyLoad { size, mode, imm }
}

const EXIT: Insn = Insn::Exit;

/// Flattens pieces (single instructions and `lddw` pairs) into one slot list.
macro_rules! prog {
    ($($piece:expr),* $(,)?) => {{
        let mut v: Vec<Insn> = Vec::new();
        $( Piece::extend_into($piece, &mut v); )*
        v
    }};
}

trait Piece {
    fn extend_into(self, v: &mut Vec<Insn>);
}

impl Piece for Insn {
    fn extend_into(self, v: &mut Vec<Insn>) {
        v.push(self);
    }
}

impl Piece for [Insn; 2] {
    fn extend_into(self, v: &mut Vec<Insn>) {
        v.extend(self);
    }
}

// ---------------------------------------------------------------------------------------
// Running programs
// ---------------------------------------------------------------------------------------

/// Guest address of the caller's memory (r1): the first region after null, code, stack.
const MEM: u64 = 3 << 32;
/// Guest address of the read-only region (r3).
const RO: u64 = 4 << 32;
/// Guest address of the packet region (r4).
const PACKET: u64 = 5 << 32;

/// Everything a run gets besides the program. Registers on entry: r1 = `MEM` (the
/// memory), r2 = its length, r3 = `RO`, r4 = `PACKET`, r5 = 0.
#[derive(Default)]
struct Input {
    mem: Vec<u8>,
    ro: Vec<u8>,
    packet: Vec<u8>,
    helpers: Helpers,
    budget: Option<u64>,
}

impl Input {
    fn mem(mem: &[u8]) -> Input {
        Input {
            mem: mem.to_vec(),
            ..Input::default()
        }
    }
}

/// Runs `insns` on `input`; returns the outcome and the memory afterwards.
fn run(insns: Vec<Insn>, input: Input) -> (Outcome, Vec<u8>) {
    let program = Program::new(insns.clone())
        .unwrap_or_else(|e| panic!("invalid test program: {e}\n{insns:#?}"));
    let interp = Interpreter::new(&program).unwrap();
    let Input {
        mut mem,
        ro,
        mut packet,
        mut helpers,
        budget,
    } = input;
    let len = mem.len() as u64;
    let mut stack = Stack::new();
    let outcome = {
        let mut map = MemoryMap::new(&mut stack);
        assert_eq!(map.map_mut(RegionKind::Memory, &mut mem), Some(MEM));
        assert_eq!(map.map_ro(RegionKind::ReadOnly, &ro), Some(RO));
        assert_eq!(map.map_mut(RegionKind::Packet, &mut packet), Some(PACKET));
        map.set_packet(PACKET);
        interp.run([MEM, len, RO, PACKET, 0], &mut map, &mut helpers, budget)
    };
    (outcome, mem)
}

/// Runs with `input` and checks the result; returns the outcome and final memory.
fn check_with(insns: Vec<Insn>, input: Input, expected: Result<u64, Trap>) -> (Outcome, Vec<u8>) {
    let (outcome, mem) = run(insns.clone(), input);
    assert_eq!(outcome.result, expected, "program:\n{insns:#?}");
    (outcome, mem)
}

/// The one helper most tests go through: `insns` on memory `mem` must give `expected`.
fn check(insns: Vec<Insn>, mem: &[u8], expected: Result<u64, Trap>) -> (Outcome, Vec<u8>) {
    check_with(insns, Input::mem(mem), expected)
}

fn trap(pc: usize, kind: TrapKind) -> Result<u64, Trap> {
    Err(Trap { pc, kind })
}

fn oob(addr: u64, size: u32, access: Access, region: Option<RegionKind>) -> TrapKind {
    TrapKind::OutOfBounds {
        addr,
        size,
        access,
        region,
    }
}

/// `r0 = a; r0 op= b` with the immediate `b`: the 64-bit r0 that must result.
fn check_alu(width: Width, op: AluOp, a: u64, b: i32, expected: u64) {
    check(
        prog![lddw(0, a), alu(width, op, 0, imm(b)), EXIT],
        &[],
        Ok(expected),
    );
}

/// Like [`check_alu`] with the second operand in r1 holding the full 64-bit `b`.
fn check_alu_reg(width: Width, op: AluOp, a: u64, b: u64, expected: u64) {
    let insns = prog![lddw(0, a), lddw(1, b), alu(width, op, 0, reg(1)), EXIT];
    check(insns, &[], Ok(expected));
}

/// Both operand kinds: the immediate `b` and the register holding `b` sign-extended.
fn check_alu_both(width: Width, op: AluOp, a: u64, b: i32, expected: u64) {
    check_alu(width, op, a, b, expected);
    check_alu_reg(width, op, a, b as i64 as u64, expected);
}

use AluOp::*;
use Width::{W32, W64};

// ---------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------

#[test]
fn division_by_zero_gives_zero() {
    let a = 0xdead_beef_1234_5678;
    for width in [W32, W64] {
        for op in [Div, SDiv] {
            check_alu_both(width, op, a, 0, 0);
        }
    }
    // A register divisor counts only its low half in 32-bit division.
    check_alu_reg(W32, Div, a, 0x1_0000_0000, 0);
    check_alu_reg(W32, SDiv, a, 0x1_0000_0000, 0);
}

#[test]
fn modulo_by_zero_keeps_dst_and_32_bit_zero_extends() {
    let a = 0xdead_beef_1234_5678;
    for op in [Mod, SMod] {
        check_alu_both(W64, op, a, 0, a);
        check_alu_both(W32, op, a, 0, 0x1234_5678);
        check_alu_reg(W32, op, a, 0xffff_ffff_0000_0000, 0x1234_5678);
    }
    // Negative dividend: the 32-bit result is still the zero-extended low half.
    check_alu_both(W32, SMod, 0xffff_ffff_ffff_fff9, 0, 0xffff_fff9);
}

#[test]
fn signed_division_overflow() {
    let min64 = i64::MIN as u64;
    check_alu_both(W64, SDiv, min64, -1, min64);
    check_alu_both(W64, SMod, min64, -1, 0);
    // 32-bit: INT_MIN in the low half, garbage above it.
    let min32 = 0xdead_beef_8000_0000;
    check_alu_both(W32, SDiv, min32, -1, 0x8000_0000);
    check_alu_both(W32, SMod, min32, -1, 0);
}

#[test]
fn signed_division_and_modulo_signs() {
    let m7 = -7i64 as u64;
    check_alu_both(W64, SDiv, m7, 2, -3i64 as u64);
    check_alu_both(W64, SMod, m7, 2, -1i64 as u64);
    check_alu_both(W64, SMod, 7, -2, 1);
    check_alu_both(W64, SDiv, 7, -2, -3i64 as u64);
    check_alu_both(W32, SDiv, m7, 2, (-3i32) as u32 as u64);
    check_alu_both(W32, SMod, m7, 2, (-1i32) as u32 as u64);
    check_alu_both(W32, SMod, 7, -2, 1);
    // Unsigned forms treat the same bits as large numbers.
    check_alu_both(W64, Div, m7, 2, (u64::MAX - 6) / 2);
    check_alu_both(W32, Mod, m7, 10, (0xffff_fff9u32 % 10) as u64);
    // A 64-bit immediate divisor is sign-extended: -1 is u64::MAX.
    check_alu(W64, Div, u64::MAX, -1, 1);
    check_alu(W64, Div, 5, -1, 0);
}

#[test]
fn shift_amounts_are_masked() {
    // lsh32 by 60 shifts by 28, immediate and register.
    check_alu_both(W32, Lsh, 1, 60, 1 << 28);
    check_alu_reg(W32, Lsh, 1, 0xffff_ff00_0000_003c, 1 << 28);
    check_alu_both(W32, Rsh, 0x8000_0000, 33, 0x4000_0000);
    check_alu_both(W32, Arsh, 0x8000_0000, 63, 0xffff_ffff);
    check_alu_both(W32, Lsh, 0xffff_ffff_0000_0001, 32, 1);
    check_alu_both(W64, Lsh, 1, 65, 2);
    check_alu_both(W64, Rsh, 1 << 63, 127, 1);
    check_alu_both(W64, Arsh, 1 << 63, 64, 1 << 63);
    check_alu_both(W64, Arsh, 1 << 63, 63, u64::MAX);
    check_alu_both(W64, Lsh, 3, -1, 1 << 63);
    check_alu_reg(W64, Rsh, u64::MAX, 0x100 | 60, 0xf);
}

#[test]
fn thirty_two_bit_results_are_zero_extended() {
    let a = 0xffff_ffff_ffff_ffff;
    check_alu_both(W32, Add, a, 1, 0);
    check_alu_both(W32, Sub, 0xffff_ffff_0000_0000, 1, 0xffff_ffff);
    check_alu_both(W32, Mul, a, 2, 0xffff_fffe);
    check_alu_both(W32, Or, 0xffff_ffff_0000_0000, 1, 1);
    check_alu_both(W32, And, a, -1, 0xffff_ffff);
    check_alu_both(W32, Xor, a, 0, 0xffff_ffff);
    check_alu_both(W32, Mov, a, -1, 0xffff_ffff);
    check_alu_both(W32, Div, a, 1, 0xffff_ffff);
    check_alu_both(W32, Mod, a, 0x10, 0xf);
    check_alu_both(W32, Rsh, a, 0, 0xffff_ffff);
    check_alu_both(W32, Arsh, a, 4, 0xffff_ffff);
    // 64-bit immediates are sign-extended.
    check_alu(W64, Mov, 0, -1, u64::MAX);
    check_alu(W64, Add, 0, i32::MIN, i32::MIN as i64 as u64);
    check_alu(W64, And, u64::MAX, -2, u64::MAX - 1);
    // neg
    for (width, a, expected) in [
        (W32, 0xffff_ffff_0000_0001u64, 0xffff_ffffu64),
        (W32, 0x1234_5678_0000_0000, 0),
        (W64, 1, u64::MAX),
        (W64, 1 << 63, 1 << 63),
    ] {
        check(
            prog![lddw(0, a), Insn::Neg { width, dst: r(0) }, EXIT],
            &[],
            Ok(expected),
        );
    }
}

#[test]
fn movsx_all_widths() {
    let neg = 0x1234_5678_9abc_de80;
    let pos = 0x1234_5678_1a3c_5e7f;
    let cases = [
        (W64, SignExtend::S8, neg, 0xffff_ffff_ffff_ff80u64),
        (W64, SignExtend::S16, neg, 0xffff_ffff_ffff_de80),
        (W64, SignExtend::S32, neg, 0xffff_ffff_9abc_de80),
        (W32, SignExtend::S8, neg, 0xffff_ff80),
        (W32, SignExtend::S16, neg, 0xffff_de80),
        (W64, SignExtend::S8, pos, 0x7f),
        (W64, SignExtend::S16, pos, 0x5e7f),
        (W64, SignExtend::S32, pos, 0x1a3c_5e7f),
        (W32, SignExtend::S8, pos, 0x7f),
        (W32, SignExtend::S16, pos, 0x5e7f),
    ];
    for (width, sx, a, expected) in cases {
        check_alu_reg(width, MovSx(sx), 0xaaaa_aaaa_aaaa_aaaa, a, expected);
    }
}

#[test]
fn ldsx_sign_extends_and_ldx_zero_extends() {
    let mem = [0x80, 0xff, 0x7f, 0x80, 0x01, 0x02, 0x03, 0x04];
    let cases = [
        (ldsx(Size::B, 0, 1, 0), 0xffff_ffff_ffff_ff80u64),
        (ldsx(Size::B, 0, 1, 2), 0x7f),
        (ldsx(Size::H, 0, 1, 0), 0xffff_ffff_ffff_ff80),
        (ldsx(Size::H, 0, 1, 2), 0xffff_ffff_ffff_807f),
        (ldsx(Size::W, 0, 1, 0), 0xffff_ffff_807f_ff80),
        (ldsx(Size::W, 0, 1, 4), 0x0403_0201),
        (ldx(Size::B, 0, 1, 0), 0x80),
        (ldx(Size::H, 0, 1, 2), 0x807f),
        (ldx(Size::W, 0, 1, 0), 0x807f_ff80),
        (ldx(Size::DW, 0, 1, 0), 0x0403_0201_807f_ff80),
    ];
    for (load, expected) in cases {
        check(prog![lddw(0, u64::MAX), load, EXIT], &mem, Ok(expected));
    }
}

#[test]
fn byte_order_conversions() {
    let v = 0x0123_4567_89ab_cdef;
    let cases = [
        (ByteOrder::ToLe, SwapWidth::B16, 0xcdefu64),
        (ByteOrder::ToLe, SwapWidth::B32, 0x89ab_cdef),
        (ByteOrder::ToLe, SwapWidth::B64, v),
        (ByteOrder::ToBe, SwapWidth::B16, 0xefcd),
        (ByteOrder::ToBe, SwapWidth::B32, 0xefcd_ab89),
        (ByteOrder::ToBe, SwapWidth::B64, 0xefcd_ab89_6745_2301),
        (ByteOrder::Swap, SwapWidth::B16, 0xefcd),
        (ByteOrder::Swap, SwapWidth::B32, 0xefcd_ab89),
        (ByteOrder::Swap, SwapWidth::B64, 0xefcd_ab89_6745_2301),
    ];
    for (order, width, expected) in cases {
        let swap = Insn::Endian {
            order,
            width,
            dst: r(0),
        };
        check(prog![lddw(0, v), swap, EXIT], &[], Ok(expected));
    }
}

#[test]
fn immediate_stores_are_sign_extended_and_truncated() {
    let insns = prog![
        st(Size::DW, 1, 0, -2),
        st(Size::W, 1, 8, -3),
        st(Size::H, 1, 12, 0x12345),
        st(Size::B, 1, 14, 0x1ff),
        ldx(Size::DW, 0, 1, 0),
        EXIT,
    ];
    let (_, mem) = check(insns, &[0xaa; 16], Ok(-2i64 as u64));
    assert_eq!(&mem[8..12], &(-3i32).to_le_bytes());
    assert_eq!(&mem[12..14], &0x2345u16.to_le_bytes());
    assert_eq!(mem[14], 0xff);
    assert_eq!(mem[15], 0xaa);
}

#[test]
fn thirty_two_bit_jumps_compare_low_halves() {
    // r0 = 1 when the jump is taken, 2 otherwise.
    let cases = [
        (Cond::Eq, 0xffff_ffff_0000_0005u64, 5, true),
        (Cond::Sgt, 0x0000_0000_ffff_ffff, 0, false),
        (Cond::Slt, 0x0000_0000_ffff_ffff, 0, true),
        (Cond::Gt, 0x1_0000_0000, 0, false),
    ];
    for (cond, a, b, taken) in cases {
        let jmp = Insn::Jump {
            width: W32,
            cond,
            dst: r(1),
            src: imm(b),
            off: 2,
        };
        let insns = prog![lddw(1, a), jmp, mov64(0, 2), EXIT, mov64(0, 1), EXIT];
        check(insns, &[], Ok(if taken { 1 } else { 2 }));
    }
}

// ---------------------------------------------------------------------------------------
// Atomics
// ---------------------------------------------------------------------------------------

/// Runs one atomic op on an 8-byte memory word holding `mem`, with `src` in r2 and `r0`
/// in r0 (`src_reg` picks the source register: 2, or 0 to alias r0). Returns
/// (memory word, src afterwards, r0 afterwards).
fn run_atomic(width: Width, op: AtomicOp, mem: u64, src: u64, r0: u64, src_reg: u8) -> [u64; 3] {
    let insns = prog![
        lddw(2, src),
        lddw(0, r0),
        atomic(width, op, 1, 0, src_reg),
        stx(Size::DW, 1, 8, src_reg),
        stx(Size::DW, 1, 16, 0),
        EXIT,
    ];
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&mem.to_le_bytes());
    let (outcome, after) = run(insns, Input::mem(&bytes));
    let word = |i: usize| u64::from_le_bytes(after[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!(outcome.result, Ok(word(2)));
    [word(0), word(1), word(2)]
}

#[test]
fn atomics_64_bit() {
    use AtomicOp::*;
    let m = 0x00ff_00ff_1234_5678u64;
    let s = 0x0f0f_0f0f_0f0f_0f0fu64;
    let z = 0x7777; // r0, untouched unless cmpxchg
    let cases = [
        (Add, m.wrapping_add(s), s, z),
        (Or, m | s, s, z),
        (And, m & s, s, z),
        (Xor, m ^ s, s, z),
        (FetchAdd, m.wrapping_add(s), m, z),
        (FetchOr, m | s, m, z),
        (FetchAnd, m & s, m, z),
        (FetchXor, m ^ s, m, z),
        (Xchg, s, m, z),
    ];
    for (op, word, src_after, r0_after) in cases {
        assert_eq!(
            run_atomic(W64, op, m, s, z, 2),
            [word, src_after, r0_after],
            "{op:?}"
        );
    }
    // Overflow wraps.
    assert_eq!(run_atomic(W64, Add, u64::MAX, 2, 0, 2)[0], 1);
}

#[test]
fn atomics_32_bit_touch_low_word_and_zero_extend() {
    use AtomicOp::*;
    let m = 0xaaaa_bbbb_cccc_ddddu64;
    let lo = 0xcccc_ddddu64;
    let s = 0xffff_ffff_0f0f_0f0fu64;
    let sl = 0x0f0f_0f0fu64;
    let z = 0x1_0000_7777;
    let word = |low: u64| (m & !0xffff_ffff) | (low & 0xffff_ffff);
    let cases = [
        (Add, word(lo + sl), s, z),
        (Or, word(lo | sl), s, z),
        (And, word(lo & sl), s, z),
        (Xor, word(lo ^ sl), s, z),
        (FetchAdd, word(lo + sl), lo, z),
        (FetchOr, word(lo | sl), lo, z),
        (FetchAnd, word(lo & sl), lo, z),
        (FetchXor, word(lo ^ sl), lo, z),
        (Xchg, word(sl), lo, z),
    ];
    for (op, word, src_after, r0_after) in cases {
        assert_eq!(
            run_atomic(W32, op, m, s, z, 2),
            [word, src_after, r0_after],
            "{op:?}"
        );
    }
}

#[test]
fn cmpxchg_success_and_failure() {
    let m = 0xaaaa_bbbb_cccc_ddddu64;
    let s = 0x1111_2222_3333_4444u64;
    // 64-bit: success stores src; r0 gets the old value either way; src is untouched.
    assert_eq!(run_atomic(W64, AtomicOp::CmpXchg, m, s, m, 2), [s, s, m]);
    assert_eq!(
        run_atomic(W64, AtomicOp::CmpXchg, m, s, m + 1, 2),
        [m, s, m]
    );
    // 32-bit compares the low halves only, stores the low half of src, zero-extends r0.
    let r0 = 0xffff_ffff_cccc_dddd;
    assert_eq!(
        run_atomic(W32, AtomicOp::CmpXchg, m, s, r0, 2),
        [0xaaaa_bbbb_3333_4444, s, 0xcccc_dddd]
    );
    assert_eq!(
        run_atomic(W32, AtomicOp::CmpXchg, m, s, 0xcccc_ddde, 2),
        [m, s, 0xcccc_dddd]
    );
}

#[test]
fn atomics_with_r0_as_source() {
    let m = 0x10u64;
    // cmpxchg with src = r0: r0 (= *dst) is stored and r0 receives the old value.
    assert_eq!(run_atomic(W64, AtomicOp::CmpXchg, m, 0, m, 0), [m, m, m]);
    assert_eq!(run_atomic(W64, AtomicOp::CmpXchg, m, 0, 5, 0), [m, m, m]);
    assert_eq!(run_atomic(W32, AtomicOp::CmpXchg, m, 0, 5, 0), [m, m, m]);
    // Fetch forms with src = r0 write the old value into r0.
    assert_eq!(
        run_atomic(W64, AtomicOp::FetchAdd, m, 0, 5, 0),
        [m + 5, m, m]
    );
    assert_eq!(run_atomic(W64, AtomicOp::Xchg, m, 0, 5, 0), [5, m, m]);
}

#[test]
fn atomic_on_read_only_memory_traps_as_write() {
    let insns = prog![mov64(2, 1), atomic(W64, AtomicOp::FetchAdd, 3, 0, 2), EXIT];
    let input = Input {
        ro: vec![0; 8],
        ..Input::default()
    };
    let expected = trap(1, oob(RO, 8, Access::Write, Some(RegionKind::ReadOnly)));
    check_with(insns, input, expected);
    let insns = prog![atomic(W32, AtomicOp::Add, 1, 6, 2), EXIT];
    let expected = trap(0, oob(MEM + 6, 4, Access::Write, Some(RegionKind::Memory)));
    check(insns, &[0; 8], expected);
}

// ---------------------------------------------------------------------------------------
// Memory traps
// ---------------------------------------------------------------------------------------

#[test]
fn out_of_bounds_read() {
    let insns = prog![mov64(0, 1), ldx(Size::DW, 0, 1, 4), EXIT];
    let expected = trap(1, oob(MEM + 4, 8, Access::Read, Some(RegionKind::Memory)));
    let (outcome, _) = check(insns, &[0; 8], expected);
    assert_eq!(outcome.insns, 1);
    // Negative offsets below a region's start land in the previous region (read-only
    // region 4 is below the packet at region 5), never in a neighbour's bytes.
    let insns = prog![ldx(Size::B, 0, 4, -1), EXIT];
    let input = Input {
        ro: vec![1; 16],
        packet: vec![2; 16],
        ..Input::default()
    };
    let expected = trap(
        0,
        oob(PACKET - 1, 1, Access::Read, Some(RegionKind::ReadOnly)),
    );
    check_with(insns, input, expected);
}

#[test]
fn out_of_bounds_write() {
    let insns = prog![stx(Size::W, 1, 5, 1), EXIT];
    let expected = trap(0, oob(MEM + 5, 4, Access::Write, Some(RegionKind::Memory)));
    let (_, mem) = check(insns, &[7; 8], expected);
    assert_eq!(mem, [7; 8], "a faulting store writes nothing");
    let insns = prog![mov64(0, 0), st(Size::H, 1, -2, 1), EXIT];
    let expected = trap(1, oob(MEM - 2, 2, Access::Write, Some(RegionKind::Stack)));
    check(insns, &[7; 8], expected);
}

#[test]
fn write_to_read_only_region() {
    let input = || Input {
        ro: vec![0x5a; 8],
        ..Input::default()
    };
    // Reading is fine.
    check_with(prog![ldx(Size::B, 0, 3, 7), EXIT], input(), Ok(0x5a));
    let expected = trap(0, oob(RO + 2, 1, Access::Write, Some(RegionKind::ReadOnly)));
    check_with(prog![st(Size::B, 3, 2, 0), EXIT], input(), expected);
    let expected = trap(0, oob(RO, 8, Access::Write, Some(RegionKind::ReadOnly)));
    check_with(prog![stx(Size::DW, 3, 0, 1), EXIT], input(), expected);
}

#[test]
fn null_and_unmapped_dereference() {
    // r0 starts at 0.
    let expected = trap(0, oob(0, 4, Access::Read, None));
    check(prog![ldx(Size::W, 0, 0, 0), EXIT], &[], expected);
    let expected = trap(0, oob(16, 8, Access::Write, None));
    check(prog![st(Size::DW, 0, 16, 1), EXIT], &[], expected);
    // A region number past the table.
    let addr = 0x99 << 32;
    let expected = trap(2, oob(addr, 1, Access::Read, None));
    check(
        prog![lddw(5, addr), ldx(Size::B, 0, 5, 0), EXIT],
        &[],
        expected,
    );
    // Code addresses are not readable.
    let code = code_address(0);
    let expected = trap(2, oob(code, 8, Access::Read, Some(RegionKind::Code)));
    check(
        prog![lddw(5, code), ldx(Size::DW, 0, 5, 0), EXIT],
        &[],
        expected,
    );
}

#[test]
fn stack_bounds() {
    assert_eq!(STACK_TOP - STACK_BASE, STACK_SIZE as u64);
    // The whole 4096-byte stack is addressable from the main frame.
    let insns = prog![
        st(Size::DW, 10, -8, 1),
        st(Size::B, 10, -4096, 2),
        ldx(Size::DW, 0, 10, -8),
        ldx(Size::B, 1, 10, -4096),
        alu64(Add, 0, reg(1)),
        EXIT,
    ];
    check(insns, &[], Ok(3));
    // Past the top (r10 + 0).
    let expected = trap(0, oob(STACK_TOP, 8, Access::Write, Some(RegionKind::Stack)));
    check(prog![st(Size::DW, 10, 0, 1), EXIT], &[], expected);
    let expected = trap(
        0,
        oob(STACK_TOP - 4, 8, Access::Read, Some(RegionKind::Stack)),
    );
    check(prog![ldx(Size::DW, 0, 10, -4), EXIT], &[], expected);
    // Below the bottom: the byte before the stack belongs to the code region.
    let below = STACK_TOP - 4097;
    let expected = trap(0, oob(below, 1, Access::Write, Some(RegionKind::Code)));
    check(prog![st(Size::B, 10, -4097, 1), EXIT], &[], expected);
    let expected = trap(
        0,
        oob(STACK_BASE - 4, 8, Access::Read, Some(RegionKind::Code)),
    );
    check(prog![ldx(Size::DW, 0, 10, -4100), EXIT], &[], expected);
}

// ---------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------

/// `f(r1)`: recurses `r1` more times; every level adds 1 to r0.
fn recursive(depth: i32) -> Vec<Insn> {
    prog![
        mov64(1, depth),              // 0
        mov64(0, 0),                  // 1
        call_local(1),                // 2 -> 4
        EXIT,                         // 3
        alu64(Add, 0, imm(1)),        // 4: f
        jump(Cond::Eq, 1, imm(0), 2), // 5 -> 8
        alu64(Sub, 1, imm(1)),        // 6
        call_local(-4),               // 7 -> 4
        EXIT,                         // 8
    ]
}

#[test]
fn call_depth_limit() {
    assert_eq!(MAX_FRAMES, 8);
    // The main frame plus 7 nested calls fit.
    let (outcome, _) = check(recursive(6), &[], Ok(7));
    assert_eq!(outcome.insns, 3 + 7 * 2 + 6 * 2 + 7 + 1);
    // The 8th nested call traps at the call.
    let expected = trap(
        7,
        TrapKind::CallDepthExceeded {
            max_frames: MAX_FRAMES,
        },
    );
    let (outcome, _) = check(recursive(7), &[], expected);
    // 3 in main before the first call, 7 levels of (add, jeq, sub) and 6 calls that
    // succeeded; the faulting call is not counted.
    assert_eq!(outcome.insns, 3 + 7 * 3 + 6);
    // Unbounded recursion traps the same way.
    let insns = prog![call_local(1), EXIT, call_local(-1), EXIT];
    let expected = trap(
        2,
        TrapKind::CallDepthExceeded {
            max_frames: MAX_FRAMES,
        },
    );
    check(insns, &[], expected);
}

#[test]
fn local_call_saves_r6_to_r9_and_moves_the_frame() {
    let insns = prog![
        mov64(6, 6),                  // 0
        mov64(7, 7),                  // 1
        mov64(8, 8),                  // 2
        mov64(9, 9),                  // 3
        st(Size::DW, 10, -8, 0x1111), // 4: main's stack slot
        alu64(Mov, 5, reg(1)),        // 5: r5 = memory
        call_local(10),               // 6 -> 17
        stx(Size::DW, 5, 0, 6),       // 7
        stx(Size::DW, 5, 8, 7),       // 8
        stx(Size::DW, 5, 16, 8),      // 9
        stx(Size::DW, 5, 24, 9),      // 10
        ldx(Size::DW, 1, 10, -8),     // 11: main's slot, untouched by the callee
        stx(Size::DW, 5, 32, 1),      // 12
        ldx(Size::DW, 1, 5, 40),      // 13: the callee's r10
        alu64(Mov, 0, reg(10)),       // 14
        alu64(Sub, 0, reg(1)),        // 15
        EXIT,                         // 16
        // 17: the callee clobbers r6-r9, writes its own frame, saves its r10.
        mov64(6, -1),                 // 17
        mov64(7, -1),                 // 18
        mov64(8, -1),                 // 19
        mov64(9, -1),                 // 20
        st(Size::DW, 10, -8, 0x2222), // 21
        stx(Size::DW, 5, 40, 10),     // 22
        EXIT,                         // 23
    ];
    let (outcome, mem) = check(insns, &[0; 48], Ok(FRAME_SIZE as u64));
    let word = |i: usize| u64::from_le_bytes(mem[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!([word(0), word(1), word(2), word(3)], [6, 7, 8, 9]);
    assert_eq!(word(4), 0x1111);
    assert_eq!(word(5), STACK_TOP - FRAME_SIZE as u64);
    assert_eq!(outcome.insns, 24);
}

#[test]
fn unknown_helper() {
    let expected = trap(1, TrapKind::UnknownHelper { id: 99 });
    let (outcome, _) = check(prog![mov64(0, 1), call_helper(99), EXIT], &[], expected);
    assert_eq!(outcome.insns, 1);
}

#[test]
fn helper_return_value_and_preserved_arguments() {
    let mut helpers = Helpers::new();
    helpers.register(7, |ctx, args| {
        assert_eq!(ctx.pc(), 5);
        assert_eq!(ctx.insns(), 6, "the call itself is counted");
        Ok(args.iter().sum())
    });
    helpers.register(5000, |_, args| Ok(args[0] * 2));
    let insns = prog![
        mov64(1, 1),
        mov64(2, 2),
        mov64(3, 3),
        mov64(4, 4),
        mov64(5, 5),
        call_helper(7), // 5
        // r0 = 15 + r1..r5 (untouched by the call)
        alu64(Add, 0, reg(1)),
        alu64(Add, 0, reg(2)),
        alu64(Add, 0, reg(3)),
        alu64(Add, 0, reg(4)),
        alu64(Add, 0, reg(5)),
        alu64(Mov, 1, reg(0)),
        call_helper(5000), // sparse id
        EXIT,
    ];
    let input = Input {
        helpers,
        ..Input::default()
    };
    check_with(insns, input, Ok(60));
}

#[test]
fn helper_exit_ends_the_program() {
    let mut helpers = Helpers::new();
    helpers.register(1, |_, _| Err(HelperError::Exit(77)));
    let input = Input {
        helpers,
        ..Input::default()
    };
    let (outcome, _) = check_with(
        prog![mov64(0, 1), call_helper(1), mov64(0, 2), EXIT],
        input,
        Ok(77),
    );
    assert_eq!(outcome.insns, 2);
}

#[test]
fn helper_fault_becomes_a_trap() {
    let mut helpers = Helpers::new();
    helpers.register(3, |_, _| Err(HelperError::Fault("no".into())));
    let input = Input {
        helpers,
        ..Input::default()
    };
    let expected = trap(
        1,
        TrapKind::HelperFault {
            id: 3,
            message: "no".into(),
        },
    );
    let (outcome, _) = check_with(prog![mov64(0, 0), call_helper(3), EXIT], input, expected);
    assert_eq!(outcome.insns, 1);
}

/// Helper 1: `memcpy(r1, r2, r3)` through the context, returning the byte sum.
fn memcpy_helpers() -> Helpers {
    let mut helpers = Helpers::new();
    helpers.register(1, |ctx, [dst, src, len, _, _]| {
        let bytes = ctx.read(src, len)?.to_vec();
        ctx.write(dst, &bytes)?;
        Ok(bytes.iter().map(|&b| b as u64).sum())
    });
    helpers
}

#[test]
fn helper_reads_and_writes_guest_memory() {
    // Copy mem[0..4] to the stack, then the stack to mem[4..8].
    let insns = prog![
        alu64(Mov, 6, reg(1)),
        alu64(Mov, 2, reg(6)),
        alu64(Mov, 1, reg(10)),
        alu64(Add, 1, imm(-16)),
        mov64(3, 4),
        call_helper(1),
        alu64(Mov, 7, reg(0)),
        alu64(Mov, 2, reg(10)),
        alu64(Add, 2, imm(-16)),
        alu64(Mov, 1, reg(6)),
        alu64(Add, 1, imm(4)),
        mov64(3, 4),
        call_helper(1),
        alu64(Add, 0, reg(7)),
        EXIT,
    ];
    let input = Input {
        mem: vec![1, 2, 3, 4, 0, 0, 0, 0],
        helpers: memcpy_helpers(),
        ..Input::default()
    };
    let (_, mem) = check_with(insns, input, Ok(20));
    assert_eq!(mem, [1, 2, 3, 4, 1, 2, 3, 4]);
}

#[test]
fn helper_out_of_bounds_is_a_trap_at_the_call() {
    // Read past the end of memory.
    let insns = prog![
        alu64(Mov, 2, reg(1)),
        mov64(3, 9),
        mov64(1, 0),
        call_helper(1),
        EXIT
    ];
    let input = Input {
        mem: vec![0; 8],
        helpers: memcpy_helpers(),
        ..Input::default()
    };
    let expected = trap(3, oob(MEM, 9, Access::Read, Some(RegionKind::Memory)));
    let (outcome, _) = check_with(insns, input, expected);
    assert_eq!(outcome.insns, 3);
    // Write into the read-only region.
    let insns = prog![
        alu64(Mov, 2, reg(1)),
        alu64(Mov, 1, reg(3)),
        mov64(3, 2),
        call_helper(1),
        EXIT
    ];
    let input = Input {
        mem: vec![0; 8],
        ro: vec![0; 8],
        helpers: memcpy_helpers(),
        ..Input::default()
    };
    let expected = trap(3, oob(RO, 2, Access::Write, Some(RegionKind::ReadOnly)));
    check_with(insns, input, expected);
    // A huge length is refused, not allocated or wrapped.
    let insns = prog![alu64(Mov, 2, reg(1)), mov64(3, -1), call_helper(1), EXIT];
    let input = Input {
        mem: vec![0; 8],
        helpers: memcpy_helpers(),
        ..Input::default()
    };
    let expected = trap(
        2,
        oob(MEM, u32::MAX, Access::Read, Some(RegionKind::Memory)),
    );
    check_with(insns, input, expected);
}

#[test]
fn callx_with_a_helper_id() {
    let mut helpers = Helpers::new();
    helpers.register(7, |_, args| Ok(args[0] + 100));
    let insns = prog![mov64(1, 5), mov64(4, 7), callx(4), EXIT];
    let input = Input {
        helpers,
        ..Input::default()
    };
    check_with(insns, input, Ok(105));
    let expected = trap(1, TrapKind::UnknownHelper { id: 8 });
    check(prog![mov64(4, 8), callx(4), EXIT], &[], expected);
}

#[test]
fn callx_with_a_code_address() {
    let insns = prog![
        Insn::LoadImm64 {
            dst: r(4),
            imm: Imm64::CodeAddr(5), // 0 + 1 + 5 = 6
        },
        Insn::Imm64Tail,
        mov64(6, 10),          // 2
        callx(4),              // 3
        alu64(Add, 0, reg(6)), // 4: r0 = f() + r6 (saved across the call)
        EXIT,                  // 5
        mov64(6, 1000),        // 6: f
        mov64(0, 42),          // 7
        EXIT,                  // 8
    ];
    let (outcome, _) = check(insns, &[], Ok(52));
    assert_eq!(outcome.insns, 8);
}

#[test]
fn callx_with_a_bad_target() {
    // Not an instruction boundary, past the end, the second slot of an lddw, and a
    // stack address (neither a helper id nor in the code region).
    for target in [
        code_address(0) + 3,
        code_address(100),
        code_address(1),
        STACK_TOP - 8,
    ] {
        let insns = prog![lddw(4, target), callx(4), EXIT];
        let expected = trap(2, TrapKind::BadCallTarget { target });
        let (outcome, _) = check(insns, &[], expected);
        assert_eq!(outcome.insns, 1);
    }
}

// ---------------------------------------------------------------------------------------
// Budget and instruction counting
// ---------------------------------------------------------------------------------------

#[test]
fn budget_exhausted() {
    // An endless loop stops at exactly the budget, at the instruction it did not start.
    let insns = prog![mov64(0, 0), alu64(Add, 0, imm(1)), ja(-2)];
    for budget in [0u64, 1, 2, 3, 10, 1001] {
        let input = Input {
            budget: Some(budget),
            ..Input::default()
        };
        let pc = if budget == 0 {
            0
        } else {
            1 + (budget as usize - 1) % 2
        };
        let expected = trap(pc, TrapKind::BudgetExhausted { budget });
        let (outcome, _) = check_with(insns.clone(), input, expected);
        assert_eq!(outcome.insns, budget);
    }
    // A budget equal to the instructions needed is enough; one less is not.
    let insns = prog![mov64(0, 1), lddw(1, 2), alu64(Add, 0, reg(1)), EXIT];
    let input = |budget| Input {
        budget: Some(budget),
        ..Input::default()
    };
    let (outcome, _) = check_with(insns.clone(), input(4), Ok(3));
    assert_eq!(outcome.insns, 4);
    let expected = trap(4, TrapKind::BudgetExhausted { budget: 3 });
    check_with(insns, input(3), expected);
}

#[test]
fn instruction_counting() {
    // lddw counts once; a taken jump skips what it skips.
    let insns = prog![
        lddw(0, 1),                   // 1
        jump(Cond::Eq, 0, imm(1), 2), // 2 (taken)
        mov64(0, 5),
        mov64(0, 6),
        lddw(2, 3), // 3
        EXIT,       // 4
    ];
    let (outcome, _) = check(insns, &[], Ok(1));
    assert_eq!(outcome.insns, 4);
    // A loop of 3 instructions run 10 times.
    let insns = prog![
        mov64(1, 10),          // 1
        mov64(0, 0),           // 2
        alu64(Add, 0, reg(1)), // loop
        alu64(Sub, 1, imm(1)),
        jump(Cond::Ne, 1, imm(0), -3),
        EXIT,
    ];
    let (outcome, _) = check(insns, &[], Ok(55));
    assert_eq!(outcome.insns, 2 + 30 + 1);
    // gotol
    let insns = prog![Insn::Ja { off: 1, long: true }, mov64(0, 9), EXIT];
    let (outcome, _) = check(insns, &[], Ok(0));
    assert_eq!(outcome.insns, 2);
}

// ---------------------------------------------------------------------------------------
// Legacy packet loads
// ---------------------------------------------------------------------------------------

fn packet_input() -> Input {
    Input {
        packet: vec![0x12, 0x34, 0x56, 0x78, 0x9a],
        ..Input::default()
    }
}

#[test]
fn legacy_loads_are_big_endian() {
    let abs = LegacyMode::Abs;
    let ind = LegacyMode::Ind(r(7));
    let cases = [
        (legacy(Size::B, abs, 0), 0x12u64),
        (legacy(Size::B, abs, 4), 0x9a),
        (legacy(Size::H, abs, 1), 0x3456),
        (legacy(Size::W, abs, 0), 0x1234_5678),
        (legacy(Size::W, abs, 1), 0x3456_789a),
        (legacy(Size::B, ind, 1), 0x9a),
        (legacy(Size::H, ind, -1), 0x5678),
        (legacy(Size::W, ind, -2), 0x3456_789a),
    ];
    for (load, expected) in cases {
        // r7 = 3 for LD_IND; r0 starts as garbage and is replaced whole.
        let insns = prog![mov64(7, 3), lddw(0, u64::MAX), load, EXIT];
        check_with(insns, packet_input(), Ok(expected));
    }
    // LD_IND reads the whole base register: 0x1_0000_0003 + -2 wraps to offset 1.
    let insns = prog![lddw(7, 0x1_0000_0003), legacy(Size::B, ind, -2), EXIT];
    check_with(insns, packet_input(), Ok(0x34));
}

#[test]
fn legacy_loads_out_of_range_end_the_program_with_zero() {
    let abs = LegacyMode::Abs;
    let ind = LegacyMode::Ind(r(7));
    let loads = [
        legacy(Size::W, abs, 2),  // runs past the end
        legacy(Size::B, abs, 5),  // just past the end
        legacy(Size::H, abs, -1), // negative offset
        legacy(Size::B, abs, i32::MIN),
        legacy(Size::W, ind, -4),       // 3 - 4 = -1
        legacy(Size::B, ind, i32::MAX), // 3 + MAX wraps negative
    ];
    for load in loads {
        // r0 is 5 before; the load ends the program with 0 and nothing after it runs.
        let insns = prog![mov64(7, 3), mov64(0, 5), load, mov64(0, 9), EXIT];
        let (outcome, _) = check_with(insns, packet_input(), Ok(0));
        assert_eq!(outcome.insns, 3, "{load:?}");
    }
    // No packet at all.
    let insns = prog![mov64(0, 5), legacy(Size::B, abs, 0), EXIT];
    check(insns, &[], Ok(0));
}
