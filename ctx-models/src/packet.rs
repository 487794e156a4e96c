//! Contexts built from a packet the way the kernel's `BPF_PROG_TEST_RUN` builds them
//! (net/bpf/test_run.c), so a program sees the same field values and returns the same
//! packet here as in the kernel. Every fact below was checked against the running kernel
//! (`tests/ctx_kernel.rs`).
//!
//! # Socket-buffer types
//! The packet is an Ethernet frame received on the loopback device: at least 14 bytes
//! (34 with EtherType IPv4, 54 with IPv6, which need a whole IP header) and at most
//! 3712 (a page less the skb's headroom and shared info). `eth_type_trans` gives
//! `protocol` (the EtherType, or 802.3/802.2 below 0x600) and `pkt_type` from the
//! destination MAC (lo's address and broadcast address are both all-zero, so
//! `ff:ff:ff:ff:ff:ff` is *multicast*, 2; all-zero is host, 0; other multicast 2; else
//! other host, 3); `ifindex` is 1 (lo), `len` the bytes from `data` on. `sched_cls` and
//! `sched_act` see the packet from the MAC header; the other types from the network
//! header (`data` = 14 bytes in), and the 14 bytes before `data` come back as zeros after
//! the run. The test run's socket gives `family` (AF_INET 2 or AF_INET6 10) and the
//! addresses (`remote_*` = destination, `local_*` = source, bytes as in the header) that
//! `cgroup_skb` may read; every other field starts at 0 and `data_meta` equals `data`.
//! The frame has room for the packet to grow to [`SKB_MAX_LEN`] bytes from `data` (the
//! limit of the resizing helpers in the test run); `data` stays where it is and
//! `data_end` is `data + len`, so the packet after the run is read from `len`.
//!
//! # sk_skb
//! A stream payload received on a socket, not a frame (`sk_skb.rs`, modelled from the
//! source: the kernel cannot test-run the type).
//!
//! # Flow dissector
//! The packet is an Ethernet frame of 14 to 4096 bytes, copied as it is (no skb, no
//! headroom): `data` is its first byte, `data_end` its end, and `flow_keys` points to a
//! zeroed `struct bpf_flow_keys` (its own region) with `nhoff` = `thoff` = 14,
//! `n_proto` the EtherType and `flags` from `ctx_in`. After the run the kernel clamps
//! `nhoff` into `[14, len]` and `thoff` into `[nhoff, len]` and returns the flow keys
//! as the packet out; its `retval` is the program's (low 32 bits).
//!
//! # XDP
//! At least 14 bytes; `data` sits after 256 bytes of headroom in a 3776-byte frame (a
//! page less the shared info), `data_meta` = `data`, `ingress_ifindex` 1 (lo),
//! `rx_queue_index` 0. Only the first 3520 bytes are linear (reachable from
//! `data_end`); the rest comes back unchanged. The packet after the run is `data_meta`
//! to `data_end` (metadata included), then that rest. The adjust helpers move `data_meta`, `data` and
//! `data_end` inside the frame: `data_meta` no lower than 40 (the kernel keeps a
//! `struct xdp_frame` there), `data_end` no higher than 3776 and at least 14 bytes
//! after `data`.

mod ctx_in;
mod sk_skb;

use crate::access::ContextKind;
use crate::layout::{flow_keys, skb, xdp};
use crate::ProgramType;

/// Bytes of the Ethernet header.
pub const ETH_HLEN: usize = 14;
/// Largest packet the kernel's test run accepts for socket-buffer types.
pub const SKB_MAX: usize = 3712;
/// Largest `len` the resizing helpers (`skb_change_tail`, `skb_change_head`,
/// `skb_adjust_room`) give a test run's socket buffer: `SKB_MAX_ALLOC`, four pages less
/// the shared info (the test run's buffer has no device for an MTU).
pub const SKB_MAX_LEN: usize = 16064;
/// Room past [`SKB_MAX_LEN`] for headers that `skb_vlan_push` and `skb_change_proto`
/// add without checking the limit.
const SKB_HEADER_SLACK: usize = 1024;
/// XDP headroom before `data`.
pub const XDP_HEADROOM: usize = 256;
/// Bytes of an XDP frame reachable through `data_end`.
pub const XDP_MAX_LINEAR: usize = 3520;
/// Bytes of the XDP frame buffer: `data_end` can grow up to here.
pub const XDP_FRAME: usize = XDP_HEADROOM + XDP_MAX_LINEAR;
/// Bytes at the start of the XDP frame `data_meta` may not go below.
pub const XDP_FRAME_RESERVED: usize = 40;
/// Largest packet the kernel's test run accepts for flow dissectors (a page).
pub const FLOW_DISSECTOR_MAX: usize = 4096;

