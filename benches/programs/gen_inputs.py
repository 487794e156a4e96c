#!/usr/bin/env python3
"""Generate the input memory images (NAME.mem) for the ebpfvm benchmarks.

Deterministic (own splitmix64 PRNG, no dependence on Python's `random`
implementation) and standard-library only.  Run from anywhere:

    python3 benches/programs/gen_inputs.py [OUTDIR]

OUTDIR defaults to the directory containing this script.  Each NAME.mem is
the exact buffer passed to the program as (r1 = mem, r2 = len(mem)); the
VM must place it at an 8-byte aligned address.
"""

import os
import struct
import sys

MASK64 = (1 << 64) - 1


class SplitMix64:
    """splitmix64 (Steele, Lea, Flood 2014): tiny, well-defined PRNG."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def next_u32(self):
        return self.next_u64() >> 32

    def bytes(self, n):
        out = bytearray()
        while len(out) < n:
            out += struct.pack("<Q", self.next_u64())
        return bytes(out[:n])


def ones_complement_sum16(data):
    """RFC 1071 sum over big-endian 16-bit words (odd length zero-padded)."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def internet_checksum(data):
    return (~ones_complement_sum16(data)) & 0xFFFF


def ipv4(addr):
    return bytes(int(part) for part in addr.split("."))


def gen_alu64():
    # 8-byte little-endian seed.
    return struct.pack("<Q", SplitMix64(0xA1B2).next_u64())


def gen_checksum():
    # One MTU worth of pseudo-random payload.
    return SplitMix64(0xC5C5).bytes(1500)


def gen_parser():
    """A realistic 96-byte Ethernet/IPv4/TCP segment with valid checksums:
    an HTTP request fragment on an established connection (ACK|PSH) with
    the TCP timestamp option, as Linux would send it."""
    src_ip, dst_ip = ipv4("192.168.1.10"), ipv4("203.0.113.7")
    sport, dport = 51234, 443
    payload = b"GET / HTTP/1.1\r\nHost: a.test\r\n"  # 30 bytes

    # TCP options: NOP, NOP, Timestamps (kind 8, len 10, TSval, TSecr).
    options = b"\x01\x01\x08\x0a" + struct.pack("!II", 0x0A1B2C3D, 0x00C0FFEE)
    tcp_hlen = 20 + len(options)  # 32 bytes, data offset 8
    tcp_wo_csum = (
        struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            0x3ADE68B1,  # seq
            0x5C2F9E01,  # ack
            (tcp_hlen // 4) << 4,  # data offset, reserved
            0x18,  # flags: PSH | ACK
            502,  # window
            0,  # checksum (filled below)
            0,  # urgent pointer
        )
        + options
    )
    segment = tcp_wo_csum + payload
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(segment))
    tcp_csum = internet_checksum(pseudo + segment)
    segment = segment[:16] + struct.pack("!H", tcp_csum) + segment[18:]

    total_len = 20 + len(segment)
    ip_wo_csum = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,  # version 4, IHL 5
        0x00,  # DSCP/ECN
        total_len,
        0x1C46,  # identification
        0x4000,  # flags: DF, fragment offset 0
        64,  # TTL
        6,  # protocol: TCP
        0,  # header checksum (filled below)
        src_ip,
        dst_ip,
    )
    ip_csum = internet_checksum(ip_wo_csum)
    ip_hdr = ip_wo_csum[:10] + struct.pack("!H", ip_csum) + ip_wo_csum[12:]

    eth = (
        bytes.fromhex("001b213c4d5e")  # destination MAC
        + bytes.fromhex("525400123456")  # source MAC
        + struct.pack("!H", 0x0800)  # EtherType IPv4
    )
    packet = eth + ip_hdr + segment
    assert len(packet) == 96, len(packet)
    assert ones_complement_sum16(ip_hdr) == 0xFFFF
    return packet


def gen_sort():
    # 64 pseudo-random u32 inputs followed by 64 zeroed u32 of scratch.
    rng = SplitMix64(0x5027)
    values = [rng.next_u32() for _ in range(64)]
    return struct.pack("<64I", *values) + bytes(64 * 4)


# Collatz: walk n = 1..COLLATZ_COUNT (about 100k eBPF instructions per run).
COLLATZ_START = 0
COLLATZ_COUNT = 200


def gen_collatz():
    return struct.pack("<QQ", COLLATZ_START, COLLATZ_COUNT)


def gen_memcpy():
    # 1 KiB of pseudo-random source data followed by a zeroed 1 KiB
    # destination (overwritten by every run).
    return SplitMix64(0x3E3C).bytes(1024) + bytes(1024)


GENERATORS = {
    "alu64": gen_alu64,
    "checksum": gen_checksum,
    "parser": gen_parser,
    "sort": gen_sort,
    "collatz": gen_collatz,
    "memcpy": gen_memcpy,
}

EXPECTED_SIZES = {
    "alu64": 8,
    "checksum": 1500,
    "parser": 96,
    "sort": 512,
    "collatz": 16,
    "memcpy": 2048,
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, gen in GENERATORS.items():
        data = gen()
        assert len(data) == EXPECTED_SIZES[name], (name, len(data))
        path = os.path.join(outdir, name + ".mem")
        with open(path, "wb") as f:
            f.write(data)
        print(f"{name}.mem: {len(data)} bytes")


if __name__ == "__main__":
    main()
