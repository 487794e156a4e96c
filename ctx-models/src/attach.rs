//! Attach points: the kernel's `enum bpf_attach_type` for the program types whose rules
//! and return values depend on where the program is attached (`cgroup_sock`,
//! `cgroup_sock_addr`, `cgroup_sockopt`, `sk_skb`, `sk_reuseport`). A program is loaded
//! with one as its *expected attach type*; the verifier's access rules follow it (e.g.
//! `bpf_sock_addr.user_ip4` exists for the IPv4 hooks only, `bpf_sockopt.retval` for
//! `getsockopt` only).
//!
//! Names are libbpf's section suffixes (`cgroup/connect4` is [`AttachType::Connect4`],
//! `sk_skb/stream_verdict` is [`AttachType::StreamVerdict`]); that is what `--attach`
//! takes.

use std::fmt;

use crate::ProgramType;

macro_rules! attach_types {
    ($($variant:ident = $id:literal, $name:literal, $ty:ident, $kernel:literal;)*) => {
        /// An attach point (`enum bpf_attach_type`) of a program type that has several.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum AttachType {
            $(
                #[doc = concat!("`", $kernel, "` (", stringify!($id), "), `--attach ", $name, "`")]
                $variant,
            )*
        }

        impl AttachType {
            /// Every attach point modelled, grouped by program type.
            pub const ALL: &'static [AttachType] = &[$(AttachType::$variant),*];

            /// The kernel's number (`expected_attach_type`).
            pub const fn id(self) -> u32 {
                match self { $(AttachType::$variant => $id,)* }
            }

            /// libbpf's section suffix (`connect4`).
            pub const fn name(self) -> &'static str {
                match self { $(AttachType::$variant => $name,)* }
            }

            /// The program type attached here.
            pub const fn prog_type(self) -> ProgramType {
                match self { $(AttachType::$variant => ProgramType::$ty,)* }
            }
        }
    };
}

attach_types! {
    SockCreate = 2, "sock_create", CgroupSock, "BPF_CGROUP_INET_SOCK_CREATE";
    SockRelease = 34, "sock_release", CgroupSock, "BPF_CGROUP_INET_SOCK_RELEASE";
    PostBind4 = 12, "post_bind4", CgroupSock, "BPF_CGROUP_INET4_POST_BIND";
    PostBind6 = 13, "post_bind6", CgroupSock, "BPF_CGROUP_INET6_POST_BIND";
    Bind4 = 8, "bind4", CgroupSockAddr, "BPF_CGROUP_INET4_BIND";
    Bind6 = 9, "bind6", CgroupSockAddr, "BPF_CGROUP_INET6_BIND";
    Connect4 = 10, "connect4", CgroupSockAddr, "BPF_CGROUP_INET4_CONNECT";
    Connect6 = 11, "connect6", CgroupSockAddr, "BPF_CGROUP_INET6_CONNECT";
    Sendmsg4 = 14, "sendmsg4", CgroupSockAddr, "BPF_CGROUP_UDP4_SENDMSG";
    Sendmsg6 = 15, "sendmsg6", CgroupSockAddr, "BPF_CGROUP_UDP6_SENDMSG";
    Recvmsg4 = 19, "recvmsg4", CgroupSockAddr, "BPF_CGROUP_UDP4_RECVMSG";
    Recvmsg6 = 20, "recvmsg6", CgroupSockAddr, "BPF_CGROUP_UDP6_RECVMSG";
    Getpeername4 = 29, "getpeername4", CgroupSockAddr, "BPF_CGROUP_INET4_GETPEERNAME";
    Getpeername6 = 30, "getpeername6", CgroupSockAddr, "BPF_CGROUP_INET6_GETPEERNAME";
    Getsockname4 = 31, "getsockname4", CgroupSockAddr, "BPF_CGROUP_INET4_GETSOCKNAME";
    Getsockname6 = 32, "getsockname6", CgroupSockAddr, "BPF_CGROUP_INET6_GETSOCKNAME";
    ConnectUnix = 49, "connect_unix", CgroupSockAddr, "BPF_CGROUP_UNIX_CONNECT";
    SendmsgUnix = 50, "sendmsg_unix", CgroupSockAddr, "BPF_CGROUP_UNIX_SENDMSG";
    RecvmsgUnix = 51, "recvmsg_unix", CgroupSockAddr, "BPF_CGROUP_UNIX_RECVMSG";
    GetpeernameUnix = 52, "getpeername_unix", CgroupSockAddr, "BPF_CGROUP_UNIX_GETPEERNAME";
    GetsocknameUnix = 53, "getsockname_unix", CgroupSockAddr, "BPF_CGROUP_UNIX_GETSOCKNAME";
    Getsockopt = 21, "getsockopt", CgroupSockopt, "BPF_CGROUP_GETSOCKOPT";
    Setsockopt = 22, "setsockopt", CgroupSockopt, "BPF_CGROUP_SETSOCKOPT";
    StreamParser = 4, "stream_parser", SkSkb, "BPF_SK_SKB_STREAM_PARSER";
    StreamVerdict = 5, "stream_verdict", SkSkb, "BPF_SK_SKB_STREAM_VERDICT";
    SkbVerdict = 38, "verdict", SkSkb, "BPF_SK_SKB_VERDICT";
    ReuseportSelect = 39, "select", SkReuseport, "BPF_SK_REUSEPORT_SELECT";
    ReuseportMigrate = 40, "migrate", SkReuseport, "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE";
}

