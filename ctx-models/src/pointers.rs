//! Contexts whose pointer fields reach other memory: `bpf_sockopt` (`optval`,
//! `optval_end`, `sk`), `bpf_sock_ops` (`skb_data`, `skb_data_end`, `sk`), `sk_msg_md`
//! (`data`, `data_end`, `sk`), `sk_reuseport_md` (`data`, `data_end`, `sk`,
//! `migrating_sk`) and `bpf_sock_addr` (`sk`).
//!
//! Their pointer fields are 64 bits wide in the uapi struct (`__bpf_md_ptr`), so the
//! backing model is the struct itself with guest addresses in those fields, written just
//! before the run: loads of them need no rewrite. The data they span is a region of its
//! own (the option's bytes, the TCP header, the message, the packet), writable where the
//! kernel lets the type write it; a socket pointer reaches a read-only `struct bpf_sock`
//! built from the context's own fields (family, addresses, ports, state), as the kernel
//! would show the same socket; `bpf_sockopt` has no such fields, so its socket is all
//! zeros but for what `--sock` gives. `bpf_sock_ops.sk` is NULL unless `is_fullsock`,
//! as in the kernel; `sk_reuseport_md.migrating_sk` is NULL (no socket is migrating).
//!
//! The pointer fields of the struct given must be 0; the lengths (`optlen`, `skb_len`,
//! `size`, `len`) are taken as given, since the kernel's may exceed what the pointers span.

use crate::msg::model as msg_model;
use crate::sock;
use crate::ProgramType;

/// Largest option a `cgroup_sockopt` program sees (the kernel's `PAGE_SIZE` cap).
pub const OPTVAL_MAX: usize = 4096;

/// A context with its data and socket regions, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointerContext {
    ty: ProgramType,
    ctx: Vec<u8>,
    data: Vec<u8>,
    data_writable: bool,
    /// Offsets in `ctx` of the data's start and end pointers.
    data_fields: Option<(usize, usize)>,
    /// The `bpf_sock` the socket pointers reach.
    sock: Vec<u8>,
    /// Offsets in `ctx` of the pointers to `sock` (and of those left NULL).
    sock_fields: Vec<usize>,
}

/// The regions of a [`PointerContext`] to map for a run.
pub struct PointerRegions<'a> {
    /// The context's backing model.
    pub ctx: &'a mut [u8],
    /// The data region's buffer.
    pub data: &'a mut [u8],
    /// The data's length (the buffer may hold room after it).
    pub data_len: usize,
    /// Whether the program may write it.
    pub data_writable: bool,
    /// Where its start and end addresses go in `ctx` (64 bits each).
    pub data_fields: Option<(usize, usize)>,
    /// The socket, read-only.
    pub sock: &'a [u8],
    /// Where its address goes in `ctx` (64 bits each).
    pub sock_fields: &'a [usize],
}

/// Why a context cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PointerError {
    /// Longer than the struct.
    #[error("a {name} is {size} bytes, not {given}")]
    Size {
        /// The struct.
        name: &'static str,
        /// Its size.
        size: usize,
        /// The bytes given.
        given: usize,
    },
    /// A pointer field given non-zero.
    #[error("{name} `{field}` must be 0 in the context given: the run fills it in")]
    Pointer {
        /// The struct.
        name: &'static str,
        /// The field.
        field: &'static str,
    },
    /// More option bytes than a program may see.
    #[error("{0} option bytes, more than the {OPTVAL_MAX} a cgroup_sockopt program sees")]
    Optval(usize),
    /// A socket given is not a valid `bpf_sock`.
    #[error("the socket given: {0}")]
    Sock(sock::SockError),
    /// The `bpf_sock_addr` given is not valid.
    #[error("{0}")]
    Addr(sock::SockError),
    /// Not one of these types.
    #[error("{0} programs have no pointer fields modelled here")]
    Type(ProgramType),
}

fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// The struct given, zero-padded to `size`, its pointer fields checked to be 0.
fn given_struct(
    name: &'static str,
    size: usize,
    given: &[u8],
    pointers: &[(&'static str, usize)],
) -> Result<Vec<u8>, PointerError> {
    if given.len() > size {
        return Err(PointerError::Size {
            name,
            size,
            given: given.len(),
        });
    }
    let mut ctx = given.to_vec();
    ctx.resize(size, 0);
    for &(field, off) in pointers {
        if ctx[off..off + 8].iter().any(|&b| b != 0) {
            return Err(PointerError::Pointer { name, field });
        }
    }
    Ok(ctx)
}

/// Where a context keeps a socket's fields, to build the `bpf_sock` its `sk` shows.
struct SockFields {
    family: usize,
    remote_ip4: usize,
    local_ip4: usize,
    remote_ip6: usize,
    local_ip6: usize,
    /// Network order in the upper 16 bits, as the kernel shows it there.
    remote_port: usize,
    /// Host order.
    local_port: usize,
}

/// A `bpf_sock` showing the socket `ctx` describes (`fields`), TCP's type and protocol
/// when `tcp`, `state` as given.
fn sock_from(ctx: &[u8], f: &SockFields, tcp: bool, state: u32) -> Vec<u8> {
    let mut s = vec![0u8; sock::SIZE];
    put32(&mut s, sock::FAMILY, get32(ctx, f.family) & 0xffff);
    if tcp {
        put32(&mut s, sock::TYPE, 1); // SOCK_STREAM
        put32(&mut s, sock::PROTOCOL, 6); // IPPROTO_TCP
    }
    s[sock::SRC_IP4..sock::SRC_IP4 + 4].copy_from_slice(&ctx[f.local_ip4..f.local_ip4 + 4]);
    s[sock::DST_IP4..sock::DST_IP4 + 4].copy_from_slice(&ctx[f.remote_ip4..f.remote_ip4 + 4]);
    s[sock::SRC_IP6..sock::SRC_IP6 + 16].copy_from_slice(&ctx[f.local_ip6..f.local_ip6 + 16]);
    s[sock::DST_IP6..sock::DST_IP6 + 16].copy_from_slice(&ctx[f.remote_ip6..f.remote_ip6 + 16]);
    put32(&mut s, sock::SRC_PORT, get32(ctx, f.local_port) & 0xffff);
    put32(&mut s, sock::DST_PORT, get32(ctx, f.remote_port) >> 16);
    put32(&mut s, sock::STATE, state & 0xff);
    s
}

/// A socket given with `--sock`, or `default`.
fn sock_or(given: Option<&[u8]>, default: Vec<u8>) -> Result<Vec<u8>, PointerError> {
    Ok(match given {
        Some(bytes) => sock::context(bytes).map_err(PointerError::Sock)?,
        None => default,
    })
}

impl PointerContext {
    /// `bpf_sockopt` (40 bytes given: `level`, `optname`, `optlen`, `retval`) over the
    /// option's bytes `optval` (writable); `sk` reaches `sock` (default: zeros).
    pub fn sockopt(
        given: &[u8],
        optval: &[u8],
        sock: Option<&[u8]>,
    ) -> Result<PointerContext, PointerError> {
        let ptrs = [("sk", 0), ("optval", 8), ("optval_end", 16)];
        let ctx = given_struct("bpf_sockopt", crate::cgroup::SOCKOPT_SIZE, given, &ptrs)?;
        if optval.len() > OPTVAL_MAX {
            return Err(PointerError::Optval(optval.len()));
        }
        Ok(PointerContext {
            ty: ProgramType::CgroupSockopt,
            ctx,
            data: optval.to_vec(),
            data_writable: true,
            data_fields: Some((8, 16)),
            sock: sock_or(sock, vec![0; sock::SIZE])?,
            sock_fields: vec![0],
        })
    }

    /// `bpf_sock_ops` (224 bytes given) over a TCP header `skb` (read-only; empty when
    /// the op has no packet); `sk` reaches the socket the struct describes when
    /// `is_fullsock`, else is NULL.
    pub fn sock_ops(
        given: &[u8],
        skb: &[u8],
        sock: Option<&[u8]>,
    ) -> Result<PointerContext, PointerError> {
        use crate::sock_ops::{SIZE, SK, SKB_DATA, SKB_DATA_END};
        let ptrs = [
            ("sk", SK),
            ("skb_data", SKB_DATA),
            ("skb_data_end", SKB_DATA_END),
        ];
        let ctx = given_struct("bpf_sock_ops", SIZE, given, &ptrs)?;
        let fields = SockFields {
            family: 20,
            remote_ip4: 24,
            local_ip4: 28,
            remote_ip6: 32,
            local_ip6: 48,
            remote_port: 64,
            local_port: 68,
        };
        let full = get32(&ctx, 72) != 0;
        let built = sock_from(&ctx, &fields, true, get32(&ctx, 88));
        Ok(PointerContext {
            ty: ProgramType::SockOps,
            data: skb.to_vec(),
            data_writable: false,
            data_fields: Some((SKB_DATA, SKB_DATA_END)),
            sock: sock_or(sock, built)?,
            sock_fields: if full { vec![SK] } else { Vec::new() },
            ctx,
        })
    }

    /// `sk_msg_md` (80 bytes given) over the message `msg` (writable); `sk` reaches the
    /// socket the struct describes.
    pub fn sk_msg(
        given: &[u8],
        msg: &[u8],
        sock: Option<&[u8]>,
    ) -> Result<PointerContext, PointerError> {
        let ptrs = [("data", 0), ("data_end", 8), ("sk", 72)];
        let mut ctx = given_struct("sk_msg_md", crate::msg::MSG_SIZE, given, &ptrs)?;
        // The message is one scatterlist element to start with, with room to grow.
        ctx.resize(msg_model::SIZE, 0);
        put32(&mut ctx, msg_model::LEN, msg.len() as u32);
        put32(&mut ctx, msg_model::ELEMS, u32::from(!msg.is_empty()));
        put32(&mut ctx, msg_model::ELEM_LENS, msg.len() as u32);
        let mut data = msg.to_vec();
        data.resize(msg.len() + msg_model::ROOM, 0);
        let fields = SockFields {
            family: 16,
            remote_ip4: 20,
            local_ip4: 24,
            remote_ip6: 28,
            local_ip6: 44,
            remote_port: 60,
            local_port: 64,
        };
        let built = sock_from(&ctx, &fields, false, 0);
        Ok(PointerContext {
            ty: ProgramType::SkMsg,
            data,
            data_writable: true,
            data_fields: Some((0, 8)),
            sock: sock_or(sock, built)?,
            sock_fields: vec![72],
            ctx,
        })
    }

    /// `sk_reuseport_md` (56 bytes given) over the packet (read-only, from the
    /// transport header); `sk` reaches a socket of the packet's family and protocol,
    /// `migrating_sk` is NULL.
    pub fn sk_reuseport(
        given: &[u8],
        packet: &[u8],
        sock: Option<&[u8]>,
    ) -> Result<PointerContext, PointerError> {
        let ptrs = [
            ("data", 0),
            ("data_end", 8),
            ("sk", 40),
            ("migrating_sk", 48),
        ];
        let ctx = given_struct("sk_reuseport_md", crate::msg::REUSEPORT_SIZE, given, &ptrs)?;
        let mut built = vec![0u8; sock::SIZE];
        let family = match get32(&ctx, 20) as u16 {
            0x0008 => 2,  // ETH_P_IP in network order: AF_INET
            0xdd86 => 10, // ETH_P_IPV6: AF_INET6
            _ => 0,
        };
        put32(&mut built, sock::FAMILY, family);
        put32(&mut built, sock::PROTOCOL, get32(&ctx, 24) & 0xffff);
        Ok(PointerContext {
            ty: ProgramType::SkReuseport,
            data: packet.to_vec(),
            data_writable: false,
            data_fields: Some((0, 8)),
            sock: sock_or(sock, built)?,
            sock_fields: vec![40],
            ctx,
        })
    }

    /// `bpf_sock_addr` (72 bytes given, checked as [`sock::addr_context`] checks it);
    /// `sk` reaches a socket of its family, type and protocol.
    pub fn sock_addr(given: &[u8], sock: Option<&[u8]>) -> Result<PointerContext, PointerError> {
        let ctx = sock::addr_context(given).map_err(PointerError::Addr)?;
        let mut built = vec![0u8; sock::SIZE];
        for (from, to) in [
            (sock::addr::FAMILY, sock::FAMILY),
            (sock::addr::TYPE, sock::TYPE),
            (sock::addr::PROTOCOL, sock::PROTOCOL),
        ] {
            put32(&mut built, to, get32(&ctx, from));
        }
        Ok(PointerContext {
            ty: ProgramType::CgroupSockAddr,
            ctx,
            data: Vec::new(),
            data_writable: false,
            data_fields: None,
            sock: sock_or(sock, built)?,
            sock_fields: vec![sock::addr::SK],
        })
    }

    /// The program type.
    pub fn prog_type(&self) -> ProgramType {
        self.ty
    }

    /// The data's length: the buffer's, but for a message, which may change.
    fn data_len(&self) -> usize {
        match self.ty {
            ProgramType::SkMsg => get32(&self.ctx, msg_model::LEN) as usize,
            _ => self.data.len(),
        }
    }

    /// `sk_msg`: the values given to `bpf_msg_apply_bytes` and `bpf_msg_cork_bytes`
    /// since the context was built (`None`: not called).
    pub fn msg_bytes(&self) -> (Option<u32>, Option<u32>) {
        if self.ty != ProgramType::SkMsg {
            return (None, None);
        }
        let called = get32(&self.ctx, msg_model::CALLED);
        let value = |bit: u32, at: usize| (called & bit != 0).then(|| get32(&self.ctx, at));
        (
            value(1, msg_model::APPLY_BYTES),
            value(2, msg_model::CORK_BYTES),
        )
    }

    /// The regions to map for a run.
    pub fn regions(&mut self) -> PointerRegions<'_> {
        let data_len = self.data_len();
        PointerRegions {
            ctx: &mut self.ctx,
            data_len,
            data: &mut self.data,
            data_writable: self.data_writable,
            data_fields: self.data_fields,
            sock: &self.sock,
            sock_fields: &self.sock_fields,
        }
    }

    /// The struct after a run, its pointer fields 0 again (as given).
    pub fn ctx_out(&self) -> Vec<u8> {
        let mut out = self.ctx.clone();
        let pointers = self
            .data_fields
            .into_iter()
            .flat_map(|(a, b)| [a, b])
            .chain(self.sock_fields.iter().copied());
        for off in pointers {
            out[off..off + 8].fill(0);
        }
        if self.ty == ProgramType::SkMsg {
            out.truncate(crate::msg::MSG_SIZE);
        }
        out
    }

    /// The data after a run (the option's bytes, the message).
    pub fn data(&self) -> &[u8] {
        &self.data[..self.data_len()]
    }

    /// The socket the `sk` pointers reach.
    pub fn sock(&self) -> &[u8] {
        &self.sock
    }
}
