//! `cgroup_sock` programs: `struct bpf_sock` (linux/bpf.h) and its access rules
//! (`bpf_sock_is_valid_access` and `sock_filter_is_valid_access`, net/core/filter.c)
//! for the default attach point, `BPF_CGROUP_INET_SOCK_CREATE` (what the kernel makes
//! of expected attach type 0). Checked against the running kernel's verifier by
//! `tests/ctx_kernel.rs`.
//!
//! The kernel cannot test-run these programs, so a run takes the struct as given
//! (`--ctx`, raw uapi bytes, its own backing model): the fields the kernel keeps in
//! fewer bits (`family`, `type`, `protocol`, `src_port` in 16, `state` in 8,
//! `dst_port` is a be16 followed by zero padding) must fit them, so that every read
//! gives what the kernel's rewritten load would.

use crate::access::{AccessError, AccessKind, Conversion};

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

/// `bpf_sock_is_valid_access` narrowed by `sock_filter_is_valid_access` for
/// `BPF_CGROUP_INET_SOCK_CREATE`: aligned reads; narrower reads at the start of the
/// scalar fields and anywhere in the addresses; `bound_dev_if`, `mark` and `priority`
/// also written (32 bits); the source address and port hidden.
pub fn cgroup_sock(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let invalid = AccessError::Invalid { off, size };
    if !(0..SIZE as i64).contains(&off) || off % size as i64 != 0 {
        return Err(invalid);
    }
    let off = off as usize;
    let write = !matches!(kind, AccessKind::Read { .. });
    let narrow = size <= 4;
    let ok = match off {
        BOUND_DEV_IF | MARK | PRIORITY => size == 4,
        // Hidden before bind.
        SRC_IP4..=47 => false,
        _ if write => false,
        FAMILY | TYPE | PROTOCOL | STATE | RX_QUEUE_MAPPING => narrow,
        DST_IP4..=71 => narrow,
        DST_PORT if size == 4 => true,
        48 | 49 => size <= 2,
        _ => size == 4 && off % 4 == 0 && !(50..52).contains(&off),
    };
    if ok {
        Ok(Conversion::Plain)
    } else {
        Err(invalid)
    }
}

/// Why a `bpf_sock` given cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SockError {
    /// Not the struct's size.
    #[error("a bpf_sock is {SIZE} bytes, not {0}")]
    Size(usize),
    /// A field holds more than the kernel keeps of it.
    #[error("bpf_sock `{0}` holds more than the kernel keeps ({1} bits)")]
    TooWide(&'static str, u32),
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
