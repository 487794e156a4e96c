//! The context of a translated socket filter: a `struct __sk_buff` and what the packet
//! alone does not say ([`PacketMeta`]).
//!
//! # Layout of the context region
//! ```text
//!   0..192   struct __sk_buff (linux/bpf.h): len 0, pkt_type 4, mark 8,
//!            queue_mapping 12, protocol 16, vlan_present 20, vlan_tci 24,
//!            vlan_proto 28, priority 32, ingress_ifindex 36, ifindex 40,
//!            tc_index 44, cb[5] 48, hash 68, tc_classid 72, data 76, data_end 80,
//!            napi_id 84, family 88, ..., tstamp 152, wire_len 160, gso_segs 164,
//!            gso_size 176, tstamp_type 180, hwtstamp 184
//! 192..208   private to classic translation: hatype 192, payload offset 196,
//!            network-header bias 200, link-layer-header bias 204
//! ```
//! `protocol` and `vlan_proto` hold the 16-bit value in network byte order, as the
//! kernel's `__sk_buff` does (`SKF_AD_PROTOCOL` swaps it back). `data`/`data_end` are 0:
//! socket filters read the packet only through legacy loads.
//!
//! # Defaults when only a packet is given
//! [`PacketMeta::for_ethernet`] fills in what `BPF_PROG_TEST_RUN` gives a packet injected
//! on the loopback device: `protocol` from the EtherType (`eth_type_trans`: values below
//! 0x600 are 802.3 lengths, giving `ETH_P_802_3` for a raw `ff ff` payload and
//! `ETH_P_802_2` otherwise), `pkt_type` from the destination MAC (broadcast 1, multicast
//! 2, all-zero = lo's own address 0, else 3 other host), ifindex 1 (lo), hatype 772
//! (`ARPHRD_LOOPBACK`), network header at 14, no VLAN tag, mark/queue/hash/priority 0.
//! Unlike the test run, the packet starts at the link-layer header, as on a packet
//! socket and in libpcap, so `ldh [12]` reads the EtherType. `len` is the number of
//! bytes given, or [`PacketMeta::wire_len`] when set (a capture's original length).

/// Offsets of `struct __sk_buff` fields and of the private extension fields.
pub mod offsets {
    /// `len`
    pub const LEN: i16 = 0;
    /// `pkt_type`
    pub const PKT_TYPE: i16 = 4;
    /// `mark`
    pub const MARK: i16 = 8;
    /// `queue_mapping`
    pub const QUEUE_MAPPING: i16 = 12;
    /// `protocol` (network byte order)
    pub const PROTOCOL: i16 = 16;
    /// `vlan_present`
    pub const VLAN_PRESENT: i16 = 20;
    /// `vlan_tci`
    pub const VLAN_TCI: i16 = 24;
    /// `vlan_proto` (network byte order)
    pub const VLAN_PROTO: i16 = 28;
    /// `priority`
    pub const PRIORITY: i16 = 32;
    /// `ingress_ifindex`
    pub const INGRESS_IFINDEX: i16 = 36;
    /// `ifindex`
    pub const IFINDEX: i16 = 40;
    /// `hash`
    pub const HASH: i16 = 68;
    /// `wire_len`
    pub const WIRE_LEN: i16 = 160;
    /// `sizeof(struct __sk_buff)`
    pub const SK_BUFF_SIZE: usize = 192;
    /// Private: the device type (`ARPHRD_*`).
    pub const HATYPE: i16 = 192;
    /// Private: the payload offset (`SKF_AD_PAY_OFFSET`).
    pub const PAY_OFFSET: i16 = 196;
    /// Private: network-header offset + 0x100000, so that `bias + (k - SKF_NET_OFF)` is
    /// a 32-bit sum.
    pub const NET_BIAS: i16 = 200;
    /// Private: link-layer-header offset + 0x200000.
    pub const LL_BIAS: i16 = 204;
    /// Size of the whole context region.
    pub const CONTEXT_SIZE: usize = 208;
}

