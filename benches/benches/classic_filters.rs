//! Classic filter throughput: tcpdump expressions compiled by libpcap, run over a
//! synthetic capture by our interpreter, our JIT and libpcap's own interpreter
//! (`bpf_filter`).
//!
//! * `classic_filters/FILTER/interp` and `.../jit`: `SocketFilter::run_with` on every
//!   packet of the capture, as `ebpfvm run --filter --pcap` does it: each run builds
//!   the packet's `__sk_buff` context and a fresh `MemoryMap`; the `PacketMeta` of each
//!   packet is computed once, before timing, as a capture reader does.
//! * `classic_filters/FILTER/libpcap`: `bpf_filter` on every packet (no context: it
//!   reads the packet only).
//!
//! One iteration filters the whole capture; the throughput is its packet count, so
//! criterion reports packets per second. Before timing, the three must agree on every
//! packet. Without libpcap nothing is measured (it compiles the filters).
//!
//! The capture is generated, deterministically: Ethernet frames carrying IPv4 and IPv6
//! TCP/UDP (web, DNS, ssh), ICMP, ARP and 802.1Q-tagged IPv4, between 58 hosts.
//!
//! Run with `cargo bench -p ebpfvm-benches --bench classic_filters -- --warm-up-time 1
//! --measurement-time 3`.

// criterion_group! defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ebpfvm_classic::libpcap::{CompileOptions, LibPcap, PcapProgram};
use ebpfvm_classic::{Engine, PacketMeta, SocketFilter};
use ebpfvm_jit::JitProgram;
use ebpfvm_vm::{Helpers, MemoryMap, Outcome, Stack};

/// The filters: (bench name, expression), shortest first.
const FILTERS: &[(&str, &str)] = &[
    ("tcp_port_80", "tcp port 80"),
    ("udp_dst_53", "ip and udp and dst port 53"),
    ("vlan_syn", "vlan and tcp[13] & 2 != 0"),
    (
        "host_chain_8",
        "host 10.0.0.1 or host 10.0.0.2 or host 10.0.0.3 or host 10.0.0.4 or \
         host 10.0.0.5 or host 10.0.0.6 or host 10.0.0.7 or host 10.0.0.8",
    ),
];

/// Packets in the capture.
const PACKETS: usize = 1024;

/// xorshift64*: a deterministic capture without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The TCP or UDP ports of one packet: client to server or back.
fn ports(rng: &mut Rng, services: &[u16]) -> [u8; 4] {
    let service = rng.pick(services);
    let client = 32768 + rng.below(28000) as u16;
    let (src, dst) = if rng.below(2) == 0 {
        (client, service)
    } else {
        (service, client)
    };
    let mut p = [0u8; 4];
    p[..2].copy_from_slice(&src.to_be_bytes());
    p[2..].copy_from_slice(&dst.to_be_bytes());
    p
}

/// A transport header and payload for IP protocol `proto` (6 TCP, 17 UDP, 1 ICMP).
fn transport(rng: &mut Rng, proto: u8) -> Vec<u8> {
    let mut t = match proto {
        6 => {
            let mut t = vec![0u8; 20];
            t[..4].copy_from_slice(&ports(rng, &[80, 80, 443, 443, 22, 8080]));
            t[4..8].copy_from_slice(&(rng.next() as u32).to_be_bytes());
            t[12] = 5 << 4;
            // SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK.
            t[13] = rng.pick(&[0x02, 0x12, 0x10, 0x10, 0x18, 0x18, 0x11]);
            t[14..16].copy_from_slice(&64240u16.to_be_bytes());
            t
        }
        17 => {
            let mut t = vec![0u8; 8];
            t[..4].copy_from_slice(&ports(rng, &[53, 53, 123, 443, 5353]));
            t
        }
        _ => vec![rng.pick(&[0u8, 8, 3, 11]), 0, 0, 0, 0, 1, 0, 1],
    };
    let payload = rng.pick(&[0usize, 0, 32, 100, 512, 1200, 1400]);
    t.extend((0..payload).map(|i| i as u8));
    t
}

fn ipv4(rng: &mut Rng, hosts: &[[u8; 4]]) -> Vec<u8> {
    let proto = rng.pick(&[6u8, 6, 6, 6, 17, 17, 1]);
    let t = transport(rng, proto);
    let mut ip = vec![0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + t.len()) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&(rng.next() as u16).to_be_bytes());
    ip[6] = 0x40; // don't fragment
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&rng.pick(hosts));
    ip[16..20].copy_from_slice(&rng.pick(hosts));
    ip.extend(t);
    ip
}

