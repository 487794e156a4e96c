//! Program types: the kernel's `enum bpf_prog_type`, named as the kernel names them in
//! lower case without the `BPF_PROG_TYPE_` prefix (what `--type` takes), and derived
//! from ELF section names with libbpf's conventions (`xdp`, `kprobe/...`, `tc`, ...).
//!
//! `FromStr` parses the kernel name (`"sched_cls"`); [`ProgramType::from_section`]
//! parses a section name (`"classifier"`, `"tc/ingress"`).

use std::fmt;
use std::str::FromStr;

macro_rules! program_types {
    ($($variant:ident = $id:literal, $name:literal;)*) => {
        /// A kernel program type (`enum bpf_prog_type`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProgramType {
            $(
                #[doc = concat!("`BPF_PROG_TYPE_", $name, "` (", stringify!($id), ")")]
                $variant,
            )*
        }

        impl ProgramType {
            /// Every program type, in the kernel's order.
            pub const ALL: &'static [ProgramType] = &[$(ProgramType::$variant),*];

            /// The kernel's number for the type.
            pub const fn id(self) -> u32 {
                match self { $(ProgramType::$variant => $id,)* }
            }

            /// The kernel's name in lower case, without the prefix (`sched_cls`).
            pub const fn name(self) -> &'static str {
                match self { $(ProgramType::$variant => $name,)* }
            }
        }
    };
}

program_types! {
    SocketFilter = 1, "socket_filter";
    Kprobe = 2, "kprobe";
    SchedCls = 3, "sched_cls";
    SchedAct = 4, "sched_act";
    Tracepoint = 5, "tracepoint";
    Xdp = 6, "xdp";
    PerfEvent = 7, "perf_event";
    CgroupSkb = 8, "cgroup_skb";
    CgroupSock = 9, "cgroup_sock";
    LwtIn = 10, "lwt_in";
    LwtOut = 11, "lwt_out";
    LwtXmit = 12, "lwt_xmit";
    SockOps = 13, "sock_ops";
    SkSkb = 14, "sk_skb";
    CgroupDevice = 15, "cgroup_device";
    SkMsg = 16, "sk_msg";
    RawTracepoint = 17, "raw_tracepoint";
    CgroupSockAddr = 18, "cgroup_sock_addr";
    LwtSeg6local = 19, "lwt_seg6local";
    LircMode2 = 20, "lirc_mode2";
    SkReuseport = 21, "sk_reuseport";
    FlowDissector = 22, "flow_dissector";
    CgroupSysctl = 23, "cgroup_sysctl";
    RawTracepointWritable = 24, "raw_tracepoint_writable";
    CgroupSockopt = 25, "cgroup_sockopt";
    Tracing = 26, "tracing";
    StructOps = 27, "struct_ops";
    Ext = 28, "ext";
    Lsm = 29, "lsm";
    SkLookup = 30, "sk_lookup";
    Syscall = 31, "syscall";
    Netfilter = 32, "netfilter";
}

/// How a section name matches a pattern.
#[derive(Clone, Copy)]
enum Match {
    /// The whole name.
    Exact,
    /// The name, or the name followed by `/` and anything (libbpf's `+` suffix).
    Prefix,
}

use Match::{Exact, Prefix};
use ProgramType as P;