/// The address family a `cgroup_sock` or `cgroup_sock_addr` hook sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    Inet4,
    /// IPv6 (`AF_INET6`).
    Inet6,
    /// Unix sockets (`AF_UNIX`).
    Unix,
    /// Any (socket creation and release).
    Any,
}

impl AttachType {
    /// The attach points of `ty`, empty for a type that has one (or none).
    pub fn of(ty: ProgramType) -> impl Iterator<Item = AttachType> {
        AttachType::ALL
            .iter()
            .copied()
            .filter(move |a| a.prog_type() == ty)
    }

    /// The attach point a `ty` program has when nothing says otherwise: the one the
    /// kernel assumes for expected attach type 0 (`sock_create`), or the most common
    /// (`connect4`, `getsockopt`, `stream_verdict`, `migrate`).
    pub fn default_for(ty: ProgramType) -> Option<AttachType> {
        match ty {
            ProgramType::CgroupSock => Some(AttachType::SockCreate),
            ProgramType::CgroupSockAddr => Some(AttachType::Connect4),
            ProgramType::CgroupSockopt => Some(AttachType::Getsockopt),
            ProgramType::SkSkb => Some(AttachType::StreamVerdict),
            ProgramType::SkReuseport => Some(AttachType::ReuseportMigrate),
            _ => None,
        }
    }

    /// The attach point of `ty` named `name` (libbpf's section suffix).
    pub fn parse(ty: ProgramType, name: &str) -> Result<AttachType, UnknownAttachType> {
        AttachType::of(ty)
            .find(|a| a.name() == name)
            .ok_or_else(|| UnknownAttachType {
                ty,
                name: name.to_string(),
                known: AttachType::of(ty).map(|a| a.name()).collect(),
            })
    }

    /// The attach point libbpf gives a program in section `section` (`cgroup/connect4`,
    /// `sk_skb/stream_parser`, `sk_reuseport/migrate`), if the section names one.
    pub fn from_section(section: &str) -> Option<AttachType> {
        let ty = ProgramType::from_section(section)?;
        let suffix = match section {
            "cgroup/sock" => "sock_create",
            "sk_reuseport" => "select",
            s => s.rsplit_once('/')?.1,
        };
        AttachType::of(ty).find(|a| a.name() == suffix)
    }

    /// The address family of a socket hook (`None` for other types).
    pub fn family(self) -> Option<Family> {
        use AttachType as A;
        Some(match self {
            A::SockCreate | A::SockRelease => Family::Any,
            A::PostBind4
            | A::Bind4
            | A::Connect4
            | A::Sendmsg4
            | A::Recvmsg4
            | A::Getpeername4
            | A::Getsockname4 => Family::Inet4,
            A::PostBind6
            | A::Bind6
            | A::Connect6
            | A::Sendmsg6
            | A::Recvmsg6
            | A::Getpeername6
            | A::Getsockname6 => Family::Inet6,
            A::ConnectUnix
            | A::SendmsgUnix
            | A::RecvmsgUnix
            | A::GetpeernameUnix
            | A::GetsocknameUnix => Family::Unix,
            _ => return None,
        })
    }

    /// Whether a `cgroup_sock_addr` hook is a `sendmsg` one (the only ones with
    /// `msg_src_ip4`/`msg_src_ip6`).
    pub fn is_sendmsg(self) -> bool {
        matches!(
            self,
            AttachType::Sendmsg4 | AttachType::Sendmsg6 | AttachType::SendmsgUnix
        )
    }
}

impl fmt::Display for AttachType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no attach point of the type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is no attach point of {ty} programs; known: {}", if known.is_empty() { "none (the type has one)".to_string() } else { known.join(", ") })]
pub struct UnknownAttachType {
    /// The program type.
    pub ty: ProgramType,
    /// The name given.
    pub name: String,
    /// The type's attach points.
    pub known: Vec<&'static str>,
}
