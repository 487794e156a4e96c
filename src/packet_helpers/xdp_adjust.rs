//! The XDP adjust helpers: `xdp_adjust_head` (44), `xdp_adjust_meta` (54) and
//! `xdp_adjust_tail` (65) move `data`, `data_meta` or `data_end` inside the frame (limits
//! in `ctx::PacketContext`); the packet region's window moves with them
//! ([`crate::vm::MemoryMap::set_window`]), so the program must reload its packet
//! pointers, as the kernel's verifier demands.

use super::EINVAL;
use crate::ctx::layout::xdp;
use crate::ctx::{ETH_HLEN, XDP_FRAME, XDP_FRAME_RESERVED};
use crate::vm::{HelperContext, HelperError};

/// Which edge an XDP adjust helper moves.
#[derive(Clone, Copy)]
pub(super) enum Adjust {
    Head,
    Meta,
    Tail,
}

pub(super) fn get32(c: &HelperContext<'_, '_>, addr: u64) -> Result<u32, HelperError> {
    let bytes = c.read(addr, 4)?;
    Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
}

/// `xdp_adjust_head`, `xdp_adjust_meta`, `xdp_adjust_tail`: move an edge of the packet
/// by `delta` (a signed 32-bit value) within the frame, as the kernel allows it; the
/// packet region's window and the pointer slots follow. `-EINVAL` out of bounds;
/// `-EACCES` for metadata not a multiple of 4 bytes.
pub(super) fn xdp_adjust(
    c: &mut HelperContext<'_, '_>,
    ctx: u64,
    edge: Adjust,
    delta: u64,
) -> Result<u64, HelperError> {
    const EACCES: u64 = (-13i64) as u64;
    let region = u64::from_le_bytes(
        c.read(ctx.wrapping_add(xdp::SLOT_DATA_META as u64), 8)?
            .try_into()
            .expect("8 bytes"),
    );
    let field = |f: usize| ctx.wrapping_add(f as u64);
    let meta = get32(c, field(xdp::FRAME_META))? as i64;
    let data = get32(c, field(xdp::FRAME_DATA))? as i64;
    let end = get32(c, field(xdp::FRAME_END))? as i64;
    let delta = delta as i32 as i64;
    let (hard_start, hard_end) = (XDP_FRAME_RESERVED as i64, XDP_FRAME as i64);
    let (new_meta, new_data, new_end) = match edge {
        Adjust::Head => {
            let new_data = data + delta;
            if new_data < hard_start + (data - meta) || new_data > end - ETH_HLEN as i64 {
                return Ok(EINVAL);
            }
            (meta + delta, new_data, end)
        }
        Adjust::Meta => {
            let new_meta = meta + delta;
            if new_meta < hard_start || new_meta > data {
                return Ok(EINVAL);
            }
            if (data - new_meta) % 4 != 0 {
                return Ok(EACCES);
            }
            (new_meta, data, end)
        }
        Adjust::Tail => {
            let new_end = end + delta;
            if new_end > hard_end || new_end < data + ETH_HLEN as i64 {
                return Ok(EINVAL);
            }
            (meta, data, new_end)
        }
    };
    // Open a window over the old and the new packet, move the metadata with the head
    // and clear grown tail bytes, then settle on the new window.
    let (low, high) = (meta.min(new_meta) as usize, end.max(new_end) as usize);
    if !c.memory().set_window(region, low, high) {
        return Err(HelperError::Fault(
            "the XDP packet region has no window".into(),
        ));
    }
    let at = |frame_offset: i64| region + (frame_offset as u64 - low as u64);
    if let Adjust::Head = edge {
        let metadata = c.read(at(meta), (data - meta) as u64)?.to_vec();
        c.write(at(new_meta), &metadata)?;
    }
    if new_end > end {
        c.write(at(end), &vec![0; (new_end - end) as usize])?;
    }
    c.memory()
        .set_window(region, new_meta as usize, new_end as usize);
    for (slot, value) in [
        (xdp::SLOT_DATA_META, region),
        (xdp::SLOT_DATA, region + (new_data - new_meta) as u64),
        (xdp::SLOT_DATA_END, region + (new_end - new_meta) as u64),
    ] {
        c.write(field(slot), &value.to_le_bytes())?;
    }
    for (f, value) in [
        (xdp::FRAME_META, new_meta),
        (xdp::FRAME_DATA, new_data),
        (xdp::FRAME_END, new_end),
    ] {
        c.write(field(f), &(value as u32).to_le_bytes())?;
    }
    Ok(0)
}
