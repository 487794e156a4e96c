//! The socket-buffer helpers that change the packet's size or headers
//! (`skb_change_tail`, `skb_change_head`, `skb_vlan_push`, `skb_vlan_pop`,
//! `skb_change_proto`, `skb_change_type`, `skb_adjust_room`, with its encapsulation
//! flags) against the running kernel: programs call them, alone and in sequences, with
//! good and bad arguments, over IPv4, IPv6, VLAN-tagged (802.1Q, QinQ), 802.3 and short
//! frames, then record the results and the fields the helpers change (`len`,
//! `protocol`, `vlan_*`, `pkt_type`, `hash`) in `cb[]` and read the packet again
//! through reloaded pointers. The
//! interpreter, the JIT and BPF_PROG_TEST_RUN must give the same return value, packet
//! and `ctx_out`. Skips, saying why, without `bpf()` permission.

use ebpfvm::ctx::{PacketContext, ProgramType};
use ebpfvm::{Engine, Vm};
use ebpfvm_kernel::{KernelError, KernelProgram, TestRun};

/// One helper call: its id and r2..r4 (`lddw` values, so any 64-bit argument).
type Step = (u32, [u64; 3]);

/// Calls `steps` in order, then stores the last call's result and the changed fields
/// in `cb[0..5]`; returns `hash` xor the sum of every call's result xor byte 13 of the
/// packet read through reloaded pointers.
fn program(steps: &[Step]) -> String {
    let mut asm = String::from("mov %r6, %r1\nmov %r7, 0\n");
    for (id, [a, b, c]) in steps {
        asm += &format!(
            "lddw %r2, {a:#x}\nlddw %r3, {b:#x}\nlddw %r4, {c:#x}\nmov %r1, %r6\ncall {id}\n\
             add %r7, %r0\n"
        );
    }
    asm += "stxw [%r6+48], %r0\n\
            ldxw %r1, [%r6+0]\nstxw [%r6+52], %r1\n\
            ldxw %r1, [%r6+16]\nstxw [%r6+56], %r1\n\
            ldxw %r1, [%r6+20]\nlsh %r1, 16\nldxw %r2, [%r6+24]\nor %r1, %r2\nstxw [%r6+60], %r1\n\
            ldxw %r1, [%r6+28]\nldxw %r2, [%r6+4]\nlsh %r2, 16\nor %r1, %r2\nstxw [%r6+64], %r1\n\
            ldxw %r0, [%r6+68]\nxor %r0, %r7\n\
            ldxw %r2, [%r6+76]\nldxw %r3, [%r6+80]\nmov %r4, %r2\nadd %r4, 14\n\
            jgt %r4, %r3, +2\nldxb %r5, [%r2+13]\nxor %r0, %r5\nexit\n";
    asm
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn packets() -> Vec<(&'static str, Vec<u8>)> {
    let ipv4 =
        hex("4500002c12344000400600000a0000010a000002d431005000000001000000005002ffff00000000");
    let ipv6 = [
        hex("6000000000081140"),
        (0u8..32).collect(),
        hex("04d2162e00080000"),
    ]
    .concat();
    let eth = |ethertype: &str| hex(&format!("020000000002020000000001{ethertype}"));
    vec![
        ("ipv4", [eth("0800"), ipv4.clone()].concat()),
        ("ipv6", [eth("86dd"), ipv6].concat()),
        (
            "vlan ipv4",
            [eth("8100"), hex("00050800"), ipv4.clone()].concat(),
        ),
        (
            "qinq ipv4",
            [eth("88a8"), hex("00078100"), hex("00050800"), ipv4].concat(),
        ),
        (
            "vlan 802.3 raw",
            [eth("8100"), hex("00090010"), hex("ffff0000")].concat(),
        ),
        (
            "vlan 802.2",
            [eth("8100"), hex("00090010"), hex("aaaa0300")].concat(),
        ),
        ("short vlan", [eth("8100"), hex("0005")].concat()),
        ("ethernet only", eth("0000")),
        ("arp", [eth("0806"), hex("0001080006040001")].concat()),
    ]
}

/// Each helper with good and bad arguments, and sequences.
fn cases() -> Vec<Vec<Step>> {
    let neg = |n: i64| n as u64;
    let mut out: Vec<Vec<Step>> = Vec::new();
    for len in [0, 13, 14, 20, 34, 54, 60, 100, 3000, 16064, 16065, neg(-1)] {
        out.push(vec![(38, [len, 0, 0])]);
    }
    out.push(vec![(38, [100, 1, 0])]);
    for room in [0, 1, 4, 14, 300, 16000, 16064, neg(-1)] {
        out.push(vec![(43, [room, 0, 0])]);
    }
    out.push(vec![(43, [4, 1, 0])]);
    // change_head then change_tail below the network header (which moved).
    out.push(vec![(43, [4, 0, 0]), (38, [15, 0, 0])]);
    out.push(vec![(43, [4, 0, 0]), (38, [18, 0, 0])]);
    out.push(vec![(43, [4, 0, 0]), (43, [60, 0, 0])]);
    // Headers added past the length limit.
    out.push(vec![
        (38, [16064, 0, 0]),
        (18, [0x0081, 1, 0]),
        (18, [0x0081, 2, 0]),
    ]);
    out.push(vec![(38, [16064, 0, 0]), (31, [0xdd86, 0, 0])]);
    // Not compared: a push past the test run's 64 bytes of headroom (`(43, [83, 0, 0])`
    // then `(38, [27, 0, 0])`) makes the kernel reallocate the buffer, after which its
    // network header no longer sits where the pushes left it (change_tail's lower
    // bound shrinks); ours stays at the MAC header's length plus the pushes.
    for (proto, tci) in [(0x0081, 5), (0xa888, 7), (0x0008, 7), (0x0081, 0x12345)] {
        out.push(vec![(18, [proto, tci, 0])]);
        out.push(vec![(18, [proto, tci, 0]), (19, [0; 3])]);
        out.push(vec![(18, [proto, tci, 0]), (18, [0xa888, 9, 0])]);
        out.push(vec![
            (18, [0x0081, 3, 0]),
            (18, [proto, tci, 0]),
            (19, [0; 3]),
        ]);
    }
    // A second push writes the first tag into the packet. change_tail's lower bound and
    // adjust_room(NET) after it: the kernel behaves as if the network header's offset
    // had not moved (measured; a model that moves it by 4 fails these cases).
    for len in [14, 15, 17, 18, 19, 22, 23, 38, 39] {
        out.push(vec![
            (18, [0x0081, 1, 0]),
            (18, [0x0081, 2, 0]),
            (38, [len, 0, 0]),
        ]);
    }
    out.push(vec![
        (18, [0x0081, 1, 0]),
        (18, [0x0081, 2, 0]),
        (50, [8, 1, 0]),
        (38, [40, 0, 0]),
    ]);
    out.push(vec![
        (18, [0x0081, 1, 0]),
        (18, [0x0081, 2, 0]),
        (19, [0; 3]),
        (19, [0; 3]),
        (38, [15, 0, 0]),
    ]);
    out.push(vec![(19, [0; 3])]);
    out.push(vec![(19, [0; 3]), (19, [0; 3])]);
    for t in [0, 1, 2, 3, 4, neg(-1)] {
        out.push(vec![(32, [t, 0, 0])]);
    }
    for (proto, flags) in [(0xdd86, 0), (0x0008, 0), (0x0608, 0), (0xdd86, 1)] {
        out.push(vec![(31, [proto, flags, 0])]);
    }
    out.push(vec![(31, [0xdd86, 0, 0]), (31, [0x0008, 0, 0])]);
    out.push(vec![(48, [0x1234_5678, 0, 0]), (31, [0xdd86, 0, 0])]);
    out.push(vec![(48, [0x1234_5678, 0, 0]), (31, [0x0008, 0, 0])]);
    out.push(vec![(48, [0x1234_5678, 0, 0]), (38, [60, 0, 0])]);
    for diff in [0, 4, 8, 20, -4, -8, -20, -40, 4095, 4096, -4096] {
        for mode in [0, 1, 2] {
            out.push(vec![(50, [neg(diff), mode, 0])]);
        }
    }
    for flags in [1u64, 32, 128, 256, 384, 512, 1 << 40] {
        for diff in [-4, 4] {
            out.push(vec![
                (50, [neg(diff), 1, flags]),
                (50, [neg(diff), 0, flags]),
            ]);
        }
    }
    out.push(vec![(43, [6, 0, 0]), (50, [8, 1, 0])]);
    out.extend(encapsulation_cases());
    out.push(vec![(31, [0xdd86, 0, 0]), (50, [-8i64 as u64, 0, 0])]);
    out
}

/// `skb_adjust_room` with the encapsulation flags (`BPF_F_ADJ_ROOM_ENCAP_*`): each
/// flag alone and in combination, the inner MAC length in the top byte against the
/// room, shrinking with them, and what an encapsulated packet does next (a second
/// encapsulation, plain room, `skb_change_tail`, decapsulation, `skb_change_proto`).
fn encapsulation_cases() -> Vec<Vec<Step>> {
    const IPV4: u64 = 2;
    const IPV6: u64 = 4;
    const GRE: u64 = 8;
    const UDP: u64 = 16;
    const ETH: u64 = 64;
    let l2 = |len: u64| len << 56;
    let neg = |n: i64| n as u64;
    let mut out: Vec<Vec<Step>> = Vec::new();
    let flag_sets = [
        IPV4,
        IPV6,
        IPV4 | IPV6,
        IPV4 | GRE,
        IPV4 | UDP,
        IPV6 | GRE,
        IPV6 | UDP,
        IPV4 | GRE | UDP,
        GRE,
        UDP,
        ETH,
        l2(14),
        IPV4 | ETH,
        IPV4 | ETH | l2(13),
        IPV4 | ETH | l2(14),
        IPV6 | UDP | ETH | l2(14),
        IPV4 | l2(20),
        IPV4 | l2(21),
        IPV4 | GRE | l2(255),
        IPV4 | 1,
        IPV6 | 32,
        IPV6 | GRE | 1 | 32 | ETH | l2(16),
    ];
    for flags in flag_sets {
        for diff in [0, 20, 24, 40] {
            for mode in [0, 1] {
                out.push(vec![(50, [diff, mode, flags])]);
            }
        }
    }
    for flags in [IPV4, IPV6 | UDP, GRE, l2(4)] {
        out.push(vec![(50, [neg(-4), 1, flags])]);
        out.push(vec![(50, [4, 2, flags])]);
        out.push(vec![(50, [0x1000, 1, flags])]);
    }
    for first in [IPV4, IPV6 | GRE, IPV4 | UDP | ETH | l2(14)] {
        let encap = (50, [24, 1, first]);
        out.push(vec![encap, (50, [20, 1, IPV4])]);
        out.push(vec![encap, (50, [20, 1, IPV6 | IPV4])]);
        out.push(vec![encap, (50, [20, 0, 0])]);
        out.push(vec![encap, (50, [8, 0, GRE])]);
        for len in [10, 13, 14, 34, 54, 60, 200] {
            out.push(vec![encap, (38, [len, 0, 0])]);
        }
        out.push(vec![encap, (50, [neg(-20), 1, 128])]);
        out.push(vec![encap, (50, [neg(-20), 1, 256])]);
        out.push(vec![encap, (50, [neg(-24), 0, 0])]);
        out.push(vec![encap, (31, [0xdd86, 0, 0])]);
        out.push(vec![encap, (31, [0x0008, 0, 0])]);
        out.push(vec![encap, (43, [4, 0, 0]), (50, [4, 1, IPV4])]);
        out.push(vec![encap, (18, [0x0081, 5, 0]), (18, [0x0081, 6, 0])]);
        // The outer L4 header bounds skb_change_tail from below, wherever the helpers
        // that push or pull before it have moved it.
        for len in [26, 30, 37, 38, 42, 46, 50, 57, 58, 62] {
            out.push(vec![encap, (43, [4, 0, 0]), (38, [len, 0, 0])]);
            out.push(vec![encap, (50, [neg(-8), 1, 0]), (38, [len, 0, 0])]);
            out.push(vec![encap, (50, [4, 0, 0]), (38, [len, 0, 0])]);
            out.push(vec![encap, (31, [0xdd86, 0, 0]), (38, [len, 0, 0])]);
        }
    }
    out
}

/// Whether the kernel is usable; prints why not once.
fn kernel_available() -> bool {
    let exit = ebpfvm::isa::assemble("mov %r0, 0\nexit").unwrap();
    match KernelProgram::load_raw(&exit, ProgramType::SchedCls.id(), None, "GPL") {
        Err(e @ (KernelError::Unavailable { .. } | KernelError::NotLinux)) => {
            eprintln!("skipping: {e}");
            false
        }
        _ => true,
    }
}

type Observed = (u32, Vec<u8>, Vec<u8>);

fn ours(ty: ProgramType, vms: &mut [Vm], packet: &[u8], ctx_in: &[u8]) -> Option<Observed> {
    let context = PacketContext::with_ctx(ty, packet, ctx_in).ok()?;
    let results: Vec<Observed> = vms
        .iter_mut()
        .map(|vm| {
            let mut ctx = context.clone();
            let r0 = vm
                .run_packet(&mut ctx)
                .result
                .unwrap_or_else(|t| panic!("{ty}: {t}"));
            (r0 as u32, ctx.packet_out(), ctx.ctx_out())
        })
        .collect();
    assert_eq!(results[0], results[1], "interpreter vs JIT, {ty}");
    results.into_iter().next()
}

#[test]
fn resizing_helpers_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let ctx_in = vec![0u8; 192];
    let (mut compared, mut ran) = (0, 0);
    for ty in [
        ProgramType::SchedCls,
        ProgramType::SchedAct,
        ProgramType::LwtXmit,
    ] {
        for steps in cases() {
            let allowed = steps
                .iter()
                .all(|(id, _)| ebpfvm::ctx::helpers::allowed(ty, *id) == Some(true));
            let asm = program(&steps);
            let insns = ebpfvm::isa::assemble(&asm).unwrap();
            let loaded = KernelProgram::load_raw(&insns, ty.id(), None, "GPL");
            let Ok(loaded) = loaded else {
                assert!(!allowed, "{ty} {steps:x?}: {}", loaded.err().unwrap());
                assert!(Vm::with_type(insns, ty).is_err(), "{ty} {steps:x?}");
                continue;
            };
            let mut vms: Vec<Vm> = [Engine::Interpreter, Engine::Jit]
                .into_iter()
                .map(|engine| {
                    let mut vm = Vm::with_type(insns.clone(), ty)
                        .unwrap_or_else(|e| panic!("{ty} {steps:x?}: {e}"));
                    vm.set_engine(engine).unwrap();
                    vm
                })
                .collect();
            for (name, packet) in packets() {
                let run = TestRun {
                    ctx_in: &ctx_in,
                    ctx_out_capacity: 256,
                    // Room for the resizing helpers, which grow a buffer to 16064 bytes.
                    data_out_capacity: packet.len() + 16384,
                    ..TestRun::packet(&packet)
                };
                let theirs = match loaded.test_run(&run) {
                    Ok(r) => Some((r.retval, r.data_out, r.ctx_out)),
                    Err(KernelError::TestRun(why)) if why.contains("Invalid argument") => None,
                    Err(e) => panic!("{e}"),
                };
                let ours = ours(ty, &mut vms, &packet, &ctx_in);
                ran += usize::from(theirs.is_some());
                assert_eq!(ours, theirs, "{ty} {steps:x?} on {name}");
                compared += 1;
            }
        }
    }
    eprintln!("{compared} runs compared, {ran} accepted by the test run");
    assert!(ran > compared / 2);
}
