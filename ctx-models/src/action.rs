//! What a program's return value means for its type: the named action (`XDP_PASS`,
//! `TC_ACT_SHOT`, ...), from the constants of linux/bpf.h and linux/pkt_cls.h.
//!
//! The kernel keeps the low 32 bits of r0 (`BPF_PROG_TEST_RUN`'s `retval` is a u32), so
//! the name depends on those only.

use crate::{AttachType, ProgramType};

/// [`action`] for a program attached at `at`, where the meaning differs by attach
/// point: `bind4`/`bind6` may add bit 1 (skip the `CAP_NET_BIND_SERVICE` check on
/// allow), `recvmsg`/`getpeername`/`getsockname` must return 1 (the verifier refuses
/// anything else), an `sk_skb` stream parser returns the next message's length.
pub fn action_at(ty: ProgramType, at: Option<AttachType>, retval: u64) -> Option<&'static str> {
    use AttachType as A;
    let v = retval as u32;
    match at.filter(|a| a.prog_type() == ty) {
        Some(A::Bind4 | A::Bind6) => match v {
            0 | 2 => Some("DENY"),
            1 => Some("ALLOW"),
            3 => Some("ALLOW_NO_CAP_NET_BIND_SERVICE"),
            _ => None,
        },
        Some(
            A::Recvmsg4
            | A::Recvmsg6
            | A::RecvmsgUnix
            | A::Getpeername4
            | A::Getpeername6
            | A::GetpeernameUnix
            | A::Getsockname4
            | A::Getsockname6
            | A::GetsocknameUnix,
        ) => (v == 1).then_some("ALLOW"),
        Some(A::StreamParser) => Some(match v as i32 {
            0 => "NEED_MORE_DATA",
            1.. => "MESSAGE_LENGTH",
            _ => "ERROR",
        }),
        _ => action(ty, retval),
    }
}

/// The name of the action `retval` asks of a `ty` program, or `None` when the value
/// names no action of the type (or the type's return value is not an action).
pub fn action(ty: ProgramType, retval: u64) -> Option<&'static str> {
    use ProgramType as P;
    let v = retval as u32;
    match ty {
        P::Xdp => [
            "XDP_ABORTED",
            "XDP_DROP",
            "XDP_PASS",
            "XDP_TX",
            "XDP_REDIRECT",
        ]
        .get(v as usize)
        .copied(),
        P::SchedCls | P::SchedAct => match v as i32 {
            -1 => Some("TC_ACT_UNSPEC"),
            0 => Some("TC_ACT_OK"),
            1 => Some("TC_ACT_RECLASSIFY"),
            2 => Some("TC_ACT_SHOT"),
            3 => Some("TC_ACT_PIPE"),
            4 => Some("TC_ACT_STOLEN"),
            5 => Some("TC_ACT_QUEUED"),
            6 => Some("TC_ACT_REPEAT"),
            7 => Some("TC_ACT_REDIRECT"),
            8 => Some("TC_ACT_TRAP"),
            _ => None,
        },
        P::LwtIn | P::LwtOut | P::LwtXmit | P::LwtSeg6local | P::FlowDissector => match v {
            0 => Some("BPF_OK"),
            2 => Some("BPF_DROP"),
            7 => Some("BPF_REDIRECT"),
            128 if ty != P::FlowDissector => Some("BPF_LWT_REROUTE"),
            129 if ty == P::FlowDissector => Some("BPF_FLOW_DISSECTOR_CONTINUE"),
            _ => None,
        },
        // A socket filter returns how many bytes of the packet to keep; 0 drops it.
        P::SocketFilter => Some(if v == 0 { "DROP" } else { "KEEP" }),
        P::SkSkb | P::SkMsg | P::SkReuseport | P::SkLookup => match v {
            0 => Some("SK_DROP"),
            1 => Some("SK_PASS"),
            _ => None,
        },
        // Cgroup programs allow (1) or deny (0); cgroup_skb egress may add congestion
        // notification in bit 1.
        P::CgroupSkb => match v {
            0 => Some("DENY"),
            1 => Some("ALLOW"),
            2 => Some("DENY_CN"),
            3 => Some("ALLOW_CN"),
            _ => None,
        },
        P::CgroupSock
        | P::CgroupDevice
        | P::CgroupSockAddr
        | P::CgroupSysctl
        | P::CgroupSockopt
        | P::SockOps => match v {
            0 => Some("DENY"),
            1 => Some("ALLOW"),
            _ => None,
        },
        _ => None,
    }
}
