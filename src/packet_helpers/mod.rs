//! Packet helpers for typed programs, written from the kernel's documented behaviour
//! (linux/bpf.h) and checked against the running kernel by `tests/ctx_kernel.rs`.
//!
//! A helper receives the context pointer in r1 and finds the packet through the
//! context's backing model: the `data` and `data_end` slots ([`ctx::layout`]) hold the
//! packet region's guest addresses, so every access goes through the checked memory
//! map like the program's own.
//!
//! - `skb_load_bytes` (26): copy out; on a bad range the destination is zeroed and the
//!   result is `-EFAULT`. `skb_store_bytes` (9): copy in; bad flags `-EINVAL`, bad range
//!   `-EFAULT`.
//! - flow dissector: `skb_load_bytes` (26) reads through the socket buffer, which the
//!   kernel's test run does not give it: always `-EFAULT`, the destination zeroed.
//! - `xdp_load_bytes` (189), `xdp_store_bytes` (190): offset or length beyond 16 bits
//!   `-EFAULT`, past the end `-EINVAL`, the buffer left alone.
//! - `l3_csum_replace` (10), `l4_csum_replace` (11): update a 16-bit checksum in the
//!   packet by the difference of a 2- or 4-byte field, or by a precomputed difference.
//!   The test run's socket buffer has no checksum offload (`CHECKSUM_NONE`), so the
//!   pseudo-header flag changes nothing.
//! - `csum_diff` (28): the one's-complement sum of `seed` and `to` less `from`, folded
//!   to 16 bits as kernels since 6.13 return it (any sizes).
//! - `skb_load_bytes_relative` (68): from the MAC or the network header, which may lie
//!   before `data`; `skb_pull_data` (39): 0, or `-ENOMEM` past the packet;
//!   `csum_update` (40): `-ENOTSUPP` (no checksum offload); `set_hash` (48): sets
//!   `hash`; `get_route_realm` (24): 0 (no route).
//! - `redirect` (23), `redirect_map` (51, XDP): the action, with the target recorded
//!   ([`crate::Vm::last_redirect`]), as the kernel's test run does without sending
//!   anything (`redirect.rs`).
//! - `xdp_adjust_head` (44), `xdp_adjust_meta` (54), `xdp_adjust_tail` (65): move the
//!   packet's edges inside the frame (`xdp_adjust.rs`).
//! - checksums (`csum.rs`).
//! - `sk_skb`'s own `skb_adjust_room`, `sk_redirect_map` and `sk_redirect_hash`
//!   (`sk_skb.rs`).
//! - the socket's cookie, uid, cgroup ids and class id (`socket.rs`).
//! - `sk_msg`'s `msg_*` helpers: recorded byte counts, pulling, pushing and popping
//!   message data, redirects (`sk_msg.rs`).

mod csum;
mod redirect;
mod sk_msg;
mod sk_skb;
mod skb_resize;
mod socket;
mod xdp_adjust;

pub(crate) use redirect::LastRedirect;
pub use redirect::Redirect;
pub use socket::SocketInfo;
pub(crate) use socket::{register as register_socket, SharedSocket};

use crate::ctx::layout::{skb, xdp};
use crate::ctx::{ContextKind, ProgramType, ETH_HLEN};
use crate::vm::{HelperContext, HelperError, Helpers};
use csum::{csum_diff, csum_replace};
use xdp_adjust::{xdp_adjust, Adjust};

const EFAULT: u64 = (-14i64) as u64;
const EINVAL: u64 = (-22i64) as u64;
const ENOMEM: u64 = (-12i64) as u64;
const ENOTSUPP: u64 = (-524i64) as u64;

