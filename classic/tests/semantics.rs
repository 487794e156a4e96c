//! Translated socket filters against the kernel's classic semantics, instruction by
//! instruction: 32-bit A and X, scratch memory, division by X = 0, out-of-range loads,
//! the Linux extensions and negative offsets; on every engine.

mod common;

use common::engines::engines;
use ebpfvm_classic::ext::{Ancillary, SKF_LL_OFF, SKF_NET_OFF};
use ebpfvm_classic::{
    AluOp, Cond, Instr, LdSrc, LdxSrc, PacketMeta, RetVal, Size, SocketFilter, Src,
};

use ebpfvm_vm::Stack;
use Instr::*;

const RET_A: Instr = Ret(RetVal::A);

fn ld_imm(k: u32) -> Instr {
    Ld(LdSrc::Imm(k))
}
fn ldx_imm(k: u32) -> Instr {
    Ldx(LdxSrc::Imm(k))
}
fn abs(size: Size, k: u32) -> Instr {
    Ld(LdSrc::Abs(size, k))
}
fn ind(size: Size, k: u32) -> Instr {
    Ld(LdSrc::Ind(size, k))
}
fn anc(a: Ancillary) -> Instr {
    Ld(LdSrc::Abs(Size::W, a.k()))
}

/// Runs `program` on `packet` with `meta` and checks r0 (and that it ran cleanly).
fn check_with(program: &[Instr], packet: &[u8], meta: &PacketMeta, expected: u32) {
    let raw = program.iter().map(|i| i.encode()).collect();
    let filter = SocketFilter::new(raw).unwrap_or_else(|e| panic!("{program:?}: {e}"));
    let outcome = filter.run(packet, meta);
    assert_eq!(
        outcome.result,
        Ok(expected as u64),
        "{program:?} on {packet:02x?}"
    );
    let mut stack = Stack::new();
    for (name, engine) in engines(filter.program()) {
        let outcome = filter.run_with(engine.as_ref(), &mut stack, packet, meta, None);
        assert_eq!(
            outcome.result,
            Ok(expected as u64),
            "{program:?} on {packet:02x?} ({name})"
        );
    }
}

fn check(program: &[Instr], packet: &[u8], expected: u32) {
    check_with(program, packet, &PacketMeta::for_ethernet(packet), expected);
}

fn packet() -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(3))
        .collect()
}

#[test]
fn alu_is_32_bit() {
    let p = packet();
    let alu = |a: u32, op: AluOp, k: u32| [ld_imm(a), Alu(op, Src::K(k)), RET_A];
    let alux = |a: u32, op: AluOp, x: u32| [ld_imm(a), ldx_imm(x), Alu(op, Src::X), RET_A];
    for (a, op, b, r) in [
        (0xffff_ffff, AluOp::Add, 2, 1),
        (1, AluOp::Sub, 2, 0xffff_ffff),
        (0x8000_0001, AluOp::Mul, 4, 4),
        (0xffff_ffff, AluOp::Div, 2, 0x7fff_ffff),
        (0xffff_fffe, AluOp::Mod, 0xffff_ffff, 0xffff_fffe),
        (0xf0, AluOp::Or, 0x0f, 0xff),
        (0xf0, AluOp::And, 0x3c, 0x30),
        (0xf0, AluOp::Xor, 0xff, 0x0f),
        (0x8000_0001, AluOp::Lsh, 1, 2),
        (0x8000_0000, AluOp::Rsh, 31, 1),
    ] {
        check(&alu(a, op, b), &p, r);
        check(&alux(a, op, b), &p, r);
    }
    check(&[ld_imm(1), Neg, RET_A], &p, 0xffff_ffff);
    // Shifts by X are masked to 5 bits, as the kernel's eBPF does.
    check(&alux(1, AluOp::Lsh, 33), &p, 2);
    check(&alux(4, AluOp::Rsh, 34), &p, 1);
}

#[test]
fn division_by_x_zero_returns_zero() {
    let p = packet();
    for op in [AluOp::Div, AluOp::Mod] {
        check(
            &[ld_imm(7), ldx_imm(0), Alu(op, Src::X), Ret(RetVal::K(9))],
            &p,
            0,
        );
    }
}

