//! The `__sk_buff` of an `sk_skb` program (stream parser, stream verdict, skb verdict),
//! modelled from the kernel source (net/core/skmsg.c runs the program on a TCP socket's
//! received data; net/core/filter.c's `sk_skb_*` helpers and context rewrite). The
//! kernel cannot test-run `sk_skb` programs, so none of this is compared with it.
//!
//! - `data` is the first byte of the stream payload (`--packet` is the TCP payload, not
//!   a frame), `data_end` its end, `len` its length; the program may write it.
//! - The socket fields come from the `struct bpf_sock` of the socket the data arrived
//!   on: `family`, `remote_ip4`/`remote_ip6` (its `dst_*`), `local_ip4`/`local_ip6`
//!   (`src_*`), `remote_port` (the big-endian port in the upper 16 bits, as the
//!   kernel's 16-bit load shifted left), `local_port` (host order). Without one, they
//!   are 0, as a socket context built from nothing is elsewhere.
//! - `protocol` is the socket's: `ETH_P_IP` for `AF_INET`, `ETH_P_IPV6` for
//!   `AF_INET6` (network byte order), 0 else. Every other field is 0: the skb was
//!   received by TCP, `pkt_type` `PACKET_HOST`, no VLAN tag, mark, priority or hash.
//! - The IP and TCP headers lie before `data`, so the headers' offsets count as 0 for
//!   `skb_change_tail`'s minimum (kernels since 6.13 ignore negative offsets there).
//! - `sk` points to that socket (as given; zeros without one).
//! - The payload may grow to [`SKB_MAX_LEN`] bytes, as the resizing helpers allow.

use super::{put32, PacketContext, PacketError, SKB_HEADER_SLACK, SKB_MAX_LEN};
use crate::access::ContextKind;
use crate::layout::skb;
use crate::{sock, ProgramType};

const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;

impl PacketContext {
    /// The context of an `sk_skb` program over the stream payload `payload` (at most
    /// [`SKB_MAX_LEN`] bytes), received on `socket` (a `struct bpf_sock`, raw uapi
    /// bytes, shorter ones zero-padded; `None`: zeros).
    pub fn sk_skb(payload: &[u8], socket: Option<&[u8]>) -> Result<PacketContext, PacketError> {
        let ty = ProgramType::SkSkb;
        if payload.len() > SKB_MAX_LEN {
            return Err(PacketError::Size {
                ty,
                len: payload.len(),
                why: format!("longer than {SKB_MAX_LEN} bytes (the model's socket buffer)"),
            });
        }
        let socket = match socket {
            Some(given) => sock::context(given).map_err(|e| PacketError::Context {
                ty,
                why: format!("the socket given: {e}"),
            })?,
            None => vec![0; sock::SIZE],
        };
        let get = |off: usize| u32::from_le_bytes(socket[off..off + 4].try_into().expect("4"));
        let mut ctx = vec![0; skb::MODEL_SIZE];
        put32(&mut ctx, skb::LEN, payload.len() as u32);
        let family = get(sock::FAMILY);
        let protocol: u16 = match family {
            AF_INET => 0x0800,
            AF_INET6 => 0x86dd,
            _ => 0,
        };
        ctx[skb::PROTOCOL..skb::PROTOCOL + 2].copy_from_slice(&protocol.to_be_bytes());
        put32(&mut ctx, skb::FAMILY, family);
        let mut copy = |to: usize, from: usize, len: usize| {
            ctx[to..to + len].copy_from_slice(&socket[from..from + len]);
        };
        copy(skb::REMOTE_IP4, sock::DST_IP4, 4);
        copy(skb::LOCAL_IP4, sock::SRC_IP4, 4);
        copy(skb::REMOTE_IP6, sock::DST_IP6, 16);
        copy(skb::LOCAL_IP6, sock::SRC_IP6, 16);
        put32(
            &mut ctx,
            skb::REMOTE_PORT,
            (get(sock::DST_PORT) & 0xffff) << 16,
        );
        put32(&mut ctx, skb::LOCAL_PORT, get(sock::SRC_PORT));
        let mut buf = vec![0; SKB_MAX_LEN + SKB_HEADER_SLACK];
        buf[..payload.len()].copy_from_slice(payload);
        Ok(PacketContext {
            ty,
            kind: ContextKind::SkBuff,
            buf,
            frags: Vec::new(),
            meta: 0,
            data: 0,
            end: payload.len(),
            out_start: 0,
            ctx,
            xdp_given: [0; 2],
            flow_keys: Vec::new(),
            flags_given: 0,
            sock: socket,
        })
    }
}
