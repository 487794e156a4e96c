//! Shared by the differential tests and the `jit_diff` fuzz target: a generator of
//! valid programs and the oracle that runs one on both engines and compares.
//!
//! The generator draws from an [`Entropy`] source (a seeded PRNG in tests, the fuzzer's
//! bytes in the fuzz target) and builds typed instructions: every ALU operation and
//! width with interesting operands, byte swaps, `lddw`, loads/stores/atomics on the
//! stack, on caller memory (also indexed by the loop counter, `r1 + r9`, as clang's
//! loops do), on a read-only region, on regions a helper maps during the run, and out
//! of bounds; forward jumps, bounded loops (counter in r9, which nothing
//! else writes), helper calls (one ends the run, one faults, one maps a region),
//! bpf-to-bpf calls (with recursion that reaches the frame limit), `bpf_loop`, `callx`
//! with code addresses, helper ids and bad targets, legacy packet loads, `exit`
//! anywhere, and the kernel's map helpers on the maps of [`case_maps`] (lookups
//! null-checked as real programs do, then accesses through the pointer, in and out of
//! the value; updates and deletes), global data through `lddw` map values, and tail
//! calls (direct, and through a prog array) among the case's programs, which form the
//! tail-call table (the main program is id 0).
//! Programs terminate by construction unless they `callx` a wild address
//! ([`Case::wild`]); those only run with a budget.

#![allow(dead_code, reason = "each user takes what it needs")]

use ebpfvm_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Cond, Imm64, Insn, LegacyMode, Operand, Program, Reg,
    SignExtend, Size, SwapWidth, Width,
};
use std::sync::{Arc, Mutex};

use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::kernel_helpers::{self, id, Kernel};
use ebpfvm_vm::maps::{Entry, BPF_ANY};
use ebpfvm_vm::{
    code_address, HelperError, Helpers, Interpreter, MapError, MapId, MapKind, MapSpec, Maps,
    MemoryMap, Outcome, RegionKind, Stack,
};

/// Runs `f` with r1 = `shift` bytes from the address of one region of `len` bytes
/// (writable or read-only) mapped over the start of `backing`, whose later bytes an
/// access past the region's end would find; the outcome and `backing` after the run.
pub fn run_on_region(
    mut backing: Vec<u8>,
    len: usize,
    writable: bool,
    shift: i64,
    f: impl FnOnce([u64; 5], &mut MemoryMap<'_>, &mut Helpers) -> Outcome,
) -> (Outcome, Vec<u8>) {
    let mut stack = Stack::new();
    let mut helpers = Helpers::new();
    let outcome = {
        let mut map = MemoryMap::new(&mut stack);
        let (region, _) = backing.split_at_mut(len);
        let addr = if writable {
            map.map_mut(RegionKind::Memory, region)
        } else {
            map.map_ro(RegionKind::ReadOnly, region)
        }
        .expect("room for a region");
        f(
            [addr.wrapping_add_signed(shift), 0, 0, 0, 0],
            &mut map,
            &mut helpers,
        )
    };
    (outcome, backing)
}

/// Maps of every case (see [`case_maps`]): ids 0-3, at regions 3-6.
pub const MAPS: u64 = 4;
/// Map 0: an array of 4 values.
pub const ARRAY: u32 = 0;
/// Map 1: a hash of at most 3 values.
pub const HASH: u32 = 1;
/// Map 2: global data (a single-element array of [`GLOBAL_LEN`] bytes).
pub const GLOBAL: u32 = 2;
/// Map 3: a prog array of 4 slots: slot `i` holds program `i` of the case, if any, and
/// slot 3 is empty.
pub const JUMPS: u32 = 3;
/// Bytes of an array or hash value.
pub const VALUE: u32 = 16;
/// Bytes of the global data.
pub const GLOBAL_LEN: u32 = 32;
/// Guest address of the caller's memory (the first region mapped after the maps).
pub const MEM: u64 = (3 + MAPS) << 32;
/// Guest address of the read-only region (the second).
pub const RO: u64 = (4 + MAPS) << 32;
/// Guest address of the first region helper 5 maps.
pub const MAPPED: u64 = (5 + MAPS) << 32;
/// Bytes of caller memory.
pub const MEM_LEN: usize = 64;
/// Bytes of the read-only region.
pub const RO_LEN: usize = 16;
/// r4 for a `bpf_loop` call that helper 6 honours.
pub const LOOP_TAG: u64 = 0x6a69_745f_6c6f_6f70;
/// The budget of runs "without a budget" of programs that may not terminate.
pub const WILD_BUDGET: u64 = 20_000;

/// A source of random numbers.
pub trait Entropy {
    /// The next 64 random bits.
    fn next(&mut self) -> u64;
}

/// splitmix64: the tests' deterministic source.
pub struct SplitMix(pub u64);

impl Entropy for SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The fuzzer's bytes, 8 at a time, then zeros.
pub struct Bytes<'a>(pub &'a [u8]);

impl Entropy for Bytes<'_> {
    fn next(&mut self) -> u64 {
        let n = self.0.len().min(8);
        let mut word = [0u8; 8];
        word[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        u64::from_le_bytes(word)
    }
}