/// `ARPHRD_LOOPBACK`.
pub const ARPHRD_LOOPBACK: u16 = 772;
/// `ARPHRD_ETHER`.
pub const ARPHRD_ETHER: u16 = 1;

/// What a socket filter may know about a packet besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    /// `skb->protocol` as a host-order value (e.g. 0x0800 for IPv4).
    pub protocol: u16,
    /// `skb->pkt_type`.
    pub pkt_type: u32,
    /// The device's ifindex.
    pub ifindex: u32,
    /// The interface the packet arrived on.
    pub ingress_ifindex: u32,
    /// The device type (`ARPHRD_*`).
    pub hatype: u16,
    /// `skb->mark`.
    pub mark: u32,
    /// `skb->queue_mapping`.
    pub queue_mapping: u32,
    /// `skb->hash`.
    pub hash: u32,
    /// `skb->priority`.
    pub priority: u32,
    /// An out-of-band VLAN tag: `(tpid, tci)`, e.g. `(0x8100, 5)`.
    pub vlan: Option<(u16, u16)>,
    /// Offset of the link-layer header in the packet (`SKF_LL_OFF` loads).
    pub mac_offset: u32,
    /// Offset of the network header in the packet (`SKF_NET_OFF` loads).
    pub network_offset: u32,
    /// `SKF_AD_PAY_OFFSET`; `None` computes it from the packet (see
    /// [`payload_offset`]).
    pub pay_offset: Option<u32>,
    /// The CPU number `SKF_AD_CPU` reports.
    pub cpu: u32,
    /// Seed of the deterministic generator behind `SKF_AD_RANDOM`.
    pub random_seed: u32,
    /// The packet's length on the wire when more than the bytes given (a capture's
    /// `orig_len`): what `len` and `LD LEN` report, as libpcap's `wirelen`. Loads
    /// still read only the bytes given.
    pub wire_len: Option<u32>,
}

impl Default for PacketMeta {
    fn default() -> Self {
        PacketMeta {
            protocol: 0,
            pkt_type: 0,
            ifindex: 1,
            ingress_ifindex: 1,
            hatype: ARPHRD_LOOPBACK,
            mark: 0,
            queue_mapping: 0,
            hash: 0,
            priority: 0,
            vlan: None,
            mac_offset: 0,
            network_offset: 14,
            pay_offset: None,
            cpu: 0,
            random_seed: 0x2545_f491,
            wire_len: None,
        }
    }
}

impl PacketMeta {
    /// The defaults for an Ethernet frame, derived from its header (see the module doc).
    pub fn for_ethernet(packet: &[u8]) -> PacketMeta {
        let mut meta = PacketMeta::default();
        if let Some(dst) = packet.get(..6) {
            meta.pkt_type = if dst.iter().all(|&b| b == 0xff) {
                1
            } else if dst[0] & 1 != 0 {
                2
            } else if dst.iter().all(|&b| b == 0) {
                0
            } else {
                3
            };
        }
        if let Some(t) = packet.get(12..14) {
            let ethertype = u16::from_be_bytes([t[0], t[1]]);
            meta.protocol = if ethertype >= 0x600 {
                ethertype
            } else if packet.get(14..16) == Some(&[0xff, 0xff]) {
                0x0001 // ETH_P_802_3: raw 802.3 (Novell)
            } else {
                0x0004 // ETH_P_802_2
            };
        }
        meta
    }

    /// Defaults for a packet that starts at the network header (`DLT_RAW`): protocol
    /// from the IP version nibble, both header offsets 0.
    pub fn for_raw_ip(packet: &[u8]) -> PacketMeta {
        PacketMeta {
            protocol: match packet.first().map(|b| b >> 4) {
                Some(4) => 0x0800,
                Some(6) => 0x86dd,
                _ => 0,
            },
            network_offset: 0,
            hatype: 0xfffe, // ARPHRD_NONE
            ..PacketMeta::default()
        }
    }

