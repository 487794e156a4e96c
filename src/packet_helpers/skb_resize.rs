//! The socket-buffer helpers that change the packet's size or headers, as the kernel's
//! test run gives them (net/core/filter.c's rules, every case compared with the running
//! kernel by `tests/packet_helpers_kernel.rs`):
//!
//! - `skb_change_tail` (38): `len` to `new_len`, zero-filled when it grows; `-EINVAL`
//!   for flags, or `new_len` below the network header's offset or above
//!   [`SKB_MAX_LEN`]; then `-ENOTSUPP` for an encapsulated packet.
//! - `skb_change_head` (43): `head_room` zeroed bytes before `data` (the MAC header
//!   starts there again, so the network header's offset grows); `-EINVAL` for flags or
//!   past [`SKB_MAX_LEN`].
//! - `skb_vlan_push` (18): the tag goes into `vlan_present/vlan_tci/vlan_proto` (the
//!   packet's bytes do not change); a tag already there is first written into the
//!   packet after the MAC addresses and `protocol` becomes its protocol. A protocol
//!   other than 802.1Q/802.1ad is taken as 802.1Q. `skb_vlan_pop` (19): clears that tag,
//!   or removes the packet's own outer tag (`protocol` from the inner EtherType, 802.3
//!   rules below 0x600); an inner tag left behind moves into the fields.
//! - `skb_change_proto` (31): IPv4 to IPv6 inserts 20 zeroed bytes at the network
//!   header, IPv6 to IPv4 removes 20; `protocol` changes, `hash` is cleared, the
//!   headers' contents are the program's job; anything else `-ENOTSUPP`.
//! - `skb_change_type` (32): `pkt_type`, up to `PACKET_OTHERHOST` (3).
//! - `skb_adjust_room` (50): grows or shrinks room after the MAC header
//!   (`BPF_ADJ_ROOM_MAC`) or after the fixed IPv4/IPv6 header (`BPF_ADJ_ROOM_NET`) of an
//!   IP packet, with `BPF_F_ADJ_ROOM_FIXED_GSO`, `_NO_CSUM_RESET` and `_DECAP_L3_*`
//!   (which set `protocol`). Growing with an outer L3 flag (`_ENCAP_L3_IPV4/IPV6`,
//!   with `_ENCAP_L4_GRE/UDP`, `_ENCAP_L2_ETH`, `_ENCAP_L2(len)`) encapsulates, as
//!   `bpf_skb_net_grow` does: the same zeroed room, `protocol` following the outer
//!   header, and the packet marked encapsulated ([`skb::ENCAPSULATION`]: a second
//!   encapsulation gives `-EALREADY`, `skb_change_tail` `-ENOTSUPP`); the inner
//!   headers' offsets the kernel records are invisible to programs and not modelled.
//!   Without an L3 flag the L4 and L2 flags change nothing.
//!
//! `data` stays where it is and `data_end`/`len` follow the new length: the kernel's
//! verifier makes programs reload packet pointers after these calls, and the bytes are
//! the same. The network and MAC headers' offsets from `data` live in the model
//! ([`skb::NET_OFFSET`], [`skb::MAC_OFFSET`]).

use super::{packet, EFAULT, EINVAL, ENOMEM, ENOTSUPP};
use crate::ctx::layout::skb;
use crate::ctx::{ContextKind, ETH_HLEN, SKB_MAX_LEN};
use crate::vm::{HelperContext, HelperError};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const VLAN_HLEN: usize = 4;
const MAX_LEN: usize = SKB_MAX_LEN;

/// A socket buffer seen through its context: the packet from `data` and the fields
/// the helpers change.
struct Skb {
    ctx: u64,
    /// The frame offset of `data` (0 for tc, 14 for types that start at layer 3).
    data_offset: usize,
    bytes: Vec<u8>,
}

impl Skb {
    fn read(c: &HelperContext<'_, '_>, ctx: u64, data_offset: usize) -> Result<Skb, HelperError> {
        let (data, len) = packet(c, ContextKind::SkBuff, ctx)?;
        let bytes = c.read(data, len)?.to_vec();
        Ok(Skb {
            ctx,
            data_offset,
            bytes,
        })
    }

