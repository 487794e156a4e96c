//! `sock_ops` programs: `struct bpf_sock_ops` (linux/bpf.h) and its access rules
//! (`sock_ops_is_valid_access`, net/core/filter.c), checked against the running
//! kernel's verifier by `tests/ctx_kernel.rs`.
//!
//! The kernel cannot test-run these programs, so a run takes the struct as given
//! (`--ctx`, raw uapi bytes, its own backing model): every field reads as given (the
//! kernel reads them from the socket, 0 for the TCP fields of a socket that is not a
//! full one; a run here shows what the program does with the values given), `reply`
//! and `sk_txhash` take the program's writes. The pointer fields (`sk`, `skb_data`,
//! `skb_data_end`) must be 0 in the struct given: [`crate::PointerContext`] fills them
//! in.

use crate::access::{AccessError, AccessKind, Conversion};

/// `sizeof(struct bpf_sock_ops)`.
pub const SIZE: usize = 224;
/// `op`
pub const OP: usize = 0;
/// `args[0]` / `reply` / `replylong[0]`
pub const REPLY: usize = 4;
/// `sk_txhash`
pub const SK_TXHASH: usize = 164;
/// `bytes_received` (u64); `bytes_acked` follows.
pub const BYTES_RECEIVED: usize = 168;
/// `sk` (8-byte pointer)
pub const SK: usize = 184;
/// `skb_data` (8-byte pointer)
pub const SKB_DATA: usize = 192;
/// `skb_data_end` (8-byte pointer)
pub const SKB_DATA_END: usize = 200;
/// `skb_tcp_flags`
pub const SKB_TCP_FLAGS: usize = 212;
/// `skb_hwtstamp` (u64)
pub const SKB_HWTSTAMP: usize = 216;

/// `sock_ops_is_valid_access`: aligned; writes of 32 bits to `reply` and `sk_txhash`
/// only; reads of 64 bits for `bytes_received`, `bytes_acked`, `skb_hwtstamp` and the
/// pointers, narrower for `skb_tcp_flags`, 32 bits elsewhere.
pub fn check(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let invalid = AccessError::Invalid { off, size };
    if !(0..SIZE as i64).contains(&off) || off % size as i64 != 0 {
        return Err(invalid);
    }
    let off = off as usize;
    let ok = match kind {
        AccessKind::WriteReg | AccessKind::WriteImm(_) => {
            matches!(off, REPLY | SK_TXHASH) && size == 4
        }
        AccessKind::Read { .. } => match off {
            BYTES_RECEIVED..=183 | SKB_HWTSTAMP..=223 => size == 8,
            // The pointers, guest addresses in the model (`crate::pointers`).
            SK | SKB_DATA | SKB_DATA_END => size == 8,
            // The pointers' other bytes.
            SK..=207 => false,
            SKB_TCP_FLAGS => size <= 4,
            _ => size == 4,
        },
    };
    if ok {
        Ok(Conversion::Plain)
    } else {
        Err(invalid)
    }
}