/// libbpf's section names, most specific first.
const SECTIONS: &[(&str, Match, ProgramType)] = &[
    ("socket", Prefix, P::SocketFilter),
    ("sk_reuseport/migrate", Exact, P::SkReuseport),
    ("sk_reuseport", Exact, P::SkReuseport),
    ("kprobe", Prefix, P::Kprobe),
    ("uprobe", Prefix, P::Kprobe),
    ("uprobe.s", Prefix, P::Kprobe),
    ("kretprobe", Prefix, P::Kprobe),
    ("uretprobe", Prefix, P::Kprobe),
    ("uretprobe.s", Prefix, P::Kprobe),
    ("kprobe.multi", Prefix, P::Kprobe),
    ("kretprobe.multi", Prefix, P::Kprobe),
    ("uprobe.multi", Prefix, P::Kprobe),
    ("uretprobe.multi", Prefix, P::Kprobe),
    ("ksyscall", Prefix, P::Kprobe),
    ("kretsyscall", Prefix, P::Kprobe),
    ("usdt", Prefix, P::Kprobe),
    ("tc/ingress", Exact, P::SchedCls),
    ("tc/egress", Exact, P::SchedCls),
    ("tcx/ingress", Exact, P::SchedCls),
    ("tcx/egress", Exact, P::SchedCls),
    ("netkit/primary", Exact, P::SchedCls),
    ("netkit/peer", Exact, P::SchedCls),
    ("tc", Prefix, P::SchedCls),
    ("classifier", Prefix, P::SchedCls),
    ("action", Prefix, P::SchedAct),
    ("tracepoint", Prefix, P::Tracepoint),
    ("tp", Prefix, P::Tracepoint),
    ("raw_tracepoint", Prefix, P::RawTracepoint),
    ("raw_tp", Prefix, P::RawTracepoint),
    ("raw_tracepoint.w", Prefix, P::RawTracepointWritable),
    ("raw_tp.w", Prefix, P::RawTracepointWritable),
    ("tp_btf", Prefix, P::Tracing),
    ("fentry", Prefix, P::Tracing),
    ("fmod_ret", Prefix, P::Tracing),
    ("fexit", Prefix, P::Tracing),
    ("fentry.s", Prefix, P::Tracing),
    ("fmod_ret.s", Prefix, P::Tracing),
    ("fexit.s", Prefix, P::Tracing),
    ("iter", Prefix, P::Tracing),
    ("iter.s", Prefix, P::Tracing),
    ("freplace", Prefix, P::Ext),
    ("lsm", Prefix, P::Lsm),
    ("lsm.s", Prefix, P::Lsm),
    ("lsm_cgroup", Prefix, P::Lsm),
    ("xdp.frags/devmap", Exact, P::Xdp),
    ("xdp/devmap", Exact, P::Xdp),
    ("xdp.frags/cpumap", Exact, P::Xdp),
    ("xdp/cpumap", Exact, P::Xdp),
    ("xdp.frags", Exact, P::Xdp),
    ("xdp", Prefix, P::Xdp),
    ("perf_event", Exact, P::PerfEvent),
    ("lwt_in", Exact, P::LwtIn),
    ("lwt_out", Exact, P::LwtOut),
    ("lwt_xmit", Exact, P::LwtXmit),
    ("lwt_seg6local", Exact, P::LwtSeg6local),
    ("sockops", Exact, P::SockOps),
    ("sk_skb/stream_parser", Exact, P::SkSkb),
    ("sk_skb/stream_verdict", Exact, P::SkSkb),
    ("sk_skb/verdict", Exact, P::SkSkb),
    ("sk_skb", Prefix, P::SkSkb),
    ("sk_msg", Exact, P::SkMsg),
    ("lirc_mode2", Exact, P::LircMode2),
    ("flow_dissector", Exact, P::FlowDissector),
    ("cgroup_skb/ingress", Exact, P::CgroupSkb),
    ("cgroup_skb/egress", Exact, P::CgroupSkb),
    ("cgroup/skb", Exact, P::CgroupSkb),
    ("cgroup/sock_create", Exact, P::CgroupSock),
    ("cgroup/sock_release", Exact, P::CgroupSock),
    ("cgroup/sock", Exact, P::CgroupSock),
    ("cgroup/post_bind4", Exact, P::CgroupSock),
    ("cgroup/post_bind6", Exact, P::CgroupSock),
    ("cgroup/bind4", Exact, P::CgroupSockAddr),
    ("cgroup/bind6", Exact, P::CgroupSockAddr),
    ("cgroup/connect4", Exact, P::CgroupSockAddr),
    ("cgroup/connect6", Exact, P::CgroupSockAddr),
    ("cgroup/connect_unix", Exact, P::CgroupSockAddr),
    ("cgroup/sendmsg4", Exact, P::CgroupSockAddr),
    ("cgroup/sendmsg6", Exact, P::CgroupSockAddr),
    ("cgroup/sendmsg_unix", Exact, P::CgroupSockAddr),
    ("cgroup/recvmsg4", Exact, P::CgroupSockAddr),
    ("cgroup/recvmsg6", Exact, P::CgroupSockAddr),
    ("cgroup/recvmsg_unix", Exact, P::CgroupSockAddr),
    ("cgroup/getpeername4", Exact, P::CgroupSockAddr),
    ("cgroup/getpeername6", Exact, P::CgroupSockAddr),
    ("cgroup/getpeername_unix", Exact, P::CgroupSockAddr),
    ("cgroup/getsockname4", Exact, P::CgroupSockAddr),
    ("cgroup/getsockname6", Exact, P::CgroupSockAddr),
    ("cgroup/getsockname_unix", Exact, P::CgroupSockAddr),
    ("cgroup/sysctl", Exact, P::CgroupSysctl),
    ("cgroup/getsockopt", Exact, P::CgroupSockopt),
    ("cgroup/setsockopt", Exact, P::CgroupSockopt),
    ("cgroup/dev", Exact, P::CgroupDevice),
    ("struct_ops", Prefix, P::StructOps),
    ("struct_ops.s", Prefix, P::StructOps),
    ("sk_lookup", Exact, P::SkLookup),
    ("syscall", Exact, P::Syscall),
    ("netfilter", Exact, P::Netfilter),
];

