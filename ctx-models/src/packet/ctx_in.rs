//! A context given with the packet (`--ctx FILE`), as `BPF_PROG_TEST_RUN`'s `ctx_in`,
//! and the context returned after the run (`ctx_out`). Checked against the kernel by
//! `tests/ctx_kernel.rs`.
//!
//! `__sk_buff`: only `mark`, `priority`, `ingress_ifindex`, `ifindex` (0 or 1: lo; other
//! devices are not modelled), `cb`, `tstamp`, `wire_len` (0 means `len`, else at least
//! `len` and at most 65536), `gso_segs` (at most 65535), `gso_size` and `hwtstamp` may be
//! non-zero; the
//! struct may be shorter than 192 bytes, and bytes past it must be zero. Back come those
//! fields, `len` and the rest zero.
//!
//! `bpf_flow_keys` (flow dissector): only `flags` may be non-zero; it is what the
//! program finds in `flow_keys->flags`, and `ctx_out` is `ctx_in` unchanged.
//!
//! `xdp_md`: `data` is the length of metadata that starts the packet bytes (a multiple
//! of 4), `data_end` the packet's length (the kernel accepts others, with results not
//! modelled here), `data_meta` and `egress_ifindex` 0,
//! `ingress_ifindex` 0 or 1, `rx_queue_index` 0 (lo has one queue). Back come `data`
//! and `data_end` relative to `data_meta`, and the two indexes as given (the program
//! reads lo's, 1 and 0, either way).

use super::{get32, put32, PacketContext, PacketError, XDP_HEADROOM};
use crate::access::ContextKind;
use crate::layout::{flow_keys, skb, xdp};
use crate::ProgramType;

/// `__sk_buff` fields `ctx_in` may set: (offset, size).
const SKB_IN: &[(usize, usize)] = &[
    (skb::MARK, 4),
    (skb::PRIORITY, 4),
    (36, 4), // ingress_ifindex
    (skb::IFINDEX, 4),
    (skb::CB, 20),
    (skb::TSTAMP, 8),
    (skb::WIRE_LEN, 4),
    (164, 4), // gso_segs
    (GSO_SIZE, 4),
    (skb::HWTSTAMP, 8),
];

/// `gso_size` (16 bits in the kernel's `skb_shared_info`).
const GSO_SIZE: usize = 176;

fn invalid(ty: ProgramType, why: impl Into<String>) -> PacketError {
    PacketError::Context {
        ty,
        why: why.into(),
    }
}

impl PacketContext {
    /// [`PacketContext::new`] with `ctx_in`, the uapi context the kernel's test run
    /// accepts next to the packet.
    pub fn with_ctx(
        ty: ProgramType,
        packet: &[u8],
        ctx_in: &[u8],
    ) -> Result<PacketContext, PacketError> {
        let kind = ContextKind::of(ty).ok_or(PacketError::NotPacketType(ty))?;
        if ty == ProgramType::SkSkb {
            return Err(PacketError::Unsupported(
                "a context given with an sk_skb payload (the kernel has no test run to take one)"
                    .into(),
            ));
        }
        let size = match kind {
            ContextKind::SkBuff if ty == ProgramType::FlowDissector => flow_keys::SIZE,
            ContextKind::SkBuff => skb::SIZE,
            ContextKind::XdpMd => xdp::SIZE,
        };
        if ctx_in.iter().skip(size).any(|&b| b != 0) {
            return Err(invalid(
                ty,
                format!("bytes past the {size}-byte struct must be 0"),
            ));
        }
        let mut uapi = vec![0u8; size];
        let n = ctx_in.len().min(size);
        uapi[..n].copy_from_slice(&ctx_in[..n]);
        match kind {
            ContextKind::SkBuff if ty == ProgramType::FlowDissector => flow_keys_in(packet, &uapi),
            ContextKind::SkBuff => skb_in(ty, packet, &uapi),
            ContextKind::XdpMd => xdp_in(packet, &uapi),
        }
    }

    /// The context as the kernel's test run returns it (`ctx_out`).
    pub fn ctx_out(&self) -> Vec<u8> {
        if self.ty == ProgramType::FlowDissector {
            // The kernel returns ctx_in as it was; only flags can be non-zero.
            let mut out = vec![0u8; flow_keys::SIZE];
            put32(&mut out, flow_keys::FLAGS, self.flags_given);
            return out;
        }
        match self.kind {
            ContextKind::SkBuff => {
                let mut out = vec![0u8; skb::SIZE];
                for &(off, len) in SKB_IN {
                    out[off..off + len].copy_from_slice(&self.ctx[off..off + len]);
                }
                put32(&mut out, GSO_SIZE, get32(&self.ctx, skb::GSO_SIZE_GIVEN));
                out
            }
            ContextKind::XdpMd => {
                let meta = get32(&self.ctx, xdp::FRAME_META);
                let mut out = vec![0u8; xdp::SIZE];
                put32(
                    &mut out,
                    xdp::DATA,
                    get32(&self.ctx, xdp::FRAME_DATA).wrapping_sub(meta),
                );
                put32(
                    &mut out,
                    xdp::DATA_END,
                    get32(&self.ctx, xdp::FRAME_END).wrapping_sub(meta),
                );
                put32(&mut out, xdp::INGRESS_IFINDEX, self.xdp_given[0]);
                put32(&mut out, xdp::RX_QUEUE_INDEX, self.xdp_given[1]);
                out
            }
        }
    }
}

