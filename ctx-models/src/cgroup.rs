//! Small cgroup contexts: `cgroup_device` programs' `struct bpf_cgroup_dev_ctx`,
//! `cgroup_sysctl` programs' `struct bpf_sysctl` and `cgroup_sockopt` programs'
//! `struct bpf_sockopt` (linux/bpf.h), with their access rules (kernel/bpf/cgroup.c:
//! `cgroup_dev_is_valid_access`, `sysctl_is_valid_access`,
//! `cg_sockopt_is_valid_access`, the last per attach point). Checked against the running
//! kernel's verifier by `tests/ctx_kernel.rs`.
//!
//! The kernel cannot test-run these programs. `bpf_cgroup_dev_ctx` and `bpf_sysctl`
//! hold scalars only, so a run takes the struct as given (`--ctx`, its own backing
//! model; `bpf_sysctl`'s `file_pos` takes the program's writes); `bpf_sockopt` points
//! to the socket and the option's bytes: [`crate::PointerContext`] builds those.

use crate::access::{AccessError, AccessKind, Conversion};
use crate::attach::AttachType;

/// `sizeof(struct bpf_cgroup_dev_ctx)`: `access_type`, `major`, `minor`.
pub const DEV_SIZE: usize = 12;
/// `sizeof(struct bpf_sysctl)`: `write`, `file_pos`.
pub const SYSCTL_SIZE: usize = 8;
/// `sizeof(struct bpf_sockopt)`: `sk`, `optval`, `optval_end`, then `level`, `optname`,
/// `optlen`, `retval` (s32 each).
pub const SOCKOPT_SIZE: usize = 40;

fn verdict(ok: bool, off: i64, size: u32) -> Result<Conversion, AccessError> {
    if ok {
        Ok(Conversion::Plain)
    } else {
        Err(AccessError::Invalid { off, size })
    }
}

/// `cgroup_dev_is_valid_access`: aligned reads inside the struct; `access_type` also
/// narrower, `major` and `minor` 32 bits only.
pub fn device(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let read = matches!(kind, AccessKind::Read { .. });
    let inside = off >= 0 && off + size as i64 <= DEV_SIZE as i64 && off % size as i64 == 0;
    verdict(
        read && inside && (size == 4 || (off < 4 && size < 4)),
        off,
        size,
    )
}

/// `sysctl_is_valid_access`: aligned accesses inside the struct; `write` read-only
/// (narrower too); `file_pos` read (narrower too) or written (32 bits).
pub fn sysctl(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let read = matches!(kind, AccessKind::Read { .. });
    let inside = off >= 0 && off + size as i64 <= SYSCTL_SIZE as i64 && off % size as i64 == 0;
    let ok = inside && size <= 4 && (read || (off == 4 && size == 4));
    verdict(ok, off, size)
}

/// `cg_sockopt_is_valid_access` for the attach point `at`: the three pointers read as
/// 64 bits (not modelled), the four s32 read as 32 bits; `optlen` written; `retval`
/// read and written at `getsockopt` only, `level` and `optname` written at
/// `setsockopt` only.
pub fn sockopt(
    at: AttachType,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    if !(0..SOCKOPT_SIZE as i64).contains(&off) || off % size as i64 != 0 {
        return verdict(false, off, size);
    }
    let read = matches!(kind, AccessKind::Read { .. });
    let get = at == AttachType::Getsockopt;
    match off {
        // The pointers, guest addresses in the model (`crate::pointers`).
        0 | 8 | 16 if read && size == 8 => verdict(true, off, size),
        0..=23 => verdict(false, off, size),
        24 | 28 if !read => verdict(!get && size == 4, off, size),
        36 => verdict(get && size == 4, off, size),
        _ => verdict(size == 4, off, size),
    }
}

/// Why a struct given cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {name} is {size} bytes, not {given}")]
pub struct SizeError {
    /// The struct.
    pub name: &'static str,
    /// Its size.
    pub size: usize,
    /// The bytes given.
    pub given: usize,
}

/// The backing model of a `bpf_cgroup_dev_ctx` or `bpf_sysctl` given as raw uapi bytes
/// (shorter ones are zero-padded).
pub fn context(name: &'static str, size: usize, given: &[u8]) -> Result<Vec<u8>, SizeError> {
    if given.len() > size {
        return Err(SizeError {
            name,
            size,
            given: given.len(),
        });
    }
    let mut model = given.to_vec();
    model.resize(size, 0);
    Ok(model)
}
