//! Program types and their contexts: what r1 points to for each kernel program type,
//! which accesses the type allows and what they become, the context a
//! `BPF_PROG_TEST_RUN`-style run builds from a packet, and what the return value means.
//!
//! - [`ProgramType`]: the kernel's `enum bpf_prog_type`, names and ELF sections.
//! - [`AttachType`]: the attach points of the types that have several (`connect4`,
//!   `getsockopt`, `stream_parser`, ...), whose rules and return values differ.
//! - [`layout`]: the uapi structs (`__sk_buff`, `xdp_md`, `bpf_flow_keys`) and their backing models.
//! - [`access`]: the per-type access rules (the kernel's `*_is_valid_access`).
//! - [`rewrite()`]: the load-time pass (the kernel's `convert_ctx_accesses`).
//! - [`PacketContext`]: contexts built from a packet as the kernel's test run does.
//! - [`action()`]: the named action of a return value.
//! - [`helpers`]: helper names and which types may call them.
//! - [`regs`]: `pt_regs` of kprobe programs, x86_64 and arm64, built from `--regs`.
//! - [`sk_lookup`]: `struct bpf_sk_lookup`, its own backing model, built from `ctx_in`.
//! - [`sock`]: `struct bpf_sock` and `struct bpf_sock_addr` of the cgroup socket
//!   programs, their own backing models.
//! - [`sock_ops`]: `struct bpf_sock_ops`, its own backing model.
//! - [`msg`]: `struct sk_msg_md` and `struct sk_reuseport_md`, their access rules.
//! - [`PointerContext`]: the contexts whose pointer fields reach data and a socket
//!   (`bpf_sockopt`, `bpf_sock_ops`, `sk_msg_md`, `sk_reuseport_md`, `bpf_sock_addr`).
//! - [`lirc`]: the `u32` sample of `lirc_mode2` programs and its access rule.
//! - [`tracepoint`]: tracepoint records laid out from their tracefs `format` file.
//! - [`cgroup`]: `struct bpf_cgroup_dev_ctx`, `struct bpf_sysctl` (their own backing
//!   models) and `struct bpf_sockopt`.
//!
//! The engines are not involved: the context is an ordinary memory region and the
//! packet another, so the interpreter and the JIT run typed programs unchanged.

pub mod access;
mod action;
mod attach;
pub mod cgroup;
pub mod helpers;
pub mod layout;
pub mod lirc;
pub mod msg;
mod packet;
mod pointers;
mod prog_type;
pub mod regs;
mod rewrite;
pub mod sk_lookup;
pub mod sock;
pub mod sock_ops;
pub mod tracepoint;

pub use access::{is_socket_struct, AccessError, ContextKind};
pub use action::{action, action_at};
pub use attach::{AttachType, Family, UnknownAttachType};
pub use packet::{
    PacketContext, PacketError, Regions, ETH_HLEN, FLOW_DISSECTOR_MAX, SKB_MAX_LEN, XDP_FRAME,
    XDP_FRAME_RESERVED, XDP_HEADROOM,
};
pub use pointers::{PointerContext, PointerError, PointerRegions, OPTVAL_MAX};
pub use prog_type::{ProgramType, UnknownProgramType};
pub use rewrite::{context_extent, rewrite, rewrite_at, rewrite_for, rewrite_with, RewriteError};
