//! The public API's contract beyond plain semantics (those are the differential and
//! conformance tests): refusals, thread-safety, helper panics, regions mapped by helpers,
//! exact budgets around stores.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ebpfvm_isa::{assemble, CallTarget, Imm64, Insn, Program, Reg};
use ebpfvm_jit::{JitError, JitProgram, Tier, Tiering, TIER_UP_PER_SLOT};
use ebpfvm_vm::{
    HelperError, Helpers, Interpreter, MapError, MemoryMap, Outcome, RegionKind, Stack, TrapKind,
};

/// Runs `jit` (and the interpreter, which must agree) on `mem` with `helpers`.
fn run(
    program: &Program,
    mem: &mut [u8],
    helpers: fn() -> Helpers,
    budget: Option<u64>,
) -> Outcome {
    let jit = JitProgram::compile(program).expect("compiles");
    let interp = Interpreter::new(program).expect("lowers");
    let mut results = Vec::new();
    for engine in 0..2 {
        let mut mem = mem.to_vec();
        let mut stack = Stack::new();
        let mut map = MemoryMap::new(&mut stack);
        let addr = map.map_mut(RegionKind::Memory, &mut mem).expect("mapped");
        let args = [addr, 0, 0, 0, 0];
        let outcome = if engine == 0 {
            jit.run(args, &mut map, &mut helpers(), budget)
        } else {
            interp.run(args, &mut map, &mut helpers(), budget)
        };
        drop(map);
        results.push((outcome, mem));
    }
    assert_eq!(
        results[0], results[1],
        "the JIT differs from the interpreter"
    );
    let (outcome, after) = results.swap_remove(0);
    mem.copy_from_slice(&after);
    outcome
}

fn no_helpers() -> Helpers {
    Helpers::new()
}

#[test]
fn jit_programs_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<JitProgram>();
}

#[test]
fn kernel_only_instructions_are_refused_with_their_pc() {
    let r0 = Reg::R0;
    let map = Program::new(vec![
        Insn::Exit,
        Insn::LoadImm64 {
            dst: r0,
            imm: Imm64::MapFd(3),
        },
        Insn::Imm64Tail,
        Insn::Exit,
    ])
    .expect("valid");
    assert!(matches!(
        JitProgram::compile(&map),
        Err(JitError::Unsupported { pc: 1, .. })
    ));
    let kfunc = Program::new(vec![Insn::Call(CallTarget::Kfunc(7)), Insn::Exit]).expect("valid");
    let err = JitProgram::compile(&kfunc).unwrap_err();
    assert!(matches!(err, JitError::Unsupported { pc: 0, .. }), "{err}");
}

#[test]
fn compile_time_is_measured() {
    let program = assemble("mov %r0, 1\nexit").expect("assembles");
    let jit = JitProgram::compile(&program).expect("compiles");
    assert!(jit.compile_time() > std::time::Duration::ZERO);
}

#[test]
fn a_helper_panic_reaches_the_caller_and_the_program_stays_usable() {
    let program = assemble("mov %r1, 7\ncall 1\nexit").expect("assembles");
    let jit = JitProgram::compile(&program).expect("compiles");
    let mut helpers = Helpers::new();
    helpers.register(1, |_, args| {
        if args[0] == 7 {
            panic!("helper panic");
        }
        Ok(0)
    });
    let mut stack = Stack::new();
    let mut map = MemoryMap::new(&mut stack);
    let result = catch_unwind(AssertUnwindSafe(|| {
        jit.run([0; 5], &mut map, &mut helpers, None)
    }));
    assert!(result.is_err());
    helpers.register(1, |_, _| Ok(5));
    let outcome = jit.run([0; 5], &mut map, &mut helpers, None);
    assert_eq!(outcome.result, Ok(5));
}

#[test]
fn regions_mapped_by_a_helper_are_visible_at_once() {
    static BYTES: [u8; 4] = [1, 2, 3, 4];
    // Map enough regions that the table moves, then read the last one.
    let program = assemble(
        "call 1\ncall 1\ncall 1\ncall 1\ncall 1\ncall 1\ncall 1\ncall 1\n\
         ldxw %r0, [%r0+0]\nexit",
    )
    .expect("assembles");
    let helpers = || {
        let mut h = Helpers::new();
        h.register(1, |ctx, _| {
            Ok(ctx
                .memory()
                .map_ro(RegionKind::ReadOnly, &BYTES)
                .unwrap_or(0))
        });
        h
    };
    let outcome = run(&program, &mut [0; 8], helpers, None);
    assert_eq!(outcome.result, Ok(u64::from(u32::from_le_bytes(BYTES))));
}

