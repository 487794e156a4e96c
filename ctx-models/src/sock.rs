//! Socket contexts: `cgroup_sock` programs' `struct bpf_sock` and `cgroup_sock_addr`
//! programs' `struct bpf_sock_addr` (linux/bpf.h), with their access rules
//! (`bpf_sock_is_valid_access`, `sock_filter_is_valid_access` and
//! `sock_addr_is_valid_access`, net/core/filter.c) at each attach point
//! ([`crate::AttachType`]), and the rules of reads through a socket pointer
//! (`check_sock_access`: [`deref()`]). Checked against the running kernel's verifier by
//! `tests/ctx_kernel.rs`.
//!
//! The kernel cannot test-run these programs, so a run takes the struct as given
//! (`--ctx`, raw uapi bytes, its own backing model): the fields the kernel keeps in
//! fewer bits (`family`, `type`, `protocol`, `src_port` in 16, `state` in 8,
//! `dst_port` is a be16 followed by zero padding; `bpf_sock_addr`'s `user_family`,
//! `family`, `type`, `protocol` in 16, `user_port` a be16) must fit them, so that every
//! read gives what the kernel's rewritten load would. `bpf_sock_addr.sk` is filled in
//! by [`crate::PointerContext`].

use crate::access::{AccessError, AccessKind, Conversion};
use crate::attach::{AttachType, Family};

/// `sizeof(struct bpf_sock)`.
pub const SIZE: usize = 80;
/// `bound_dev_if`
pub const BOUND_DEV_IF: usize = 0;
/// `family`
pub const FAMILY: usize = 4;
/// `type`
pub const TYPE: usize = 8;
/// `protocol`
pub const PROTOCOL: usize = 12;
/// `mark`
pub const MARK: usize = 16;
/// `priority`
pub const PRIORITY: usize = 20;
/// `src_ip4`
pub const SRC_IP4: usize = 24;
/// `src_ip6[0]`
pub const SRC_IP6: usize = 28;
/// `src_port` (host order)
pub const SRC_PORT: usize = 44;
/// `dst_port` (be16), then 16 bits of zero padding.
pub const DST_PORT: usize = 48;
/// `dst_ip4`
pub const DST_IP4: usize = 52;
/// `dst_ip6[0]`
pub const DST_IP6: usize = 56;
/// `state`
pub const STATE: usize = 72;
/// `rx_queue_mapping` (s32)
pub const RX_QUEUE_MAPPING: usize = 76;

/// `bpf_sock_is_valid_access` narrowed by `sock_filter_is_valid_access` for the
/// `cgroup_sock` attach point `at`: aligned reads; narrower reads at the start of the
/// scalar fields and anywhere in the addresses; `bound_dev_if`, `mark` and `priority`
/// read and written (32 bits) at `sock_create` and `sock_release` only; the source
/// address and port read-only at `post_bind4`/`post_bind6` (the matching family's
/// address) only.
pub fn cgroup_sock(
    at: AttachType,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    let invalid = AccessError::Invalid { off, size };
    if !(0..SIZE as i64).contains(&off) || off % size as i64 != 0 {
        return Err(invalid);
    }
    let off = off as usize;
    let write = !matches!(kind, AccessKind::Read { .. });
    let narrow = size <= 4;
    let create = matches!(at, AttachType::SockCreate | AttachType::SockRelease);
    let ok = match off {
        BOUND_DEV_IF | MARK | PRIORITY => create && size == 4,
        SRC_IP4..=27 => at == AttachType::PostBind4 && !write && narrow,
        SRC_IP6..=43 => at == AttachType::PostBind6 && !write && narrow,
        SRC_PORT => matches!(at, AttachType::PostBind4 | AttachType::PostBind6) && !write && narrow,
        _ if write => false,
        _ => sock_read_ok(off, size),
    };
    if ok {
        Ok(Conversion::Plain)
    } else {
        Err(invalid)
    }
}

/// `bpf_sock_is_valid_access` for a read at an aligned `off` inside the struct: the
/// rules of every `struct bpf_sock` a program reads, as its context or through a
/// socket pointer.
pub fn sock_read_ok(off: usize, size: u32) -> bool {
    let narrow = size <= 4;
    match off {
        FAMILY | TYPE | PROTOCOL | STATE | RX_QUEUE_MAPPING | SRC_PORT => narrow,
        SRC_IP4..=43 | DST_IP4..=71 => narrow,
        DST_PORT if size == 4 => true,
        48 | 49 => size <= 2,
        _ => size == 4 && off % 4 == 0 && !(50..52).contains(&off),
    }
}

