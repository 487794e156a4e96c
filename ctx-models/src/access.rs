//! Which context accesses each program type allows, and what each becomes in the
//! backing model ([`crate::layout`]).
//!
//! The rules restate the kernel's `*_is_valid_access` functions (net/core/filter.c:
//! `bpf_skb_is_valid_access` and the per-type `sk_filter_`, `tc_cls_act_`, `cg_skb_`,
//! `lwt_`, `sk_skb_`, `xdp_` and `flow_dissector_` variants; kernel/trace/bpf_trace.c: `kprobe_prog_`, `tp_prog_`,
//! `pe_prog_` and the raw tracepoints' `bpf_tracing_ctx_access`), checked against the
//! running kernel by `tests/ctx_kernel.rs`. A refused access is reported in the verifier's words:
//! `invalid bpf_context access off=76 size=4`.

use crate::attach::AttachType;
use crate::layout::{skb, xdp};
use crate::regs::Arch;
use crate::ProgramType;

/// The context struct a program type's r1 points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextKind {
    /// `struct __sk_buff`.
    SkBuff,
    /// `struct xdp_md`.
    XdpMd,
}

impl ContextKind {
    /// The context of `ty`, when it is modelled.
    pub fn of(ty: ProgramType) -> Option<ContextKind> {
        use ProgramType as P;
        match ty {
            P::SocketFilter
            | P::SchedCls
            | P::SchedAct
            | P::CgroupSkb
            | P::LwtIn
            | P::LwtOut
            | P::LwtXmit
            | P::FlowDissector
            | P::SkSkb
            | P::LwtSeg6local => Some(ContextKind::SkBuff),
            P::Xdp => Some(ContextKind::XdpMd),
            _ => None,
        }
    }

    /// Bytes of the backing model.
    pub fn model_size(self) -> usize {
        match self {
            ContextKind::SkBuff => skb::MODEL_SIZE,
            ContextKind::XdpMd => xdp::MODEL_SIZE,
        }
    }
}

/// Whether `ty`'s context is a socket or cgroup struct run as given (`--ctx`): the
/// types the kernel cannot test-run but `sk_lookup`, all checked at load by these rules.
pub fn is_socket_struct(ty: ProgramType) -> bool {
    use ProgramType as P;
    matches!(
        ty,
        P::SkLookup
            | P::CgroupSock
            | P::CgroupSockAddr
            | P::SockOps
            | P::SkMsg
            | P::SkReuseport
            | P::CgroupDevice
            | P::CgroupSysctl
            | P::CgroupSockopt
    )
}

/// How an instruction touches the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    /// A load (`sign_extend`: `ldsx`).
    Read {
        /// Whether the load sign-extends.
        sign_extend: bool,
    },
    /// A store of a register (`STX`).
    WriteReg,
    /// A store of an immediate (`ST`).
    WriteImm(i32),
}

/// What the rewrite does with an allowed access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// Nothing: the backing model holds the field at its uapi offset.
    Plain,
    /// A 32-bit load of a pointer field becomes a 64-bit load of its slot.
    Pointer {
        /// Offset of the slot in the backing model.
        slot: usize,
    },
    /// A 32-bit store to a field the kernel keeps in 16 bits stores only the low half
    /// (`tc_index`, `tc_classid`, `queue_mapping`), so reading it back gives what the
    /// kernel gives.
    Store16,
    /// A store the kernel drops (`queue_mapping` = an immediate >= 0xffff).
    Nop,
    /// A narrow load at least as wide as the kernel's own field (`pkt_type` is one
    /// byte, `protocol` two): the kernel loads the whole field whatever byte was asked
    /// for, so the load moves to the field's first byte.
    AtField {
        /// Offset of the field in the context.
        off: usize,
    },
}

/// Why an access is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The kernel refuses it too.
    #[error("invalid bpf_context access off={off} size={size}")]
    Invalid {
        /// Offset in the context.
        off: i64,
        /// Access size.
        size: u32,
    },
    /// The kernel allows it, but this model cannot run it yet.
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
}

/// Checks an access of `size` bytes at offset `off` of `ty`'s context, for the type's
/// default attach point ([`AttachType::default_for`]) on x86_64.
pub fn check(
    ty: ProgramType,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    check_with(ty, None, Arch::default(), off, size, kind)
}

/// [`check`] for a program attached at `at` (`None`: the type has one attach point, or
/// the default).
pub fn check_at(
    ty: ProgramType,
    at: Option<AttachType>,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    check_with(ty, at, Arch::default(), off, size, kind)
}

/// [`check`] for a kernel built for `arch`: a kprobe's `struct pt_regs` differs.
pub fn check_for(
    ty: ProgramType,
    arch: Arch,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    check_with(ty, None, arch, off, size, kind)
}

