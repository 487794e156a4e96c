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
//! - `redirect` (23): validates the flags and returns `TC_ACT_REDIRECT` (tc) or
//!   `XDP_REDIRECT` (XDP), as the kernel's test run does without sending anything; the
//!   target is recorded ([`crate::Vm::last_redirect`]).
//! - `xdp_adjust_head` (44), `xdp_adjust_meta` (54), `xdp_adjust_tail` (65): move
//!   `data`, `data_meta` or `data_end` inside the frame (limits in `ctx::PacketContext`);
//!   the packet region's window moves with them ([`crate::vm::MemoryMap::set_window`]),
//!   so the program must reload its packet pointers, as the kernel's verifier demands.

use std::sync::{Arc, Mutex};

use crate::ctx::layout::{skb, xdp};
use crate::ctx::{ContextKind, ProgramType, ETH_HLEN, XDP_FRAME, XDP_FRAME_RESERVED};
use crate::vm::{HelperContext, HelperError, Helpers};

const EFAULT: u64 = (-14i64) as u64;
const EINVAL: u64 = (-22i64) as u64;
const ENOMEM: u64 = (-12i64) as u64;
const ENOTSUPP: u64 = (-524i64) as u64;

/// A successful `bpf_redirect` call: where the packet would go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The target device.
    pub ifindex: u32,
    /// The flags (`BPF_F_INGRESS` for tc).
    pub flags: u64,
}

/// The last redirect of a run, shared between the helper and the [`crate::Vm`].
pub(crate) type LastRedirect = Arc<Mutex<Option<Redirect>>>;

/// The ids this module implements for `ty`; `bpf_redirect` records into `last`.
pub(crate) fn register(helpers: &mut Helpers, ty: ProgramType, last: &LastRedirect) {
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
        // The frame offset of data: the MAC header for tc, the network header else.
        let data_offset = match ty {
            ProgramType::SchedCls | ProgramType::SchedAct => 0,
            _ => ETH_HLEN as u64,
        };
        helpers.register(68, move |c, a| load_bytes_relative(c, data_offset, a));
    }
    let last = Arc::clone(last);
    helpers.register(23, move |_, a| {
        let result = redirect(kind, a);
        if matches!(result, 4 | 7) {
            let target = Redirect {
                ifindex: a[0] as u32,
                flags: a[1],
            };
            *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(target);
        }
        Ok(result)
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
    }
}

/// Which edge an XDP adjust helper moves.
#[derive(Clone, Copy)]
enum Adjust {
    Head,
    Meta,
    Tail,
}

fn get32(c: &HelperContext<'_, '_>, addr: u64) -> Result<u32, HelperError> {
    let bytes = c.read(addr, 4)?;
    Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
}

/// `xdp_adjust_head`, `xdp_adjust_meta`, `xdp_adjust_tail`: move an edge of the packet
/// by `delta` (a signed 32-bit value) within the frame, as the kernel allows it; the
/// packet region's window and the pointer slots follow. `-EINVAL` out of bounds;
/// `-EACCES` for metadata not a multiple of 4 bytes.
fn xdp_adjust(
    c: &mut HelperContext<'_, '_>,
    ctx: u64,
    edge: Adjust,
    delta: u64,
) -> Result<u64, HelperError> {
    const EACCES: u64 = (-13i64) as u64;
    let region = u64::from_le_bytes(
        c.read(ctx.wrapping_add(xdp::SLOT_DATA_META as u64), 8)?
            .try_into()
            .expect("8 bytes"),
    );
    let field = |f: usize| ctx.wrapping_add(f as u64);
    let meta = get32(c, field(xdp::FRAME_META))? as i64;
    let data = get32(c, field(xdp::FRAME_DATA))? as i64;
    let end = get32(c, field(xdp::FRAME_END))? as i64;
    let delta = delta as i32 as i64;
    let (hard_start, hard_end) = (XDP_FRAME_RESERVED as i64, XDP_FRAME as i64);
    let (new_meta, new_data, new_end) = match edge {
        Adjust::Head => {
            let new_data = data + delta;
            if new_data < hard_start + (data - meta) || new_data > end - ETH_HLEN as i64 {
                return Ok(EINVAL);
            }
            (meta + delta, new_data, end)
        }
        Adjust::Meta => {
            let new_meta = meta + delta;
            if new_meta < hard_start || new_meta > data {
                return Ok(EINVAL);
            }
            if (data - new_meta) % 4 != 0 {
                return Ok(EACCES);
            }
            (new_meta, data, end)
        }
        Adjust::Tail => {
            let new_end = end + delta;
            if new_end > hard_end || new_end < data + ETH_HLEN as i64 {
                return Ok(EINVAL);
            }
            (meta, data, new_end)
        }
    };
    // Open a window over the old and the new packet, move the metadata with the head
    // and clear grown tail bytes, then settle on the new window.
    let (low, high) = (meta.min(new_meta) as usize, end.max(new_end) as usize);
    if !c.memory().set_window(region, low, high) {
        return Err(HelperError::Fault(
            "the XDP packet region has no window".into(),
        ));
    }
    let at = |frame_offset: i64| region + (frame_offset as u64 - low as u64);
    if let Adjust::Head = edge {
        let metadata = c.read(at(meta), (data - meta) as u64)?.to_vec();
        c.write(at(new_meta), &metadata)?;
    }
    if new_end > end {
        c.write(at(end), &vec![0; (new_end - end) as usize])?;
    }
    c.memory()
        .set_window(region, new_meta as usize, new_end as usize);
    for (slot, value) in [
        (xdp::SLOT_DATA_META, region),
        (xdp::SLOT_DATA, region + (new_data - new_meta) as u64),
        (xdp::SLOT_DATA_END, region + (new_end - new_meta) as u64),
    ] {
        c.write(field(slot), &value.to_le_bytes())?;
    }
    for (f, value) in [
        (xdp::FRAME_META, new_meta),
        (xdp::FRAME_DATA, new_data),
        (xdp::FRAME_END, new_end),
    ] {
        c.write(field(f), &(value as u32).to_le_bytes())?;
    }
    Ok(0)
}

