//! `SKF_AD_NLATTR` and `SKF_AD_NLATTR_NEST`: finding a netlink attribute in the packet.
//!
//! A netlink attribute is `struct nlattr { u16 nla_len; u16 nla_type; }` (host byte
//! order) followed by its payload; attributes follow each other at 4-byte aligned
//! offsets. An attribute is well-formed when at least 4 bytes remain, `nla_len >= 4`
//! and `nla_len` fits in what remains. Types compare without the two flag bits
//! (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`). The result is the attribute's offset from
//! the start of the packet, or 0 when there is none.

const HDR: usize = 4;
const TYPE_MASK: u16 = 0x3fff;

fn header(packet: &[u8], at: usize) -> Option<(usize, u16)> {
    let b = packet.get(at..at.checked_add(HDR)?)?;
    Some((
        u16::from_le_bytes([b[0], b[1]]) as usize,
        u16::from_le_bytes([b[2], b[3]]),
    ))
}

/// The first attribute of type `kind` in `packet[start..start + len]`.
fn find(packet: &[u8], mut at: usize, mut rem: usize, kind: u32) -> Option<usize> {
    while rem >= HDR {
        let (len, t) = header(packet, at)?;
        if len < HDR || len > rem {
            return None;
        }
        if (t & TYPE_MASK) as u32 == kind {
            return Some(at);
        }
        let step = (len + 3) & !3;
        rem = rem.checked_sub(step)?;
        at = at.checked_add(step)?;
    }
    None
}

fn start(packet: &[u8], a: u32) -> Option<usize> {
    let a = a as usize;
    if packet.len() < HDR || a > packet.len() - HDR {
        return None;
    }
    Some(a)
}

/// `SKF_AD_NLATTR`: the attribute of type `x` among those starting at offset `a`.
pub fn nlattr(packet: &[u8], a: u32, x: u32) -> u32 {
    start(packet, a)
        .and_then(|a| find(packet, a, packet.len() - a, x))
        .map_or(0, |at| at as u32)
}

/// `SKF_AD_NLATTR_NEST`: the attribute of type `x` inside the attribute at offset `a`.
pub fn nlattr_nest(packet: &[u8], a: u32, x: u32) -> u32 {
    let Some(a) = start(packet, a) else {
        return 0;
    };
    let Some((len, _)) = header(packet, a) else {
        return 0;
    };
    if len > packet.len() - a || len < HDR {
        return 0;
    }
    find(packet, a + HDR, len - HDR, x).map_or(0, |at| at as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = ((HDR + payload.len()) as u16).to_le_bytes().to_vec();
        v.extend(kind.to_le_bytes());
        v.extend(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn finds_attributes() {
        let mut p = vec![0u8; 16]; // a netlink header's worth of bytes
        p.extend(attr(1, &[1, 2, 3]));
        let nested_at = p.len() as u32;
        let inner = [attr(7, &[9]), attr(8, &[1, 2, 3, 4])].concat();
        p.extend(attr(2 | 0x8000, &inner));
        assert_eq!(nlattr(&p, 16, 1), 16);
        assert_eq!(nlattr(&p, 16, 2), nested_at);
        assert_eq!(nlattr(&p, 16, 7), 0);
        assert_eq!(nlattr_nest(&p, nested_at, 8), nested_at + 4 + 8);
        assert_eq!(nlattr_nest(&p, nested_at, 9), 0);
        assert_eq!(nlattr(&p, u32::MAX, 1), 0);
        assert_eq!(nlattr(&[], 0, 0), 0);
        // A length running past the packet stops the search.
        let mut bad = p.clone();
        bad[16] = 0xff;
        assert_eq!(nlattr(&bad, 16, 2), 0);
        assert_eq!(nlattr_nest(&bad, 16, 1), 0);
    }
}