/// Why no context can be built (the kernel's test run fails with EINVAL too).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Too short or too long for the type.
    #[error(
        "a {len}-byte packet is refused for {ty}: {why} (the kernel's test run fails with EINVAL)"
    )]
    Size {
        /// The program type.
        ty: ProgramType,
        /// The packet's length.
        len: usize,
        /// The limit broken.
        why: String,
    },
    /// The type has no packet context (yet).
    #[error("program type {0} does not run on a packet here")]
    NotPacketType(ProgramType),
    /// A context given with the packet that the kernel's test run refuses.
    #[error("the context given is refused for {ty}: {why} (the kernel's test run refuses it too)")]
    Context {
        /// The program type.
        ty: ProgramType,
        /// What is wrong.
        why: String,
    },
    /// Something the kernel accepts that this model does not run yet.
    #[error("{0} is not supported yet")]
    Unsupported(String),
}

/// A program's context and packet for one run, and the packet after it.
#[derive(Clone, Debug)]
pub struct PacketContext {
    ty: ProgramType,
    kind: ContextKind,
    /// The frame with its headroom.
    buf: Vec<u8>,
    /// XDP: the bytes past the linear part (fragments in the kernel).
    frags: Vec<u8>,
    /// Offsets in `buf`: `data_meta <= data <= data_end <= frame end`.
    meta: usize,
    data: usize,
    end: usize,
    /// Where the packet returned after the run starts (`data`, or the zeroed MAC
    /// header of non-L2 socket-buffer types).
    out_start: usize,
    /// The backing model of the context (see [`crate::layout`]).
    ctx: Vec<u8>,
    /// XDP: `ingress_ifindex` and `rx_queue_index` as given in `ctx_in`, which the
    /// kernel returns unchanged in `ctx_out`.
    xdp_given: [u32; 2],
    /// Flow dissector: the `struct bpf_flow_keys` behind `flow_keys` (else empty), and
    /// the flags given in `ctx_in`, which the kernel returns unchanged in `ctx_out`.
    flow_keys: Vec<u8>,
    flags_given: u32,
    /// Socket-buffer types: the `struct bpf_sock` behind `__sk_buff->sk` (the test
    /// run's dummy socket, or for `sk_skb` the socket given); empty: none.
    sock: Vec<u8>,
}