/// The packet's `data` guest address and its length (`data_end - data`).
fn packet(
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
fn in_packet(off: u64, len: u64, packet_len: u64) -> bool {
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
/// over the whole frame for the copy.
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
    let start = match start_header {
        0 => 0,
        1 => ETH_HLEN as u64,
        _ => u64::MAX,
    };
    let fits = start != u64::MAX && off <= 0xffff && start + off + len <= frame_end;
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

/// One's-complement 32-bit addition.
fn csum_add(a: u32, b: u32) -> u32 {
    let (sum, carry) = a.overflowing_add(b);
    sum.wrapping_add(carry as u32)
}

/// Folds a 32-bit sum to 16 bits and complements it (`csum_fold`).
fn csum_fold(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    let s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

fn csum16_add(csum: u16, addend: u16) -> u16 {
    let (sum, carry) = csum.overflowing_add(addend);
    sum.wrapping_add(carry as u16)
}

/// `l3_csum_replace` (`l4` false) and `l4_csum_replace` (`l4` true).
fn csum_replace(
    c: &mut HelperContext<'_, '_>,
    [ctx, off, from, to, flags]: [u64; 5],
    l4: bool,
) -> Result<u64, HelperError> {
    const SIZE_MASK: u64 = 0xf;
    const PSEUDO_HDR: u64 = 1 << 4;
    const MARK_MANGLED_0: u64 = 1 << 5;
    const MARK_ENFORCE: u64 = 1 << 6;
    const IPV6: u64 = 1 << 7;
    let allowed = if l4 {
        SIZE_MASK | PSEUDO_HDR | MARK_MANGLED_0 | MARK_ENFORCE | IPV6
    } else {
        SIZE_MASK
    };
    if flags & !allowed != 0 {
        return Ok(EINVAL);
    }
    if off > 0xffff || off & 1 != 0 {
        return Ok(EFAULT);
    }
    let (data, packet_len) = packet(c, ContextKind::SkBuff, ctx)?;
    if !in_packet(off, 2, packet_len) {
        return Ok(EFAULT);
    }
    let addr = data + off;
    let old = u16::from_le_bytes(c.read(addr, 2)?.try_into().expect("2 bytes"));
    let mangled_zero = flags & MARK_MANGLED_0 != 0;
    if mangled_zero && flags & MARK_ENFORCE == 0 && old == 0 {
        return Ok(0);
    }
    // csum_replace4: fold(~old + ~from + to), in one's-complement arithmetic.
    let replace4 = |from: u32, to: u32| csum_fold(csum_add(csum_add(!(old as u32), !from), to));
    let new = match flags & SIZE_MASK {
        0 if from != 0 => return Ok(EINVAL),
        // A precomputed 32-bit difference.
        0 => csum_fold(csum_add(to as u32, !(old as u32))),
        // l4 widens 16-bit fields to 32 bits; l3 works in 16 bits.
        2 if l4 => replace4(from as u16 as u32, to as u16 as u32),
        2 => !csum16_add(csum16_add(!old, !(from as u16)), to as u16),
        4 => replace4(from as u32, to as u32),
        _ => return Ok(EINVAL),
    };
    let new = if mangled_zero && new == 0 {
        0xffff
    } else {
        new
    };
    c.write(addr, &new.to_le_bytes())?;
    Ok(0)
}

/// x86-64's `csum_partial`: 64-bit one's-complement sum of the bytes (little-endian,
/// the tail zero-padded) and `seed`, folded to 32 bits.
fn csum_partial(bytes: &[u8], seed: u32) -> u32 {
    let mut sum = seed as u64;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        let (s, carry) = sum.overflowing_add(u64::from_le_bytes(word));
        sum = s + carry as u64;
    }
    csum_add((sum >> 32) as u32, sum as u32)
}

/// `csum_diff(from, from_size, to, to_size, seed)`: the checksum of `to` less that of
/// `from`, folded to 16 bits (not complemented), as kernels since 6.13 return it.
fn csum_diff(
    c: &mut HelperContext<'_, '_>,
    [from, from_size, to, to_size, seed]: [u64; 5],
) -> Result<u64, HelperError> {
    let from = c.read(from, from_size)?.to_vec();
    let to = c.read(to, to_size)?;
    let seed = seed as u32;
    let sum = match (from.is_empty(), to.is_empty()) {
        (false, false) => csum_add(csum_partial(to, seed), !csum_partial(&from, 0)),
        (true, false) => csum_partial(to, seed),
        (false, true) => !csum_partial(&from, !seed),
        (true, true) => seed,
    };
    let s = (sum & 0xffff) + (sum >> 16);
    Ok(((s & 0xffff) + (s >> 16)) as u64)
}

fn redirect(kind: ContextKind, [_ifindex, flags, ..]: [u64; 5]) -> u64 {
    const BPF_F_INGRESS: u64 = 1;
    match kind {
        ContextKind::XdpMd if flags != 0 => 0, // XDP_ABORTED
        ContextKind::XdpMd => 4,               // XDP_REDIRECT
        ContextKind::SkBuff if flags & !BPF_F_INGRESS != 0 => 2, // TC_ACT_SHOT
        ContextKind::SkBuff => 7,              // TC_ACT_REDIRECT
    }
}