/// The one rule entry point: an access by a program of type `ty` attached at `at`
/// (`None`, or a point of another type: the type's default) on a kernel built for
/// `arch`. The attach point matters to the socket and cgroup contexts, the arch to
/// kprobes; each is ignored where it does not.
pub fn check_with(
    ty: ProgramType,
    at: Option<AttachType>,
    arch: Arch,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    let at = at
        .filter(|a| a.prog_type() == ty)
        .or(AttachType::default_for(ty));
    let invalid = AccessError::Invalid { off, size };
    if ty == ProgramType::Kprobe {
        return kprobe(arch, off, size, kind);
    }
    if ty == ProgramType::RawTracepoint {
        return raw_tracepoint(off, size, kind);
    }
    if ty == ProgramType::Tracepoint {
        return tracepoint(off, size, kind);
    }
    if ty == ProgramType::PerfEvent {
        return perf_event(off, size, kind);
    }
    if ty == ProgramType::FlowDissector {
        return flow_dissector(off, size, kind);
    }
    if ty == ProgramType::SkLookup {
        return crate::sk_lookup::check(off, size, kind);
    }
    match (ty, at) {
        (ProgramType::CgroupSock, Some(at)) => {
            return crate::sock::cgroup_sock(at, off, size, kind)
        }
        (ProgramType::CgroupSockAddr, Some(at)) => {
            return crate::sock::cgroup_sock_addr(at, off, size, kind)
        }
        (ProgramType::CgroupSockopt, Some(at)) => {
            return crate::cgroup::sockopt(at, off, size, kind)
        }
        _ => {}
    }
    match ty {
        ProgramType::SockOps => return crate::sock_ops::check(off, size, kind),
        ProgramType::SkMsg => return crate::msg::sk_msg(off, size, kind),
        ProgramType::SkReuseport => return crate::msg::sk_reuseport(off, size, kind),
        ProgramType::CgroupDevice => return crate::cgroup::device(off, size, kind),
        ProgramType::CgroupSysctl => return crate::cgroup::sysctl(off, size, kind),
        ProgramType::LircMode2 => return crate::lirc::check(off, size, kind),
        _ => {}
    }
    let allowed = match ContextKind::of(ty) {
        Some(ContextKind::SkBuff) => skb_allowed(ty, off, size, kind),
        Some(ContextKind::XdpMd) => xdp_allowed(off, size, kind),
        None => return Err(AccessError::Unsupported("this program type's context")),
    };
    if !allowed {
        return Err(invalid);
    }
    Ok(match ContextKind::of(ty) {
        Some(ContextKind::XdpMd) => match off as usize {
            xdp::DATA => Conversion::Pointer {
                slot: xdp::SLOT_DATA,
            },
            xdp::DATA_END => Conversion::Pointer {
                slot: xdp::SLOT_DATA_END,
            },
            xdp::DATA_META => Conversion::Pointer {
                slot: xdp::SLOT_DATA_META,
            },
            _ => Conversion::Plain,
        },
        _ => skb_conversion(off as usize, size, kind)?,
    })
}

/// Bytes the kernel's `struct sk_buff` (or socket) keeps a 32-bit `__sk_buff` field in,
/// from `bpf_convert_ctx_access`.
fn skb_target_size(field: usize) -> u32 {
    match field {
        skb::PKT_TYPE => 1,
        skb::QUEUE_MAPPING
        | skb::PROTOCOL
        | VLAN_TCI
        | VLAN_PROTO
        | skb::TC_INDEX
        | skb::TC_CLASSID
        | skb::FAMILY
        | REMOTE_PORT
        | LOCAL_PORT
        | GSO_SEGS
        | GSO_SIZE => 2,
        _ => 4,
    }
}

const VLAN_TCI: usize = 24;
const VLAN_PROTO: usize = 28;
const REMOTE_PORT: usize = 132;
const LOCAL_PORT: usize = 136;
const GSO_SEGS: usize = 164;
const GSO_SIZE: usize = 176;