#[test]
fn jumps_compare_unsigned_32_bit() {
    let p = packet();
    let jump = |a: u32, cond, k: u32| {
        [
            ld_imm(a),
            Jump {
                cond,
                src: Src::K(k),
                jt: 0,
                jf: 1,
            },
            Ret(RetVal::K(1)),
            Ret(RetVal::K(2)),
        ]
    };
    check(&jump(0x8000_0000, Cond::Gt, 1), &p, 1);
    check(&jump(1, Cond::Gt, 0x8000_0000), &p, 2);
    check(&jump(5, Cond::Ge, 5), &p, 1);
    check(&jump(0xffff_ffff, Cond::Eq, 0xffff_ffff), &p, 1);
    check(&jump(0x10, Cond::Set, 0x01), &p, 2);
    check(&jump(0x11, Cond::Set, 0x01), &p, 1);
    // X forms and a JA over a return.
    let prog = [
        ld_imm(3),
        ldx_imm(4),
        Jump {
            cond: Cond::Gt,
            src: Src::X,
            jt: 1,
            jf: 0,
        },
        Ja(1),
        Ret(RetVal::K(1)),
        Ret(RetVal::K(2)),
    ];
    check(&prog, &p, 2);
    // Same targets, jt = jf.
    check(
        &[
            Jump {
                cond: Cond::Eq,
                src: Src::K(0),
                jt: 1,
                jf: 1,
            },
            RET_A,
            ld_imm(6),
            RET_A,
        ],
        &p,
        6,
    );
}

#[test]
fn scratch_memory_and_registers() {
    let p = packet();
    let prog = [
        ld_imm(11),
        St(0),
        ldx_imm(22),
        Stx(15),
        ld_imm(0),
        Ldx(LdxSrc::Mem(0)),
        Ld(LdSrc::Mem(15)),
        Alu(AluOp::Sub, Src::X),
        Tax,
        Txa,
        RET_A,
    ];
    check(&prog, &p, 11);
    check(&[Ld(LdSrc::Len), RET_A], &p, 64);
    check(&[Ldx(LdxSrc::Len), Txa, RET_A], &p, 64);
    check(&[Ret(RetVal::K(0xffff_ffff))], &p, 0xffff_ffff);
}

#[test]
fn packet_loads_are_big_endian_and_bounded() {
    let p = packet();
    check(
        &[abs(Size::W, 0), RET_A],
        &p,
        u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
    );
    check(
        &[abs(Size::H, 62), RET_A],
        &p,
        u16::from_be_bytes([p[62], p[63]]) as u32,
    );
    check(&[abs(Size::B, 63), RET_A], &p, p[63] as u32);
    // Out of range ends the program with 0, even after A was set.
    check(&[ld_imm(5), abs(Size::H, 63), ld_imm(7), RET_A], &p, 0);
    check(&[abs(Size::W, 0x7fff_ffff), RET_A], &p, 0);
    check(&[abs(Size::B, 0), RET_A], &[], 0);
    // IND: X + k, 32-bit wrapping, as the kernel computes the offset.
    check(
        &[ldx_imm(10), ind(Size::H, 2), RET_A],
        &p,
        u16::from_be_bytes([p[12], p[13]]) as u32,
    );
    check(
        &[ldx_imm(20), ind(Size::B, (-16i32) as u32), RET_A],
        &p,
        p[4] as u32,
    );
    check(&[ldx_imm(60), ind(Size::W, 1), RET_A], &p, 0);
    // MSH: X = 4 * (P[k] & 0xf), A untouched.
    let msh = [
        ld_imm(9),
        Ldx(LdxSrc::Msh(14)),
        St(1),
        Txa,
        Alu(AluOp::Add, Src::X),
        RET_A,
    ];
    check(&msh, &p, 8 * (p[14] as u32 & 0xf));
    check(&[ld_imm(9), Ldx(LdxSrc::Msh(64)), RET_A], &p, 0);
}

#[test]
fn negative_offsets_reach_network_and_link_layer() {
    let p = packet();
    let net = SKF_NET_OFF as u32;
    let ll = SKF_LL_OFF as u32;
    check(&[abs(Size::B, net), RET_A], &p, p[14] as u32);
    check(
        &[abs(Size::H, net + 2), RET_A],
        &p,
        u16::from_be_bytes([p[16], p[17]]) as u32,
    );
    check(&[abs(Size::B, ll + 3), RET_A], &p, p[3] as u32);
    check(&[abs(Size::B, net + 50), RET_A], &p, 0);
    check(&[abs(Size::B, ll - 1), RET_A], &p, 0);
    check(
        &[Ldx(LdxSrc::Msh(net)), Txa, RET_A],
        &p,
        4 * (p[14] as u32 & 0xf),
    );
    // IND reaching a negative offset at run time.
    check(&[ldx_imm(net), ind(Size::B, 1), RET_A], &p, p[15] as u32);
    check(&[ldx_imm(ll), ind(Size::B, 5), RET_A], &p, p[5] as u32);
    check(&[ldx_imm(ll - 8), ind(Size::B, 5), RET_A], &p, 0);
    check(&[ldx_imm(0x8000_0000), ind(Size::B, 0), RET_A], &p, 0);
    // Offsets follow the meta.
    let meta = PacketMeta {
        network_offset: 18,
        mac_offset: 2,
        ..PacketMeta::for_ethernet(&p)
    };
    check_with(&[abs(Size::B, net), RET_A], &p, &meta, p[18] as u32);
    check_with(&[abs(Size::B, ll), RET_A], &p, &meta, p[2] as u32);
    let meta = PacketMeta {
        network_offset: u32::MAX,
        ..PacketMeta::for_ethernet(&p)
    };
    check_with(&[abs(Size::B, net), RET_A], &p, &meta, 0);
}