/// The pieces an engine maps for a run: the context model, the packet region
/// (`[data_meta, data_end)`), and what to write into the pointer slots once the packet
/// region's guest address is known.
pub struct Regions<'a> {
    /// The context's backing model.
    pub ctx: &'a mut [u8],
    /// The whole frame; the packet region is its `window`.
    pub frame: &'a mut [u8],
    /// `[data_meta, data_end)` in `frame`: the bytes the program may reach directly.
    pub window: (usize, usize),
    /// Whether the program may write the packet directly.
    pub packet_writable: bool,
    /// Whether legacy packet loads (`LD_ABS`/`LD_IND`) read this packet.
    pub legacy_loads: bool,
    /// (slot offset in `ctx`, offset in the window) for each pointer field.
    pub pointers: [(usize, usize); 3],
    /// Flow dissector: the flow keys, a region of their own whose guest address goes
    /// into `ctx` at the given offset (64 bits).
    pub flow_keys: Option<(&'a mut [u8], usize)>,
    /// Socket-buffer types: the `struct bpf_sock` behind `sk` (read-only), whose guest
    /// address goes into `ctx` at the given offset (64 bits).
    pub sock: Option<(&'a [u8], usize)>,
}

impl PacketContext {
    /// Builds `ty`'s context for `packet`, as `BPF_PROG_TEST_RUN` would.
    pub fn new(ty: ProgramType, packet: &[u8]) -> Result<PacketContext, PacketError> {
        let kind = ContextKind::of(ty).ok_or(PacketError::NotPacketType(ty))?;
        let size_error = |why: &str| PacketError::Size {
            ty,
            len: packet.len(),
            why: why.to_string(),
        };
        if ty == ProgramType::SkSkb {
            // A stream payload, not a frame.
            return PacketContext::sk_skb(packet, None);
        }
        if packet.len() < ETH_HLEN {
            return Err(size_error("shorter than an Ethernet header (14 bytes)"));
        }
        match kind {
            ContextKind::XdpMd => Ok(PacketContext::xdp(packet)),
            // Its access rules are modelled (and checked against the kernel's verifier),
            // but the kernel cannot test-run it: no reference for its context's values.
            ContextKind::SkBuff if ty == ProgramType::LwtSeg6local => {
                Err(PacketError::Unsupported(format!(
                    "running {ty} programs (the kernel cannot test-run them)"
                )))
            }
            ContextKind::SkBuff if ty == ProgramType::FlowDissector => {
                if packet.len() > FLOW_DISSECTOR_MAX {
                    return Err(size_error("longer than 4096 bytes"));
                }
                Ok(PacketContext::flow_dissector(packet, 0))
            }
            ContextKind::SkBuff => {
                if packet.len() > SKB_MAX {
                    return Err(size_error("longer than 3712 bytes"));
                }
                let ethertype = u16::from_be_bytes([packet[12], packet[13]]);
                if ethertype == 0x0800 && packet.len() < ETH_HLEN + 20 {
                    return Err(size_error("IPv4 needs a 20-byte header after Ethernet"));
                }
                if ethertype == 0x86dd && packet.len() < ETH_HLEN + 40 {
                    return Err(size_error("IPv6 needs a 40-byte header after Ethernet"));
                }
                Ok(PacketContext::skb(ty, packet))
            }
        }
    }

    fn xdp(packet: &[u8]) -> PacketContext {
        let linear = packet.len().min(XDP_MAX_LINEAR);
        let mut buf = vec![0; XDP_FRAME];
        buf[XDP_HEADROOM..XDP_HEADROOM + linear].copy_from_slice(&packet[..linear]);
        let end = XDP_HEADROOM + linear;
        let mut ctx = vec![0; xdp::MODEL_SIZE];
        put32(&mut ctx, xdp::INGRESS_IFINDEX, 1);
        put32(&mut ctx, xdp::FRAME_META, XDP_HEADROOM as u32);
        put32(&mut ctx, xdp::FRAME_DATA, XDP_HEADROOM as u32);
        put32(&mut ctx, xdp::FRAME_END, end as u32);
        PacketContext {
            ty: ProgramType::Xdp,
            kind: ContextKind::XdpMd,
            meta: XDP_HEADROOM,
            data: XDP_HEADROOM,
            end,
            out_start: XDP_HEADROOM,
            buf,
            frags: packet[linear..].to_vec(),
            ctx,
            xdp_given: [0; 2],
            flow_keys: Vec::new(),
            flags_given: 0,
            sock: Vec::new(),
        }
    }

    /// The flow dissector's context over `packet` (at least 14 bytes), with `flags`.
    fn flow_dissector(packet: &[u8], flags: u32) -> PacketContext {
        let mut keys = vec![0; flow_keys::SIZE];
        let nhoff = (ETH_HLEN as u16).to_le_bytes();
        keys[flow_keys::NHOFF..flow_keys::NHOFF + 2].copy_from_slice(&nhoff);
        keys[flow_keys::THOFF..flow_keys::THOFF + 2].copy_from_slice(&nhoff);
        // n_proto is big-endian, as the EtherType in the frame.
        keys[flow_keys::N_PROTO..flow_keys::N_PROTO + 2].copy_from_slice(&packet[12..14]);
        put32(&mut keys, flow_keys::FLAGS, flags);
        PacketContext {
            ty: ProgramType::FlowDissector,
            kind: ContextKind::SkBuff,
            buf: packet.to_vec(),
            frags: Vec::new(),
            meta: 0,
            data: 0,
            end: packet.len(),
            out_start: 0,
            ctx: vec![0; skb::MODEL_SIZE],
            xdp_given: [0; 2],
            flow_keys: keys,
            flags_given: flags,
            sock: Vec::new(),
        }
    }

    fn skb(ty: ProgramType, packet: &[u8]) -> PacketContext {
        let l2 = matches!(ty, ProgramType::SchedCls | ProgramType::SchedAct);
        let data = if l2 { 0 } else { ETH_HLEN };
        let payload = &packet[ETH_HLEN..];
        let mut ctx = vec![0; skb::MODEL_SIZE];
        put32(&mut ctx, skb::LEN, (packet.len() - data) as u32);
        put32(&mut ctx, skb::PKT_TYPE, pkt_type(&packet[..6]));
        let protocol = protocol(packet);
        // __sk_buff holds the 16-bit value in network byte order.
        ctx[skb::PROTOCOL..skb::PROTOCOL + 2].copy_from_slice(&protocol.to_be_bytes());
        put32(&mut ctx, skb::IFINDEX, 1);
        // The network header follows the MAC header.
        put32(&mut ctx, skb::NET_OFFSET, (ETH_HLEN - data) as u32);
        put32(
            &mut ctx,
            skb::MAC_OFFSET,
            (data as i32).wrapping_neg() as u32,
        );
        match protocol {
            0x0800 => {
                put32(&mut ctx, skb::FAMILY, 2);
                ctx[skb::REMOTE_IP4..skb::REMOTE_IP4 + 4].copy_from_slice(&payload[16..20]);
                ctx[skb::LOCAL_IP4..skb::LOCAL_IP4 + 4].copy_from_slice(&payload[12..16]);
            }
            0x86dd => {
                put32(&mut ctx, skb::FAMILY, 10);
                ctx[skb::REMOTE_IP6..skb::REMOTE_IP6 + 16].copy_from_slice(&payload[24..40]);
                ctx[skb::LOCAL_IP6..skb::LOCAL_IP6 + 16].copy_from_slice(&payload[8..24]);
            }
            _ => {}
        }
        // Room for the resizing helpers: SKB_MAX_LEN from data, and some more for the
        // helpers that add headers without that limit (a VLAN tag, IPv4 to IPv6).
        let mut buf = vec![0; data + SKB_MAX_LEN + SKB_HEADER_SLACK];
        buf[..packet.len()].copy_from_slice(packet);
        let sock = dummy_sock(&ctx);
        PacketContext {
            ty,
            kind: ContextKind::SkBuff,
            buf,
            frags: Vec::new(),
            meta: data,
            data,
            end: packet.len(),
            out_start: 0,
            ctx,
            xdp_given: [0; 2],
            flow_keys: Vec::new(),
            flags_given: 0,
            sock,
        }
    }

    /// The program type.
    pub fn prog_type(&self) -> ProgramType {
        self.ty
    }

    /// The context's backing model (the uapi struct's bytes first).
    pub fn context(&self) -> &[u8] {
        &self.ctx
    }

    /// The regions to map for a run.
    pub fn regions(&mut self) -> Regions<'_> {
        let (data, end) = (self.data - self.meta, self.end - self.meta);
        let pointers = match self.kind {
            ContextKind::XdpMd => [
                (xdp::SLOT_DATA, data),
                (xdp::SLOT_DATA_END, end),
                (xdp::SLOT_DATA_META, 0),
            ],
            ContextKind::SkBuff => [
                (skb::SLOT_DATA, data),
                (skb::SLOT_DATA_END, end),
                (skb::SLOT_DATA_META, 0),
            ],
        };
        Regions {
            ctx: &mut self.ctx,
            frame: &mut self.buf,
            window: (self.meta, self.end),
            packet_writable: matches!(
                self.ty,
                ProgramType::Xdp
                    | ProgramType::SchedCls
                    | ProgramType::SchedAct
                    | ProgramType::LwtXmit
                    | ProgramType::SkSkb
            ),
            legacy_loads: matches!(
                self.ty,
                ProgramType::SocketFilter | ProgramType::SchedCls | ProgramType::SchedAct
            ),
            pointers,
            flow_keys: (self.ty == ProgramType::FlowDissector)
                .then_some((&mut self.flow_keys[..], skb::FLOW_KEYS)),
            sock: (!self.sock.is_empty()).then_some((&self.sock[..], skb::SK)),
        }
    }

    /// The packet as the kernel's test run returns it (`data_out`).
    pub fn packet_out(&self) -> Vec<u8> {
        if self.ty == ProgramType::FlowDissector {
            return self.flow_keys_out();
        }
        match self.kind {
            ContextKind::XdpMd => {
                // Where the adjust helpers left data and data_end; the model is guest
                // memory, so a range that is not inside the frame yields nothing.
                let meta = get32(&self.ctx, xdp::FRAME_META) as usize;
                let end = get32(&self.ctx, xdp::FRAME_END) as usize;
                let mut out = self.buf.get(meta..end).unwrap_or_default().to_vec();
                out.extend_from_slice(&self.frags);
                out
            }
            ContextKind::SkBuff => {
                // The resizing helpers keep data in place and set len.
                let end = self.data + get32(&self.ctx, skb::LEN) as usize;
                let mut out = self
                    .buf
                    .get(self.out_start..end)
                    .unwrap_or_default()
                    .to_vec();
                if self.data == ETH_HLEN && out.len() >= ETH_HLEN {
                    out[..ETH_HLEN].fill(0);
                }
                out
            }
        }
    }
}

