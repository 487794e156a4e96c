//! `sk_msg` programs' `struct sk_msg_md` and `sk_reuseport` programs'
//! `struct sk_reuseport_md` (linux/bpf.h), with their access rules
//! (`sk_msg_is_valid_access`, `sk_reuseport_is_valid_access`, net/core/filter.c),
//! checked against the running kernel's verifier by `tests/ctx_kernel.rs`.
//!
//! The kernel cannot test-run either type; both point into message or packet data and
//! to sockets, which [`crate::PointerContext`] builds for a run.

use crate::access::{AccessError, AccessKind, Conversion};

/// `sizeof(struct sk_msg_md)`.
pub const MSG_SIZE: usize = 80;
/// `sizeof(struct sk_reuseport_md)`.
pub const REUSEPORT_SIZE: usize = 56;

/// The private backing model after an `sk_msg_md` (programs reach the first
/// [`MSG_SIZE`] bytes only): what the `bpf_msg_*` helpers record and the message's
/// scatterlist, which decides where `data` and `data_end` point after they change it.
pub mod model {
    /// `bpf_msg_apply_bytes`' value (u32).
    pub const APPLY_BYTES: usize = 80;
    /// `bpf_msg_cork_bytes`' value (u32).
    pub const CORK_BYTES: usize = 84;
    /// Which of the two were called (u32: bit 0 apply, bit 1 cork).
    pub const CALLED: usize = 88;
    /// The message's length now (u32).
    pub const LEN: usize = 92;
    /// How many scatterlist elements hold it (u32, at most [`MAX_FRAGS`]).
    pub const ELEMS: usize = 96;
    /// Their lengths (u32 each), in order.
    pub const ELEM_LENS: usize = 100;
    /// `MAX_MSG_FRAGS` (the kernel's `MAX_SKB_FRAGS`, 17 by default).
    pub const MAX_FRAGS: usize = 17;
    /// Size of the context with its model.
    pub const SIZE: usize = ELEM_LENS + 4 * MAX_FRAGS;
    /// Bytes a message may grow by in a run (`bpf_msg_push_data`); the kernel's limit
    /// is memory.
    pub const ROOM: usize = 1 << 16;
}

fn verdict(ok: bool, off: i64, size: u32) -> Result<Conversion, AccessError> {
    if ok {
        Ok(Conversion::Plain)
    } else {
        Err(AccessError::Invalid { off, size })
    }
}

/// `sk_msg_is_valid_access`: aligned reads; the pointers `data` (0), `data_end` (8) and
/// `sk` (72) as 64 bits, the scalars from `family` (16) to `size` (68) as 32 bits.
pub fn sk_msg(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let read = matches!(kind, AccessKind::Read { .. });
    if !read || !(0..MSG_SIZE as i64).contains(&off) || off % size as i64 != 0 {
        return verdict(false, off, size);
    }
    match off {
        // The pointers, guest addresses in the model (`crate::pointers`).
        0 | 8 | 72 => verdict(size == 8, off, size),
        16..=71 => verdict(size == 4, off, size),
        _ => verdict(false, off, size),
    }
}

/// `sk_reuseport_is_valid_access`: aligned reads; the pointers `data`, `data_end`,
/// `sk`, `migrating_sk` as 64 bits; `hash` as 32; `len`, `eth_protocol` (at least 16
/// bits), `ip_protocol` and `bind_inany` narrower too.
pub fn sk_reuseport(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let read = matches!(kind, AccessKind::Read { .. });
    if !read || !(0..REUSEPORT_SIZE as i64).contains(&off) || off % size as i64 != 0 {
        return verdict(false, off, size);
    }
    match off {
        0 | 8 | 40 | 48 => verdict(size == 8, off, size),
        32 => verdict(size == 4, off, size),
        20..=23 => verdict((2..=4).contains(&size), off, size),
        16..=31 => verdict(size <= 4, off, size),
        _ => verdict(false, off, size),
    }
}