    /// The defaults for a packet captured with pcap link type `linktype`: Ethernet (1),
    /// raw IP (101, 228, 229), Linux cooked captures (113 `LINUX_SLL`, 276
    /// `LINUX_SLL2`: protocol, packet type, hatype and ifindex from the header), BSD
    /// loopback (0, 108: network header at 4); anything else starts at the network
    /// header with protocol 0.
    pub fn for_linktype(linktype: u32, packet: &[u8]) -> PacketMeta {
        let be16 = |at: usize| {
            packet
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        };
        match linktype {
            1 => PacketMeta::for_ethernet(packet),
            101 | 228 | 229 | 12 | 14 => PacketMeta::for_raw_ip(packet),
            113 => PacketMeta {
                protocol: be16(14).unwrap_or(0),
                pkt_type: be16(0).unwrap_or(0) as u32,
                hatype: be16(2).unwrap_or(0),
                network_offset: 16,
                ..PacketMeta::default()
            },
            276 => PacketMeta {
                protocol: be16(0).unwrap_or(0),
                ifindex: packet
                    .get(4..8)
                    .map_or(1, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                hatype: be16(8).unwrap_or(0),
                pkt_type: packet.get(10).map_or(0, |&b| b as u32),
                network_offset: 20,
                ..PacketMeta::default()
            },
            0 | 108 => PacketMeta {
                network_offset: 4,
                ..PacketMeta::default()
            },
            _ => PacketMeta {
                network_offset: 0,
                ..PacketMeta::default()
            },
        }
    }

    /// The context region's bytes for `packet`.
    pub fn context(&self, packet: &[u8]) -> [u8; offsets::CONTEXT_SIZE] {
        self.context_with(packet, true)
    }

    /// The context region's bytes for `packet`; without `dissect`, `SKF_AD_PAY_OFFSET`
    /// is 0 unless [`PacketMeta::pay_offset`] gives it. Dissecting the packet is the
    /// costliest part of the context and few programs read the result
    /// ([`crate::translate::Translation::reads_payload_offset`]).
    pub fn context_with(&self, packet: &[u8], dissect: bool) -> [u8; offsets::CONTEXT_SIZE] {
        use offsets::*;
        let mut c = [0u8; CONTEXT_SIZE];
        let mut put = |off: i16, v: u32| {
            let o = off as usize;
            c[o..o + 4].copy_from_slice(&v.to_le_bytes());
        };
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        put(LEN, self.wire_len.unwrap_or(len));
        put(PKT_TYPE, self.pkt_type);
        put(MARK, self.mark);
        put(QUEUE_MAPPING, self.queue_mapping);
        put(PROTOCOL, self.protocol.swap_bytes() as u32);
        if let Some((tpid, tci)) = self.vlan {
            put(VLAN_PRESENT, 1);
            put(VLAN_TCI, tci as u32);
            put(VLAN_PROTO, tpid.swap_bytes() as u32);
        }
        put(PRIORITY, self.priority);
        put(INGRESS_IFINDEX, self.ingress_ifindex);
        put(IFINDEX, self.ifindex);
        put(HASH, self.hash);
        put(WIRE_LEN, self.wire_len.unwrap_or(len));
        put(HATYPE, self.hatype as u32);
        let pay = match self.pay_offset {
            Some(pay) => pay,
            None if dissect => payload_offset(packet, self.network_offset, self.protocol),
            None => 0,
        };
        put(PAY_OFFSET, pay);
        // An offset past the packet reads nothing wherever it points, so clamping keeps
        // the biased sums inside 32 bits without changing any result.
        let net = self.network_offset.min(len);
        let mac = self.mac_offset.min(len);
        put(NET_BIAS, net.wrapping_add(0x10_0000));
        put(LL_BIAS, mac.wrapping_add(0x20_0000));
        c
    }
}

/// `SKF_AD_PAY_OFFSET` as the kernel's flow dissector computes it: the offset of the
/// transport payload for TCP (data offset), UDP/UDP-Lite (8), ICMP (8), ICMPv6 (4),
/// SCTP (12), DCCP (data offset), IGMP (8) over IPv4 (not a later fragment) or IPv6
/// (no extension headers); for other transports the transport header offset; 0 when
/// the packet cannot be dissected.
pub fn payload_offset(packet: &[u8], network_offset: u32, protocol: u16) -> u32 {
    let Ok(nh) = usize::try_from(network_offset) else {
        return 0;
    };
    let (mut nh, mut ethertype) = (nh, protocol);
    // VLAN tags left in the packet (802.1Q, 802.1ad) move the network header along.
    while matches!(ethertype, 0x8100 | 0x88a8) {
        let Some(t) = packet.get(nh + 2..nh + 4) else {
            return 0;
        };
        ethertype = u16::from_be_bytes([t[0], t[1]]);
        nh += 4;
    }
    let (proto, th) = match ethertype {
        0x0800 => {
            let Some(ip) = packet.get(nh..nh + 20) else {
                return 0;
            };
            let ihl = (ip[0] & 0xf) as usize * 4;
            if ip[0] >> 4 != 4 || ihl < 20 || packet.len() < nh + ihl {
                return 0;
            }
            let frag = u16::from_be_bytes([ip[6], ip[7]]);
            if frag & 0x1fff != 0 {
                // A later fragment has no transport header: the dissector stops there.
                return (nh + ihl) as u32;
            }
            (ip[9], nh + ihl)
        }
        0x86dd => {
            let Some(ip) = packet.get(nh..nh + 40) else {
                return 0;
            };
            if ip[0] >> 4 != 6 {
                return 0;
            }
            (ip[6], nh + 40)
        }
        _ => return 0,
    };
    let extra = match proto {
        6 => match packet.get(th + 12) {
            Some(b) => ((b >> 4) as usize * 4).max(20),
            None => return 0,
        },
        33 => match packet.get(th + 4) {
            Some(b) => *b as usize * 4,
            None => return 0,
        },
        17 | 136 | 1 | 2 => 8,
        58 => 4,
        132 => 12,
        _ => 0,
    };
    u32::try_from(th + extra).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_packet() -> Vec<u8> {
        let mut p = vec![0u8; 14 + 20 + 32];
        p[0..6].copy_from_slice(&[0xff; 6]);
        p[12..14].copy_from_slice(&[0x08, 0x00]);
        p[14] = 0x45;
        p[23] = 6;
        p[14 + 20 + 12] = 8 << 4; // 32-byte TCP header
        p
    }

    #[test]
    fn ethernet_defaults() {
        let p = tcp_packet();
        let meta = PacketMeta::for_ethernet(&p);
        assert_eq!(meta.protocol, 0x0800);
        assert_eq!(meta.pkt_type, 1);
        assert_eq!(payload_offset(&p, 14, 0x0800), 14 + 20 + 32);
        let ctx = meta.context(&p);
        assert_eq!(&ctx[0..4], &(p.len() as u32).to_le_bytes());
        // protocol in network order, as the kernel stores skb->protocol
        assert_eq!(&ctx[16..20], &[0x08, 0x00, 0, 0]);
        let mut short = p.clone();
        short[12..16].copy_from_slice(&[0x00, 0x20, 0xff, 0xff]);
        assert_eq!(PacketMeta::for_ethernet(&short).protocol, 1);
        short[14] = 0xaa;
        assert_eq!(PacketMeta::for_ethernet(&short).protocol, 4);
        short[0] = 0x02;
        assert_eq!(PacketMeta::for_ethernet(&short).pkt_type, 3);
        assert_eq!(PacketMeta::for_ethernet(&[]).protocol, 0);
    }

    #[test]
    fn payload_offset_edge_cases() {
        let mut p = tcp_packet();
        assert_eq!(payload_offset(&p[..40], 14, 0x0800), 0);
        p[23] = 17;
        assert_eq!(payload_offset(&p, 14, 0x0800), 14 + 20 + 8);
        p[20] = 0x01; // fragment offset != 0
        assert_eq!(payload_offset(&p, 14, 0x0800), 14 + 20);
        assert_eq!(payload_offset(&p, u32::MAX, 0x0800), 0);
        assert_eq!(payload_offset(&p, 14, 0x0806), 0);
    }
}
