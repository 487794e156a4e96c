//! The `sk_skb` helpers of their own (net/core/filter.c `sk_skb_*`, net/core/sock_map.c;
//! modelled from the source, since the kernel cannot test-run `sk_skb`):
//!
//! - `skb_adjust_room` (50): `sk_skb_adjust_room` grows or shrinks the payload at its
//!   front: `len_diff` > 0 puts that many zeroed bytes before the data, < 0 removes
//!   bytes from the start. Any `mode` or `flags` is `-EINVAL`, `|len_diff|` over 0xfff
//!   `-EFAULT`, removing more than the payload `-ENOMEM`.
//! - `sk_redirect_map` (52) and `sk_redirect_hash` (72): flags other than
//!   `BPF_F_INGRESS` give `SK_DROP`, as does a key without a socket; else the socket is
//!   recorded as the target ([`crate::Redirect::Socket`]) and the result is `SK_PASS`
//!   (the kernel turns `SK_PASS` with a target into a redirect after the program).
//!   The map must be a `sockmap` for the first, a `sockhash` for the second (the
//!   kernel verifier refuses others; here the call faults saying so).
//!
//! - `skb_change_head` (43): the common helper (`skb_resize.rs`), but the headers'
//!   offsets stay 0: the IP and TCP headers lie before the payload, and the kernel
//!   (since 6.13) counts negative offsets as 0 in `skb_change_tail`'s minimum; how far
//!   before is not known here, so a push never brings them into the payload.
//!
//! `data` stays where it is (as the other resizing helpers keep it): growing at the
//! front moves the payload's bytes up.

use super::redirect::{record, LastRedirect};
use super::{packet, Redirect, EFAULT, EINVAL, ENOMEM};
use crate::ctx::layout::skb;
use crate::ctx::{ContextKind, SKB_MAX_LEN};
use crate::vm::maps::{MapId, MapKind};
use crate::vm::{HelperContext, HelperError};

const SK_DROP: u64 = 0;
const SK_PASS: u64 = 1;
/// `BPF_F_INGRESS`: to the target socket's receive queue rather than its send path.
const BPF_F_INGRESS: u64 = 1;

pub(super) fn adjust_room(
    c: &mut HelperContext<'_, '_>,
    [ctx, len_diff, mode, flags, _]: [u64; 5],
) -> Result<u64, HelperError> {
    let len_diff = len_diff as i32;
    if mode as u32 != 0 || flags != 0 {
        return Ok(EINVAL);
    }
    let abs = len_diff.unsigned_abs() as usize;
    if abs > 0xfff {
        return Ok(EFAULT);
    }
    let (data, len) = packet(c, ContextKind::SkBuff, ctx)?;
    let bytes = c.read(data, len)?.to_vec();
    let new = if len_diff >= 0 {
        if bytes.len() + abs > SKB_MAX_LEN {
            // Past the model's buffer; the kernel reallocates (its limit is memory).
            return Err(HelperError::Fault(format!(
                "skb_adjust_room past {SKB_MAX_LEN} bytes is not supported yet"
            )));
        }
        [vec![0; abs], bytes].concat()
    } else if abs > bytes.len() {
        return Ok(ENOMEM);
    } else {
        bytes[abs..].to_vec()
    };
    set_payload(c, ctx, data, &new)?;
    Ok(0)
}

pub(super) fn change_head(c: &mut HelperContext<'_, '_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let result = super::skb_resize::change_head(c, 0, a)?;
    for field in [skb::NET_OFFSET, skb::MAC_OFFSET] {
        c.write(a[0].wrapping_add(field as u64), &0u32.to_le_bytes())?;
    }
    Ok(result)
}

/// Makes `bytes` the payload at `data`: the region's window, `data_end` and `len`.
fn set_payload(
    c: &mut HelperContext<'_, '_>,
    ctx: u64,
    data: u64,
    bytes: &[u8],
) -> Result<(), HelperError> {
    if !c.memory().set_window(data, 0, bytes.len()) {
        return Err(HelperError::Fault(
            "the packet region has no room for the new length".into(),
        ));
    }
    c.write(data, bytes)?;
    let end = data + bytes.len() as u64;
    c.write(
        ctx.wrapping_add(skb::SLOT_DATA_END as u64),
        &end.to_le_bytes(),
    )?;
    c.write(
        ctx.wrapping_add(skb::LEN as u64),
        &(bytes.len() as u32).to_le_bytes(),
    )
}

/// `sk_redirect_map` (`hash` false: the key is the 32-bit r3) and `sk_redirect_hash`
/// (`hash` true: r3 points to the key), and sk_msg's `msg_redirect_map`/`_hash`, which
/// work alike (`name` says which in errors).
pub(super) fn redirect(
    c: &mut HelperContext<'_, '_>,
    name: &str,
    hash: bool,
    [_, map, key, flags, _]: [u64; 5],
    last: &LastRedirect,
) -> Result<u64, HelperError> {
    let fault = |why: String| HelperError::Fault(format!("{name}: {why}"));
    let id = MapId::from_handle(map).ok_or_else(|| fault(format!("{map:#x} is not a map")))?;
    let spec = c
        .maps()
        .and_then(|m| m.spec(id))
        .cloned()
        .ok_or_else(|| fault(format!("no map {}", id.0)))?;
    let wanted = if hash {
        MapKind::Sockhash
    } else {
        MapKind::Sockmap
    };
    if spec.kind != wanted {
        return Err(fault(format!(
            "map `{}` is a {} map; the kernel verifier refuses it here",
            spec.name,
            spec.kind.name()
        )));
    }
    let key = if hash {
        c.read(key, spec.key_size as u64)?.to_vec()
    } else {
        (key as u32).to_le_bytes().to_vec()
    };
    if flags & !BPF_F_INGRESS != 0 {
        return Ok(SK_DROP);
    }
    let maps = c.maps().ok_or_else(|| fault("no maps".into()))?;
    let cookie = maps
        .sock_target(id, &key)
        .map_err(|e| fault(e.to_string()))?;
    let Some(cookie) = cookie else {
        return Ok(SK_DROP);
    };
    let map = spec.name;
    record(
        last,
        Redirect::Socket {
            map,
            key,
            cookie,
            flags,
        },
    );
    Ok(SK_PASS)
}