/// One generated test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The program.
    pub program: Program,
    /// More programs: the tail-call table is `program` (id 0) then these.
    pub tails: Vec<Program>,
    /// Initial global data ([`GLOBAL_LEN`] bytes).
    pub global: Vec<u8>,
    /// Initial caller memory.
    pub mem: Vec<u8>,
    /// Initial read-only region.
    pub ro: Vec<u8>,
    /// r4 and r5 at entry.
    pub extra_args: [u64; 2],
    /// Whether the program may run forever (a `callx` to an arbitrary address).
    pub wild: bool,
}

/// The state after one run: outcome, caller memory, stack, every map's entries.
pub type RunResult = (Outcome, Vec<u8>, Vec<u8>, MapStates);

/// Every map's entries after a run (`Maps::entries` per map).
pub type MapStates = Vec<Result<Vec<Entry>, MapError>>;

/// What [`run_sequence`] gives: the outcomes of the runs, then memory, stack and maps
/// after the last.
pub type SequenceResult = (Vec<Outcome>, Vec<u8>, Vec<u8>, MapStates);

impl Case {
    /// The tail-call table: the main program, then the others.
    pub fn table(&self) -> impl Iterator<Item = &Program> {
        std::iter::once(&self.program).chain(&self.tails)
    }
}

/// The maps of a run of `case`, in their initial state (see [`ARRAY`] and the others).
pub fn case_maps(case: &Case) -> Maps {
    let mut maps = Maps::new();
    for (name, kind, key, value, max) in [
        ("array", MapKind::Array, 4, VALUE, 4),
        ("hash", MapKind::Hash, 4, VALUE, 3),
        (".data", MapKind::Array, 4, GLOBAL_LEN, 1),
        ("jumps", MapKind::ProgArray, 4, 4, 4),
    ] {
        maps.create(MapSpec::new(name, kind, key, value, max))
            .expect("a small map");
    }
    maps.set_initial_data(MapId(GLOBAL), &case.global)
        .expect("global data");
    for slot in 0..(1 + case.tails.len() as u32).min(3) {
        maps.update(
            MapId(JUMPS),
            &slot.to_le_bytes(),
            &slot.to_le_bytes(),
            BPF_ANY,
        )
        .expect("a program id");
    }
    maps
}

fn r(n: u8) -> Reg {
    Reg::new(n).expect("register number in range")
}

/// Bytes helper 5 maps (read-only).
static MAPPED_BYTES: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
];

/// The helpers of every run. Stateless, so both engines see the same ones.
pub fn helpers() -> Helpers {
    let mut h = Helpers::new();
    // 1: sum of r2 % 96 bytes at r1 (may fault), plus the count and pc it sees.
    h.register(1, |ctx, a| {
        let sum: u64 = ctx
            .read(a[0], a[1] % 96)?
            .iter()
            .map(|&b| u64::from(b))
            .sum();
        Ok(sum + ctx.insns() * 1000 + ctx.pc() as u64 * 1_000_000)
    });
    // 2: writes r3 % 9 bytes of r2 at r1 (may fault).
    h.register(2, |ctx, a| {
        let bytes = a[1].to_le_bytes();
        ctx.write(a[0], &bytes[..(a[2] % 9) as usize])?;
        Ok(a[2])
    });
    // 3: ends the program when r1 % 4 == 0.
    h.register(3, |ctx, a| {
        if a[0] % 4 == 0 {
            Err(HelperError::Exit(a[1] ^ ctx.insns()))
        } else {
            Ok(a[0].wrapping_mul(31) ^ ctx.pc() as u64)
        }
    });
    // 4: faults when r1 % 3 == 0.
    h.register(4, |_, a| {
        if a[0] % 3 == 0 {
            Err(HelperError::Fault(format!("r1 = {}", a[0])))
        } else {
            Ok(a[0] >> 1)
        }
    });
    // 6: bpf_loop: calls the function at code address r1 r3 % 4 times with r2, when r4
    // holds LOOP_TAG (so only the generator's set-ups loop: a code address computed by
    // chance could name an instruction no `lddw` names, the one case the engines treat
    // differently, see jit/src/call.rs).
    h.register(6, |_, a| {
        if a[3] != LOOP_TAG {
            return Ok(0);
        }
        Err(HelperError::Loop {
            callback: a[0],
            ctx: a[1],
            count: a[2] % 4,
        })
    });
    // 7: a tail call to program r1 (fails outside the table, or after 33).
    h.register(7, |_, a| Err(HelperError::TailCall(a[0] as u32)));
    // 101-103 and 112: the kernel's map lookup, update, delete and tail call (this
    // file's helpers have the ids 1-7).
    let kernel = Kernel::new();
    let mut k = Helpers::new();
    kernel_helpers::register(&mut k, &kernel);
    let k = Arc::new(Mutex::new(k));
    for (ours, theirs) in [
        (101, id::MAP_LOOKUP_ELEM),
        (102, id::MAP_UPDATE_ELEM),
        (103, id::MAP_DELETE_ELEM),
        (112, id::TAIL_CALL),
    ] {
        let k = Arc::clone(&k);
        h.register(ours, move |ctx, a| {
            let mut k = k.lock().unwrap_or_else(|e| e.into_inner());
            let f = k.get_mut(theirs.into()).expect("a kernel helper");
            f(ctx, a)
        });
    }
    // 5: maps a new read-only region (moving the region table) and returns its address.
    h.register(5, |ctx, _| {
        Ok(ctx
            .memory()
            .map_ro(RegionKind::ReadOnly, &MAPPED_BYTES)
            .unwrap_or(0))
    });
    h
}