    fn get32(&self, c: &HelperContext<'_, '_>, field: usize) -> Result<u32, HelperError> {
        let bytes = c.read(self.ctx.wrapping_add(field as u64), 4)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    fn put32(
        &self,
        c: &mut HelperContext<'_, '_>,
        field: usize,
        v: u32,
    ) -> Result<(), HelperError> {
        c.write(self.ctx.wrapping_add(field as u64), &v.to_le_bytes())
    }

    /// `protocol` as a number (the field holds it in network byte order).
    fn protocol(&self, c: &HelperContext<'_, '_>) -> Result<u16, HelperError> {
        Ok((self.get32(c, skb::PROTOCOL)? as u16).swap_bytes())
    }

    fn set_protocol(&self, c: &mut HelperContext<'_, '_>, p: u16) -> Result<(), HelperError> {
        self.put32(c, skb::PROTOCOL, p.swap_bytes() as u32)
    }

    fn net_offset(&self, c: &HelperContext<'_, '_>) -> Result<usize, HelperError> {
        Ok(self.get32(c, skb::NET_OFFSET)? as usize)
    }

    /// Moves a set transport header's offset from `data` by `delta` bytes pushed
    /// (positive) or pulled (negative) before it: the kernel's header stays where it
    /// is in the buffer while `data` moves. With `net_hdr` (`bpf_skb_net_hdr_push` and
    /// `_pop`, which leave the network header's offset alone) a header at the network
    /// header stays with it.
    fn shift_transport(
        &self,
        c: &mut HelperContext<'_, '_>,
        delta: isize,
        net_hdr: bool,
    ) -> Result<(), HelperError> {
        let at = self.get32(c, skb::TRANSPORT_OFFSET)? as isize;
        if at == 0 || (net_hdr && at == self.net_offset(c)? as isize) {
            return Ok(());
        }
        self.put32(c, skb::TRANSPORT_OFFSET, (at + delta).max(0) as u32)
    }

    /// Makes `bytes` the packet: the packet region's window and `data_end` follow,
    /// `len` is set.
    fn write(&self, c: &mut HelperContext<'_, '_>, bytes: &[u8]) -> Result<(), HelperError> {
        let region = u64::from_le_bytes(
            c.read(self.ctx.wrapping_add(skb::SLOT_DATA as u64), 8)?
                .try_into()
                .expect("8 bytes"),
        );
        let start = self.data_offset;
        if !c.memory().set_window(region, start, start + bytes.len()) {
            return Err(HelperError::Fault(
                "the packet region has no room for the new length".into(),
            ));
        }
        c.write(region, bytes)?;
        let end = region + bytes.len() as u64;
        c.write(
            self.ctx.wrapping_add(skb::SLOT_DATA_END as u64),
            &end.to_le_bytes(),
        )?;
        self.put32(c, skb::LEN, bytes.len() as u32)
    }
}

/// `bytes` with `len` zeroed bytes inserted at `off`.
fn insert(bytes: &[u8], off: usize, len: usize) -> Vec<u8> {
    let off = off.min(bytes.len());
    [&bytes[..off], &vec![0; len], &bytes[off..]].concat()
}

/// `bytes` without `[off, off + len)`.
fn remove(bytes: &[u8], off: usize, len: usize) -> Vec<u8> {
    let end = (off + len).min(bytes.len());
    [&bytes[..off.min(end)], &bytes[end..]].concat()
}

pub(super) fn change_tail(
    c: &mut HelperContext<'_, '_>,
    data_offset: usize,
    [ctx, new_len, flags, ..]: [u64; 5],
) -> Result<u64, HelperError> {
    let s = Skb::read(c, ctx, data_offset)?;
    let new_len = new_len as u32 as usize;
    // The lowest end is the transport header when set, else the network header.
    let min_len = match s.get32(c, skb::TRANSPORT_OFFSET)? as usize {
        0 => s.net_offset(c)?,
        transport => transport,
    };
    if flags != 0 || new_len > MAX_LEN || new_len < min_len {
        return Ok(EINVAL);
    }
    if s.get32(c, skb::ENCAPSULATION)? != 0 {
        return Ok(ENOTSUPP);
    }
    let mut bytes = s.bytes.clone();
    bytes.resize(new_len, 0);
    s.write(c, &bytes)?;
    Ok(0)
}

pub(super) fn change_head(
    c: &mut HelperContext<'_, '_>,
    data_offset: usize,
    [ctx, head_room, flags, ..]: [u64; 5],
) -> Result<u64, HelperError> {
    let s = Skb::read(c, ctx, data_offset)?;
    let head_room = head_room as u32 as usize;
    if flags != 0 || s.bytes.len() + head_room > MAX_LEN {
        return Ok(EINVAL);
    }
    s.write(c, &insert(&s.bytes, 0, head_room))?;
    s.shift_transport(c, head_room as isize, false)?;
    // The MAC header is reset to the new data; the network header stays put.
    let net = s.net_offset(c)? + head_room;
    s.put32(c, skb::NET_OFFSET, net as u32)?;
    s.put32(c, skb::MAC_OFFSET, 0)?;
    Ok(0)
}

fn is_vlan(protocol: u16) -> bool {
    matches!(protocol, ETH_P_8021Q | ETH_P_8021AD)
}

pub(super) fn vlan_push(
    c: &mut HelperContext<'_, '_>,
    [ctx, proto, tci, ..]: [u64; 5],
) -> Result<u64, HelperError> {
    let s = Skb::read(c, ctx, 0)?;
    let mut proto = (proto as u16).swap_bytes();
    if !is_vlan(proto) {
        proto = ETH_P_8021Q;
    }
    if s.get32(c, skb::VLAN_PRESENT)? != 0 {
        // The tag already accelerated goes into the packet, after the MAC addresses.
        let old_proto = (s.get32(c, skb::VLAN_PROTO)? as u16).swap_bytes();
        let old_tci = s.get32(c, skb::VLAN_TCI)? as u16;
        if s.bytes.len() < ETH_HLEN {
            return Ok(ENOMEM);
        }
        let mut bytes = insert(&s.bytes, 2 * 6, VLAN_HLEN);
        bytes[12..14].copy_from_slice(&old_proto.to_be_bytes());
        bytes[14..16].copy_from_slice(&old_tci.to_be_bytes());
        s.write(c, &bytes)?;
        s.shift_transport(c, VLAN_HLEN as isize, false)?;
        s.set_protocol(c, old_proto)?;
    }
    s.put32(c, skb::VLAN_PRESENT, 1)?;
    s.put32(c, skb::VLAN_TCI, tci as u16 as u32)?;
    s.put32(c, skb::VLAN_PROTO, proto.swap_bytes() as u32)?;
    Ok(0)
}

/// Removes the packet's outer VLAN header (`__skb_vlan_pop`): its TCI, or an error.
fn pop_tag(c: &mut HelperContext<'_, '_>, s: &mut Skb) -> Result<Result<u16, u64>, HelperError> {
    if s.bytes.len() < ETH_HLEN + VLAN_HLEN {
        return Ok(Err(ENOMEM));
    }
    let tci = u16::from_be_bytes([s.bytes[14], s.bytes[15]]);
    let inner = u16::from_be_bytes([s.bytes[16], s.bytes[17]]);
    let protocol = if inner >= 0x600 {
        inner
    } else if s.bytes.get(18..20) == Some(&[0xff, 0xff]) {
        0x0001 // ETH_P_802_3
    } else {
        0x0004 // ETH_P_802_2
    };
    s.bytes = remove(&s.bytes, 2 * 6, VLAN_HLEN);
    s.write(c, &s.bytes)?;
    s.shift_transport(c, -(VLAN_HLEN as isize), false)?;
    s.set_protocol(c, protocol)?;
    let net = s.net_offset(c)?.saturating_sub(VLAN_HLEN).max(ETH_HLEN);
    s.put32(c, skb::NET_OFFSET, net as u32)?;
    Ok(Ok(tci))
}

pub(super) fn vlan_pop(
    c: &mut HelperContext<'_, '_>,
    [ctx, ..]: [u64; 5],
) -> Result<u64, HelperError> {
    let mut s = Skb::read(c, ctx, 0)?;
    if s.get32(c, skb::VLAN_PRESENT)? != 0 {
        for field in [skb::VLAN_PRESENT, skb::VLAN_TCI, skb::VLAN_PROTO] {
            s.put32(c, field, 0)?;
        }
    } else {
        if !is_vlan(s.protocol(c)?) {
            return Ok(0);
        }
        if let Err(e) = pop_tag(c, &mut s)? {
            return Ok(e);
        }
    }
    // An inner tag moves into the fields.
    let proto = s.protocol(c)?;
    if !is_vlan(proto) {
        return Ok(0);
    }
    match pop_tag(c, &mut s)? {
        Ok(tci) => {
            s.put32(c, skb::VLAN_PRESENT, 1)?;
            s.put32(c, skb::VLAN_TCI, tci as u32)?;
            s.put32(c, skb::VLAN_PROTO, proto.swap_bytes() as u32)?;
            Ok(0)
        }
        Err(e) => Ok(e),
    }
}

pub(super) fn change_type(
    c: &mut HelperContext<'_, '_>,
    [ctx, pkt_type, ..]: [u64; 5],
) -> Result<u64, HelperError> {
    const PACKET_OTHERHOST: u64 = 3;
    let current = c.read(ctx.wrapping_add(skb::PKT_TYPE as u64), 4)?;
    let current = u32::from_le_bytes(current.try_into().expect("4 bytes")) as u64;
    let pkt_type = pkt_type as u32 as u64;
    if current > PACKET_OTHERHOST || pkt_type > PACKET_OTHERHOST {
        return Ok(EINVAL);
    }
    c.write(
        ctx.wrapping_add(skb::PKT_TYPE as u64),
        &(pkt_type as u32).to_le_bytes(),
    )?;
    Ok(0)
}

pub(super) fn change_proto(
    c: &mut HelperContext<'_, '_>,
    [ctx, proto, flags, ..]: [u64; 5],
) -> Result<u64, HelperError> {
    const LEN_DIFF: usize = 40 - 20;
    if flags != 0 {
        return Ok(EINVAL);
    }
    let s = Skb::read(c, ctx, 0)?;
    let (from, to) = (s.protocol(c)?, (proto as u16).swap_bytes());
    let off = s.net_offset(c)?;
    let (bytes, delta) = match (from, to) {
        (ETH_P_IP, ETH_P_IPV6) => (insert(&s.bytes, off, LEN_DIFF), LEN_DIFF as isize),
        (ETH_P_IPV6, ETH_P_IP) if off + LEN_DIFF > s.bytes.len() => return Ok(ENOMEM),
        (ETH_P_IPV6, ETH_P_IP) => (remove(&s.bytes, off, LEN_DIFF), -(LEN_DIFF as isize)),
        _ => return Ok(ENOTSUPP),
    };
    s.write(c, &bytes)?;
    s.shift_transport(c, delta, true)?;
    s.set_protocol(c, to)?;
    s.put32(c, skb::HASH, 0)?;
    Ok(0)
}

/// `BPF_F_ADJ_ROOM_*` (linux/bpf.h).
const FIXED_GSO: u64 = 1;
const ENCAP_L3_IPV4: u64 = 2;
const ENCAP_L3_IPV6: u64 = 4;
const ENCAP_L3: u64 = ENCAP_L3_IPV4 | ENCAP_L3_IPV6;
const ENCAP_L4_GRE: u64 = 8;
const ENCAP_L4_UDP: u64 = 16;
const NO_CSUM_RESET: u64 = 32;
const ENCAP_L2_ETH: u64 = 64;
const DECAP_IPV4: u64 = 128;
const DECAP_IPV6: u64 = 256;
const DECAP: u64 = DECAP_IPV4 | DECAP_IPV6;
/// `BPF_F_ADJ_ROOM_ENCAP_L2(len)`: the inner MAC header's length in the top byte.
const ENCAP_L2_SHIFT: u32 = 56;
const ENCAP: u64 = ENCAP_L3 | ENCAP_L4_GRE | ENCAP_L4_UDP | ENCAP_L2_ETH | (0xff << 56);
const EALREADY: u64 = (-114i64) as u64;

/// `skb_adjust_room(skb, len_diff, mode, flags)`.
pub(super) fn adjust_room(
    c: &mut HelperContext<'_, '_>,
    [ctx, len_diff, mode, flags]: [u64; 4],
) -> Result<u64, HelperError> {
    if flags & !(FIXED_GSO | ENCAP | NO_CSUM_RESET | DECAP) != 0 {
        return Ok(EINVAL);
    }
    let len_diff = len_diff as i32;
    let shrink = len_diff < 0;
    let diff = len_diff.unsigned_abs() as usize;
    if diff > 0xfff {
        return Ok(EFAULT);
    }
    let s = Skb::read(c, ctx, 0)?;
    let protocol = s.protocol(c)?;
    let base_len = match protocol {
        ETH_P_IP => 20,
        ETH_P_IPV6 => 40,
        _ => return Ok(ENOTSUPP),
    };
    let net = s.net_offset(c)?;
    let off = match mode as u32 {
        0 => net + base_len, // BPF_ADJ_ROOM_NET
        1 => net,            // BPF_ADJ_ROOM_MAC
        _ => return Ok(ENOTSUPP),
    };
    let mut len_min = base_len;
    if flags & DECAP != 0 {
        if !shrink {
            return Ok(EINVAL);
        }
        len_min = match flags & DECAP {
            DECAP_IPV4 => 20,
            DECAP_IPV6 => 40,
            _ => return Ok(EINVAL),
        };
    }
    let len = s.bytes.len();
    let len_cur = len.saturating_sub(net);
    let too_far = if shrink {
        diff >= len_cur || len_cur - diff < len_min
    } else {
        len + diff > MAX_LEN
    };
    if too_far {
        return Ok(ENOTSUPP);
    }
    if shrink {
        if flags & !(FIXED_GSO | DECAP | NO_CSUM_RESET) != 0 {
            return Ok(EINVAL);
        }
        if off + diff > len {
            return Ok(ENOMEM);
        }
        s.write(c, &remove(&s.bytes, off, diff))?;
        s.shift_transport(c, -(diff as isize), true)?;
        match flags & DECAP {
            DECAP_IPV4 => s.set_protocol(c, ETH_P_IP)?,
            DECAP_IPV6 => s.set_protocol(c, ETH_P_IPV6)?,
            _ => {}
        }
        return Ok(0);
    }
    // Only an outer L3 flag makes the room an encapsulation: the L4 and L2 flags
    // alone change nothing.
    let encap = flags & ENCAP_L3 != 0;
    if encap {
        if let Some(errno) = encap_refusal(c, &s, diff, flags)? {
            return Ok(errno);
        }
    }
    s.write(c, &insert(&s.bytes, off, diff))?;
    s.shift_transport(c, diff as isize, true)?;
    if encap {
        // The inner headers' offsets are the kernel's only (programs cannot see
        // them); what shows is the mark that the packet is encapsulated, the outer
        // L4 header as the transport header (`skb_change_tail`'s lower bound) and
        // `protocol` following the new outer header.
        s.put32(c, skb::ENCAPSULATION, 1)?;
        if flags & (ENCAP_L4_GRE | ENCAP_L4_UDP) != 0 {
            let outer_l3 = if flags & ENCAP_L3_IPV6 != 0 { 40 } else { 20 };
            s.put32(c, skb::TRANSPORT_OFFSET, (net + outer_l3) as u32)?;
        }
        match (protocol, flags & ENCAP_L3) {
            (ETH_P_IP, ENCAP_L3_IPV6) => s.set_protocol(c, ETH_P_IPV6)?,
            (ETH_P_IPV6, ENCAP_L3_IPV4) => s.set_protocol(c, ETH_P_IP)?,
            _ => {}
        }
    }
    Ok(0)
}

/// Why `bpf_skb_net_grow` refuses an encapsulation, in its order: both outer L3
/// protocols or both L4 protocols (`-EINVAL`), `ENCAP_L2_ETH` with an inner MAC header
/// shorter than Ethernet's (`-EINVAL`), a packet already encapsulated
/// (`-EALREADY`), an inner MAC header longer than the room (`-EINVAL`).
fn encap_refusal(
    c: &HelperContext<'_, '_>,
    s: &Skb,
    diff: usize,
    flags: u64,
) -> Result<Option<u64>, HelperError> {
    let inner_mac_len = (flags >> ENCAP_L2_SHIFT) as usize;
    let both = |pair: u64| flags & pair == pair;
    let short_eth = flags & ENCAP_L2_ETH != 0 && inner_mac_len < ETH_HLEN;
    Ok(
        if both(ENCAP_L3) || both(ENCAP_L4_GRE | ENCAP_L4_UDP) || short_eth {
            Some(EINVAL)
        } else if s.get32(c, skb::ENCAPSULATION)? != 0 {
            Some(EALREADY)
        } else if inner_mac_len > diff {
            Some(EINVAL)
        } else {
            None
        },
    )
}
