//! Linux extensions of classic BPF: loads at negative offsets (`linux/filter.h`).
//!
//! `LD ABS` with `k = SKF_AD_OFF + n` is an ancillary operation (the skb's protocol,
//! mark, a random number, ...); `SKF_NET_OFF + n` reads the packet relative to the
//! network header and `SKF_LL_OFF + n` relative to the link-layer header. Any other
//! negative offset finds nothing (the program ends with 0).

/// `SKF_AD_OFF`: start of the ancillary-data range.
pub const SKF_AD_OFF: i32 = -0x1000;
/// `SKF_NET_OFF`: offsets from the network header.
pub const SKF_NET_OFF: i32 = -0x10_0000;
/// `SKF_LL_OFF`: offsets from the link-layer header.
pub const SKF_LL_OFF: i32 = -0x20_0000;

/// An ancillary operation (`SKF_AD_*`): what `LD ABS SKF_AD_OFF + n` loads into A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ancillary {
    /// `skb->protocol` in host order (the EtherType).
    Protocol,
    /// `skb->pkt_type` (0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing).
    PktType,
    /// The device's ifindex.
    Ifindex,
    /// Offset of the netlink attribute of type X from offset A (0 when absent).
    NlAttr,
    /// Like `NlAttr`, inside the nested attribute at offset A.
    NlAttrNest,
    /// `skb->mark`.
    Mark,
    /// `skb->queue_mapping`.
    Queue,
    /// The device's hardware type (`ARPHRD_*`).
    Hatype,
    /// `skb->hash`.
    RxHash,
    /// The CPU the filter runs on.
    Cpu,
    /// `A ^= X`.
    AluXorX,
    /// The VLAN TCI.
    VlanTag,
    /// 1 when the skb carries a VLAN tag (out of band), else 0.
    VlanTagPresent,
    /// Offset of the transport payload (after the transport header).
    PayOffset,
    /// A pseudo-random 32-bit number.
    Random,
    /// The VLAN protocol (TPID) in host order.
    VlanTpid,
}

impl Ancillary {
    /// Every operation with its `SKF_AD_*` number.
    pub const ALL: [(u32, Ancillary); 16] = [
        (0, Ancillary::Protocol),
        (4, Ancillary::PktType),
        (8, Ancillary::Ifindex),
        (12, Ancillary::NlAttr),
        (16, Ancillary::NlAttrNest),
        (20, Ancillary::Mark),
        (24, Ancillary::Queue),
        (28, Ancillary::Hatype),
        (32, Ancillary::RxHash),
        (36, Ancillary::Cpu),
        (40, Ancillary::AluXorX),
        (44, Ancillary::VlanTag),
        (48, Ancillary::VlanTagPresent),
        (52, Ancillary::PayOffset),
        (56, Ancillary::Random),
        (60, Ancillary::VlanTpid),
    ];

    /// The `SKF_AD_*` number.
    pub fn number(self) -> u32 {
        Ancillary::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or(0, |(n, _)| *n)
    }

    /// The `LD ABS` offset `k` that selects this operation.
    pub fn k(self) -> u32 {
        (SKF_AD_OFF as u32).wrapping_add(self.number())
    }
}

/// Where an `LD ABS k` (or `LDX MSH k`, or an `LD IND` offset computed at run time)
/// reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AbsTarget {
    /// Packet offset `k` (0..2^31).
    Packet(u32),
    /// Offset from the network header.
    Net(u32),
    /// Offset from the link-layer header.
    LinkLayer(u32),
    /// An ancillary operation (only `LD ABS` selects these).
    Ancillary(Ancillary),
    /// `SKF_AD_OFF + n` with an `n` the kernel does not define.
    UnknownAncillary(u32),
    /// Below `SKF_LL_OFF`: nothing is there.
    Nothing,
}

impl AbsTarget {
    /// Classifies an `LD ABS` offset.
    pub fn of_abs(k: u32) -> AbsTarget {
        let s = k as i32;
        if s >= SKF_AD_OFF {
            if s >= 0 {
                return AbsTarget::Packet(k);
            }
            let n = k.wrapping_sub(SKF_AD_OFF as u32);
            return Ancillary::ALL
                .iter()
                .find(|(m, _)| *m == n)
                .map_or(AbsTarget::UnknownAncillary(n), |(_, a)| {
                    AbsTarget::Ancillary(*a)
                });
        }
        AbsTarget::of_negative(s)
    }

    /// Classifies a negative offset that is not an ancillary operation.
    pub fn of_negative(s: i32) -> AbsTarget {
        if s >= 0 {
            AbsTarget::Packet(s as u32)
        } else if s >= SKF_NET_OFF {
            AbsTarget::Net((s - SKF_NET_OFF) as u32)
        } else if s >= SKF_LL_OFF {
            AbsTarget::LinkLayer((s - SKF_LL_OFF) as u32)
        } else {
            AbsTarget::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_offsets() {
        assert_eq!(AbsTarget::of_abs(12), AbsTarget::Packet(12));
        assert_eq!(
            AbsTarget::of_abs(0xffff_f000),
            AbsTarget::Ancillary(Ancillary::Protocol)
        );
        assert_eq!(
            AbsTarget::of_abs(0xffff_f03c),
            AbsTarget::Ancillary(Ancillary::VlanTpid)
        );
        assert_eq!(
            AbsTarget::of_abs(0xffff_f040),
            AbsTarget::UnknownAncillary(64)
        );
        assert_eq!(
            AbsTarget::of_abs(0xffff_f002),
            AbsTarget::UnknownAncillary(2)
        );
        assert_eq!(AbsTarget::of_abs(0xfff0_0000), AbsTarget::Net(0));
        assert_eq!(AbsTarget::of_abs(0xfff0_0009), AbsTarget::Net(9));
        assert_eq!(AbsTarget::of_abs(0xffe0_0000), AbsTarget::LinkLayer(0));
        assert_eq!(
            AbsTarget::of_abs(0xffef_ffff),
            AbsTarget::LinkLayer(0xf_ffff)
        );
        assert_eq!(AbsTarget::of_abs(0xffdf_ffff), AbsTarget::Nothing);
        assert_eq!(AbsTarget::of_abs(0x8000_0000), AbsTarget::Nothing);
        assert_eq!(Ancillary::Random.k(), 0xffff_f038);
    }
}
