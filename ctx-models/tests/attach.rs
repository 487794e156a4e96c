//! Attach points by hand: libbpf's section names give the type and the attach point,
//! names parse back, the kernel's numbers, defaults and the per-point access rules and
//! actions that differ; the one entry point taking the attach point and the arch.
//! (`tests/ctx_kernel.rs` compares every rule with the kernel.)

use ebpfvm_ctx_models::access::{check_at, check_with, AccessKind};
use ebpfvm_ctx_models::regs::Arch;
use ebpfvm_ctx_models::{action_at, rewrite_with, AttachType, ProgramType};
use ebpfvm_isa::assemble;

#[test]
fn sections_give_the_attach_point() {
    for (section, ty, at) in [
        ("cgroup/sock_create", ProgramType::CgroupSock, "sock_create"),
        ("cgroup/sock", ProgramType::CgroupSock, "sock_create"),
        ("cgroup/post_bind6", ProgramType::CgroupSock, "post_bind6"),
        ("cgroup/connect4", ProgramType::CgroupSockAddr, "connect4"),
        (
            "cgroup/getsockname_unix",
            ProgramType::CgroupSockAddr,
            "getsockname_unix",
        ),
        (
            "cgroup/setsockopt",
            ProgramType::CgroupSockopt,
            "setsockopt",
        ),
        ("sk_skb/stream_parser", ProgramType::SkSkb, "stream_parser"),
        ("sk_skb/verdict", ProgramType::SkSkb, "verdict"),
        ("sk_reuseport", ProgramType::SkReuseport, "select"),
        ("sk_reuseport/migrate", ProgramType::SkReuseport, "migrate"),
    ] {
        let found = AttachType::from_section(section).unwrap_or_else(|| panic!("{section}"));
        assert_eq!((found.prog_type(), found.name()), (ty, at), "{section}");
        assert_eq!(AttachType::parse(ty, at), Ok(found));
    }
    for section in [
        "xdp",
        "sockops",
        "sk_msg",
        "cgroup/dev",
        "sk_skb",
        "cgroup/bogus",
    ] {
        assert_eq!(AttachType::from_section(section), None, "{section}");
    }
}

#[test]
fn every_point_has_its_kernel_number_and_a_default_of_its_type() {
    let ids: Vec<u32> = AttachType::ALL.iter().map(|a| a.id()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "numbers are distinct");
    // A few from linux/bpf.h's enum bpf_attach_type.
    assert_eq!(AttachType::SockCreate.id(), 2);
    assert_eq!(AttachType::Connect6.id(), 11);
    assert_eq!(AttachType::Getsockopt.id(), 21);
    assert_eq!(AttachType::SockRelease.id(), 34);
    assert_eq!(AttachType::SkbVerdict.id(), 38);
    assert_eq!(AttachType::ConnectUnix.id(), 49);
    for &a in AttachType::ALL {
        let default = AttachType::default_for(a.prog_type()).expect("a default");
        assert_eq!(default.prog_type(), a.prog_type());
    }
    assert_eq!(AttachType::of(ProgramType::CgroupSockAddr).count(), 17);
    assert_eq!(AttachType::default_for(ProgramType::Xdp), None);
    let err = AttachType::parse(ProgramType::CgroupSockopt, "connect4").unwrap_err();
    assert!(err.to_string().contains("getsockopt, setsockopt"), "{err}");
}

#[test]
fn rules_and_actions_follow_the_attach_point() {
    let read = AccessKind::Read { sign_extend: false };
    let sock_addr = ProgramType::CgroupSockAddr;
    // user_ip4 at IPv4 hooks, user_ip6 at IPv6 ones, msg_src_ip4 at sendmsg4.
    assert!(check_at(sock_addr, Some(AttachType::Bind4), 4, 4, read).is_ok());
    assert!(check_at(sock_addr, Some(AttachType::Bind6), 4, 4, read).is_err());
    assert!(check_at(sock_addr, Some(AttachType::Recvmsg6), 8, 8, read).is_ok());
    assert!(check_at(sock_addr, Some(AttachType::Sendmsg4), 40, 4, read).is_ok());
    assert!(check_at(sock_addr, Some(AttachType::Connect4), 40, 4, read).is_err());
    // retval is getsockopt's.
    let sockopt = ProgramType::CgroupSockopt;
    assert!(check_at(sockopt, Some(AttachType::Getsockopt), 36, 4, read).is_ok());
    assert!(check_at(sockopt, Some(AttachType::Setsockopt), 36, 4, read).is_err());
    // An attach point of another type is ignored: the type's default applies.
    assert!(check_at(sockopt, Some(AttachType::Connect6), 36, 4, read).is_ok());
    assert_eq!(
        action_at(sock_addr, Some(AttachType::Bind4), 3),
        Some("ALLOW_NO_CAP_NET_BIND_SERVICE")
    );
    assert_eq!(action_at(sock_addr, Some(AttachType::Connect4), 3), None);
    assert_eq!(
        action_at(sock_addr, Some(AttachType::Getpeername6), 0),
        None
    );
    let parser = Some(AttachType::StreamParser);
    assert_eq!(
        action_at(ProgramType::SkSkb, parser, 100),
        Some("MESSAGE_LENGTH")
    );
    assert_eq!(action_at(ProgramType::SkSkb, None, 1), Some("SK_PASS"));
}

/// `check_with`/`rewrite_with` take both: the attach point decides the socket
/// contexts' rules, the arch a kprobe's `pt_regs`, each whatever the other is.
#[test]
fn check_with_takes_the_attach_point_and_the_arch() {
    let read = AccessKind::Read { sign_extend: false };
    let sock_addr = ProgramType::CgroupSockAddr;
    for arch in [Arch::X86_64, Arch::Arm64] {
        // msg_src_ip4 only at sendmsg4, on either arch.
        let at = |a| check_with(sock_addr, Some(a), arch, 40, 4, read);
        assert!(at(AttachType::Sendmsg4).is_ok(), "{arch}");
        assert!(at(AttachType::Connect4).is_err(), "{arch}");
    }
    // arm64's pt_regs is 336 bytes, x86_64's 168; an attach point of another type
    // (kprobes have none) changes nothing.
    let kprobe = ProgramType::Kprobe;
    for at in [None, Some(AttachType::Connect4)] {
        assert!(check_with(kprobe, at, Arch::Arm64, 328, 8, read).is_ok());
        assert!(check_with(kprobe, at, Arch::X86_64, 328, 8, read).is_err());
    }
    let program = |off: i16| assemble(&format!("ldxdw %r0, [%r1+{off}]\nexit")).unwrap();
    assert!(rewrite_with(&program(328), kprobe, None, Arch::Arm64).is_ok());
    assert!(rewrite_with(&program(328), kprobe, None, Arch::X86_64).is_err());
    let user_ip6 = program(8);
    let at = |a| rewrite_with(&user_ip6, sock_addr, Some(a), Arch::Arm64);
    assert!(at(AttachType::Connect6).is_ok());
    assert!(at(AttachType::Connect4).is_err());
}
