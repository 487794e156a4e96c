//! Differential tests against libpcap: its interpreter (`bpf_filter`) on random
//! programs and on expressions compiled by `pcap_compile`, over synthetic captures; its
//! disassembler (`bpf_image`) against ours; our translations on every engine.
//! Skipped, with a message, without libpcap.
//!
//! libpcap and the kernel differ in two places, which the generated programs avoid:
//! libpcap zeroes A on shifts by X >= 32 (the kernel masks the amount to 5 bits), and it
//! does not wrap `X + k` of indirect loads (the kernel computes it in 32 bits).

mod common;

use common::engines::engines;
use common::gen::random_program;
use common::{ethernet_packet, Rng};
use ebpfvm_classic::libpcap::{CompileOptions, LibPcap, PcapProgram, DLT_EN10MB};
use ebpfvm_classic::{disassemble_one, Instr, PacketMeta, SockFilter, SocketFilter};
use ebpfvm_vm::Stack;

fn libpcap() -> Option<LibPcap> {
    match LibPcap::load() {
        Ok(l) => Some(l),
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

/// Runs `program` on every packet with our engines and with libpcap; panics on the
/// first difference. Returns how many packets the filter accepted.
fn compare(pcap: &LibPcap, what: &str, program: &[SockFilter], packets: &[Vec<u8>]) -> usize {
    let filter = SocketFilter::new(program.to_vec()).unwrap_or_else(|e| {
        panic!(
            "{what}: refused: {e}\n{}",
            ebpfvm_classic::disassemble(program)
        )
    });
    let engines = engines(filter.program());
    let checked = PcapProgram::new(program).expect("SocketFilter::new checked it");
    let mut stack = Stack::new();
    let mut accepted = 0;
    for p in packets {
        let expected = pcap.filter(&checked, p, p.len() as u32) as u64;
        for (name, engine) in &engines {
            let got = filter.run_with(
                engine.as_ref(),
                &mut stack,
                p,
                &PacketMeta::for_ethernet(p),
                None,
            );
            assert_eq!(
                got.result,
                Ok(expected),
                "{what} on packet {p:02x?} ({name})\n{}\ntranslated:\n{}",
                ebpfvm_classic::disassemble(program),
                ebpfvm_isa::disassemble(filter.program())
            );
        }
        accepted += (expected != 0) as usize;
    }
    accepted
}

/// Compiles for Ethernet with a /24 netmask (so `ip broadcast` compiles).
fn compile(pcap: &LibPcap, expr: &str, optimize: bool) -> Vec<SockFilter> {
    let options = CompileOptions {
        linktype: DLT_EN10MB,
        optimize,
        netmask: 0xffff_ff00,
        ..CompileOptions::default()
    };
    pcap.compile(expr, &options)
        .unwrap_or_else(|e| panic!("pcap_compile {expr:?}: {e}"))
}

fn packets(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| ethernet_packet(&mut rng)).collect()
}

#[test]
fn random_programs_match_bpf_filter() {
    let Some(pcap) = libpcap() else { return };
    let packets = packets(1, 40);
    let mut rng = Rng::new(2);
    let mut accepted = 0;
    for i in 0..800 {
        let program = random_program(&mut rng, true);
        accepted += compare(&pcap, &format!("random program {i}"), &program, &packets);
    }
    assert!(
        accepted > 1000,
        "the programs should not all reject: {accepted}"
    );
}

/// Expressions of many kinds, compiled for Ethernet.
const EXPRESSIONS: &[&str] = &[
    "ip",
    "ip6",
    "arp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "tcp port 80",
    "udp port 53",
    "port 443 or port 22",
    "host 10.0.0.1",
    "src host 192.168.1.20",
    "dst net 224.0.0.0/4",
    "net 10.0.0.0/8 and not port 22",
    "ether broadcast",
    "ether multicast",
    "ether host ff:ff:ff:ff:ff:ff",
    "ether src 02:42:ac:11:00:02",
    "ip broadcast",
    "ip multicast",
    "vlan",
    "vlan and ip",
    "vlan 100",
    "vlan and tcp port 80",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0",
    "tcp[13] & 2 != 0",
    "ip[8] < 64",
    "ip[2:2] > 40",
    "len > 100",
    "len <= 60",
    "greater 64",
    "less 80",
    "portrange 1-1024",
    "tcp portrange 8000-9000",
    "ip proto 47",
    "ip6 proto 58",
    "proto \\udp",
    "icmp[icmptype] == icmp-echo",
    "icmp6[icmp6type] == icmp6-echo",
    "ip[6:2] & 0x1fff = 0",
    "ip and not ip[6:2] & 0x1fff != 0",
    "(tcp or udp) and dst port 8080",
    "ip6 and tcp",
    "ip6 host fe80::1",
    "ip6 multicast",
    "ether proto 0x88cc",
    "ether[0] & 1 = 0",
    "ip[0] & 0xf > 5",
    "udp[8:2] = 0x1234",
    "tcp[0:2] % 3 = 1",
    "ip[1] * 2 - ip[8] / 3 > 5",
    "ip[4] ^ ip[5] = 0",
    "ip[8] << 1 > 100",
    "ip[8] >> 2 = 16",
    "-ip[8] & 0xff = 192",
    "arp and arp[7] = 2",
    "not ip and not arp",
    "tcp and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) != 0",
    "ip[ip[0] & 0xf] = 0",
    "udp and udp[udp[4] & 7] > 3",
];

#[test]
fn compiled_expressions_match_bpf_filter() {
    let Some(pcap) = libpcap() else { return };
    let packets = packets(3, 400);
    let mut compiled = 0;
    let mut matching = 0;
    for expr in EXPRESSIONS {
        for optimize in [true, false] {
            let program = compile(&pcap, expr, optimize);
            let what = format!("{expr:?} (optimize {optimize})");
            let accepted = compare(&pcap, &what, &program, &packets);
            matching += (accepted > 0) as usize;
            compiled += 1;
        }
    }
    assert_eq!(compiled, EXPRESSIONS.len() * 2);
    // The captures should exercise the accepting paths of most expressions.
    assert!(
        matching * 10 >= compiled * 8,
        "{matching} of {compiled} match some packet"
    );
}

#[test]
fn backward_jumps_are_refused() {
    // `ip6 protochain` compiles to a loop, which the kernel's checker refuses.
    let Some(pcap) = libpcap() else { return };
    let program = compile(&pcap, "ip6 protochain 6", true);
    let err = SocketFilter::new(program).unwrap_err();
    assert!(err.to_string().contains("jump"), "{err}");
}

#[test]
fn disassembly_matches_bpf_image() {
    let Some(pcap) = libpcap() else { return };
    let mut rng = Rng::new(4);
    let mut checked = 0;
    for code in 0..=0xffu16 {
        for _ in 0..8 {
            let k = match rng.below(4) {
                0 => rng.below(64) as u32,
                1 => rng.u32(),
                2 => 0xffff_f000 + rng.below(64) as u32,
                _ => rng.below(1 << 16) as u32,
            };
            let f = SockFilter::new(code, rng.below(256) as u8, rng.below(256) as u8, k);
            // libpcap's bpf_image does not know `ldx #pktlen` (tcpdump never emits it).
            if Instr::decode(f).is_none() || code == 0x81 {
                continue;
            }
            let pc = rng.below(1000) as usize;
            assert_eq!(disassemble_one(f, pc), pcap.image(f, pc), "{f}");
            checked += 1;
        }
    }
    assert!(checked > 300);
}

/// `tcpdump -d`, `-dd` and `-ddd` output for a few expressions: the text parsers give
/// the program `pcap_compile` gives, and our disassembler prints what tcpdump prints.
#[test]
fn tcpdump_text_matches_pcap_compile() {
    let Some(pcap) = libpcap() else { return };
    let tcpdump = |flag: &str, expr: &str| {
        std::process::Command::new("tcpdump")
            .args([flag, "-y", "EN10MB", expr])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    if tcpdump("-ddd", "ip").is_none() {
        eprintln!("SKIP: tcpdump is not installed (apt-get install tcpdump)");
        return;
    }
    for expr in [
        "tcp port 80",
        "udp and not port 53",
        "vlan and ip",
        "ip[0] & 0xf != 5",
        "len > 64 or arp",
    ] {
        let compiled = compile(&pcap, expr, true);
        let ddd = tcpdump("-ddd", expr).unwrap();
        let dd = tcpdump("-dd", expr).unwrap();
        let d = tcpdump("-d", expr).unwrap();
        assert_eq!(ebpfvm_classic::parse_ddd(&ddd).unwrap(), compiled, "{expr}");
        assert_eq!(ebpfvm_classic::parse_dd(&dd).unwrap(), compiled, "{expr}");
        assert_eq!(ebpfvm_classic::disassemble(&compiled), d, "{expr}");
    }
}

/// Refusals carry libpcap's own message; link types resolve by name or number.
#[test]
fn compile_errors_and_link_types() {
    let Some(pcap) = libpcap() else { return };
    let err = pcap
        .compile("tcp port", &CompileOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
    // Without a netmask libpcap cannot compile `ip broadcast`.
    let err = pcap
        .compile("ip broadcast", &CompileOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("netmask"), "{err}");
    let err = pcap
        .compile("ip\0", &CompileOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
    assert_eq!(pcap.linktype("EN10MB").unwrap(), DLT_EN10MB);
    assert_eq!(pcap.linktype("dlt_linux_sll").unwrap(), 113);
    assert_eq!(pcap.linktype("DLT_RAW").unwrap(), 12);
    assert_eq!(pcap.linktype("228").unwrap(), 228);
    assert!(pcap.linktype("NOPE").is_err());
    // The snapshot length is what accepting returns; the link type changes the code.
    let options = CompileOptions {
        snaplen: 96,
        ..CompileOptions::default()
    };
    let program = pcap.compile("ip", &options).unwrap();
    assert_eq!(program.last().map(|f| f.k), Some(0));
    assert!(program.iter().any(|f| f.code == 0x06 && f.k == 96));
    let raw = CompileOptions {
        linktype: 12,
        ..CompileOptions::default()
    };
    assert_ne!(pcap.compile("ip", &raw).unwrap(), program);
}
