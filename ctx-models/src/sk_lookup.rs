//! `sk_lookup` programs: `struct bpf_sk_lookup` (linux/bpf.h), its access rules
//! (`sk_lookup_is_valid_access`, net/core/filter.c) and the context the kernel's
//! `BPF_PROG_TEST_RUN` builds from a `ctx_in` (`bpf_prog_test_run_sk_lookup`,
//! net/bpf/test_run.c). Checked against the running kernel by `tests/ctx_kernel.rs`.
//!
//! The struct is its own backing model: every field a program may read holds, at its
//! uapi offset, what the kernel's rewritten load gives. The kernel keeps `family`,
//! `protocol` and `local_port` in 16 bits (so a 32-bit read gives the low 16 bits of
//! what was given, and a 16-bit read of the upper half gives the lower half again), the addresses of the other family are absent (they read 0), no
//! socket is selected (`sk` reads NULL), and `ingress_ifindex` is 0 (no device).
//! `ctx_out` is `ctx_in` with `cookie` 0 (no socket can be selected without the socket
//! helpers, which are not modelled).

use crate::access::{AccessError, AccessKind, Conversion};

/// `sizeof(struct bpf_sk_lookup)`.
pub const SIZE: usize = 72;
/// `sk` / `cookie` (8 bytes).
pub const SK: usize = 0;
/// `family`
pub const FAMILY: usize = 8;
/// `protocol`
pub const PROTOCOL: usize = 12;
/// `remote_ip4`
pub const REMOTE_IP4: usize = 16;
/// `remote_ip6[0]`
pub const REMOTE_IP6: usize = 20;
/// `remote_port` (be16), then 16 bits of zero padding.
pub const REMOTE_PORT: usize = 36;
/// `local_ip4`
pub const LOCAL_IP4: usize = 40;
/// `local_ip6[0]`
pub const LOCAL_IP6: usize = 44;
/// `local_port` (host order)
pub const LOCAL_PORT: usize = 60;
/// `ingress_ifindex`
pub const INGRESS_IFINDEX: usize = 64;

const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;

/// `sk_lookup_is_valid_access`: aligned reads only; `sk` as 64 bits; the 32-bit fields
/// and `remote_port` (and its padding) also narrower.
pub fn check(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let invalid = AccessError::Invalid { off, size };
    if !(0..SIZE as i64).contains(&off)
        || off % size as i64 != 0
        || !matches!(kind, AccessKind::Read { .. })
    {
        return Err(invalid);
    }
    let off = off as usize;
    // The field's size: narrower reads must lie inside it.
    let field = match off {
        SK => {
            return if size == 8 {
                Ok(Conversion::Plain)
            } else {
                Err(invalid)
            }
        }
        REMOTE_PORT if size == 4 => return Ok(Conversion::Plain),
        36..=39 => 2,
        8..=35 | 40..=67 => 4,
        _ => return Err(invalid),
    };
    if size > field {
        return Err(invalid);
    }
    // The kernel keeps these 32-bit fields in 16 bits and loads the whole 16 bits for a
    // 16-bit read of either half (the same as for `__sk_buff`'s narrow fields).
    let narrow_16 = matches!(off & !3, FAMILY | PROTOCOL | LOCAL_PORT);
    if narrow_16 && size == 2 && off % 4 == 2 {
        return Ok(Conversion::AtField { off: off & !3 });
    }
    Ok(Conversion::Plain)
}

/// Why the kernel's test run refuses a `ctx_in`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkLookupError {
    /// The test run fails with EINVAL.
    #[error("the bpf_sk_lookup given is refused: {0} (the kernel's test run fails with EINVAL)")]
    Invalid(&'static str),
    /// Bytes past the struct are not zero (E2BIG).
    #[error(
        "bytes past the 72-byte bpf_sk_lookup must be 0 (the kernel's test run fails with E2BIG)"
    )]
    TooBig,
    /// `local_port` above 65535 (ERANGE).
    #[error("local_port {0} is above 65535 (the kernel's test run fails with ERANGE)")]
    Port(u32),
    /// A family other than AF_INET (2) or AF_INET6 (10) (EAFNOSUPPORT).
    #[error("family {0} is neither AF_INET (2) nor AF_INET6 (10) (the kernel's test run fails with EAFNOSUPPORT)")]
    Family(u32),
}

fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// The backing model for `ctx_in` (shorter ones, empty too, are zero-padded), as the
/// test run builds it.
pub fn context(ctx_in: &[u8]) -> Result<Vec<u8>, SkLookupError> {
    if ctx_in.iter().skip(SIZE).any(|&b| b != 0) {
        return Err(SkLookupError::TooBig);
    }
    let mut given = [0u8; SIZE];
    let n = ctx_in.len().min(SIZE);
    given[..n].copy_from_slice(&ctx_in[..n]);
    if given[SK..SK + 8].iter().any(|&b| b != 0) {
        return Err(SkLookupError::Invalid("sk/cookie must be 0"));
    }
    if given[INGRESS_IFINDEX..].iter().any(|&b| b != 0) {
        return Err(SkLookupError::Invalid("ingress_ifindex must be 0"));
    }
    let port = get32(&given, LOCAL_PORT);
    if port > 0xffff {
        return Err(SkLookupError::Port(port));
    }
    // The kernel keeps family and protocol in 16 bits.
    let family = get32(&given, FAMILY) & 0xffff;
    let mut model = [0u8; SIZE];
    put32(&mut model, FAMILY, family);
    put32(&mut model, PROTOCOL, get32(&given, PROTOCOL) & 0xffff);
    model[REMOTE_PORT..REMOTE_PORT + 2].copy_from_slice(&given[REMOTE_PORT..REMOTE_PORT + 2]);
    put32(&mut model, LOCAL_PORT, port);
    let (remote, local, len) = match family {
        AF_INET => (REMOTE_IP4, LOCAL_IP4, 4),
        AF_INET6 => (REMOTE_IP6, LOCAL_IP6, 16),
        _ => return Err(SkLookupError::Family(get32(&given, FAMILY))),
    };
    model[remote..remote + len].copy_from_slice(&given[remote..remote + len]);
    model[local..local + len].copy_from_slice(&given[local..local + len]);
    Ok(model.to_vec())
}

/// The `ctx_out` of a run on `ctx_in` (accepted by [`context`]): `ctx_in` as given,
/// 72 bytes, `cookie` 0.
pub fn ctx_out(ctx_in: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; SIZE];
    let n = ctx_in.len().min(SIZE);
    out[..n].copy_from_slice(&ctx_in[..n]);
    out[SK..SK + 8].fill(0);
    out
}