fn skb_conversion(off: usize, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let write = !matches!(kind, AccessKind::Read { .. });
    Ok(match off {
        skb::DATA => Conversion::Pointer {
            slot: skb::SLOT_DATA,
        },
        skb::DATA_END => Conversion::Pointer {
            slot: skb::SLOT_DATA_END,
        },
        skb::DATA_META => Conversion::Pointer {
            slot: skb::SLOT_DATA_META,
        },
        // The model holds the socket's guest address there (the field is 64 bits).
        skb::SK => Conversion::Plain,
        _ if !write && off % 4 != 0 && size >= skb_target_size(off & !3) => {
            Conversion::AtField { off: off & !3 }
        }
        skb::TC_INDEX | skb::TC_CLASSID if write => Conversion::Store16,
        // The kernel skips a store of 0xffff (NO_QUEUE_MAPPING) or more; for a register
        // that is a branch the one-slot rewrite cannot express.
        skb::QUEUE_MAPPING => match kind {
            AccessKind::WriteImm(imm) if imm as u32 >= 0xffff => Conversion::Nop,
            AccessKind::WriteImm(_) => Conversion::Store16,
            AccessKind::WriteReg => {
                return Err(AccessError::Unsupported(
                    "storing a register to __sk_buff->queue_mapping",
                ))
            }
            AccessKind::Read { .. } => Conversion::Plain,
        },
        _ => Conversion::Plain,
    })
}

/// `[start, end)` of a field, as the kernel's `bpf_ctx_range` matches it.
fn within(off: usize, start: usize, end: usize) -> bool {
    (start..end).contains(&off)
}

/// `bpf_skb_is_valid_access` after the per-type wrapper.
fn skb_allowed(ty: ProgramType, off: i64, size: u32, kind: AccessKind) -> bool {
    use ProgramType as P;
    if off < 0 || off >= skb::SIZE as i64 || off % size as i64 != 0 {
        return false;
    }
    let off = off as usize;
    let write = !matches!(kind, AccessKind::Read { .. });
    let range = |start: usize, len: usize| within(off, start, start + len);
    let sock = within(off, skb::FAMILY, skb::SOCK_END);
    let cb = within(off, skb::CB, skb::CB_END);
    // Fields the type never sees, then the fields it may write.
    let (hidden, writable) = match ty {
        P::SocketFilter => (
            range(skb::TC_CLASSID, 4)
                || range(skb::DATA, 8)
                || range(skb::DATA_META, 4)
                || sock
                || range(skb::TSTAMP, 8)
                || range(skb::WIRE_LEN, 4)
                || range(skb::HWTSTAMP, 8),
            cb,
        ),
        P::CgroupSkb => (
            range(skb::TC_CLASSID, 4) || range(skb::DATA_META, 4) || range(skb::WIRE_LEN, 4),
            range(skb::MARK, 4) || range(skb::PRIORITY, 4) || cb || range(skb::TSTAMP, 8),
        ),
        P::LwtIn | P::LwtOut | P::LwtXmit | P::LwtSeg6local => (
            range(skb::TC_CLASSID, 4)
                || sock
                || range(skb::DATA_META, 4)
                || range(skb::TSTAMP, 8)
                || range(skb::WIRE_LEN, 4)
                || range(skb::HWTSTAMP, 8),
            range(skb::MARK, 4) || range(skb::PRIORITY, 4) || cb,
        ),
        P::SkSkb => (
            range(skb::TC_CLASSID, 4)
                || range(skb::DATA_META, 4)
                || range(skb::TSTAMP, 8)
                || range(skb::WIRE_LEN, 4)
                || range(skb::HWTSTAMP, 8)
                || range(skb::MARK, 4),
            range(skb::TC_INDEX, 4) || range(skb::PRIORITY, 4),
        ),
        P::SchedCls | P::SchedAct => {
            if off == skb::TSTAMP_TYPE {
                // tc may read tstamp_type, one byte at a time.
                return !write && size == 1;
            }
            (
                sock,
                range(skb::MARK, 4)
                    || range(skb::TC_INDEX, 4)
                    || range(skb::PRIORITY, 4)
                    || range(skb::TC_CLASSID, 4)
                    || cb
                    || range(skb::TSTAMP, 8)
                    || range(skb::QUEUE_MAPPING, 4),
            )
        }
        _ => return false,
    };
    if hidden || (write && !writable) {
        return false;
    }
    let sign_extend = matches!(kind, AccessKind::Read { sign_extend: true });
    match off {
        _ if cb => off + size as usize <= skb::CB_END,
        _ if range(skb::DATA, 8) || range(skb::DATA_META, 4) => !sign_extend && size == 4,
        _ if range(skb::REMOTE_IP4, 8) || range(skb::REMOTE_IP6, 32) => size == 4,
        _ if range(skb::FLOW_KEYS, 8) => false,
        _ if range(skb::HWTSTAMP, 8) => !write && size == 8,
        _ if range(skb::TSTAMP, 8) => size == 8,
        _ if range(skb::SK, 8) => !write && size == 8,
        // tstamp_type (tc handled above) and the padding after it.
        _ if range(skb::TSTAMP_TYPE, 4) => false,
        // Writes are whole words; reads may be narrower, a power of two.
        _ if write => size == 4,
        _ => size <= 4 && size.is_power_of_two(),
    }
}

