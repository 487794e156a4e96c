//! The load-time rewrite on hand-written programs: which registers hold the context
//! (moves, stack spills and fills, call arguments), what each access becomes, and the
//! refusals with their pcs. (Every rule is also compared with the kernel by the root
//! crate's `tests/ctx_kernel.rs`.)

use ebpfvm_ctx_models::{action, rewrite, PacketContext, ProgramType};
use ebpfvm_isa::{assemble, Insn, Program, Size};

fn asm(text: &str) -> Program {
    assemble(text).unwrap()
}

fn rewritten(text: &str, ty: ProgramType) -> Vec<Insn> {
    rewrite(&asm(text), ty).unwrap().insns().to_vec()
}

fn refusal(text: &str, ty: ProgramType) -> (usize, String) {
    let e = rewrite(&asm(text), ty).unwrap_err();
    (e.pc, e.message)
}

fn load_of(insn: Insn) -> (Size, i16) {
    match insn {
        Insn::Load { size, off, .. } => (size, off),
        other => panic!("not a load: {other:?}"),
    }
}

#[test]
fn pointer_fields_become_slot_loads() {
    let insns = rewritten(
        "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nldxw %r4, [%r1+8]\nmov %r0, 2\nexit",
        ProgramType::Xdp,
    );
    assert_eq!(load_of(insns[0]), (Size::DW, 24));
    assert_eq!(load_of(insns[1]), (Size::DW, 32));
    assert_eq!(load_of(insns[2]), (Size::DW, 40));
    let insns = rewritten(
        "ldxw %r2, [%r1+76]\nldxw %r0, [%r1+0]\nexit",
        ProgramType::SchedCls,
    );
    assert_eq!(load_of(insns[0]), (Size::DW, 192));
    assert_eq!(load_of(insns[1]), (Size::W, 0), "scalars stay as they are");
}

#[test]
fn the_context_is_followed_through_moves_spills_and_calls() {
    // Spilled to the stack, filled into r3, passed to a local function as r2.
    let insns = rewritten(
        "mov %r6, %r1
         stxdw [%r10-8], %r6
         ldxdw %r3, [%r10-8]
         mov %r2, %r3
         call local sub
         exit
         sub:
         ldxw %r0, [%r2+76]
         exit",
        ProgramType::SchedCls,
    );
    assert_eq!(load_of(insns[6]), (Size::DW, 192));
    // Overwriting the slot ends it.
    let insns = rewritten(
        "stxdw [%r10-8], %r1
         stdw [%r10-8], 0
         ldxdw %r3, [%r10-8]
         ldxw %r0, [%r3+76]
         exit",
        ProgramType::SchedCls,
    );
    assert_eq!(
        load_of(insns[3]),
        (Size::W, 76),
        "r3 is no longer the context"
    );
}

#[test]
fn narrow_and_narrowed_fields() {
    // A byte load of pkt_type's second byte reads the kernel's whole one-byte field.
    let insns = rewritten("ldxb %r0, [%r1+5]\nexit", ProgramType::SocketFilter);
    assert_eq!(load_of(insns[0]), (Size::B, 4));
    // tc_index is 16 bits in the kernel: a word store stores a half-word.
    let insns = rewritten(
        "stxw [%r1+44], %r2\nmov %r0, 0\nexit",
        ProgramType::SchedCls,
    );
    assert!(matches!(
        insns[0],
        Insn::Store {
            size: Size::H,
            off: 44,
            ..
        }
    ));
    // queue_mapping = 0xffff is dropped by the kernel: the store becomes a no-op.
    let insns = rewritten(
        "stw [%r1+12], 0xffff\nmov %r0, 0\nexit",
        ProgramType::SchedCls,
    );
    assert!(matches!(insns[0], Insn::Ja { off: 0, .. }));
}