/// What a socket pointer loaded from a context points to, as the verifier types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockPtr {
    /// `PTR_TO_SOCK_COMMON`: the fields every socket has (`type` to `priority` hidden).
    pub common: bool,
    /// `..._OR_NULL`: must be compared with 0 before use.
    pub or_null: bool,
}

impl SockPtr {
    /// The verifier's name for the pointer's type (`sock`, `sock_common_or_null`).
    pub fn name(self) -> &'static str {
        match (self.common, self.or_null) {
            (false, false) => "sock",
            (false, true) => "sock_or_null",
            (true, false) => "sock_common",
            (true, true) => "sock_common_or_null",
        }
    }

    /// The same pointer known not to be NULL.
    pub fn checked(self) -> SockPtr {
        SockPtr {
            or_null: false,
            ..self
        }
    }
}

/// The socket pointer a 64-bit read of `ty`'s context at `off` gives, if it is one:
/// `bpf_sock_addr.sk`, `bpf_sockopt.sk`, `sk_msg_md.sk`, `sk_reuseport_md.sk`
/// (`PTR_TO_SOCKET`), `bpf_sock_ops.sk` (`PTR_TO_SOCKET_OR_NULL`: NULL unless a full
/// socket), `sk_reuseport_md.migrating_sk` and `__sk_buff.sk`
/// (`PTR_TO_SOCK_COMMON_OR_NULL`).
pub fn socket_field(ty: crate::ProgramType, off: i64) -> Option<SockPtr> {
    use crate::ProgramType as P;
    let sock = SockPtr {
        common: false,
        or_null: false,
    };
    match (ty, off) {
        (P::CgroupSockAddr, 64) | (P::CgroupSockopt, 0) | (P::SkMsg, 72) | (P::SkReuseport, 40) => {
            Some(sock)
        }
        (P::SockOps, 184) => Some(SockPtr {
            or_null: true,
            ..sock
        }),
        (P::SkReuseport, 48) => Some(SockPtr {
            common: true,
            or_null: true,
        }),
        (t, 168) if crate::ContextKind::of(t) == Some(crate::ContextKind::SkBuff) => {
            (t != P::FlowDissector).then_some(SockPtr {
                common: true,
                or_null: true,
            })
        }
        _ => None,
    }
}

/// Checks an access through socket pointer `ptr` in register `reg` (the verifier's
/// `check_sock_access`): reads only, after a NULL check, by `bpf_sock`'s rules
/// ([`sock_read_ok`]; `type` to `priority` hidden behind a `sock_common`). The error is
/// the verifier's message.
pub fn deref(ptr: SockPtr, reg: u8, off: i64, size: u32, kind: AccessKind) -> Result<(), String> {
    if ptr.or_null {
        return Err(format!("R{reg} invalid mem access '{}'", ptr.name()));
    }
    if !matches!(kind, AccessKind::Read { .. }) {
        return Err(format!("R{reg} cannot write into {}", ptr.name()));
    }
    let inside = (0..SIZE as i64).contains(&off) && off % size as i64 == 0;
    let hidden = ptr.common && (TYPE..SRC_IP4).contains(&(off as usize));
    if inside && !hidden && sock_read_ok(off as usize, size) {
        Ok(())
    } else {
        Err(format!(
            "R{reg} invalid {} access off={off} size={size}",
            ptr.name()
        ))
    }
}