/// The ids this module implements for `ty`; `bpf_redirect` records into `last`.
pub(crate) fn register(helpers: &mut Helpers, ty: ProgramType, last: &LastRedirect) {
    if ty == ProgramType::SkMsg {
        sk_msg::register(helpers, last);
        return;
    }
    let Some(kind) = ContextKind::of(ty) else {
        return;
    };
    if ty == ProgramType::FlowDissector {
        // The flow dissector's load_bytes reads through the socket buffer, which its
        // test run does not have: the destination is zeroed and the result -EFAULT.
        helpers.register(26, |c, [_, _, to, len, _]| {
            c.write(to, &vec![0; len.min(1 << 16) as usize])?;
            Ok(EFAULT)
        });
        return;
    }
    let load_id = if kind == ContextKind::XdpMd { 189 } else { 26 };
    let store_id = if kind == ContextKind::XdpMd { 190 } else { 9 };
    helpers.register(load_id, move |c, a| load_bytes(c, kind, a));
    helpers.register(store_id, move |c, a| store_bytes(c, kind, a));
    helpers.register(28, csum_diff);
    if kind == ContextKind::SkBuff {
        helpers.register(10, |c, a| csum_replace(c, a, false));
        helpers.register(11, |c, a| csum_replace(c, a, true));
        // No route in a test run: no realm.
        helpers.register(24, |_, _| Ok(0));
        helpers.register(39, |c, [ctx, len, ..]| pull_data(c, ctx, len));
        // The test run's socket buffer has no checksum to update (CHECKSUM_NONE).
        helpers.register(40, |_, _| Ok(ENOTSUPP));
        helpers.register(48, |c, [ctx, hash, ..]| {
            c.write(
                ctx.wrapping_add(skb::HASH as u64),
                &(hash as u32).to_le_bytes(),
            )?;
            Ok(0)
        });
        // The frame offset of data: the MAC header for tc, the network header else
        // (sk_skb's payload is a buffer of its own).
        let data_offset = match ty {
            ProgramType::SchedCls | ProgramType::SchedAct | ProgramType::SkSkb => 0,
            _ => ETH_HLEN as u64,
        };
        helpers.register(68, move |c, a| load_bytes_relative(c, data_offset, a));
        register_resize(helpers, ty, data_offset as usize);
        if ty == ProgramType::SkSkb {
            helpers.register(43, sk_skb::change_head);
            helpers.register(50, sk_skb::adjust_room);
            let last_map = LastRedirect::clone(last);
            helpers.register(52, move |c, a| {
                sk_skb::redirect(c, "bpf_sk_redirect_map", false, a, &last_map)
            });
            let last_hash = LastRedirect::clone(last);
            helpers.register(72, move |c, a| {
                sk_skb::redirect(c, "bpf_sk_redirect_hash", true, a, &last_hash)
            });
        }
    }
    let last_device = LastRedirect::clone(last);
    helpers.register(23, move |_, a| {
        Ok(redirect::redirect(kind, a, &last_device))
    });
    if kind == ContextKind::XdpMd {
        helpers.register(44, |c, [ctx, delta, ..]| {
            xdp_adjust(c, ctx, Adjust::Head, delta)
        });
        helpers.register(54, |c, [ctx, delta, ..]| {
            xdp_adjust(c, ctx, Adjust::Meta, delta)
        });
        helpers.register(65, |c, [ctx, delta, ..]| {
            xdp_adjust(c, ctx, Adjust::Tail, delta)
        });
        let last_map = LastRedirect::clone(last);
        helpers.register(51, move |c, a| redirect::redirect_map(c, a, &last_map));
    }
}

/// The resizing helpers (`skb_resize.rs`) the type may call; `data_offset` is the
/// frame offset of `data` (0 for tc, 14 for the types that start at layer 3).
fn register_resize(helpers: &mut Helpers, ty: ProgramType, data_offset: usize) {
    let allowed = |id: u32| crate::ctx::helpers::allowed(ty, id) == Some(true);
    if allowed(38) {
        helpers.register(38, move |c, a| skb_resize::change_tail(c, data_offset, a));
    }
    if allowed(43) {
        helpers.register(43, move |c, a| skb_resize::change_head(c, data_offset, a));
    }
    // The others are tc's, whose data is the MAC header (frame offset 0).
    if !matches!(ty, ProgramType::SchedCls | ProgramType::SchedAct) {
        return;
    }
    if allowed(18) {
        helpers.register(18, skb_resize::vlan_push);
    }
    if allowed(19) {
        helpers.register(19, skb_resize::vlan_pop);
    }
    if allowed(31) {
        helpers.register(31, skb_resize::change_proto);
    }
    if allowed(32) {
        helpers.register(32, skb_resize::change_type);
    }
    if allowed(50) {
        helpers.register(50, |c, [a, b, m, f, _]| {
            skb_resize::adjust_room(c, [a, b, m, f])
        });
    }
}