impl PacketContext {
    /// The flow keys after the run, `nhoff` and `thoff` clamped as the kernel clamps
    /// them (16-bit arithmetic, the lower bound first).
    fn flow_keys_out(&self) -> Vec<u8> {
        let mut keys = self.flow_keys.clone();
        let len = self.buf.len() as u16;
        let get16 = |k: &[u8], off: usize| u16::from_le_bytes([k[off], k[off + 1]]);
        let clamp = |v: u16, lo: u16, hi: u16| v.max(lo).min(hi);
        let nhoff = clamp(get16(&keys, flow_keys::NHOFF), ETH_HLEN as u16, len);
        let thoff = clamp(get16(&keys, flow_keys::THOFF), nhoff, len);
        keys[flow_keys::NHOFF..flow_keys::NHOFF + 2].copy_from_slice(&nhoff.to_le_bytes());
        keys[flow_keys::THOFF..flow_keys::THOFF + 2].copy_from_slice(&thoff.to_le_bytes());
        keys
    }
}

/// The test run's dummy socket as `struct bpf_sock` shows it through `__sk_buff->sk`
/// (a `sock_common`): the family and addresses of the IP header (as `family`,
/// `local_*` = source, `remote_*` = destination in `ctx`), no ports, state `TCP_CLOSE`
/// (7), `rx_queue_mapping` -1 (none recorded); checked against the kernel by
/// `tests/socket_helpers_kernel.rs`.
fn dummy_sock(ctx: &[u8]) -> Vec<u8> {
    use crate::sock;
    let mut s = vec![0u8; sock::SIZE];
    put32(&mut s, sock::FAMILY, get32(ctx, skb::FAMILY));
    let mut copy = |to: usize, from: usize, len: usize| {
        s[to..to + len].copy_from_slice(&ctx[from..from + len]);
    };
    copy(sock::SRC_IP4, skb::LOCAL_IP4, 4);
    copy(sock::DST_IP4, skb::REMOTE_IP4, 4);
    copy(sock::SRC_IP6, skb::LOCAL_IP6, 16);
    copy(sock::DST_IP6, skb::REMOTE_IP6, 16);
    put32(&mut s, sock::STATE, 7);
    put32(&mut s, sock::RX_QUEUE_MAPPING, u32::MAX);
    s
}

fn get32(ctx: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(ctx[off..off + 4].try_into().expect("4 bytes"))
}

fn put32(ctx: &mut [u8], off: usize, v: u32) {
    ctx[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// `eth_type_trans` on lo: both its address and its broadcast address are all-zero.
fn pkt_type(dest: &[u8]) -> u32 {
    if dest[0] & 1 != 0 {
        2 // PACKET_MULTICAST (ff:ff:ff:ff:ff:ff is not lo's broadcast address)
    } else if dest.iter().all(|&b| b == 0) {
        0 // PACKET_HOST
    } else {
        3 // PACKET_OTHERHOST
    }
}

/// `eth_type_trans`'s protocol: the EtherType, or for 802.3 length fields 802.3 raw
/// (`ETH_P_802_3`) when the payload starts with `ff ff`, else 802.2 (`ETH_P_802_2`).
fn protocol(frame: &[u8]) -> u16 {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    if ethertype >= 0x600 {
        ethertype
    } else if frame.len() >= ETH_HLEN + 2 && frame[14] == 0xff && frame[15] == 0xff {
        0x0001
    } else {
        0x0004
    }
}