/// `flow_dissector_is_valid_access`: aligned reads of `data` and `data_end` (32 bits,
/// not sign-extending) and of the `flow_keys` pointer (64 bits); nothing else, no
/// writes. The backing model holds the flow keys' guest address at `flow_keys` itself
/// (the uapi field is 64 bits wide), so that load stays as it is.
fn flow_dissector(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let invalid = AccessError::Invalid { off, size };
    match (off, size, kind) {
        (76, 4, AccessKind::Read { sign_extend: false }) => Ok(Conversion::Pointer {
            slot: skb::SLOT_DATA,
        }),
        (80, 4, AccessKind::Read { sign_extend: false }) => Ok(Conversion::Pointer {
            slot: skb::SLOT_DATA_END,
        }),
        (144, 8, AccessKind::Read { .. }) => Ok(Conversion::Plain),
        _ => Err(invalid),
    }
}

/// `kprobe_prog_is_valid_access`: aligned reads inside the kernel's `struct pt_regs`
/// of `arch` ([`crate::regs::Arch::kernel_size`], larger than what `--regs` names on
/// arm64), as they are (the struct is its own backing model).
pub fn kprobe(
    arch: crate::regs::Arch,
    off: i64,
    size: u32,
    kind: AccessKind,
) -> Result<Conversion, AccessError> {
    let inside = off >= 0 && off + size as i64 <= arch.kernel_size() as i64;
    if inside && matches!(kind, AccessKind::Read { .. }) && off % size as i64 == 0 {
        Ok(Conversion::Plain)
    } else {
        Err(AccessError::Invalid { off, size })
    }
}

/// Bytes of `struct bpf_raw_tracepoint_args`: up to 12 u64 arguments.
pub const RAW_TP_ARGS_SIZE: usize = 96;

/// `bpf_tracing_ctx_access` for raw tracepoints: aligned reads of the 12 argument
/// slots, as they are.
fn raw_tracepoint(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let inside = (0..RAW_TP_ARGS_SIZE as i64).contains(&off);
    if inside && matches!(kind, AccessKind::Read { .. }) && off % size as i64 == 0 {
        Ok(Conversion::Plain)
    } else {
        Err(AccessError::Invalid { off, size })
    }
}

/// Largest tracepoint record a program may read (`PERF_MAX_TRACE_SIZE`).
pub const TRACEPOINT_MAX: usize = 8192;

/// `tp_prog_is_valid_access`: aligned reads of the record after its first 8 bytes (the
/// common header a program reaches through helpers only).
/// (The kernel compares a negative offset as unsigned against 8 and lets it read before
/// the record; that memory is not modelled.)
fn tracepoint(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    if off < 0 && matches!(kind, AccessKind::Read { .. }) && off % size as i64 == 0 {
        return Err(AccessError::Unsupported(
            "reading before a tracepoint record (a negative offset)",
        ));
    }
    let inside = (8..TRACEPOINT_MAX as i64).contains(&off);
    if inside && matches!(kind, AccessKind::Read { .. }) && off % size as i64 == 0 {
        Ok(Conversion::Plain)
    } else {
        Err(AccessError::Invalid { off, size })
    }
}

/// `sizeof(struct bpf_perf_event_data)` on x86_64: `pt_regs`, `sample_period`, `addr`.
pub const PERF_EVENT_DATA_SIZE: usize = 184;

/// `pe_prog_is_valid_access` (64-bit): whole registers of `regs`; `sample_period` (168)
/// and `addr` (176) also narrower, a power of two.
fn perf_event(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    let invalid = AccessError::Invalid { off, size };
    if !(0..PERF_EVENT_DATA_SIZE as i64).contains(&off)
        || !matches!(kind, AccessKind::Read { .. })
        || off % size as i64 != 0
    {
        return Err(invalid);
    }
    let ok = if off >= 168 {
        size <= 8 && size.is_power_of_two()
    } else {
        size == 8
    };
    if ok {
        Ok(Conversion::Plain)
    } else {
        Err(invalid)
    }
}

/// `xdp_is_valid_access` for programs not attached to a devmap: aligned 32-bit reads,
/// not sign-extending for the pointer fields.
fn xdp_allowed(off: i64, size: u32, kind: AccessKind) -> bool {
    let pointer = (0..12).contains(&off);
    let read = match kind {
        AccessKind::Read { sign_extend } => !(sign_extend && pointer),
        _ => false,
    };
    read && (0..xdp::SIZE as i64).contains(&off)
        && off as usize != xdp::EGRESS_IFINDEX
        && off % size as i64 == 0
        && size == 4
}
