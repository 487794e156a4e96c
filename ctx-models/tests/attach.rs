//! Attach points by hand: libbpf's section names give the type and the attach point,
//! names parse back, the kernel's numbers, defaults and the per-point access rules and
//! actions that differ. (`tests/ctx_kernel.rs` compares every rule with the kernel.)

use ebpfvm_ctx_models::access::{check_at, AccessKind};
use ebpfvm_ctx_models::{action_at, AttachType, ProgramType};

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
