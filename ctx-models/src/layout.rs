//! Context layouts: the uapi structs a program's r1 points to, and our *backing model*
//! of each.
//!
//! The backing model is the uapi struct's own bytes (little-endian scalars at their uapi
//! offsets, so a narrow load of a scalar is a plain load), followed by one 8-byte slot
//! per pointer field. A guest pointer is `region << 32 | offset`, which a 32-bit uapi
//! field cannot hold; the load-time rewrite ([`crate::rewrite`]) turns a 32-bit load of
//! `data` into a 64-bit load of its slot, as the kernel's `convert_ctx_access` turns it
//! into a load of `skb->data`.
//!
//! ```text
//! __sk_buff model (224 bytes)            xdp_md model (64 bytes)
//!   0..192  struct __sk_buff               0..24  struct xdp_md
//! 192..200  data      (packet pointer)    24..32  data
//! 200..208  data_end                      32..40  data_end
//! 208..216  data_meta                     40..48  data_meta
//! 216..224  private: network and MAC      48..64  private: data_meta, data, data_end
//!           headers' offsets from data            as offsets in the frame (u32 each),
//!                                                 which the adjust helpers move
//! ```
//!
//! The rewrite refuses every access past the uapi struct, so programs never reach the
//! slots or the private fields directly.

/// One field of a uapi context struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The uapi name (`cb[0]` for array elements).
    pub name: &'static str,
    /// Byte offset in the uapi struct.
    pub offset: u16,
    /// Size in bytes in the uapi struct.
    pub size: u16,
}

const fn f(name: &'static str, offset: u16, size: u16) -> Field {
    Field { name, offset, size }
}

/// `struct __sk_buff` (linux/bpf.h), every field, in order.
pub const SK_BUFF: &[Field] = &[
    f("len", 0, 4),
    f("pkt_type", 4, 4),
    f("mark", 8, 4),
    f("queue_mapping", 12, 4),
    f("protocol", 16, 4),
    f("vlan_present", 20, 4),
    f("vlan_tci", 24, 4),
    f("vlan_proto", 28, 4),
    f("priority", 32, 4),
    f("ingress_ifindex", 36, 4),
    f("ifindex", 40, 4),
    f("tc_index", 44, 4),
    f("cb[0]", 48, 4),
    f("cb[1]", 52, 4),
    f("cb[2]", 56, 4),
    f("cb[3]", 60, 4),
    f("cb[4]", 64, 4),
    f("hash", 68, 4),
    f("tc_classid", 72, 4),
    f("data", 76, 4),
    f("data_end", 80, 4),
    f("napi_id", 84, 4),
    f("family", 88, 4),
    f("remote_ip4", 92, 4),
    f("local_ip4", 96, 4),
    f("remote_ip6", 100, 16),
    f("local_ip6", 116, 16),
    f("remote_port", 132, 4),
    f("local_port", 136, 4),
    f("data_meta", 140, 4),
    f("flow_keys", 144, 8),
    f("tstamp", 152, 8),
    f("wire_len", 160, 4),
    f("gso_segs", 164, 4),
    f("sk", 168, 8),
    f("gso_size", 176, 4),
    f("tstamp_type", 180, 1),
    f("hwtstamp", 184, 8),
];

/// `struct xdp_md` (linux/bpf.h), every field, in order.
pub const XDP_MD: &[Field] = &[
    f("data", 0, 4),
    f("data_end", 4, 4),
    f("data_meta", 8, 4),
    f("ingress_ifindex", 12, 4),
    f("rx_queue_index", 16, 4),
    f("egress_ifindex", 20, 4),
];

/// `struct bpf_flow_keys` (linux/bpf.h), every field, in order: what a flow dissector
/// fills in through `__sk_buff->flow_keys`.
pub const FLOW_KEYS: &[Field] = &[
    f("nhoff", 0, 2),
    f("thoff", 2, 2),
    f("addr_proto", 4, 2),
    f("is_frag", 6, 1),
    f("is_first_frag", 7, 1),
    f("is_encap", 8, 1),
    f("ip_proto", 9, 1),
    f("n_proto", 10, 2),
    f("sport", 12, 2),
    f("dport", 14, 2),
    f("ipv4_src / ipv6_src", 16, 16),
    f("ipv6_dst (ipv4_dst at 20)", 32, 16),
    f("flags", 48, 4),
    f("flow_label", 52, 4),
];

/// Offsets of `struct bpf_flow_keys` fields.
pub mod flow_keys {
    /// `sizeof(struct bpf_flow_keys)`.
    pub const SIZE: usize = 56;
    /// `nhoff` (u16): where the network header starts.
    pub const NHOFF: usize = 0;
    /// `thoff` (u16): where the transport header starts.
    pub const THOFF: usize = 2;
    /// `n_proto` (be16): the EtherType.
    pub const N_PROTO: usize = 10;
    /// `flags` (u32): `BPF_FLOW_DISSECTOR_F_*`.
    pub const FLAGS: usize = 48;
}

