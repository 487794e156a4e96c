/*
 * parser.c - benchmark: Ethernet / IPv4 / TCP+UDP packet parser.
 *
 * What it exercises: the typical XDP/tc-style workload - many small,
 * bounds-checked loads at computed offsets, byte swaps (be16), lots of
 * compare-and-branch, a short bounded loop (IPv4 header checksum check) and
 * a 32-bit hash (Linux's jhash_3words, i.e. Bob Jenkins' lookup3 final mix,
 * which compiles to ALU32 rotate/xor/sub sequences).
 *
 * Steps:
 *   1. Ethernet header (optionally one 802.1Q VLAN tag); require IPv4.
 *   2. IPv4 header: version 4, IHL >= 5, header and total length inside
 *      the buffer, not a non-first fragment, valid header checksum.
 *   3. TCP (data offset >= 5, header inside the IP payload) or UDP
 *      (length >= 8, inside the IP payload); anything else is rejected.
 *   4. Hash the 5-tuple (saddr, daddr, sport, dport, protocol).
 *
 * Every field is read only after checking it lies below `len` (and, for
 * L4, below the end given by the IPv4 total length).  After a 14- or
 * 18-byte link header all fields sit at even offsets, so 16-bit loads are
 * naturally aligned given an 8-byte aligned `mem`.
 *
 * Input (mem): one packet starting at the Ethernet header; len = its size.
 *              The generated input is a 96-byte Ethernet/IPv4/TCP segment.
 * Output (r0): (protocol << 32) | jhash of the 5-tuple for an accepted
 *              packet (always non-zero), 0 for anything malformed or not
 *              IPv4 TCP/UDP.
 */
#include "common.h"

#define PARSER_ETH_HLEN     14
#define PARSER_VLAN_HLEN    4
#define PARSER_ETH_P_IP     0x0800
#define PARSER_ETH_P_8021Q  0x8100
#define PARSER_IPV4_MIN_HL  20
#define PARSER_IPV4_MAX_HL  60
#define PARSER_IPPROTO_TCP  6
#define PARSER_IPPROTO_UDP  17
#define PARSER_TCP_MIN_HL   20
#define PARSER_UDP_HLEN     8

#define PARSER_JHASH_INITVAL 0xdeadbeefu

/* Bob Jenkins' lookup3 final mix, as in the kernel's <linux/jhash.h>. */
static __always_inline __u32 parser_jhash_3words(__u32 a, __u32 b, __u32 c,
						 __u32 initval)
{
	initval += PARSER_JHASH_INITVAL + (3u << 2);
	a += initval;
	b += initval;
	c += initval;

	c ^= b; c -= rotl32(b, 14);
	a ^= c; a -= rotl32(c, 11);
	b ^= a; b -= rotl32(a, 25);
	c ^= b; c -= rotl32(b, 16);
	a ^= c; a -= rotl32(c, 4);
	b ^= a; b -= rotl32(a, 14);
	c ^= b; c -= rotl32(b, 24);

	return c;
}

__u64 entry(__u8 *mem, __u64 len)
{
	__u64 l3, l4, l3_end, ihl, tot_len, i;
	__u32 saddr, daddr, ports, sum, hash;
	__u16 eth_proto, sport, dport;
	__u8 proto;

	/* ---- Ethernet ---- */
	if (len < PARSER_ETH_HLEN)
		return 0;
	l3 = PARSER_ETH_HLEN;
	eth_proto = ld_be16(mem + 12);
	if (eth_proto == PARSER_ETH_P_8021Q) {
		/* One VLAN tag: TCI at 14, inner EtherType at 16. */
		if (len < PARSER_ETH_HLEN + PARSER_VLAN_HLEN)
			return 0;
		eth_proto = ld_be16(mem + 16);
		l3 += PARSER_VLAN_HLEN;
	}
	if (eth_proto != PARSER_ETH_P_IP)
		return 0;

	/* ---- IPv4 ---- */
	if (len < l3 + PARSER_IPV4_MIN_HL)
		return 0;
	if ((mem[l3] >> 4) != 4)
		return 0;
	ihl = (__u64)(mem[l3] & 0x0f) * 4;
	if (ihl < PARSER_IPV4_MIN_HL || len < l3 + ihl)
		return 0;
	tot_len = ld_be16(mem + l3 + 2);
	if (tot_len < ihl || len < l3 + tot_len)
		return 0;
	/* Fragment offset != 0: no transport header in this fragment. */
	if (ld_be16(mem + l3 + 6) & 0x1fff)
		return 0;

	/* Header checksum: ones' complement sum of all header words must be
	 * 0xffff.  Bounded by the maximum IPv4 header length. */
	sum = 0;
	for (i = 0; i < PARSER_IPV4_MAX_HL; i += 2) {
		if (i >= ihl)
			break;
		sum += ld_be16(mem + l3 + i);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	if (sum != 0xffff)
		return 0;

	proto = mem[l3 + 9];
	saddr = ld_be32_a2(mem + l3 + 12);
	daddr = ld_be32_a2(mem + l3 + 16);

	/* ---- Transport (bounded by the IP total length, so Ethernet
	 * trailer padding is never parsed as L4) ---- */
	l4 = l3 + ihl;
	l3_end = l3 + tot_len;
	if (proto == PARSER_IPPROTO_TCP) {
		__u64 doff;

		if (l3_end < l4 + PARSER_TCP_MIN_HL)
			return 0;
		doff = (__u64)(mem[l4 + 12] >> 4) * 4;
		if (doff < PARSER_TCP_MIN_HL || l3_end < l4 + doff)
			return 0;
	} else if (proto == PARSER_IPPROTO_UDP) {
		__u64 ulen;

		if (l3_end < l4 + PARSER_UDP_HLEN)
			return 0;
		ulen = ld_be16(mem + l4 + 4);
		if (ulen < PARSER_UDP_HLEN || l3_end < l4 + ulen)
			return 0;
	} else {
		return 0;
	}
	sport = ld_be16(mem + l4);
	dport = ld_be16(mem + l4 + 2);
	ports = ((__u32)sport << 16) | dport;

	/* ---- 5-tuple hash ---- */
	hash = parser_jhash_3words(saddr, daddr, ports, proto);

	return ((__u64)proto << 32) | hash;
}