impl ProgramType {
    /// The expected attach type (`enum bpf_attach_type`) a program of this type is
    /// loaded with when nothing else says, for the types the kernel will not load with
    /// the default 0; `None` where 0 will do.
    pub fn default_attach_type(self) -> Option<u32> {
        match self {
            ProgramType::SkLookup => Some(36),       // BPF_SK_LOOKUP
            ProgramType::CgroupSockAddr => Some(10), // BPF_CGROUP_INET4_CONNECT
            ProgramType::CgroupDevice => Some(6),    // BPF_CGROUP_DEVICE
            ProgramType::SkMsg => Some(7),           // BPF_SK_MSG_VERDICT
            ProgramType::CgroupSysctl => Some(18),   // BPF_CGROUP_SYSCTL
            ProgramType::CgroupSockopt => Some(21),  // BPF_CGROUP_GETSOCKOPT
            ProgramType::SkReuseport => Some(40),    // BPF_SK_REUSEPORT_SELECT
            _ => None,
        }
    }

    /// The type libbpf gives a program in section `name`, or `None` when libbpf would
    /// not recognise the name.
    pub fn from_section(name: &str) -> Option<ProgramType> {
        // Among several matching prefixes the longest wins (`raw_tp.w/x` is writable).
        SECTIONS
            .iter()
            .filter(|(pattern, how, _)| match how {
                Exact => name == *pattern,
                Prefix => {
                    name == *pattern
                        || name
                            .strip_prefix(pattern)
                            .is_some_and(|rest| rest.starts_with('/'))
                }
            })
            .max_by_key(|(pattern, how, _)| (pattern.len(), matches!(how, Exact)))
            .map(|&(_, _, t)| t)
    }

    /// The kernel's number's type, if the number names one.
    pub fn from_id(id: u32) -> Option<ProgramType> {
        ProgramType::ALL.iter().copied().find(|t| t.id() == id)
    }
}

impl fmt::Display for ProgramType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no program type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown program type `{0}`")]
pub struct UnknownProgramType(pub String);

impl FromStr for ProgramType {
    type Err = UnknownProgramType;

    /// Parses the kernel's lower-case name (`xdp`, `sched_cls`, `socket_filter`).
    fn from_str(s: &str) -> Result<ProgramType, UnknownProgramType> {
        ProgramType::ALL
            .iter()
            .copied()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownProgramType(s.to_string()))
    }
}