#[test]
fn a_budget_ending_inside_a_block_keeps_exactly_the_stores_before_it() {
    // One region: three stores, then an out-of-bounds load, then exit.
    let program = assemble(
        "stb [%r1+0], 1\nmov %r2, 5\nstb [%r1+1], 2\nstb [%r10-1], 3\nldxb %r0, [%r1+100]\nexit",
    )
    .expect("assembles");
    for budget in 0..7 {
        let mut mem = [0u8; 4];
        let outcome = run(&program, &mut mem, no_helpers, Some(budget));
        // Instructions 0 and 2 store to caller memory (3 to the stack).
        let want: [u8; 2] = match budget {
            0 => [0, 0],
            1 | 2 => [1, 0],
            _ => [1, 2],
        };
        assert_eq!(mem[..2], want, "budget {budget}");
        match outcome.result {
            Err(t) if budget < 5 => {
                assert_eq!(t.kind, TrapKind::BudgetExhausted { budget });
                assert_eq!((t.pc as u64, outcome.insns), (budget, budget));
            }
            Err(t) => {
                assert!(matches!(t.kind, TrapKind::OutOfBounds { .. }), "{t}");
                assert_eq!((t.pc, outcome.insns), (4, 4));
            }
            Ok(v) => panic!("returned {v}"),
        }
    }
}

#[test]
fn a_tail_call_without_a_program_table_fails_and_goes_on() {
    let program = assemble("call 1\nexit").expect("assembles");
    let helpers = || {
        let mut h = Helpers::new();
        h.register(1, |_, _| Err(HelperError::TailCall(0)));
        h
    };
    let outcome = run(&program, &mut [0; 8], helpers, None);
    assert_eq!(outcome.result, Ok(MapError::NotFound.to_retval()));
}

#[test]
fn bpf_loop_calls_its_callback_until_it_returns_non_zero() {
    // callback(i, ctx): adds i + 1 to the word at ctx; r0 = (i == 2).
    let main = assemble("mov %r2, %r1\nmov %r1, %r4\nmov %r3, 10\ncall 1\nexit").expect("main");
    let callback = assemble(
        "ldxdw %r3, [%r2+0]\nadd %r3, %r1\nadd %r3, 1\nstxdw [%r2+0], %r3\n\
         mov %r0, 0\njne %r1, 2, +1\nmov %r0, 1\nexit",
    )
    .expect("callback");
    // lddw r4, code_addr(callback): the callback starts after the lddw (2 slots) and main.
    let mut insns = vec![
        Insn::LoadImm64 {
            dst: Reg::new(4).expect("r4"),
            imm: Imm64::CodeAddr(main.len() as i32 + 1),
        },
        Insn::Imm64Tail,
    ];
    insns.extend_from_slice(main.insns());
    insns.extend_from_slice(callback.insns());
    let program = Program::new(insns).expect("valid");
    let helpers = || {
        let mut h = Helpers::new();
        h.register(1, |_, a| {
            Err(HelperError::Loop {
                callback: a[0],
                ctx: a[1],
                count: a[2],
            })
        });
        h
    };
    let mut mem = [0u8; 8];
    let outcome = run(&program, &mut mem, helpers, None);
    // Calls with i = 0, 1, 2; the third returns 1.
    assert_eq!(outcome.result, Ok(3));
    assert_eq!(u64::from_le_bytes(mem), 1 + 2 + 3);
}

/// Runs program 0 of `sources` with all of them as the tail-call table, on the JIT and
/// on the interpreter (which must agree); helper 1 tail-calls program r1, helper 2 is
/// `bpf_loop(callback r1, ctx r2, count r3)`.
fn run_table(sources: &[&str], budget: Option<u64>) -> Outcome {
    let programs: Vec<Program> = sources.iter().map(|s| assemble(s).unwrap()).collect();
    let helpers = || {
        let mut h = Helpers::new();
        h.register(1, |_, a| Err(HelperError::TailCall(a[0] as u32)));
        h.register(2, |_, a| {
            Err(HelperError::Loop {
                callback: a[0],
                ctx: a[1],
                count: a[2],
            })
        });
        h
    };
    let jits: Vec<_> = programs
        .iter()
        .map(|p| JitProgram::compile(p).unwrap())
        .collect();
    let interps: Vec<_> = programs
        .iter()
        .map(|p| Interpreter::new(p).unwrap())
        .collect();
    let mut stack = Stack::new();
    let mut map = MemoryMap::new(&mut stack);
    let jit = jits[0].run_linked([0; 5], &mut map, &mut helpers(), budget, &jits);
    let mut stack = Stack::new();
    let mut map = MemoryMap::new(&mut stack);
    let interp = interps[0].run_linked([0; 5], &mut map, &mut helpers(), budget, &interps);
    assert_eq!(jit, interp, "the JIT differs from the interpreter");
    jit
}

