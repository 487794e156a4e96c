//! `run --filter` and `disasm --filter`: tcpdump expressions compiled by libpcap and
//! run over a synthetic capture on both engines. Every result must equal libpcap's own
//! interpreter (`bpf_filter`) on the same program and packet, and `run --classic` on
//! the program `tcpdump -ddd` prints for the expression. Skipped, with a message,
//! without libpcap (the tcpdump comparisons without tcpdump).

#![cfg(feature = "pcap-filter")]

#[path = "../classic/tests/common/mod.rs"]
mod classic_common;
mod common;

use std::process::Command;

use classic_common::{ethernet_packet, Rng};
use common::{ebpfvm, scratch};
use ebpfvm_classic::libpcap::{CompileOptions, LibPcap, PcapProgram};

/// A pcap file of `packets` with link type `linktype` (a LINKTYPE_ value).
fn pcap(linktype: u32, packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(0xa1b2_c3d4u32.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    f.extend([0u8; 8]);
    f.extend(65535u32.to_le_bytes());
    f.extend(linktype.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        f.extend((i as u32).to_le_bytes());
        f.extend(0u32.to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend(p);
    }
    f
}

fn libpcap() -> Option<LibPcap> {
    LibPcap::load().map_err(|why| eprintln!("SKIP: {why}")).ok()
}

fn tcpdump(flag: &str, expr: &str) -> Option<String> {
    Command::new("tcpdump")
        .args([flag, "-y", "EN10MB", expr])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The return values `ebpfvm run ARGS --json` prints, one per packet; panics if it
/// fails.
fn retvals(args: &[&str]) -> Vec<u64> {
    let mut all = args.to_vec();
    all.push("--json");
    let out = ebpfvm(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["retval"]
                .as_u64()
                .unwrap_or_else(|| panic!("{args:?}: {l}"))
        })
        .collect()
}

/// Realistic expressions of different lengths.
const EXPRESSIONS: &[&str] = &[
    "tcp port 80",
    "ip and udp and dst port 53",
    "host 10.0.0.1 or host 192.168.1.20 or host 127.0.0.1 or host 224.0.0.251",
    "vlan and tcp[13] & 2 != 0",
    "ip6 and (tcp or udp)",
    "arp or icmp",
    "greater 64 and not tcp",
];

#[test]
fn filter_results_match_libpcap_and_tcpdump_text() {
    let Some(lib) = libpcap() else { return };
    let mut rng = Rng::new(7);
    let packets: Vec<Vec<u8>> = (0..300).map(|_| ethernet_packet(&mut rng)).collect();
    let cap = scratch("mix.pcap", &pcap(1, &packets));
    let have_tcpdump = tcpdump("-ddd", "ip").is_some();
    if !have_tcpdump {
        eprintln!("SKIP (tcpdump text): tcpdump is not installed (apt-get install tcpdump)");
    }
    for (i, expr) in EXPRESSIONS.iter().enumerate() {
        let program = lib.compile(expr, &CompileOptions::default()).unwrap();
        let checked = PcapProgram::new(&program).unwrap();
        let expected: Vec<u64> = packets
            .iter()
            .map(|p| lib.filter(&checked, p, p.len() as u32) as u64)
            .collect();
        // A comparison that would pass for a filter that always says the same thing
        // proves little: the capture has packets on both sides of every expression.
        assert!(expected.contains(&0), "{expr}: accepts everything");
        assert!(
            expected.iter().any(|&r| r != 0),
            "{expr}: rejects everything"
        );
        for engine in ["interp", "jit"] {
            let got = retvals(&["run", "--filter", expr, "--pcap", &cap, "--engine", engine]);
            assert_eq!(got, expected, "{expr} on {engine}");
        }
        if have_tcpdump {
            let ddd = scratch(
                &format!("{i}.ddd"),
                tcpdump("-ddd", expr).unwrap().as_bytes(),
            );
            assert_eq!(retvals(&["run", &ddd, "--pcap", &cap]), expected, "{expr}");
        }
    }
}

#[test]
fn one_packet_and_the_snapshot_length() {
    if libpcap().is_none() {
        return;
    }
    let mut packet = vec![0u8; 54];
    packet[12..14].copy_from_slice(&[0x08, 0x00]);
    packet[14] = 0x45;
    packet[23] = 6;
    packet[36..38].copy_from_slice(&80u16.to_be_bytes());
    let hit = scratch("hit.bin", &packet);
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--filter", "tcp dst port 80", "--packet", &hit];
        args.extend(extra);
        let out = ebpfvm(&args);
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run(&[]), "262144 (0x40000)\n");
    assert_eq!(
        run(&["--snaplen", "96", "--engine", "interp"]),
        "96 (0x60)\n"
    );
    packet[37] = 81;
    let miss = scratch("miss.bin", &packet);
    let out = ebpfvm(&["run", "--filter", "tcp dst port 80", "--packet", &miss]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 (0x0)\n");
}

/// A raw-IP capture (LINKTYPE_RAW) compiles for DLT_RAW unless --linktype says
/// otherwise: the same expression then reads the packet differently.
#[test]
fn the_capture_link_type_is_the_default() {
    let Some(lib) = libpcap() else { return };
    let mut tcp = vec![0u8; 40];
    tcp[0] = 0x45;
    tcp[9] = 6;
    tcp[22..24].copy_from_slice(&80u16.to_be_bytes());
    let mut udp = tcp.clone();
    udp[9] = 17;
    let packets = vec![tcp, udp];
    let cap = scratch("raw.pcap", &pcap(101, &packets));
    let raw = retvals(&["run", "--filter", "tcp port 80", "--pcap", &cap]);
    assert_eq!(raw, [262144, 0]);
    let named = retvals(&[
        "run",
        "--filter",
        "tcp port 80",
        "--pcap",
        &cap,
        "--linktype",
        "raw",
    ]);
    assert_eq!(named, raw);
    // Read as Ethernet, neither packet is IP.
    let ether = [
        "run",
        "--filter",
        "tcp port 80",
        "--pcap",
        &cap,
        "--linktype",
        "EN10MB",
    ];
    assert_eq!(retvals(&ether), [0, 0]);
    let options = CompileOptions {
        linktype: 12,
        ..CompileOptions::default()
    };
    let program = PcapProgram::new(&lib.compile("tcp port 80", &options).unwrap()).unwrap();
    let expected: Vec<u64> = packets
        .iter()
        .map(|p| lib.filter(&program, p, p.len() as u32) as u64)
        .collect();
    assert_eq!(raw, expected);
}

fn check_error(args: &[&str], stderr_has: &str) {
    let out = ebpfvm(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    assert!(stderr.contains(stderr_has), "{args:?}: {stderr}");
}

#[test]
fn bad_filters_exit_2_with_libpcaps_message() {
    if libpcap().is_none() {
        // Without libpcap --filter must still fail cleanly, saying why.
        check_error(&["run", "--filter", "ip"], "libpcap is not available");
        return;
    }
    check_error(&["run", "--filter", "tcp port"], "syntax error");
    check_error(&["run", "--filter", "tcp port 99999"], "99999");
    check_error(&["run", "--filter", "ip broadcast"], "netmask");
    check_error(&["disasm", "--filter", "nosuchkeyword"], "--filter");
    check_error(
        &["run", "--filter", "ip", "--linktype", "NOPE"],
        "unknown link type",
    );
    check_error(&["run", "--filter", "ip", "--type", "xdp"], "socket_filter");
    // libpcap's loop for protochain: the kernel's checker refuses backward jumps.
    check_error(
        &["run", "--filter", "ip6 protochain 6"],
        "--filter: instruction",
    );
    // PROGRAM and --filter are exclusive, and one of them is needed.
    let prog = scratch("ret.ddd", b"1\n6 0 0 1\n");
    check_error(&["run", &prog, "--filter", "ip"], "cannot be used with");
    check_error(
        &["run", &prog, "--linktype", "EN10MB"],
        "cannot be used with",
    );
    check_error(&["run"], "required");
    check_error(&["disasm"], "required");
}

#[test]
fn disasm_filter_prints_what_tcpdump_d_prints() {
    let Some(lib) = libpcap() else { return };
    for expr in EXPRESSIONS {
        let out = ebpfvm(&["disasm", "--filter", expr]);
        assert_eq!(out.status.code(), Some(0), "{expr}");
        let text = String::from_utf8_lossy(&out.stdout);
        let program = lib.compile(expr, &CompileOptions::default()).unwrap();
        assert_eq!(text, ebpfvm_classic::disassemble(&program), "{expr}");
        if let Some(d) = tcpdump("-d", expr) {
            assert_eq!(text, d, "{expr}");
        }
    }
    let out = ebpfvm(&["disasm", "--filter", "ip", "--snaplen", "96"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ret      #96"));
}