fn ipv6(rng: &mut Rng) -> Vec<u8> {
    let proto = rng.pick(&[6u8, 6, 17]);
    let t = transport(rng, proto);
    let mut ip = vec![0u8; 40];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&(t.len() as u16).to_be_bytes());
    ip[6] = proto;
    ip[7] = 64;
    // fd00::1 to fd00::20, source and destination.
    for at in [8, 24] {
        ip[at] = 0xfd;
        ip[at + 15] = 1 + rng.below(20) as u8;
    }
    ip.extend(t);
    ip
}

/// The capture: (packet, its metadata as a capture reader computes it).
fn capture() -> Vec<(Vec<u8>, PacketMeta)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut hosts: Vec<[u8; 4]> = (1..=50).map(|i| [10, 0, 0, i]).collect();
    hosts.extend((1..=8).map(|i| [192, 168, 1, i]));
    (0..PACKETS)
        .map(|_| {
            let mut p = vec![0x02, 0, 0, 0, 0, rng.below(8) as u8];
            p.extend([0x02, 0, 0, 0, 1, rng.below(8) as u8]);
            match rng.below(20) {
                0..=10 => {
                    p.extend([0x08, 0x00]);
                    p.extend(ipv4(&mut rng, &hosts));
                }
                11..=13 => {
                    p.extend([0x86, 0xdd]);
                    p.extend(ipv6(&mut rng));
                }
                14..=16 => {
                    p.extend([0x81, 0x00, 0x00, rng.pick(&[10u8, 20, 30])]);
                    p.extend([0x08, 0x00]);
                    p.extend(ipv4(&mut rng, &hosts));
                }
                _ => {
                    p.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
                    p.extend([0u8; 20]);
                }
            }
            let meta = PacketMeta::for_ethernet(&p);
            (p, meta)
        })
        .collect()
}

/// The JIT behind the classic crate's engine trait.
struct Jit(JitProgram);

impl Engine for Jit {
    fn run(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
    ) -> Outcome {
        self.0.run(args, memory, helpers, budget)
    }
}

/// Filters the whole capture on `engine`; the sum of the results, so nothing is
/// optimised away.
fn run_all(
    filter: &SocketFilter,
    engine: &dyn Engine,
    stack: &mut Stack,
    packets: &[(Vec<u8>, PacketMeta)],
) -> u64 {
    packets
        .iter()
        .map(|(p, meta)| {
            let outcome = filter.run_with(engine, stack, black_box(p), meta, None);
            outcome.result.unwrap_or(u64::MAX)
        })
        .sum()
}

fn classic_filters(c: &mut Criterion) {
    let lib = match LibPcap::load() {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!("classic_filters: nothing measured: {e}");
            return;
        }
    };
    let packets = capture();
    let mut stack = Stack::new();
    let mut group = c.benchmark_group("classic_filters");
    group.throughput(Throughput::Elements(packets.len() as u64));
    for &(name, expr) in FILTERS {
        let classic = lib
            .compile(expr, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        let filter = SocketFilter::new(classic.clone()).expect("the checker accepts it");
        let jit = Jit(JitProgram::compile(filter.program()).expect("the JIT compiles it"));
        let pcap = PcapProgram::new(&classic).expect("the checker accepts it");
        let mut accepted = 0;
        for (p, meta) in &packets {
            let expected = lib.filter(&pcap, p, p.len() as u32) as u64;
            for engine in [filter.interpreter() as &dyn Engine, &jit] {
                let got = filter.run_with(engine, &mut stack, p, meta, None).result;
                assert_eq!(got, Ok(expected), "{expr} on {p:02x?}");
            }
            accepted += (expected != 0) as usize;
        }
        eprintln!(
            "{name}: {} classic instructions, {} eBPF slots, accepts {accepted} of {} packets",
            classic.len(),
            filter.program().insns().len(),
            packets.len()
        );
        group.bench_function(format!("{name}/interp"), |b| {
            b.iter(|| run_all(&filter, filter.interpreter(), &mut stack, &packets))
        });
        group.bench_function(format!("{name}/jit"), |b| {
            b.iter(|| run_all(&filter, &jit, &mut stack, &packets))
        });
        group.bench_function(format!("{name}/libpcap"), |b| {
            b.iter(|| {
                packets
                    .iter()
                    .map(|(p, _)| lib.filter(&pcap, black_box(p), p.len() as u32) as u64)
                    .sum::<u64>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, classic_filters);
criterion_main!(benches);
