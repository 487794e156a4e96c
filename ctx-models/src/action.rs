//! What a program's return value means for its type: the named action (`XDP_PASS`,
//! `TC_ACT_SHOT`, ...), from the constants of linux/bpf.h and linux/pkt_cls.h.
//!
//! The kernel keeps the low 32 bits of r0 (`BPF_PROG_TEST_RUN`'s `retval` is a u32), so
//! the name depends on those only.

use crate::ProgramType;

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