/// The packet's `data` guest address and its length (`data_end - data`).
pub(super) fn packet(
    c: &HelperContext<'_, '_>,
    kind: ContextKind,
    ctx: u64,
) -> Result<(u64, u64), HelperError> {
    let (data_slot, end_slot) = match kind {
        ContextKind::SkBuff => (skb::SLOT_DATA, skb::SLOT_DATA_END),
        ContextKind::XdpMd => (xdp::SLOT_DATA, xdp::SLOT_DATA_END),
    };
    let word = |slot: usize| -> Result<u64, HelperError> {
        let bytes = c.read(ctx.wrapping_add(slot as u64), 8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    };
    let (data, end) = (word(data_slot)?, word(end_slot)?);
    Ok((data, end.saturating_sub(data)))
}

/// Whether `[off, off + len)` lies in a packet of `packet_len` bytes.
pub(super) fn in_packet(off: u64, len: u64, packet_len: u64) -> bool {
    off <= i32::MAX as u64 && off.checked_add(len).is_some_and(|end| end <= packet_len)
}

/// The XDP helpers' range check: `-EFAULT` beyond 16 bits, `-EINVAL` past the end.
fn xdp_range(off: u64, len: u64, packet_len: u64) -> Option<u64> {
    if off > 0xffff || len > 0xffff {
        Some(EFAULT)
    } else if off + len > packet_len {
        Some(EINVAL)
    } else {
        None
    }
}

fn load_bytes(
    c: &mut HelperContext<'_, '_>,
    kind: ContextKind,
    [ctx, off, to, len, _]: [u64; 5],
) -> Result<u64, HelperError> {
    let (data, packet_len) = packet(c, kind, ctx)?;
    if kind == ContextKind::XdpMd {
        if let Some(error) = xdp_range(off, len, packet_len) {
            return Ok(error);
        }
    }
    if in_packet(off, len, packet_len) {
        let bytes = c.read(data + off, len)?.to_vec();
        c.write(to, &bytes)?;
        Ok(0)
    } else {
        c.write(to, &vec![0; len.min(1 << 16) as usize])?;
        Ok(EFAULT)
    }
}

fn store_bytes(
    c: &mut HelperContext<'_, '_>,
    kind: ContextKind,
    [ctx, off, from, len, flags]: [u64; 5],
) -> Result<u64, HelperError> {
    // skb: BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH; xdp_store_bytes takes no
    // flags argument at all (r5 is ignored).
    if kind == ContextKind::SkBuff && flags & !3 != 0 {
        return Ok(EINVAL);
    }
    let (data, packet_len) = packet(c, kind, ctx)?;
    if kind == ContextKind::XdpMd {
        if let Some(error) = xdp_range(off, len, packet_len) {
            return Ok(error);
        }
    }
    if !in_packet(off, len, packet_len) {
        return Ok(EFAULT);
    }
    let bytes = c.read(from, len)?.to_vec();
    c.write(data + off, &bytes)?;
    Ok(0)
}

/// `skb_pull_data`: everything is linear already; asking for more than the packet
/// fails as `skb_ensure_writable` does.
fn pull_data(c: &mut HelperContext<'_, '_>, ctx: u64, len: u64) -> Result<u64, HelperError> {
    let (_, packet_len) = packet(c, ContextKind::SkBuff, ctx)?;
    Ok(if len > packet_len { ENOMEM } else { 0 })
}

/// `skb_load_bytes_relative(skb, offset, to, len, start_header)`: like `skb_load_bytes`
/// from the MAC header (0) or the network header (1), which for types that see the
/// packet from the network header lies before `data`: the packet region's window opens
/// over the whole frame for the copy. The headers' offsets from `data` are the model's
/// (the resizing helpers move them).
fn load_bytes_relative(
    c: &mut HelperContext<'_, '_>,
    data_offset: u64,
    [ctx, off, to, len, start_header]: [u64; 5],
) -> Result<u64, HelperError> {
    let (_, packet_len) = packet(c, ContextKind::SkBuff, ctx)?;
    let region = u64::from_le_bytes(
        c.read(ctx.wrapping_add(skb::SLOT_DATA_META as u64), 8)?
            .try_into()
            .expect("8 bytes"),
    );
    let frame_end = data_offset + packet_len;
    let header = |field: usize| -> Result<u64, HelperError> {
        let bytes = c.read(ctx.wrapping_add(field as u64), 4)?;
        let from_data = i32::from_le_bytes(bytes.try_into().expect("4 bytes")) as i64;
        Ok((data_offset as i64 + from_data).max(0) as u64)
    };
    let start = match start_header {
        0 => header(skb::MAC_OFFSET)?,
        1 => header(skb::NET_OFFSET)?,
        _ => u64::MAX,
    };
    let fits = start != u64::MAX
        && off <= 0xffff
        && start.saturating_add(off).saturating_add(len) <= frame_end;
    if !fits {
        c.write(to, &vec![0; len.min(1 << 16) as usize])?;
        return Ok(EFAULT);
    }
    let frame_window = |c: &mut HelperContext<'_, '_>, from: u64| {
        c.memory()
            .set_window(region, from as usize, frame_end as usize)
    };
    if !frame_window(c, 0) {
        return Err(HelperError::Fault("the packet region has no window".into()));
    }
    let bytes = c.read(region + start + off, len).map(<[u8]>::to_vec);
    frame_window(c, data_offset);
    c.write(to, &bytes?)?;
    Ok(0)
}