/// Why a `bpf_sock` given cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SockError {
    /// Not the struct's size.
    #[error("a bpf_sock is {SIZE} bytes, not {0}")]
    Size(usize),
    /// Not the size of a `bpf_sock_addr`.
    #[error("a bpf_sock_addr is 72 bytes, not {0}")]
    AddrSize(usize),
    /// A field holds more than the kernel keeps of it.
    #[error("`{0}` holds more than the kernel keeps ({1} bits)")]
    TooWide(&'static str, u32),
    /// A pointer field given non-zero.
    #[error("`{0}` must be 0: the socket it points to is not supported yet")]
    Pointer(&'static str),
}

/// The backing model for a `bpf_sock` given as raw uapi bytes (shorter ones are
/// zero-padded).
pub fn context(given: &[u8]) -> Result<Vec<u8>, SockError> {
    if given.len() > SIZE {
        return Err(SockError::Size(given.len()));
    }
    let mut model = given.to_vec();
    model.resize(SIZE, 0);
    let get = |off: usize| u32::from_le_bytes(model[off..off + 4].try_into().expect("4"));
    for (name, off, bits) in [
        ("family", FAMILY, 16),
        ("type", TYPE, 16),
        ("protocol", PROTOCOL, 16),
        ("src_port", SRC_PORT, 16),
        ("dst_port", DST_PORT, 16),
        ("state", STATE, 8),
    ] {
        if get(off) >> bits != 0 {
            return Err(SockError::TooWide(name, bits));
        }
    }
    Ok(model)
}

/// `struct bpf_sock_addr` offsets.
pub mod addr {
    /// `sizeof(struct bpf_sock_addr)`.
    pub const SIZE: usize = 72;
    /// `user_family`
    pub const USER_FAMILY: usize = 0;
    /// `user_ip4` (network order)
    pub const USER_IP4: usize = 4;
    /// `user_ip6[0]`
    pub const USER_IP6: usize = 8;
    /// `user_port` (a be16 in the low half)
    pub const USER_PORT: usize = 24;
    /// `family`
    pub const FAMILY: usize = 28;
    /// `type`
    pub const TYPE: usize = 32;
    /// `protocol`
    pub const PROTOCOL: usize = 36;
    /// `msg_src_ip4`
    pub const MSG_SRC_IP4: usize = 40;
    /// `msg_src_ip6[0]`
    pub const MSG_SRC_IP6: usize = 44;
    /// `sk` (8-byte pointer)
    pub const SK: usize = 64;
}

/// `sock_addr_is_valid_access` for the `cgroup_sock_addr` attach point `at`:
/// `user_ip4` at the IPv4 hooks, `user_ip6` at the IPv6 ones, `msg_src_ip4`/`msg_src_ip6`
/// at `sendmsg4`/`sendmsg6` only; those and `user_port` read (narrower too) and written
/// (32 bits; the IPv6 arrays also 64 bits at an 8-byte boundary); the other scalars read
/// as 32 bits; `sk` a 64-bit read (not modelled).
pub fn cgroup_sock_addr(
    at: AttachType,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    use addr::*;
    let invalid = AccessError::Invalid { off, size };
    if !(0..SIZE as i64).contains(&off) || off % size as i64 != 0 {
        return Err(invalid);
    }
    let off = off as usize;
    let read = matches!(kind, AccessKind::Read { .. });
    let family = at.family();
    // An address field: narrow reads, 32-bit writes, 64-bit both ways inside an array.
    let field = |start: usize, end: usize| {
        (size == 8 && off % 8 == 0 && off + 8 <= end && off >= start)
            || if read { size <= 4 } else { size == 4 }
    };
    let ok = match off {
        USER_IP4..=7 => family == Some(Family::Inet4) && field(USER_IP4, USER_IP6),
        USER_IP6..=23 => family == Some(Family::Inet6) && field(USER_IP6, USER_PORT),
        MSG_SRC_IP4..=43 => at == AttachType::Sendmsg4 && field(MSG_SRC_IP4, MSG_SRC_IP6),
        MSG_SRC_IP6..=59 => at == AttachType::Sendmsg6 && field(MSG_SRC_IP6, 60),
        USER_PORT..=27 => field(USER_PORT, FAMILY),
        60..=63 => false,
        // A guest address in the model (`crate::pointers`).
        SK if read && size == 8 => true,
        SK..=71 => false,
        _ => read && size == 4,
    };
    if !ok {
        return Err(invalid);
    }
    // The kernel reads a narrow user_port from the sockaddr at the same distance from
    // sin_port, past it for the upper half: what lies there is not modelled.
    if read && (26..28).contains(&off) {
        return Err(AccessError::Unsupported(
            "a narrow read of the upper half of bpf_sock_addr->user_port",
        ));
    }
    Ok(Conversion::Plain)
}

/// The backing model for a `bpf_sock_addr` given as raw uapi bytes (shorter ones are
/// zero-padded); `sk` must be 0 (a socket is not modelled).
pub fn addr_context(given: &[u8]) -> Result<Vec<u8>, SockError> {
    if given.len() > addr::SIZE {
        return Err(SockError::AddrSize(given.len()));
    }
    let mut model = given.to_vec();
    model.resize(addr::SIZE, 0);
    let get = |off: usize| u32::from_le_bytes(model[off..off + 4].try_into().expect("4"));
    for (name, off) in [
        ("user_family", addr::USER_FAMILY),
        ("user_port", addr::USER_PORT),
        ("family", addr::FAMILY),
        ("type", addr::TYPE),
        ("protocol", addr::PROTOCOL),
    ] {
        if get(off) >> 16 != 0 {
            return Err(SockError::TooWide(name, 16));
        }
    }
    if model[addr::SK..].iter().any(|&b| b != 0) {
        return Err(SockError::Pointer("sk"));
    }
    Ok(model)
}
