//! The `sk_msg` helpers (net/core/filter.c `bpf_msg_*`, net/core/sock_map.c; modelled
//! from the source and not compared: the kernel cannot test-run `sk_msg`):
//!
//! - `msg_apply_bytes` (61), `msg_cork_bytes` (62): record their value (the context's
//!   [`crate::ctx::PointerContext::msg_bytes`]); always 0.
//! - `msg_pull_data` (63): `data`..`data_end` become the message's `[start, end)`,
//!   the scatterlist elements it spans merged into one; `-EINVAL` for flags,
//!   `end <= start`, `start` past the message or `end` past its last element.
//! - `msg_push_data` (90): `len` bytes inserted at `start` (zeroed here; the kernel
//!   leaves them uninitialised), in an element of their own, splitting the one
//!   `start` falls in when there is room in the ring, else copied into it; `-EINVAL`
//!   for flags or `start` past the end (pushing at the very end appends, as since the
//!   kernel's 6.13 fixes); `len` 0 does nothing.
//! - `msg_pop_data` (91): `[start, start + len)` removed, the element it starts in
//!   split when its tail survives and there is room; `-EINVAL` for flags, `start`
//!   past the message or `start + len` past its end (popping to the very end is
//!   allowed, and the sum is taken in 64 bits, as in kernels with the 6.13 and later
//!   fixes); `len` 0 does nothing.
//! - `msg_redirect_map` (60), `msg_redirect_hash` (71): as `sk_redirect_map`/`_hash`
//!   (`sk_skb.rs`): `SK_PASS` with the socket recorded, `SK_DROP` for other flags than
//!   `BPF_F_INGRESS` or a key without a socket.
//!
//! The message starts as one scatterlist element (how the kernel splits a real one
//! depends on how it was sent), none shared (`sg.copy` clear). After a push or pop,
//! `data`..`data_end` span the first element, as `sk_msg_compute_data_pointers` sets
//! them, and `size` changes by the bytes added or removed. The element lengths live in
//! the context's private model ([`crate::ctx::msg::model`]).

use super::sk_skb;
use super::{LastRedirect, EINVAL};
use crate::ctx::msg::model::{self, MAX_FRAGS};
use crate::vm::{HelperContext, HelperError, Helpers};

/// `sk_msg_md.size` (u32): `msg->sg.size`.
const SIZE_FIELD: usize = 68;

/// The helpers above, for an `sk_msg` program; the redirects record into `last`.
pub(super) fn register(helpers: &mut Helpers, last: &LastRedirect) {
    helpers.register(61, |c, [ctx, bytes, ..]| {
        record(c, ctx, model::APPLY_BYTES, 1, bytes)
    });
    helpers.register(62, |c, [ctx, bytes, ..]| {
        record(c, ctx, model::CORK_BYTES, 2, bytes)
    });
    helpers.register(63, |c, [ctx, start, end, flags, _]| {
        pull(c, ctx, start as u32, end as u32, flags)
    });
    helpers.register(90, |c, [ctx, start, len, flags, _]| {
        push(c, ctx, start as u32, len as u32, flags)
    });
    helpers.register(91, |c, [ctx, start, len, flags, _]| {
        pop(c, ctx, start as u32, len as u32, flags)
    });
    let last_map = LastRedirect::clone(last);
    helpers.register(60, move |c, a| {
        sk_skb::redirect(c, "bpf_msg_redirect_map", false, a, &last_map)
    });
    let last_hash = LastRedirect::clone(last);
    helpers.register(71, move |c, a| {
        sk_skb::redirect(c, "bpf_msg_redirect_hash", true, a, &last_hash)
    });
}

fn get32(c: &HelperContext<'_, '_>, ctx: u64, at: usize) -> Result<u32, HelperError> {
    let bytes = c.read(ctx.wrapping_add(at as u64), 4)?;
    Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
}

fn put(c: &mut HelperContext<'_, '_>, ctx: u64, at: usize, v: &[u8]) -> Result<(), HelperError> {
    c.write(ctx.wrapping_add(at as u64), v)
}

fn record(
    c: &mut HelperContext<'_, '_>,
    ctx: u64,
    at: usize,
    bit: u32,
    bytes: u64,
) -> Result<u64, HelperError> {
    put(c, ctx, at, &(bytes as u32).to_le_bytes())?;
    let called = get32(c, ctx, model::CALLED)? | bit;
    put(c, ctx, model::CALLED, &called.to_le_bytes())?;
    Ok(0)
}

/// The message as the helpers see it: its bytes and scatterlist element lengths.
struct Msg {
    ctx: u64,
    /// The data region's guest address (its offset 0: `region << 32`).
    region: u64,
    bytes: Vec<u8>,
    elems: Vec<usize>,
}

impl Msg {
    fn read(c: &HelperContext<'_, '_>, ctx: u64) -> Result<Msg, HelperError> {
        let data = u64::from_le_bytes(c.read(ctx, 8)?.try_into().expect("8 bytes"));
        let region = data & !0xffff_ffff;
        let len = get32(c, ctx, model::LEN)? as u64;
        let count = (get32(c, ctx, model::ELEMS)? as usize).min(MAX_FRAGS);
        let elems = (0..count)
            .map(|i| get32(c, ctx, model::ELEM_LENS + 4 * i).map(|l| l as usize))
            .collect::<Result<_, _>>()?;
        let bytes = c.read(region, len)?.to_vec();
        Ok(Msg {
            ctx,
            region,
            bytes,
            elems,
        })
    }

    /// The element `start` falls in and the message offset it begins at.
    fn find(&self, start: usize) -> Option<(usize, usize)> {
        let mut offset = 0;
        for (i, &len) in self.elems.iter().enumerate() {
            if start < offset + len {
                return Some((i, offset));
            }
            offset += len;
        }
        None
    }