#[test]
fn refusals_name_the_pc_in_the_kernels_words() {
    use ProgramType as P;
    assert_eq!(
        refusal("mov %r0, 0\nldxw %r0, [%r1+76]\nexit", P::SocketFilter),
        (1, "invalid bpf_context access off=76 size=4".into())
    );
    assert_eq!(
        refusal("stxw [%r1+0], %r2\nexit", P::Xdp),
        (0, "invalid bpf_context access off=0 size=4".into())
    );
    assert_eq!(
        refusal("add %r1, 8\nldxw %r0, [%r1+0]\nexit", P::SchedCls),
        (
            1,
            "dereference of modified ctx ptr R1 off=8 disallowed".into()
        )
    );
    assert_eq!(
        refusal(
            "jeq %r2, 0, +1\nmov %r1, %r10\nldxw %r0, [%r1-8]\nexit",
            P::SchedCls
        ),
        (2, "same insn cannot be used with different pointers".into())
    );
    assert_eq!(
        refusal("mov %r2, 1\nlock add32 [%r1+48], %r2\nexit", P::SchedCls),
        (1, "BPF_ATOMIC stores into R1 ctx is not allowed".into())
    );
    assert_eq!(
        refusal("ldabsb 0\nexit", P::Xdp),
        (
            0,
            "BPF_LD_[ABS|IND] instructions not allowed for this program type".into()
        )
    );
    assert_eq!(
        refusal("ldabsb 0\nexit", P::SocketFilter),
        (
            0,
            "at the time of BPF_LD_ABS|IND R6 != pointer to skb".into()
        )
    );
    assert_eq!(
        refusal("call 44\nexit", P::SchedCls),
        (
            0,
            "program of this type cannot use helper bpf_xdp_adjust_head#44".into()
        )
    );
    let e = rewrite(&asm("stxw [%r1+12], %r2\nexit"), P::SchedCls).unwrap_err();
    assert!(e.unsupported && e.message.contains("not supported yet"));
    // __sk_buff->sk is a socket pointer: read as it is, NULL-checked before use.
    rewrite(&asm("ldxdw %r0, [%r1+168]\nexit"), P::SchedCls).unwrap();
    assert_eq!(
        refusal("ldxdw %r2, [%r1+168]\nldxw %r0, [%r2+4]\nexit", P::SchedCls),
        (1, "R2 invalid mem access 'sock_common_or_null'".into())
    );
}

#[test]
fn test_run_contexts() {
    let mut frame = vec![0xffu8; 6];
    frame.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    frame.extend([0u8; 28]);
    let ctx = PacketContext::new(ProgramType::SocketFilter, &frame).unwrap();
    let word = |off: usize| u32::from_le_bytes(ctx.context()[off..off + 4].try_into().unwrap());
    assert_eq!(word(0), 28, "len from the network header");
    assert_eq!(word(4), 2, "ff:ff:ff:ff:ff:ff is multicast on lo");
    assert_eq!(word(16), 0x0608, "protocol in network byte order");
    assert_eq!(word(40), 1, "ifindex of lo");
    assert_eq!(
        &ctx.packet_out()[..14],
        &[0; 14],
        "the MAC header comes back zeroed"
    );
    assert!(PacketContext::new(ProgramType::Xdp, &[0; 13]).is_err());
    assert!(PacketContext::new(ProgramType::SchedCls, &frame[..20]).is_ok());
    let mut ipv4 = frame.clone();
    ipv4[13] = 0x00;
    ipv4[12] = 0x08;
    assert!(PacketContext::new(ProgramType::SchedCls, &ipv4[..33]).is_err());
    assert_eq!(action(ProgramType::Xdp, 2), Some("XDP_PASS"));
    assert_eq!(
        action(ProgramType::SchedCls, u32::MAX as u64),
        Some("TC_ACT_UNSPEC")
    );
    assert_eq!(action(ProgramType::Xdp, 9), None);
}

#[test]
fn pt_regs_from_the_command_line() {
    use ebpfvm_ctx_models::regs::{pt_regs, Arch};
    let regs = pt_regs(Arch::X86_64, "di=1,si=-1").unwrap();
    assert_eq!(regs.len(), 168);
    assert_eq!(regs[112], 1);
    assert_eq!(&regs[104..112], &[0xff; 8]);
    assert_eq!(
        pt_regs(Arch::X86_64, "7,8,9").unwrap()[96],
        9,
        "dx is the third argument"
    );
    // arm64: user_pt_regs inside the kernel's 336-byte pt_regs.
    let arm = pt_regs(Arch::Arm64, "5,pc=0x10").unwrap();
    assert_eq!((arm.len(), arm[0], arm[256]), (336, 5, 0x10));
    assert!(
        pt_regs(Arch::X86_64, "1,2,3,4,5,6,7").is_err(),
        "six argument registers"
    );
    assert!(pt_regs(Arch::X86_64, "di=x").is_err());
}
