//! Shared by the differential tests: a deterministic generator, synthetic packets, and
//! libseccomp loaded at run time (so the tests build without it and skip with a
//! message). libpcap is the crate's own `ebpfvm_classic::libpcap`.

// Each test binary uses a different part of this module, so what is dead differs per
// binary (`expect` would be unfulfilled in some of them).
#![allow(dead_code)]

pub mod engines;
pub mod gen;
pub mod libseccomp;

/// xorshift64*: deterministic and good enough to spread test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    pub fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn checksum_free_ipv4(rng: &mut Rng, proto: u8, payload_len: usize) -> Vec<u8> {
    let ihl = if rng.chance(20) { 6 } else { 5 };
    let mut ip = vec![0u8; ihl * 4];
    ip[0] = 0x40 | ihl as u8;
    ip[1] = rng.u32() as u8;
    let total = (ihl * 4 + payload_len) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&(rng.u32() as u16).to_be_bytes());
    let frag: u16 = *rng.pick(&[0, 0, 0, 0x4000, 0x2000, 0x0010, 0x2005]);
    ip[6..8].copy_from_slice(&frag.to_be_bytes());
    ip[8] = rng.u32() as u8;
    ip[9] = proto;
    let addrs: [[u8; 4]; 5] = [
        [10, 0, 0, 1],
        [192, 168, 1, 20],
        [127, 0, 0, 1],
        [224, 0, 0, 251],
        [255, 255, 255, 255],
    ];
    ip[12..16].copy_from_slice(&rng.pick(&addrs)[..]);
    ip[16..20].copy_from_slice(&rng.pick(&addrs)[..]);
    ip
}

fn transport(rng: &mut Rng, proto: u8) -> Vec<u8> {
    let ports = [22u16, 53, 80, 443, 8080, 1234, 65535, 0];
    let mut t = match proto {
        6 => {
            let mut t = vec![0u8; if rng.chance(30) { 32 } else { 20 }];
            t[12] = ((t.len() / 4) as u8) << 4;
            t[13] = rng.u32() as u8; // flags
            t
        }
        17 => vec![0u8; 8],
        1 | 58 => {
            let mut t = vec![0u8; 8];
            t[0] = *rng.pick(&[0, 8, 3, 11, 128, 129, 135]);
            t
        }
        _ => vec![0u8; 4],
    };
    if matches!(proto, 6 | 17) {
        t[0..2].copy_from_slice(&rng.pick(&ports).to_be_bytes());
        t[2..4].copy_from_slice(&rng.pick(&ports).to_be_bytes());
    }
    let payload = rng.below(40) as usize;
    t.extend((0..payload).map(|_| rng.u32() as u8));
    t
}

/// A synthetic Ethernet frame: IPv4/IPv6 with TCP/UDP/ICMP, ARP, VLAN-tagged, or
/// random bytes; sometimes truncated.
pub fn ethernet_packet(rng: &mut Rng) -> Vec<u8> {
    let macs: [[u8; 6]; 4] = [
        [0xff; 6],
        [0x01, 0x00, 0x5e, 0, 0, 0xfb],
        [0x02, 0x42, 0xac, 0x11, 0, 2],
        [0; 6],
    ];
    let mut p = Vec::new();
    p.extend(rng.pick(&macs));
    p.extend(rng.pick(&macs));
    let kind = rng.below(10);
    if kind == 9 {
        let n = rng.below(100) as usize;
        p.extend((0..n).map(|_| rng.u32() as u8));
        return p;
    }
    if kind == 8 || rng.chance(10) {
        p.extend([0x81, 0x00]);
        let random_vid = rng.u32() as u16 & 0x0fff;
        let vid = *rng.pick(&[100, 1, random_vid]);
        p.extend(vid.to_be_bytes());
    }
    let proto = *rng.pick(&[6u8, 17, 1, 58, 132, 47]);
    match kind {
        0..=4 | 8 => {
            p.extend([0x08, 0x00]);
            let t = transport(rng, if proto == 58 { 1 } else { proto });
            p.extend(checksum_free_ipv4(
                rng,
                if proto == 58 { 1 } else { proto },
                t.len(),
            ));
            p.extend(t);
        }
        5 | 6 => {
            p.extend([0x86, 0xdd]);
            let t = transport(rng, if proto == 1 { 58 } else { proto });
            let mut ip = vec![0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&(t.len() as u16).to_be_bytes());
            ip[6] = if proto == 1 { 58 } else { proto };
            ip[7] = 64;
            ip[23] = 1;
            ip[24] = 0xfe;
            ip[25] = 0x80;
            ip[39] = rng.below(3) as u8;
            p.extend(ip);
            p.extend(t);
        }
        _ => {
            p.extend([0x08, 0x06]);
            p.extend([0, 1, 8, 0, 6, 4, 0, rng.below(3) as u8]);
            p.extend((0..20).map(|_| rng.u32() as u8));
        }
    }
    if rng.chance(10) {
        let keep = rng.below(p.len() as u64 + 1) as usize;
        p.truncate(keep);
    }
    p
}