#[test]
fn tail_calls_from_a_bpf_loop_callback_resume_the_loop() {
    // Each iteration tail-calls program 1, whose exit returns into main's loop frame.
    let main = "
        lddw %r1, code_addr cb
        mov %r2, 0
        mov %r3, 3
        call 2
        add %r0, 1000
        exit
    cb:
        mov %r1, 1
        call 1
        mov %r0, 77
        exit";
    let out = run_table(&[main, "mov %r0, 0\nexit"], None);
    assert_eq!(out.result, Ok(1003), "three iterations");
    // 4 instructions before the loop (an lddw counts once), 4 per iteration (mov and
    // call in the callback, program 1's two), 2 after.
    assert_eq!(out.insns, 4 + 3 * 4 + 2);
    // A budget that ends inside the second tail-called run traps there, at its exit.
    let cut = run_table(&[main, "mov %r0, 0\nexit"], Some(4 + 4 + 3));
    let trap = cut.result.unwrap_err();
    assert_eq!((trap.pc, cut.insns), (1, 11));
    assert!(matches!(trap.kind, TrapKind::BudgetExhausted { .. }));
}

#[test]
fn a_trap_after_a_tail_call_names_the_program_running() {
    let main = "mov %r1, 1\ncall 1\nmov %r0, 5\nexit";
    let out = run_table(&[main, "mov %r0, 1\nldxb %r0, [%r1+0]\nexit"], None);
    let trap = out.result.unwrap_err();
    assert_eq!((trap.pc, out.insns), (1, 3));
    assert!(matches!(trap.kind, TrapKind::OutOfBounds { addr: 1, .. }));
    // Outside the table the call fails and main goes on; so does a run without one.
    assert_eq!(run_table(&[main], None).result, Ok(5));
}

/// Runs `jit` over no memory without a budget; its outcome.
fn run_plain(jit: &JitProgram) -> Outcome {
    let mut stack = Stack::new();
    let mut map = MemoryMap::new(&mut stack);
    jit.run([0; 5], &mut map, &mut Helpers::new(), None)
}

#[test]
fn adaptive_tiering_optimizes_once_the_program_has_run_enough() {
    // 5 slots, a loop of 3 instructions x 40,000: 120,003 instructions a run, so the
    // threshold (5 x TIER_UP_PER_SLOT = 163,840) is crossed by the second run.
    let program =
        assemble("mov %r0, 0\nmov %r1, 40000\nadd %r0, 3\nsub %r1, 1\njne %r1, 0, -3\nexit")
            .expect("assembles");
    let jit = JitProgram::compile(&program).expect("compiles");
    assert_eq!(jit.tier(), Tier::Quick);
    let first = run_plain(&jit);
    assert_eq!(first.result, Ok(120_000));
    assert_eq!(jit.tier(), Tier::Quick, "one run is below the threshold");
    let second = run_plain(&jit);
    assert_eq!(jit.tier(), Tier::Optimized, "the second run crosses it");
    let third = run_plain(&jit);
    assert_eq!((&first, &first), (&second, &third));
    assert!(5 * TIER_UP_PER_SLOT > first.insns && 5 * TIER_UP_PER_SLOT <= 2 * first.insns);
}

#[test]
fn fixed_tierings_stay_where_they_start_until_asked() {
    let program =
        assemble("mov %r0, 0\nmov %r1, 40000\nadd %r0, 3\nsub %r1, 1\njne %r1, 0, -3\nexit")
            .expect("assembles");
    let quick = JitProgram::compile_with(&program, None, Tiering::Quick).expect("compiles");
    for _ in 0..4 {
        assert_eq!(run_plain(&quick).result, Ok(120_000));
    }
    assert_eq!(quick.tier(), Tier::Quick);
    quick.optimize().expect("optimizes");
    assert_eq!(quick.tier(), Tier::Optimized);
    assert_eq!(run_plain(&quick).result, Ok(120_000));
    let optimized = JitProgram::compile_with(&program, None, Tiering::Optimized).expect("compiles");
    assert_eq!(optimized.tier(), Tier::Optimized);
    assert_eq!(run_plain(&optimized).result, Ok(120_000));
}
