//! Checksum helpers: `l3_csum_replace` (10), `l4_csum_replace` (11) and `csum_diff`
//! (28), in one's-complement arithmetic as the kernel computes them (x86-64's
//! `csum_partial` for `csum_diff`).

use super::{in_packet, packet, EFAULT, EINVAL};
use crate::ctx::ContextKind;
use crate::vm::{HelperContext, HelperError};

/// One's-complement 32-bit addition.
fn csum_add(a: u32, b: u32) -> u32 {
    let (sum, carry) = a.overflowing_add(b);
    sum.wrapping_add(carry as u32)
}

/// Folds a 32-bit sum to 16 bits and complements it (`csum_fold`).
fn csum_fold(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    let s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

fn csum16_add(csum: u16, addend: u16) -> u16 {
    let (sum, carry) = csum.overflowing_add(addend);
    sum.wrapping_add(carry as u16)
}

/// `l3_csum_replace` (`l4` false) and `l4_csum_replace` (`l4` true).
pub(super) fn csum_replace(
    c: &mut HelperContext<'_, '_>,
    [ctx, off, from, to, flags]: [u64; 5],
    l4: bool,
) -> Result<u64, HelperError> {
    const SIZE_MASK: u64 = 0xf;
    const PSEUDO_HDR: u64 = 1 << 4;
    const MARK_MANGLED_0: u64 = 1 << 5;
    const MARK_ENFORCE: u64 = 1 << 6;
    const IPV6: u64 = 1 << 7;
    let allowed = if l4 {
        SIZE_MASK | PSEUDO_HDR | MARK_MANGLED_0 | MARK_ENFORCE | IPV6
    } else {
        SIZE_MASK
    };
    if flags & !allowed != 0 {
        return Ok(EINVAL);
    }
    if off > 0xffff || off & 1 != 0 {
        return Ok(EFAULT);
    }
    let (data, packet_len) = packet(c, ContextKind::SkBuff, ctx)?;
    if !in_packet(off, 2, packet_len) {
        return Ok(EFAULT);
    }
    let addr = data + off;
    let old = u16::from_le_bytes(c.read(addr, 2)?.try_into().expect("2 bytes"));
    let mangled_zero = flags & MARK_MANGLED_0 != 0;
    if mangled_zero && flags & MARK_ENFORCE == 0 && old == 0 {
        return Ok(0);
    }
    // csum_replace4: fold(~old + ~from + to), in one's-complement arithmetic.
    let replace4 = |from: u32, to: u32| csum_fold(csum_add(csum_add(!(old as u32), !from), to));
    let new = match flags & SIZE_MASK {
        0 if from != 0 => return Ok(EINVAL),
        // A precomputed 32-bit difference.
        0 => csum_fold(csum_add(to as u32, !(old as u32))),
        // l4 widens 16-bit fields to 32 bits; l3 works in 16 bits.
        2 if l4 => replace4(from as u16 as u32, to as u16 as u32),
        2 => !csum16_add(csum16_add(!old, !(from as u16)), to as u16),
        4 => replace4(from as u32, to as u32),
        _ => return Ok(EINVAL),
    };
    let new = if mangled_zero && new == 0 {
        0xffff
    } else {
        new
    };
    c.write(addr, &new.to_le_bytes())?;
    Ok(0)
}

/// x86-64's `csum_partial`: 64-bit one's-complement sum of the bytes (little-endian,
/// the tail zero-padded) and `seed`, folded to 32 bits.
fn csum_partial(bytes: &[u8], seed: u32) -> u32 {
    let mut sum = seed as u64;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        let (s, carry) = sum.overflowing_add(u64::from_le_bytes(word));
        sum = s + carry as u64;
    }
    csum_add((sum >> 32) as u32, sum as u32)
}

/// `csum_diff(from, from_size, to, to_size, seed)`: the checksum of `to` less that of
/// `from`, folded to 16 bits (not complemented), as kernels since 6.13 return it.
pub(super) fn csum_diff(
    c: &mut HelperContext<'_, '_>,
    [from, from_size, to, to_size, seed]: [u64; 5],
) -> Result<u64, HelperError> {
    let from = c.read(from, from_size)?.to_vec();
    let to = c.read(to, to_size)?;
    let seed = seed as u32;
    let sum = match (from.is_empty(), to.is_empty()) {
        (false, false) => csum_add(csum_partial(to, seed), !csum_partial(&from, 0)),
        (true, false) => csum_partial(to, seed),
        (false, true) => !csum_partial(&from, !seed),
        (true, true) => seed,
    };
    let s = (sum & 0xffff) + (sum >> 16);
    Ok(((s & 0xffff) + (s >> 16)) as u64)
}
