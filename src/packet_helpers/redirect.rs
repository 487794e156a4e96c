//! `bpf_redirect` (23) and `bpf_redirect_map` (51). The kernel's test run only records
//! the target (without `BPF_F_TEST_XDP_LIVE_FRAMES` nothing is sent): the program's
//! return value is the action, and the target is what [`crate::Vm::last_redirect`]
//! gives. Both were compared with the running kernel (`tests/packet_helpers_kernel.rs`).

use std::sync::{Arc, Mutex};

use crate::ctx::ContextKind;
use crate::vm::maps::{MapId, MapKind};
use crate::vm::{HelperContext, HelperError};

const XDP_ABORTED: u64 = 0;
const XDP_REDIRECT: u64 = 4;
const TC_ACT_SHOT: u64 = 2;
const TC_ACT_REDIRECT: u64 = 7;
/// The fallback action in `bpf_redirect_map`'s flags (`XDP_ABORTED`..`XDP_TX`).
const ACTION_MASK: u64 = 3;
/// `BPF_F_BROADCAST`: redirect to every device of the map.
const BPF_F_BROADCAST: u64 = 1 << 3;
/// `BPF_F_EXCLUDE_INGRESS`: with `BPF_F_BROADCAST`, not to the receiving device.
const BPF_F_EXCLUDE_INGRESS: u64 = 1 << 4;

/// Where a program redirected the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `bpf_redirect(ifindex, flags)`.
    Device {
        /// The target device.
        ifindex: u32,
        /// The flags (`BPF_F_INGRESS` for tc).
        flags: u64,
    },
    /// `bpf_redirect_map(map, key, flags)` that found its entry (or broadcast).
    Map {
        /// The map's name.
        map: String,
        /// The key (the helper's 64-bit key truncated to 32 bits, as the kernel does).
        key: u32,
        /// The flags (fallback action, `BPF_F_BROADCAST`, `BPF_F_EXCLUDE_INGRESS`).
        flags: u64,
    },
    /// `bpf_sk_redirect_map`/`bpf_sk_redirect_hash` (`sk_skb`) that found a socket.
    Socket {
        /// The socket map's name.
        map: String,
        /// The key's bytes (4, little-endian, for a sockmap).
        key: Vec<u8>,
        /// The socket found: its cookie, as the map holds it.
        cookie: u64,
        /// The flags (`BPF_F_INGRESS`).
        flags: u64,
    },
}

/// The last redirect of a run, shared between the helpers and the [`crate::Vm`].
pub(crate) type LastRedirect = Arc<Mutex<Option<Redirect>>>;

pub(super) fn record(last: &LastRedirect, target: Redirect) {
    *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(target);
}

/// `bpf_redirect`: validates the flags and returns `TC_ACT_REDIRECT` (tc) or
/// `XDP_REDIRECT` (XDP); bad flags give `TC_ACT_SHOT` or `XDP_ABORTED`.
pub(super) fn redirect(
    kind: ContextKind,
    [ifindex, flags, ..]: [u64; 5],
    last: &LastRedirect,
) -> u64 {
    const BPF_F_INGRESS: u64 = 1;
    let result = match kind {
        ContextKind::XdpMd if flags != 0 => XDP_ABORTED,
        ContextKind::XdpMd => XDP_REDIRECT,
        ContextKind::SkBuff if flags & !BPF_F_INGRESS != 0 => TC_ACT_SHOT,
        ContextKind::SkBuff => TC_ACT_REDIRECT,
    };
    if matches!(result, XDP_REDIRECT | TC_ACT_REDIRECT) {
        let ifindex = ifindex as u32;
        record(last, Redirect::Device { ifindex, flags });
    }
    result
}

/// `bpf_redirect_map` (XDP): flags beyond the fallback action (and, for devmaps,
/// `BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS`) give `XDP_ABORTED`; a broadcast, or a key
/// with an entry, gives `XDP_REDIRECT`; else the fallback action in the flags' low bits.
/// A map that is not a redirect map is a fault (the kernel verifier refuses it).
pub(super) fn redirect_map(
    c: &mut HelperContext<'_, '_>,
    [map, key, flags, ..]: [u64; 5],
    last: &LastRedirect,
) -> Result<u64, HelperError> {
    let fault = |why: String| HelperError::Fault(format!("bpf_redirect_map: {why}"));
    let id = MapId::from_handle(map).ok_or_else(|| fault(format!("{map:#x} is not a map")))?;
    let maps = c.maps().ok_or_else(|| fault("no maps".into()))?;
    let spec = maps
        .spec(id)
        .ok_or_else(|| fault(format!("no map {}", id.0)))?;
    if !spec.kind.is_redirect() {
        return Err(fault(format!(
            "map `{}` is a {} map; the kernel verifier refuses it here",
            spec.name,
            spec.kind.name()
        )));
    }
    let broadcast_flags = match spec.kind {
        MapKind::Devmap | MapKind::DevmapHash => BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS,
        _ => 0,
    };
    if flags & !(ACTION_MASK | broadcast_flags) != 0 {
        return Ok(XDP_ABORTED);
    }
    let key = key as u32;
    let found = flags & BPF_F_BROADCAST != 0 || maps.redirect_target(id, key) == Some(true);
    if !found {
        return Ok(flags & ACTION_MASK);
    }
    let map = spec.name.clone();
    record(last, Redirect::Map { map, key, flags });
    Ok(XDP_REDIRECT)
}
