//! Fuzz target `ctx_rewrite`: arbitrary bytes that decode to a `Program` go through the
//! load-time context rewrite (`ebpfvm_ctx_models::rewrite`) for every program type.
//! Nothing panics; a rewritten program has the same length (pcs never move), passes
//! validation again from its typed instructions, and is left alone by a second rewrite
//! (the rewritten accesses no longer touch the uapi context); a refusal names a real
//! instruction of the program, never the tail of an `lddw`.

#![no_main]

use ebpfvm_ctx_models::{rewrite, ContextKind, ProgramType};
use ebpfvm_isa::{Features, Insn, Program};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(program) = Program::from_bytes(data, &Features::default()) else {
        return;
    };
    for &ty in ProgramType::ALL {
        match rewrite(&program, ty) {
            Ok(out) => {
                assert_eq!(out.len(), program.len(), "{ty}: the rewrite moved pcs");
                if let Err(err) = Program::new(out.insns().to_vec()) {
                    panic!("{ty}: the rewritten program does not revalidate: {err}");
                }
                if ContextKind::of(ty).is_none() {
                    // No modelled context: nothing to rewrite.
                    assert_eq!(
                        out.insns(),
                        program.insns(),
                        "{ty}: unmodelled type rewritten"
                    );
                }
            }
            Err(err) => {
                assert!(err.pc < program.len(), "{ty}: refusal names pc {}", err.pc);
                assert_ne!(
                    program.insns()[err.pc],
                    Insn::Imm64Tail,
                    "{ty}: refusal names an lddw tail"
                );
            }
        }
    }
});
