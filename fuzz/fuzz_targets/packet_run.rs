//! Fuzz target `packet_run`: a typed program run over a context built from a packet, on
//! the interpreter and on the JIT. The input is
//! `[type, packet length (2 bytes LE), ctx_in length + 1 (0: none), packet, ctx_in,
//! bytecode]`, where `type` picks one of the program types with a modelled context.
//! A context the kernel's test run would refuse, or a program the load refuses, is fine;
//! nothing panics, and the two engines (same program, same budget, fresh contexts from
//! the same input) agree on the outcome (result, trap kind and pc, instruction count),
//! the packet after the run, the context model after the run and `ctx_out`.

#![no_main]

use ebpfvm::ctx::{ContextKind, PacketContext, ProgramType};
use ebpfvm::{Engine, Features, Program, Vm};
use libfuzzer_sys::fuzz_target;

const BUDGET: u64 = 10_000;

fuzz_target!(|data: &[u8]| {
    let types: Vec<ProgramType> = ProgramType::ALL
        .iter()
        .copied()
        .filter(|&t| ContextKind::of(t).is_some())
        .collect();
    let [sel, lo, hi, ctx_len, rest @ ..] = data else {
        return;
    };
    let ty = types[*sel as usize % types.len()];
    let packet_len = (u16::from_le_bytes([*lo, *hi]) as usize).min(rest.len());
    let (packet, rest) = rest.split_at(packet_len);
    let ctx_in_len = (*ctx_len as usize).saturating_sub(1).min(rest.len());
    let (ctx_in, code) = rest.split_at(ctx_in_len);
    let context = if *ctx_len == 0 {
        PacketContext::new(ty, packet)
    } else {
        PacketContext::with_ctx(ty, packet, ctx_in)
    };
    let Ok(context) = context else {
        return;
    };
    let Ok(program) = Program::from_bytes(code, &Features::default()) else {
        return;
    };
    let Ok(mut interp) = Vm::with_type(program.clone(), ty) else {
        return;
    };
    let mut jit = Vm::with_type(program, ty).expect("the same program loads twice");
    if let Err(err) = jit.set_engine(Engine::Jit) {
        panic!("{ty}: the JIT refuses a program the interpreter runs: {err}");
    }
    interp.set_budget(Some(BUDGET));
    jit.set_budget(Some(BUDGET));

    let mut want_ctx = context.clone();
    let mut got_ctx = context;
    let want = interp.run_packet(&mut want_ctx);
    let got = jit.run_packet(&mut got_ctx);
    let listing = ebpfvm::isa::disassemble(interp.program());
    assert_eq!(want, got, "{ty}: outcomes differ (interp, jit)\n{listing}");
    assert!(want.insns <= BUDGET);
    assert_eq!(
        want_ctx.packet_out(),
        got_ctx.packet_out(),
        "{ty}: packets differ\n{listing}"
    );
    assert_eq!(
        want_ctx.context(),
        got_ctx.context(),
        "{ty}: context models differ\n{listing}"
    );
    assert_eq!(
        want_ctx.ctx_out(),
        got_ctx.ctx_out(),
        "{ty}: ctx_out differs"
    );
});