/// Runs `run` on a fresh copy of the case's memory and maps; the state after.
fn run_on(
    case: &Case,
    run: impl FnOnce([u64; 5], &mut MemoryMap<'_>, &mut Helpers) -> Outcome,
) -> RunResult {
    let mut mem = case.mem.clone();
    let ro = case.ro.clone();
    let maps = case_maps(case);
    let mut stack = Stack::new();
    let mut map = MemoryMap::with_maps(&mut stack, &maps);
    let mem_addr = map.map_mut(RegionKind::Memory, &mut mem).expect("mapped");
    let ro_addr = map.map_ro(RegionKind::ReadOnly, &ro).expect("mapped");
    assert_eq!((mem_addr, ro_addr), (MEM, RO));
    map.set_packet(mem_addr);
    let args = [
        MEM,
        MEM_LEN as u64,
        RO,
        case.extra_args[0],
        case.extra_args[1],
    ];
    let outcome = run(args, &mut map, &mut helpers());
    drop(map);
    let entries = maps.ids().map(|id| maps.entries(id)).collect();
    (outcome, mem, stack.bytes().to_vec(), entries)
}

/// Runs the case once per budget of `budgets`, in order, on one copy of its memory,
/// maps and stack (each run sees what the earlier ones left): the outcomes, and the
/// state after the last. `run` gets the same arguments as [`run_on`]'s and runs them.
pub fn run_sequence(
    case: &Case,
    budgets: &[Option<u64>],
    run: impl FnOnce([u64; 5], &mut MemoryMap<'_>, &mut Helpers, &[Option<u64>]) -> Vec<Outcome>,
) -> SequenceResult {
    let mut outcomes = Vec::new();
    let (_, mem, stack, entries) = run_on(case, |args, map, h| {
        outcomes = run(args, map, h, budgets);
        outcomes.last().cloned().expect("at least one budget")
    });
    (outcomes, mem, stack, entries)
}

/// Runs the case on the interpreter (`table`: the case's programs, prepared).
pub fn run_interp(case: &Case, table: &[Interpreter], budget: Option<u64>) -> RunResult {
    run_on(case, |args, map, h| {
        table[0].run_linked(args, map, h, budget, table)
    })
}

/// Runs the case on the JIT (`table`: the case's programs, compiled).
pub fn run_jit(case: &Case, table: &[JitProgram], budget: Option<u64>) -> RunResult {
    run_on(case, |args, map, h| {
        table[0].run_linked(args, map, h, budget, table)
    })
}

/// Compiles the case for both engines and compares them without a budget (or with
/// [`WILD_BUDGET`]) and with budgets drawn from `e` around the instruction count
/// (including cuts in the middle of blocks). The number of runs compared, or a
/// description of the first difference.
pub fn check_case(case: &Case, e: &mut dyn Entropy) -> Result<(usize, Outcome), String> {
    let maps = case_maps(case);
    let interp = case
        .table()
        .map(|p| Interpreter::with_maps(p, &maps))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("interpreter: {err}"))?;
    // Both tiers: every program quick; then the entry optimized and the others
    // adaptive, which an optimized program's tail call promotes (`go_on`).
    let compile = |tiering: &dyn Fn(usize) -> Tiering| {
        case.table()
            .enumerate()
            .map(|(i, p)| JitProgram::compile_with(p, Some(&maps), tiering(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| format!("jit: {err}"))
    };
    let quick = compile(&|_| Tiering::Quick)?;
    let optimized = compile(&|i| {
        if i == 0 {
            Tiering::Optimized
        } else {
            Tiering::Adaptive
        }
    })?;
    let first = if case.wild { Some(WILD_BUDGET) } else { None };
    let full = run_interp(case, &interp, first);
    let n = full.0.insns;
    let mut budgets = vec![0, n, n.saturating_sub(1), n + 1];
    for _ in 0..4 {
        budgets.push(e.next() % (n + 2));
    }
    budgets.sort_unstable();
    budgets.dedup();
    for (tier, jit) in [("quick", &quick), ("optimized", &optimized)] {
        let tiered = |r: Result<(), String>| r.map_err(|m| format!("{tier} tier: {m}"));
        tiered(compare(case, &full, &run_jit(case, jit, first), first))?;
        for &b in &budgets {
            let want = run_interp(case, &interp, Some(b));
            tiered(compare(case, &want, &run_jit(case, jit, Some(b)), Some(b)))?;
        }
    }
    Ok((2 * (1 + budgets.len()), full.0))
}

/// Runs the case's main program (compiled in `tiering`) through
/// `JitProgram::prepare_linked` for a sequence of 11 runs on one memory: budgets that
/// cut runs short (traps) drawn from `e`, between unbudgeted runs, so that runs follow
/// clean and dirty contexts alike. Outcomes, memory, stack and maps must equal those of
/// the same sequence of `run_linked` calls; else a description of the difference.
pub fn check_prepared(case: &Case, e: &mut dyn Entropy, tiering: Tiering) -> Result<(), String> {
    let maps = case_maps(case);
    let table = case
        .table()
        .map(|p| JitProgram::compile_with(p, Some(&maps), tiering))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("jit: {err}"))?;
    let first = if case.wild { Some(WILD_BUDGET) } else { None };
    let n = run_jit(case, &table, first).0.insns;
    let mut budgets = vec![first, Some(n / 2), first, Some(0), first];
    for _ in 0..3 {
        budgets.push(Some(e.next() % (n + 2)));
        budgets.push(first);
    }
    let want = run_sequence(case, &budgets, |args, map, h, budgets| {
        budgets
            .iter()
            .map(|&b| table[0].run_linked(args, map, h, b, &table))
            .collect()
    });
    let got = run_sequence(case, &budgets, |args, map, h, budgets| {
        let mut prepared = table[0].prepare_linked(map, h, &table);
        budgets.iter().map(|&b| prepared.run(args, b)).collect()
    });
    if want == got {
        return Ok(());
    }
    Err(format!(
        "{tiering:?}, budgets {budgets:?}: prepared runs differ: want {:?}, got {:?}\n{}",
        want.0,
        got.0,
        listing(case)
    ))
}

fn compare(
    case: &Case,
    want: &RunResult,
    got: &RunResult,
    budget: Option<u64>,
) -> Result<(), String> {
    if want == got {
        return Ok(());
    }
    let what = if want.0 != got.0 {
        format!("outcome: interp {:?}, jit {:?}", want.0, got.0)
    } else if want.1 != got.1 {
        "caller memory differs".to_string()
    } else if want.2 != got.2 {
        "stack differs".to_string()
    } else {
        format!("maps: interp {:?}, jit {:?}", want.3, got.3)
    };
    Err(format!("budget {budget:?}: {what}\n{}", listing(case)))
}

/// The disassembly of every program of `case`, for a failure message.
fn listing(case: &Case) -> String {
    let programs: Vec<String> = case
        .table()
        .enumerate()
        .map(|(i, p)| format!("program {i}:\n{}", ebpfvm_isa::disassemble(p)))
        .collect();
    programs.join("\n")
}

/// Builds programs from an entropy source.
pub struct Generator<'e> {
    e: &'e mut dyn Entropy,
    insns: Vec<Insn>,
    /// Forward jumps waiting for their target: (pc, instructions still to skip).
    pending: Vec<(usize, u32)>,
    /// Calls and code addresses to patch once every function is placed:
    /// (pc, callee index).
    fixups: Vec<(usize, usize)>,
    functions: usize,
    wild: bool,
}

impl<'e> Generator<'e> {
    /// A generator drawing from `e`.
    pub fn new(e: &'e mut dyn Entropy) -> Self {
        Generator {
            e,
            insns: Vec::new(),
            pending: Vec::new(),
            fixups: Vec::new(),
            functions: 0,
            wild: false,
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.e.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A register the program may write (r9 is the loop counter; r10 is read-only).
    fn dst(&mut self) -> Reg {
        r(self.below(9) as u8)
    }

    /// Any readable register.
    fn src(&mut self) -> Reg {
        r(self.below(11) as u8)
    }

    fn imm(&mut self) -> i32 {
        match self.below(12) {
            0 => 0,
            1 => 1,
            2 => -1,
            3 => i32::MIN,
            4 => i32::MAX,
            5 => self.pick(&[31, 32, 33, 63, 64, 65, 127]),
            6 => self.e.next() as i32,
            7 => (self.e.next() as i32) >> 16,
            _ => (self.below(41) as i32) - 20,
        }
    }

    fn value64(&mut self) -> u64 {
        match self.below(6) {
            0 => self.pick(&[0, 1, u64::MAX, i64::MIN as u64, i64::MAX as u64, 1 << 32]),
            1 => MEM + self.below(80),
            2 => (self.imm() as i64) as u64,
            _ => self.e.next(),
        }
    }

    /// Emits one instruction (and, for lddw, its tail), resolving forward jumps that
    /// land here.
    fn emit(&mut self, insn: Insn) {
        let pc = self.insns.len();
        let mut i = 0;
        while i < self.pending.len() {
            self.pending[i].1 -= 1;
            if self.pending[i].1 == 0 {
                let (from, _) = self.pending.swap_remove(i);
                self.patch_jump(from, pc);
            } else {
                i += 1;
            }
        }
        self.insns.push(insn);
        if insn.slots() == 2 {
            self.insns.push(Insn::Imm64Tail);
        }
    }

    /// Points every waiting forward jump at `pc` (the next instruction emitted).
    fn land_pending_here(&mut self) {
        let pc = self.insns.len();
        for (from, _) in std::mem::take(&mut self.pending) {
            self.patch_jump(from, pc);
        }
    }

    fn patch_jump(&mut self, from: usize, to: usize) {
        let delta = to as i64 - from as i64 - 1;
        match &mut self.insns[from] {
            Insn::Jump { off, .. } => *off = delta as i16,
            Insn::Ja { off, .. } => *off = delta as i32,
            other => unreachable!("not a jump: {other:?}"),
        }
    }

    /// A whole case: the main program and up to two more for tail calls.
    pub fn case(&mut self) -> Case {
        let program = self.program();
        let tails = (0..self.below(3)).map(|_| self.program()).collect();
        let mem = (0..MEM_LEN).map(|_| self.e.next() as u8).collect();
        let ro = (0..RO_LEN).map(|_| self.e.next() as u8).collect();
        let global = (0..GLOBAL_LEN).map(|_| self.e.next() as u8).collect();
        let extra_args = [self.value64(), self.value64()];
        Case {
            program,
            tails,
            global,
            mem,
            ro,
            extra_args,
            wild: self.wild,
        }
    }

    /// One program.
    fn program(&mut self) -> Program {
        self.functions = 1 + self.below(4) as usize;
        let mut starts = Vec::new();
        for f in 0..self.functions {
            starts.push(self.insns.len());
            self.function(f);
        }
        for (pc, callee) in std::mem::take(&mut self.fixups) {
            let delta = (starts[callee] as i64 - pc as i64 - 1) as i32;
            match &mut self.insns[pc] {
                Insn::Call(CallTarget::Local(off)) => *off = delta,
                Insn::LoadImm64 {
                    imm: Imm64::CodeAddr(off),
                    ..
                } => *off = delta,
                other => unreachable!("not a call: {other:?}"),
            }
        }
        let insns = std::mem::take(&mut self.insns);
        Program::new(insns.clone())
            .unwrap_or_else(|err| panic!("generated an invalid program: {err}\n{insns:#?}"))
    }

    /// Function `f` (0 is the main program; only it has loops, so runs stay short).
    fn function(&mut self, f: usize) {
        let len = 1 + self.below(if f == 0 { 40 } else { 14 });
        if f == 0 {
            for _ in 0..self.below(3) {
                let dst = self.dst();
                let v = self.value64();
                self.emit(Insn::LoadImm64 {
                    dst,
                    imm: Imm64::Value(v),
                });
            }
        }
        // Callee 1 sometimes recurses unconditionally: the frame limit traps.
        if f == 1 && self.chance(15) {
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: r(6),
                src: Operand::Imm(1),
            });
            let pc = self.insns.len();
            self.emit(Insn::Call(CallTarget::Local(0)));
            self.fixups.push((pc, 1));
        }
        let mut i = 0;
        while i < len {
            if f == 0 && self.chance(6) {
                i += self.maybe_loop();
            } else {
                self.step(f, false);
                i += 1;
            }
        }
        self.land_pending_here();
        self.emit(Insn::Exit);
    }

    /// A bounded loop: `mov r9, n; body; add r9, -1; jne r9, 0, body`. Returns the
    /// instructions emitted (roughly).
    fn maybe_loop(&mut self) -> u64 {
        self.land_pending_here();
        let n = 1 + self.below(5) as i32;
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r(9),
            src: Operand::Imm(n),
        });
        let head = self.insns.len();
        let body = 1 + self.below(8);
        let buffer = self.chance(25);
        for _ in 0..body {
            if buffer {
                self.buffer_step();
            } else {
                self.step(0, true);
            }
        }
        // Forward jumps from the body land on the decrement: none may skip it (that
        // loop would never end) or leave the loop.
        self.land_pending_here();
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: r(9),
            src: Operand::Imm(-1),
        });
        let pc = self.insns.len();
        let width = self.pick(&[Width::W64, Width::W32]);
        self.emit(Insn::Jump {
            width,
            cond: Cond::Ne,
            dst: r(9),
            src: Operand::Imm(0),
            off: (head as i64 - pc as i64 - 1) as i16,
        });
        body + 3
    }

    /// One step of a loop over caller memory as clang emits it, which the optimized
    /// tier checks once per loop (`loops.rs`): an access at `r1 + r9 + off` through a
    /// register set just before; nothing writes r1 (or the counter, r9).
    fn buffer_step(&mut self) {
        let base = r(2 + self.below(7) as u8);
        self.buffer_index(base);
        let size = self.pick(&[Size::B, Size::H, Size::W, Size::DW]);
        let off = self.buffer_offset();
        if self.chance(50) {
            let dst = self.pick(&[r(0), r(2), r(3), r(4), r(5), r(6), r(7), r(8)]);
            self.emit(Insn::Load {
                size,
                sign_extend: false,
                dst,
                src: base,
                off,
            });
        } else {
            let src = Operand::Reg(self.src());
            self.emit(Insn::Store {
                size,
                dst: base,
                off,
                src,
            });
        }
    }

    /// One random instruction (or a short sequence) in function `f`.
    fn step(&mut self, f: usize, in_loop: bool) {
        match self.below(100) {
            0..=29 => self.alu(),
            30..=34 => self.unary(),
            35..=38 => {
                let dst = self.dst();
                let v = self.value64();
                self.emit(Insn::LoadImm64 {
                    dst,
                    imm: Imm64::Value(v),
                })
            }
            39..=63 => self.memory(),
            64..=73 => self.forward_jump(),
            74..=79 => self.helper_call(f, in_loop),
            80..=84 => self.local_call(f, in_loop),
            85..=88 => self.callx(f, in_loop),
            89..=92 => self.legacy(),
            93..=94 => self.emit(Insn::Exit),
            95..=97 => self.map_op(),
            _ => self.tail_call(),
        }
    }

    fn alu(&mut self) {
        let width = self.pick(&[Width::W64, Width::W32]);
        let ops = [
            AluOp::Add,
            AluOp::Sub,
            AluOp::Mul,
            AluOp::Div,
            AluOp::SDiv,
            AluOp::Or,
            AluOp::And,
            AluOp::Lsh,
            AluOp::Rsh,
            AluOp::Mod,
            AluOp::SMod,
            AluOp::Xor,
            AluOp::Mov,
            AluOp::Arsh,
            AluOp::MovSx(SignExtend::S8),
            AluOp::MovSx(SignExtend::S16),
            AluOp::MovSx(SignExtend::S32),
        ];
        let mut op = self.pick(&ops);
        let dst = self.dst();
        let src = if matches!(op, AluOp::MovSx(_)) || self.chance(50) {
            Operand::Reg(self.src())
        } else {
            Operand::Imm(self.imm())
        };
        if width == Width::W32 && op == AluOp::MovSx(SignExtend::S32) {
            op = AluOp::MovSx(SignExtend::S16);
        }
        self.emit(Insn::Alu {
            width,
            op,
            dst,
            src,
        });
    }

    fn unary(&mut self) {
        let dst = self.dst();
        if self.chance(30) {
            let width = self.pick(&[Width::W64, Width::W32]);
            self.emit(Insn::Neg { width, dst });
        } else {
            let order = self.pick(&[ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap]);
            let width = self.pick(&[SwapWidth::B16, SwapWidth::B32, SwapWidth::B64]);
            self.emit(Insn::Endian { order, width, dst });
        }
    }

    /// A base register and offset for an access of `size` bytes, emitting whatever
    /// sets the base up.
    fn address(&mut self, size: u32) -> (Reg, i16) {
        let size = size as i64;
        match self.below(100) {
            // Inside the current frame: never faults.
            0..=54 => {
                let off = -1 - self.below(512 - size as u64 + 1) as i64 - (size - 1);
                (Reg::FP, off as i16)
            }
            55..=57 => (Reg::FP, (self.below(700) as i64 - 600) as i16),
            // Caller memory, mostly in bounds.
            58..=77 => {
                let base = self.dst();
                let x = self.below(MEM_LEN as u64 + 10);
                let end = if self.chance(90) {
                    MEM_LEN as i64 - size
                } else {
                    MEM_LEN as i64 + 8
                };
                let target = self.below(end as u64 + 1) as i64;
                self.emit(Insn::LoadImm64 {
                    dst: base,
                    imm: Imm64::Value(MEM + x),
                });
                (base, (target - x as i64) as i16)
            }
            // Read-only, or regions helper 5 maps during the run.
            78..=81 => {
                let base = self.dst();
                let x = self.below(RO_LEN as u64 + 8);
                let region = self.pick(&[RO, MAPPED, MAPPED + (1 << 32)]);
                self.emit(Insn::LoadImm64 {
                    dst: base,
                    imm: Imm64::Value(region + x),
                });
                (base, (self.below(9) as i64 - 4) as i16)
            }
            // A pointer into the stack, anywhere.
            82..=87 => {
                let base = self.dst();
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: base,
                    src: Operand::Reg(Reg::FP),
                });
                let k = self.below(1100) as i32;
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: base,
                    src: Operand::Imm(-k),
                });
                (base, (self.below(64) as i64 - 32) as i16)
            }
            88..=92 => (r(1), (self.below(72) as i64 - 4) as i16),
            93..=95 => {
                let base = self.dst();
                let v = self.pick(&[0, 8, code_address(0), 1 << 32, u64::MAX - 3, 2 << 32]);
                self.emit(Insn::LoadImm64 {
                    dst: base,
                    imm: Imm64::Value(v),
                });
                (base, self.below(16) as i16)
            }
            // Buffer indexing as clang emits it in loops, `base = r1; base += r9` (the
            // loop counter), which the optimized tier checks once per loop (`loops.rs`).
            96..=97 => {
                let base = self.dst();
                self.buffer_index(base);
                (base, self.buffer_offset())
            }
            _ => (self.src(), self.e.next() as i16),
        }
    }

    /// `base = r1; base += r9` (or `base = r9; base += r1`): buffer indexing by the loop
    /// counter, as clang emits it in loops.
    fn buffer_index(&mut self, base: Reg) {
        let (first, second) = if self.chance(50) {
            (r(1), r(9))
        } else {
            (r(9), r(1))
        };
        for (op, src) in [(AluOp::Mov, first), (AluOp::Add, second)] {
            self.emit(Insn::Alu {
                width: Width::W64,
                op,
                dst: base,
                src: Operand::Reg(src),
            });
        }
    }

    /// An offset from a [`Generator::buffer_index`] base: around caller memory, past
    /// both of its ends.
    fn buffer_offset(&mut self) -> i16 {
        (self.below(MEM_LEN as u64 + 16) as i64 - 12) as i16
    }

    fn memory(&mut self) {
        let size = self.pick(&[Size::B, Size::H, Size::W, Size::DW]);
        match self.below(10) {
            0..=3 => {
                let (src, off) = self.address(size.bytes());
                let dst = self.dst();
                let sign_extend = size != Size::DW && self.chance(25);
                self.emit(Insn::Load {
                    size,
                    sign_extend,
                    dst,
                    src,
                    off,
                });
            }
            4..=7 => {
                let (dst, off) = self.address(size.bytes());
                let src = if self.chance(70) {
                    Operand::Reg(self.src())
                } else {
                    Operand::Imm(self.imm())
                };
                self.emit(Insn::Store {
                    size,
                    dst,
                    off,
                    src,
                });
            }
            _ => {
                let width = self.pick(&[Width::W64, Width::W32]);
                let bytes = if width == Width::W64 { 8 } else { 4 };
                let (dst, off) = self.address(bytes);
                let op = self.pick(&[
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
                ]);
                // Fetching operations write src: never the loop counter or r10.
                let src = if op.fetches() && op != AtomicOp::CmpXchg {
                    self.dst()
                } else {
                    self.src()
                };
                self.emit(Insn::Atomic {
                    width,
                    op,
                    dst,
                    src,
                    off,
                });
            }
        }
    }

    fn forward_jump(&mut self) {
        let pc = self.insns.len();
        let distance = 1 + self.below(8) as u32;
        if self.chance(15) {
            let long = self.chance(30);
            self.emit(Insn::Ja { off: 0, long });
        } else {
            let width = self.pick(&[Width::W64, Width::W32]);
            let cond = self.pick(&Cond::ALL);
            let dst = self.src();
            let src = if self.chance(50) {
                Operand::Reg(self.src())
            } else {
                Operand::Imm(self.imm())
            };
            self.emit(Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: 0,
            });
        }
        self.pending.push((pc, distance));
    }

    /// Sometimes points r1/r2 at caller memory first, so memory helpers succeed.
    fn helper_args(&mut self) {
        if self.chance(50) {
            let x = self.below(MEM_LEN as u64 + 8);
            self.emit(Insn::LoadImm64 {
                dst: r(1),
                imm: Imm64::Value(MEM + x),
            });
            let v = self.imm();
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: r(2),
                src: Operand::Imm(v),
            });
        }
    }

    fn helper_call(&mut self, f: usize, in_loop: bool) {
        if self.chance(15) {
            return self.bpf_loop(f, in_loop);
        }
        self.helper_args();
        let id = self.pick(&[1, 1, 2, 2, 3, 3, 4, 5, 7, 77, -1]);
        self.emit(Insn::Call(CallTarget::Helper(id)));
    }

    /// `bpf_loop` (helper 6) over a callee, or with a bad callback. No jump lands inside
    /// the set-up, so helper 6 only ever sees the callback chosen here.
    fn bpf_loop(&mut self, f: usize, in_loop: bool) {
        self.land_pending_here();
        let pc = self.insns.len();
        match self.callee(f, in_loop) {
            Some(callee) if self.chance(85) => {
                self.emit(Insn::LoadImm64 {
                    dst: r(1),
                    imm: Imm64::CodeAddr(0),
                });
                self.fixups.push((pc, callee));
            }
            _ => {
                // Not an instruction: misaligned, past the end, another region. (A
                // computed address of a non-function instruction is the one case the
                // engines treat differently; see jit/src/call.rs.)
                let v = self.pick(&[code_address(0) + 4, code_address(5000), MEM, 7, 0]);
                self.emit(Insn::LoadImm64 {
                    dst: r(1),
                    imm: Imm64::Value(v),
                });
            }
        }
        let ctx = self.imm();
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r(2),
            src: Operand::Imm(ctx),
        });
        let count = self.below(5) as i32;
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r(3),
            src: Operand::Imm(count),
        });
        self.emit(Insn::LoadImm64 {
            dst: r(4),
            imm: Imm64::Value(LOOP_TAG),
        });
        self.emit(Insn::Call(CallTarget::Helper(6)));
    }

    /// Callee index for a call from function `f`: never main, and not at all from a
    /// loop body (a loop calling a function that calls others multiplies the work).
    fn callee(&mut self, f: usize, in_loop: bool) -> Option<usize> {
        if self.functions < 2 || (in_loop && self.chance(70)) {
            return None;
        }
        let callee = 1 + self.below(self.functions as u64 - 1) as usize;
        // Calls among callees only go "down" mostly, so call trees stay small.
        if f != 0 && callee <= f && self.chance(80) {
            return None;
        }
        Some(callee)
    }

    fn local_call(&mut self, f: usize, in_loop: bool) {
        let Some(callee) = self.callee(f, in_loop) else {
            return self.alu();
        };
        let pc = self.insns.len();
        self.emit(Insn::Call(CallTarget::Local(0)));
        self.fixups.push((pc, callee));
    }

    fn callx(&mut self, f: usize, in_loop: bool) {
        let reg = self.dst();
        match self.below(10) {
            0..=4 => {
                let Some(callee) = self.callee(f, in_loop) else {
                    return self.alu();
                };
                let pc = self.insns.len();
                self.emit(Insn::LoadImm64 {
                    dst: reg,
                    imm: Imm64::CodeAddr(0),
                });
                self.fixups.push((pc, callee));
            }
            5..=7 => {
                self.helper_args();
                let id = self.pick(&[1, 2, 3, 4, 5, 77]);
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: reg,
                    src: Operand::Imm(id),
                });
            }
            _ => {
                // A wild target: any slot (maybe an lddw tail or past the end), maybe
                // misaligned, maybe another region.
                self.wild = true;
                let pc = self.below(self.insns.len() as u64 + 8) as usize;
                let v = code_address(pc) + self.pick(&[0, 0, 0, 4, 1]);
                let v = if self.chance(10) { v + (1 << 32) } else { v };
                self.emit(Insn::LoadImm64 {
                    dst: reg,
                    imm: Imm64::Value(v),
                });
            }
        }
        self.emit(Insn::Call(CallTarget::Reg(reg)));
    }

    fn legacy(&mut self) {
        let size = self.pick(&[Size::B, Size::H, Size::W]);
        let imm = self.below(MEM_LEN as u64 + 10) as i32 - 4;
        let mode = if self.chance(50) {
            LegacyMode::Abs
        } else {
            let base = self.dst();
            if self.chance(60) {
                let v = self.below(70) as i32 - 5;
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: base,
                    src: Operand::Imm(v),
                });
            }
            LegacyMode::Ind(base)
        };
        self.emit(Insn::LegacyLoad { size, mode, imm });
    }

    fn mov(&mut self, dst: Reg, src: Operand) {
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src,
        });
    }

    /// `dst = r10 + off`.
    fn stack_pointer(&mut self, dst: Reg, off: i32) {
        self.mov(dst, Operand::Reg(Reg::FP));
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst,
            src: Operand::Imm(off),
        });
    }

    /// A map helper as programs call it, on a key (0-5) stored at r10-4: a lookup
    /// whose pointer, once checked against NULL, is read, written and updated
    /// atomically; an update (with a 16-byte value from the stack and flags that may be
    /// invalid); a delete; or an access to the global data through an `lddw` map value.
    fn map_op(&mut self) {
        // No jump may land inside: the pointer after the NULL check is only used there.
        self.land_pending_here();
        let key = self.below(6) as i32;
        self.emit(Insn::Store {
            size: Size::W,
            dst: Reg::FP,
            off: -4,
            src: Operand::Imm(key),
        });
        let map = self.pick(&[ARRAY, ARRAY, HASH, HASH, GLOBAL]);
        match self.below(5) {
            0 | 1 => {
                self.key_args(map);
                self.emit(Insn::Call(CallTarget::Helper(101)));
                let check = self.insns.len();
                self.emit(Insn::Jump {
                    width: Width::W64,
                    cond: Cond::Eq,
                    dst: Reg::R0,
                    src: Operand::Imm(0),
                    off: 0,
                });
                let len = if map == GLOBAL { GLOBAL_LEN } else { VALUE };
                for _ in 0..1 + self.below(3) {
                    self.value_access(Reg::R0, 0, len);
                }
                let end = self.insns.len();
                self.patch_jump(check, end);
            }
            2 => {
                for off in [-24, -16] {
                    let v = self.imm();
                    self.emit(Insn::Store {
                        size: Size::DW,
                        dst: Reg::FP,
                        off,
                        src: Operand::Imm(v),
                    });
                }
                self.key_args(map);
                self.stack_pointer(r(3), -24);
                let flags = self.pick(&[0, 0, 1, 2, 4]);
                self.mov(r(4), Operand::Imm(flags));
                self.emit(Insn::Call(CallTarget::Helper(102)));
            }
            3 => {
                self.key_args(map);
                self.emit(Insn::Call(CallTarget::Helper(103)));
            }
            _ => {
                let base = self.dst();
                let offset = self.below(u64::from(GLOBAL_LEN)) as u32;
                self.emit(Insn::LoadImm64 {
                    dst: base,
                    imm: Imm64::MapIdxValue {
                        index: GLOBAL,
                        offset,
                    },
                });
                self.value_access(base, offset, GLOBAL_LEN);
            }
        }
    }

    /// r1 = map `map`, r2 = the key at r10-4.
    fn key_args(&mut self, map: u32) {
        self.emit(Insn::LoadImm64 {
            dst: r(1),
            imm: Imm64::MapIdx(map),
        });
        self.stack_pointer(r(2), -4);
    }

    /// A load, store or atomic add through `base`, which points `at` bytes into a value
    /// of `len` bytes: mostly inside the value, sometimes past it (into a neighbouring
    /// value, or out of the map).
    fn value_access(&mut self, base: Reg, at: u32, len: u32) {
        let size = self.pick(&[Size::B, Size::H, Size::W, Size::DW]);
        let room = i64::from(len) - i64::from(at) - i64::from(size.bytes());
        let off = if room >= 0 && self.chance(85) {
            self.below(room as u64 + 1) as i64
        } else {
            self.below(48) as i64 - 16
        } as i16;
        match self.below(3) {
            0 => {
                let dst = self.dst();
                let sign_extend = size != Size::DW && self.chance(25);
                self.emit(Insn::Load {
                    size,
                    sign_extend,
                    dst,
                    src: base,
                    off,
                });
            }
            1 => {
                let src = if self.chance(70) {
                    Operand::Reg(self.src())
                } else {
                    Operand::Imm(self.imm())
                };
                self.emit(Insn::Store {
                    size,
                    dst: base,
                    off,
                    src,
                });
            }
            _ => {
                let width = if size == Size::DW {
                    Width::W64
                } else {
                    Width::W32
                };
                let op = self.pick(&[AtomicOp::Add, AtomicOp::FetchAdd]);
                let src = self.dst();
                self.emit(Insn::Atomic {
                    width,
                    op,
                    dst: base,
                    src,
                    off,
                });
            }
        }
    }

    /// A tail call: to the program whose id is in r1 (helper 7), or through a slot of
    /// the prog array with r1 kept (the kernel's helper, as 112). Ids and slots past
    /// the table fail, and execution goes on.
    fn tail_call(&mut self) {
        if self.chance(50) {
            let id = self.below(4) as i32;
            self.mov(r(1), Operand::Imm(id));
            self.emit(Insn::Call(CallTarget::Helper(7)));
        } else {
            self.emit(Insn::LoadImm64 {
                dst: r(2),
                imm: Imm64::MapIdx(JUMPS),
            });
            let slot = self.below(5) as i32;
            self.mov(r(3), Operand::Imm(slot));
            self.emit(Insn::Call(CallTarget::Helper(112)));
        }
    }
}