#[test]
fn ancillary_loads_read_the_context() {
    let mut p = packet();
    p[12..14].copy_from_slice(&[0x86, 0xdd]);
    p[0..6].copy_from_slice(&[0xff; 6]);
    check(&[anc(Ancillary::Protocol), RET_A], &p, 0x86dd);
    check(&[anc(Ancillary::PktType), RET_A], &p, 1);
    check(&[anc(Ancillary::Ifindex), RET_A], &p, 1);
    check(&[anc(Ancillary::Hatype), RET_A], &p, 772);
    check(&[anc(Ancillary::VlanTagPresent), RET_A], &p, 0);
    check(&[anc(Ancillary::Cpu), RET_A], &p, 0);
    check(
        &[ld_imm(6), ldx_imm(3), anc(Ancillary::AluXorX), RET_A],
        &p,
        5,
    );
    let meta = PacketMeta {
        mark: 0xdead_beef,
        queue_mapping: 3,
        hash: 0x1234_5678,
        vlan: Some((0x88a8, 0x1005)),
        cpu: 7,
        ifindex: 9,
        pay_offset: Some(42),
        ..PacketMeta::for_ethernet(&p)
    };
    for (a, v) in [
        (Ancillary::Mark, 0xdead_beef),
        (Ancillary::Queue, 3),
        (Ancillary::RxHash, 0x1234_5678),
        (Ancillary::VlanTag, 0x1005),
        (Ancillary::VlanTagPresent, 1),
        (Ancillary::VlanTpid, 0x88a8),
        (Ancillary::Cpu, 7),
        (Ancillary::Ifindex, 9),
        (Ancillary::PayOffset, 42),
    ] {
        // Any load size selects the extension.
        for size in [Size::W, Size::H, Size::B] {
            check_with(&[abs(size, a.k()), RET_A], &p, &meta, v);
        }
    }
}

#[test]
fn random_is_deterministic_per_seed() {
    let p = packet();
    let prog = [
        anc(Ancillary::Random),
        St(0),
        anc(Ancillary::Random),
        Tax,
        Ld(LdSrc::Mem(0)),
        Jump {
            cond: Cond::Eq,
            src: Src::X,
            jt: 0,
            jf: 1,
        },
        Ret(RetVal::K(0)),
        RET_A,
    ];
    let raw = prog.iter().map(|i| i.encode()).collect();
    let filter = SocketFilter::new(raw).unwrap();
    let meta = PacketMeta::for_ethernet(&p);
    let first = filter.run(&p, &meta).result.unwrap();
    assert_ne!(first, 0, "two draws differ");
    assert_eq!(filter.run(&p, &meta).result.unwrap(), first);
    let other = PacketMeta {
        random_seed: 99,
        ..meta
    };
    assert_ne!(filter.run(&p, &other).result.unwrap(), first);
}

#[test]
fn netlink_attribute_extensions() {
    // 16 bytes of netlink header, then attributes type 1 (len 8) and type 5 (len 12).
    let mut p = vec![0u8; 16];
    p.extend([8, 0, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd]);
    p.extend([12, 0, 5, 0, 8, 0, 3, 0, 1, 2, 3, 4]);
    check(
        &[ld_imm(16), ldx_imm(5), anc(Ancillary::NlAttr), RET_A],
        &p,
        24,
    );
    check(
        &[ld_imm(16), ldx_imm(6), anc(Ancillary::NlAttr), RET_A],
        &p,
        0,
    );
    check(
        &[ld_imm(24), ldx_imm(3), anc(Ancillary::NlAttrNest), RET_A],
        &p,
        28,
    );
}

#[test]
fn translated_programs_stay_small() {
    // Every classic instruction becomes at most 16 eBPF ones (the jump-range argument).
    let worst = [
        ldx_imm(1),
        ind(Size::W, 5),
        Ldx(LdxSrc::Msh(SKF_NET_OFF as u32)),
        RET_A,
    ];
    let raw = worst.iter().map(|i| i.encode()).collect();
    let filter = SocketFilter::new(raw).unwrap();
    let starts = &filter.translation().starts;
    for w in starts.windows(2) {
        assert!(w[1] - w[0] <= 16);
    }
}