fn skb_in(ty: ProgramType, packet: &[u8], uapi: &[u8]) -> Result<PacketContext, PacketError> {
    let settable = |off: usize| SKB_IN.iter().any(|&(o, len)| (o..o + len).contains(&off));
    if let Some(off) = (0..skb::SIZE).find(|&off| uapi[off] != 0 && !settable(off)) {
        return Err(invalid(ty, format!("__sk_buff byte {off} may not be set")));
    }
    let ifindex = get32(uapi, skb::IFINDEX);
    if ifindex > 1 {
        return Err(PacketError::Unsupported(
            "an ifindex other than lo's (1) in --ctx".into(),
        ));
    }
    if get32(uapi, 164) > 65535 {
        return Err(invalid(ty, "gso_segs above 65535"));
    }
    let mut context = PacketContext::new(ty, packet)?;
    for &(off, len) in SKB_IN {
        if off != skb::IFINDEX {
            context.ctx[off..off + len].copy_from_slice(&uapi[off..off + len]);
        }
    }
    // The kernel keeps gso_size in 16 bits (programs read those) and returns the
    // value given in ctx_out.
    let gso_size = get32(uapi, GSO_SIZE);
    put32(&mut context.ctx, skb::GSO_SIZE_GIVEN, gso_size);
    put32(&mut context.ctx, GSO_SIZE, gso_size & 0xffff);
    let len = get32(&context.ctx, skb::LEN);
    match get32(uapi, skb::WIRE_LEN) {
        0 => put32(&mut context.ctx, skb::WIRE_LEN, len),
        w if w < len || w > 65536 => {
            return Err(invalid(ty, format!("wire_len {w} is not in [len, 65536]")))
        }
        _ => {}
    }
    Ok(context)
}

fn flow_keys_in(packet: &[u8], uapi: &[u8]) -> Result<PacketContext, PacketError> {
    let ty = ProgramType::FlowDissector;
    let flags = flow_keys::FLAGS..flow_keys::FLAGS + 4;
    if let Some(off) = (0..flow_keys::SIZE).find(|&off| uapi[off] != 0 && !flags.contains(&off)) {
        return Err(invalid(
            ty,
            format!("bpf_flow_keys byte {off} may not be set"),
        ));
    }
    PacketContext::new(ty, packet)?;
    Ok(PacketContext::flow_dissector(
        packet,
        get32(uapi, flow_keys::FLAGS),
    ))
}

fn xdp_in(packet: &[u8], uapi: &[u8]) -> Result<PacketContext, PacketError> {
    let ty = ProgramType::Xdp;
    let metalen = get32(uapi, xdp::DATA) as usize;
    let data_end = get32(uapi, xdp::DATA_END) as usize;
    if get32(uapi, xdp::DATA_META) != 0 || get32(uapi, xdp::EGRESS_IFINDEX) != 0 {
        return Err(invalid(ty, "data_meta and egress_ifindex must be 0"));
    }
    if data_end != packet.len() {
        // The kernel runs these, but what it then returns in ctx_out is not modelled.
        return Err(PacketError::Unsupported(
            "an xdp_md whose data_end is not the packet's length in --ctx".into(),
        ));
    }
    if metalen > packet.len() {
        return Err(invalid(ty, "data beyond the packet"));
    }
    if metalen % 4 != 0 || metalen > XDP_HEADROOM - super::XDP_FRAME_RESERVED {
        return Err(invalid(ty, format!("{metalen} bytes of metadata")));
    }
    if get32(uapi, xdp::INGRESS_IFINDEX) > 1 {
        return Err(PacketError::Unsupported(
            "an ingress_ifindex other than lo's (1) in --ctx".into(),
        ));
    }
    if get32(uapi, xdp::RX_QUEUE_INDEX) != 0 {
        return Err(invalid(ty, "rx_queue_index must be 0 (lo has one queue)"));
    }
    let mut context = PacketContext::new(ty, &packet[metalen..])?;
    // The metadata sits just before data.
    let meta = XDP_HEADROOM - metalen;
    context.buf[meta..XDP_HEADROOM].copy_from_slice(&packet[..metalen]);
    context.meta = meta;
    put32(&mut context.ctx, xdp::FRAME_META, meta as u32);
    context.xdp_given = [
        get32(uapi, xdp::INGRESS_IFINDEX),
        get32(uapi, xdp::RX_QUEUE_INDEX),
    ];
    Ok(context)
}