    /// Free slots in the scatterlist ring.
    fn space(&self) -> usize {
        MAX_FRAGS.saturating_sub(self.elems.len())
    }

    /// Writes the elements and `data`..`data_end` (`span`, message offsets).
    fn write_layout(
        &self,
        c: &mut HelperContext<'_, '_>,
        span: (usize, usize),
    ) -> Result<(), HelperError> {
        put(
            c,
            self.ctx,
            model::ELEMS,
            &(self.elems.len() as u32).to_le_bytes(),
        )?;
        for (i, &len) in self.elems.iter().enumerate() {
            put(
                c,
                self.ctx,
                model::ELEM_LENS + 4 * i,
                &(len as u32).to_le_bytes(),
            )?;
        }
        put(c, self.ctx, 0, &(self.region + span.0 as u64).to_le_bytes())?;
        put(c, self.ctx, 8, &(self.region + span.1 as u64).to_le_bytes())
    }

    /// Makes `bytes` the message (its length and `size` follow), then the layout with
    /// `data`..`data_end` over the first element.
    fn write(&self, c: &mut HelperContext<'_, '_>, bytes: &[u8]) -> Result<(), HelperError> {
        let old = self.bytes.len();
        if bytes.len() > old && !c.memory().set_window(self.region, 0, bytes.len()) {
            return Err(HelperError::Fault(format!(
                "bpf_msg_push_data: a message grown past {} bytes is not supported",
                model::ROOM
            )));
        }
        c.write(self.region, bytes)?;
        c.memory().set_window(self.region, 0, bytes.len());
        put(c, self.ctx, model::LEN, &(bytes.len() as u32).to_le_bytes())?;
        let size = get32(c, self.ctx, SIZE_FIELD)?
            .wrapping_add(bytes.len() as u32)
            .wrapping_sub(old as u32);
        put(c, self.ctx, SIZE_FIELD, &size.to_le_bytes())?;
        let first = self.elems.first().copied().unwrap_or(0);
        self.write_layout(c, (0, first))
    }
}

fn pull(
    c: &mut HelperContext<'_, '_>,
    ctx: u64,
    start: u32,
    end: u32,
    flags: u64,
) -> Result<u64, HelperError> {
    if flags != 0 || end <= start {
        return Ok(EINVAL);
    }
    let (start, end) = (start as usize, end as usize);
    let mut m = Msg::read(c, ctx)?;
    let Some((first, offset)) = m.find(start) else {
        return Ok(EINVAL);
    };
    // Bytes from the first element's start to `end`.
    let total = end - offset;
    if total > m.elems[first] {
        let mut copy = 0;
        let mut last = first;
        while last < m.elems.len() && copy < total {
            copy += m.elems[last];
            last += 1;
        }
        if copy < total {
            return Ok(EINVAL);
        }
        m.elems.splice(first..last, [copy]);
    }
    m.write_layout(c, (start, end))?;
    Ok(0)
}

fn push(
    c: &mut HelperContext<'_, '_>,
    ctx: u64,
    start: u32,
    len: u32,
    flags: u64,
) -> Result<u64, HelperError> {
    if flags != 0 {
        return Ok(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let (start, len) = (start as usize, len as usize);
    let mut m = Msg::read(c, ctx)?;
    let total = m.bytes.len();
    // At the very end (allowed since the kernel's 6.13 fixes) the room goes after the
    // last element; an empty message gets its first.
    let at_end = (start == total).then(|| match m.elems.last() {
        Some(&last) => (m.elems.len() - 1, total - last),
        None => (0, 0),
    });
    let Some((i, offset)) = m.find(start).or(at_end) else {
        return Ok(EINVAL);
    };
    let space = m.space();
    let front = start - offset;
    if m.elems.is_empty() {
        m.elems.push(len);
    } else if space == 0 || (space == 1 && front != 0) {
        // No slot for a new element: the element is copied with the room inside it.
        m.elems[i] += len;
    } else if front != 0 {
        let back = m.elems[i] - front;
        let split = [front, len, back];
        let kept = if back == 0 { &split[..2] } else { &split[..] };
        m.elems.splice(i..=i, kept.iter().copied());
    } else {
        m.elems.insert(i, len);
    }
    let bytes = [&m.bytes[..start], &vec![0; len], &m.bytes[start..]].concat();
    m.write(c, &bytes)?;
    Ok(0)
}

fn pop(
    c: &mut HelperContext<'_, '_>,
    ctx: u64,
    start: u32,
    len: u32,
    flags: u64,
) -> Result<u64, HelperError> {
    if flags != 0 {
        return Ok(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let (start, len) = (start as usize, len as usize);
    let mut m = Msg::read(c, ctx)?;
    let found = m.find(start);
    let Some((mut i, offset)) = found.filter(|_| start + len <= m.bytes.len()) else {
        return Ok(EINVAL);
    };
    let space = m.space();
    let mut pop = len;
    if start != offset {
        // `a` stays in this element; `b`, after the popped bytes, too if any.
        let a = start - offset;
        let elem = m.elems[i];
        if elem > a + pop {
            let b = elem - a - pop;
            if space > 0 {
                m.elems.splice(i..=i, [a, b]);
            } else {
                m.elems[i] = a + b;
            }
            pop = 0;
        } else {
            pop -= elem - a;
            m.elems[i] = a;
        }
        i += 1;
    }
    while pop > 0 && i < m.elems.len() {
        if pop < m.elems[i] {
            m.elems[i] -= pop;
            pop = 0;
        } else {
            pop -= m.elems.remove(i);
        }
    }
    let bytes = [&m.bytes[..start], &m.bytes[start + len..]].concat();
    m.write(c, &bytes)?;
    Ok(0)
}