/// Offsets of `struct __sk_buff` fields used by the rules and the test-run model.
pub mod skb {
    /// `sizeof(struct __sk_buff)`.
    pub const SIZE: usize = 192;
    /// `len`
    pub const LEN: usize = 0;
    /// `pkt_type`
    pub const PKT_TYPE: usize = 4;
    /// `mark`
    pub const MARK: usize = 8;
    /// `queue_mapping`
    pub const QUEUE_MAPPING: usize = 12;
    /// `protocol` (network byte order)
    pub const PROTOCOL: usize = 16;
    /// `vlan_present`
    pub const VLAN_PRESENT: usize = 20;
    /// `vlan_tci`
    pub const VLAN_TCI: usize = 24;
    /// `vlan_proto` (network byte order)
    pub const VLAN_PROTO: usize = 28;
    /// `priority`
    pub const PRIORITY: usize = 32;
    /// `ifindex`
    pub const IFINDEX: usize = 40;
    /// `tc_index`
    pub const TC_INDEX: usize = 44;
    /// `hash`
    pub const HASH: usize = 68;
    /// `cb[0]`; `cb[4]` ends at 68.
    pub const CB: usize = 48;
    /// End of `cb[4]`.
    pub const CB_END: usize = 68;
    /// `tc_classid`
    pub const TC_CLASSID: usize = 72;
    /// `data`
    pub const DATA: usize = 76;
    /// `data_end`
    pub const DATA_END: usize = 80;
    /// `family`; the socket fields run from here to the end of `local_port` (140).
    pub const FAMILY: usize = 88;
    /// `remote_ip4`
    pub const REMOTE_IP4: usize = 92;
    /// `local_ip4`
    pub const LOCAL_IP4: usize = 96;
    /// `remote_ip6[0]`
    pub const REMOTE_IP6: usize = 100;
    /// `local_ip6[0]`
    pub const LOCAL_IP6: usize = 116;
    /// `remote_port`
    pub const REMOTE_PORT: usize = 132;
    /// `local_port`
    pub const LOCAL_PORT: usize = 136;
    /// End of `local_port`.
    pub const SOCK_END: usize = 140;
    /// `data_meta`
    pub const DATA_META: usize = 140;
    /// `flow_keys` (8-byte pointer)
    pub const FLOW_KEYS: usize = 144;
    /// `tstamp` (u64)
    pub const TSTAMP: usize = 152;
    /// `wire_len`
    pub const WIRE_LEN: usize = 160;
    /// `sk` (8-byte pointer)
    pub const SK: usize = 168;
    /// `tstamp_type` (u8), followed by 3 bytes of padding.
    pub const TSTAMP_TYPE: usize = 180;
    /// `hwtstamp` (u64)
    pub const HWTSTAMP: usize = 184;
    /// Backing model: slot of the `data` pointer.
    pub const SLOT_DATA: usize = 192;
    /// Backing model: slot of the `data_end` pointer.
    pub const SLOT_DATA_END: usize = 200;
    /// Backing model: slot of the `data_meta` pointer.
    pub const SLOT_DATA_META: usize = 208;
    /// Backing model, private: the network header's offset from `data` (u32), which
    /// the resizing helpers move as the kernel moves `skb->network_header`.
    pub const NET_OFFSET: usize = 216;
    /// Backing model, private: the MAC header's offset from `data` (i32: -14 for the
    /// types that start at layer 3 until `skb_change_head` resets it to `data`).
    pub const MAC_OFFSET: usize = 220;
    /// Backing model, private: `gso_size` as given in `ctx_in` (32 bits), which the
    /// kernel returns in `ctx_out` while programs read its 16-bit `skb_shared_info`
    /// field (the uapi field holds the low half).
    pub const GSO_SIZE_GIVEN: usize = 224;
    /// Backing model, private: `skb->encapsulation` (u32, 0 or 1), set when
    /// `skb_adjust_room` pushes an outer header with `BPF_F_ADJ_ROOM_ENCAP_L3_*`: a
    /// second encapsulation then fails with `-EALREADY` and `skb_change_tail` with
    /// `-ENOTSUPP`.
    pub const ENCAPSULATION: usize = 228;
    /// Backing model, private: the transport header's offset from `data` (u32), 0 while
    /// the header is not set (a set one lies at or after the network header). Only an
    /// encapsulation with an outer L4 header sets it in a test run; `skb_change_tail`
    /// may not cut below it.
    pub const TRANSPORT_OFFSET: usize = 232;
    /// Size of the backing model.
    pub const MODEL_SIZE: usize = 240;
}

/// Offsets of `struct xdp_md` fields and of its backing model's slots.
pub mod xdp {
    /// `sizeof(struct xdp_md)`.
    pub const SIZE: usize = 24;
    /// `data`
    pub const DATA: usize = 0;
    /// `data_end`
    pub const DATA_END: usize = 4;
    /// `data_meta`
    pub const DATA_META: usize = 8;
    /// `ingress_ifindex`
    pub const INGRESS_IFINDEX: usize = 12;
    /// `rx_queue_index`
    pub const RX_QUEUE_INDEX: usize = 16;
    /// `egress_ifindex`
    pub const EGRESS_IFINDEX: usize = 20;
    /// Backing model: slot of the `data` pointer.
    pub const SLOT_DATA: usize = 24;
    /// Backing model: slot of the `data_end` pointer.
    pub const SLOT_DATA_END: usize = 32;
    /// Backing model: slot of the `data_meta` pointer.
    pub const SLOT_DATA_META: usize = 40;
    /// Backing model, private: `data_meta` as an offset in the frame (u32).
    pub const FRAME_META: usize = 48;
    /// Backing model, private: `data` as an offset in the frame (u32).
    pub const FRAME_DATA: usize = 52;
    /// Backing model, private: `data_end` as an offset in the frame (u32).
    pub const FRAME_END: usize = 56;
    /// Size of the backing model.
    pub const MODEL_SIZE: usize = 64;
}

/// The field of `fields` that byte `offset` falls in.
pub fn field_at(fields: &'static [Field], offset: usize) -> Option<&'static Field> {
    fields
        .iter()
        .find(|f| offset >= f.offset as usize && offset < (f.offset + f.size) as usize)
}
