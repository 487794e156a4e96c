//! The command line for classic BPF: `run` on tcpdump text and raw `sock_filter`
//! arrays over packets and pcap/pcapng captures, and `ebpfvm seccomp`.

mod common;

use common::{ebpfvm, scratch};

fn check(args: &[&str], code: i32, stdout: &str, stderr_has: &str) {
    let out = ebpfvm(args);
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\nstdout: {o}\nstderr: {e}"
    );
    assert_eq!(o, stdout, "{args:?} stderr: {e}");
    assert!(e.contains(stderr_has), "{args:?} stderr: {e}");
}

/// `tcpdump -ddd -y EN10MB 'tcp port 80'`-like: IPv4 TCP port 80 (no fragments).
const TCP80_DDD: &str = "14\n40 0 0 12\n21 0 11 2048\n48 0 0 23\n21 0 9 6\n40 0 0 20\n\
                         69 7 0 8191\n177 0 0 14\n72 0 0 14\n21 3 0 80\n72 0 0 16\n\
                         21 1 0 80\n6 0 0 0\n6 0 0 262144\n6 0 0 0\n";

fn tcp_packet(dport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20 + 20];
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[23] = 6;
    p[34..36].copy_from_slice(&12345u16.to_be_bytes());
    p[36..38].copy_from_slice(&dport.to_be_bytes());
    p
}

fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(0xa1b2_c3d4u32.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    f.extend([0u8; 8]);
    f.extend(65535u32.to_le_bytes());
    f.extend(1u32.to_le_bytes()); // Ethernet
    for (i, p) in packets.iter().enumerate() {
        f.extend((i as u32).to_le_bytes());
        f.extend(0u32.to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend(p);
    }
    f
}

fn pcapng(packets: &[Vec<u8>]) -> Vec<u8> {
    let block = |kind: u32, body: &[u8]| {
        let mut padded = body.to_vec();
        while padded.len() % 4 != 0 {
            padded.push(0);
        }
        let len = (12 + padded.len()) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend(len.to_le_bytes());
        b.extend(padded);
        b.extend(len.to_le_bytes());
        b
    };
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    let mut idb = 1u16.to_le_bytes().to_vec(); // Ethernet
    idb.extend(0u16.to_le_bytes());
    idb.extend(0u32.to_le_bytes());
    let mut f = block(0x0a0d_0d0a, &shb);
    f.extend(block(1, &idb));
    for p in packets {
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend([0u8; 8]);
        epb.extend((p.len() as u32).to_le_bytes());
        epb.extend((p.len() as u32).to_le_bytes());
        epb.extend(p);
        f.extend(block(6, &epb));
    }
    f
}

#[test]
fn runs_tcpdump_text_on_a_packet() {
    let prog = scratch("tcp80.ddd", TCP80_DDD.as_bytes());
    let hit = scratch("hit.bin", &tcp_packet(80));
    let miss = scratch("miss.bin", &tcp_packet(81));
    check(
        &["run", &prog, "--packet", &hit, "--engine", "jit"],
        0,
        "262144 (0x40000)\n",
        "",
    );
    check(
        &["run", &prog, "--packet", &hit],
        0,
        "262144 (0x40000)\n",
        "",
    );
    check(&["run", &prog, "--packet", &miss], 0, "0 (0x0)\n", "");
    check(
        &["run", &prog, "--packet", &hit, "--type", "socket_filter"],
        0,
        "262144 (0x40000)\n",
        "",
    );
    // -dd text and a raw array (with --classic) mean the same program.
    let dd = "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000800 },\n{ 0x6, 0, 0, 0x00000060 },\n{ 0x6, 0, 0, 0x00000000 },\n";
    let dd_path = scratch("ip.dd", dd.as_bytes());
    check(&["run", &dd_path, "--packet", &hit], 0, "96 (0x60)\n", "");
    let raw: Vec<u8> = [
        (0x28u16, 0u8, 0u8, 12u32),
        (0x15, 0, 1, 0x800),
        (0x06, 0, 0, 0x60),
        (0x06, 0, 0, 0),
    ]
    .iter()
    .flat_map(|&(c, t, f, k)| {
        let mut b = c.to_le_bytes().to_vec();
        b.extend([t, f]);
        b.extend(k.to_le_bytes());
        b
    })
    .collect();
    let raw_path = scratch("ip.bpf", &raw);
    check(
        &["run", &raw_path, "--classic", "--packet", &hit],
        0,
        "96 (0x60)\n",
        "",
    );
}

#[test]
fn one_result_per_capture_packet_in_order() {
    let prog = scratch("tcp80-pcap.ddd", TCP80_DDD.as_bytes());
    let packets = vec![
        tcp_packet(80),
        tcp_packet(22),
        vec![],
        tcp_packet(80)[..20].to_vec(),
        tcp_packet(80),
    ];
    let expected = "262144 (0x40000)\n0 (0x0)\n0 (0x0)\n0 (0x0)\n262144 (0x40000)\n";
    let cap = scratch("c.pcap", &pcap(&packets));
    check(&["run", &prog, "--pcap", &cap], 0, expected, "");
    let capng = scratch("c.pcapng", &pcapng(&packets));
    check(&["run", &prog, "--pcap", &capng], 0, expected, "");
    check(
        &["run", &prog, "--pcap", &capng, "--engine", "jit"],
        0,
        expected,
        "",
    );
    let out = ebpfvm(&["run", &prog, "--pcap", &cap, "--json"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["retval"], 262144);
    assert_eq!(lines[1]["retval"], 0);
    assert_eq!(lines[4]["index"], 4);
    assert_eq!(lines[2]["packet"], "");
    let bad = scratch("bad.pcap", b"not a capture at all");
    check(&["run", &prog, "--pcap", &bad], 2, "", "error:");
}

#[test]
fn invalid_programs_exit_2_naming_the_instruction() {
    let hit = scratch("p.bin", &tcp_packet(80));
    for (name, text, reason) in [
        (
            "jump.ddd",
            "2\n21 0 5 1\n6 0 0 0\n",
            "instruction 0: jump to 6 out of range",
        ),
        (
            "noret.ddd",
            "1\n40 0 0 12\n",
            "instruction 0: the program does not end with a return",
        ),
        (
            "div0.ddd",
            "2\n52 0 0 0\n6 0 0 0\n",
            "instruction 0: division by the constant 0",
        ),
        (
            "mem.ddd",
            "2\n96 0 0 3\n22 0 0 0\n",
            "instruction 0: reads scratch memory M[3]",
        ),
        (
            "opcode.ddd",
            "2\n255 0 0 0\n6 0 0 0\n",
            "instruction 0: unknown opcode",
        ),
        ("count.ddd", "3\n6 0 0 0\n", "the count says 3"),
        (
            "anc.ddd",
            "2\n32 0 0 4294963264\n6 0 0 0\n",
            "unknown Linux extension",
        ),
    ] {
        let prog = scratch(name, text.as_bytes());
        check(&["run", &prog, "--packet", &hit], 2, "", reason);
    }
    let prog = scratch("ok.ddd", b"1\n6 0 0 1\n");
    check(&["run", &prog, "--type", "xdp"], 2, "", "socket_filter");
}

/// getpid (39 on x86_64, 172 on aarch64) fails with EPERM; everything else is allowed;
/// the architecture must be x86_64 or aarch64, else the thread is killed.
const GETPID_EPERM: &str =
    "{ 0x20, 0, 0, 4 }, { 0x15, 2, 0, 0xc000003e }, { 0x15, 5, 0, 0xc00000b7 },
{ 0x06, 0, 0, 0 },
{ 0x20, 0, 0, 0 }, { 0x15, 0, 1, 39 }, { 0x06, 0, 0, 0x00050001 }, { 0x06, 0, 0, 0x7fff0000 },
{ 0x20, 0, 0, 0 }, { 0x15, 0, 1, 172 }, { 0x06, 0, 0, 0x00050001 }, { 0x06, 0, 0, 0x7fff0000 },";

#[test]
fn seccomp_command() {
    let f = scratch("getpid.dd", GETPID_EPERM.as_bytes());
    let jit = [
        "seccomp",
        &f,
        "--syscall",
        "getpid",
        "--engine",
        "jit",
        "--arch",
        "x86_64",
    ];
    check(&jit, 0, "errno(1)\n", "");
    check(
        &["seccomp", &f, "--syscall", "getpid", "--arch", "x86_64"],
        0,
        "errno(1)\n",
        "",
    );
    check(
        &["seccomp", &f, "--syscall", "getpid", "--arch", "aarch64"],
        0,
        "errno(1)\n",
        "",
    );
    check(
        &["seccomp", &f, "--syscall", "39", "--arch", "aarch64"],
        0,
        "allow\n",
        "",
    );
    check(
        &["seccomp", &f, "--syscall", "read", "--arch", "0xc000003e"],
        0,
        "allow\n",
        "",
    );
    check(
        &["seccomp", &f, "--syscall", "3", "--arch", "i386"],
        0,
        "kill_thread\n",
        "",
    );
    check(
        &[
            "seccomp",
            &f,
            "--syscall",
            "getpid",
            "--arch",
            "x86_64",
            "--json",
        ],
        0,
        "{\"action\":\"errno(1)\",\"retval\":327681}\n",
        "",
    );
    // A second filter: trace write's with a0 == 2; the lower action wins.
    let g = scratch(
        "trace.ddd",
        b"6\n32 0 0 0\n21 0 3 1\n32 0 0 16\n21 0 1 2\n6 0 0 2146435079\n6 0 0 2147418112\n",
    );
    let cases = scratch(
        "cases.txt",
        b"# nr arch ip a0..a5\nwrite x86_64 0 2\nwrite x86_64 0 1\ngetpid x86_64\n1 0xc000003e 0x1000 0x2 0 0 0 0 0\nopenat aarch64 0 0 0\n",
    );
    check(
        &["seccomp", &f, &g, "--cases", &cases],
        0,
        "trace(7)\nallow\nerrno(1)\ntrace(7)\nallow\n",
        "",
    );
    check(
        &["seccomp", &f, "--syscall", "nosuchcall"],
        2,
        "",
        "unknown syscall",
    );
    check(
        &["seccomp", &f, "--syscall", "read", "--arch", "vax"],
        2,
        "",
        "unknown architecture",
    );
    let bad_cases = scratch("bad-cases.txt", b"write x86_64 zero\n");
    check(&["seccomp", &f, "--cases", &bad_cases], 2, "", "line 1");
    // Not allowed in seccomp (a byte load): refused with the instruction.
    let h = scratch("ldb.dd", b"{ 0x30, 0, 0, 0 }, { 0x06, 0, 0, 0x7fff0000 },");
    check(
        &["seccomp", &h, "--syscall", "read"],
        2,
        "",
        "instruction 0",
    );
}

#[test]
fn run_type_seccomp_takes_a_context() {
    let f = scratch("getpid-run.dd", GETPID_EPERM.as_bytes());
    let mut ctx = [0u8; 64];
    ctx[0..4].copy_from_slice(&39u32.to_le_bytes());
    ctx[4..8].copy_from_slice(&0xc000_003eu32.to_le_bytes());
    let ctx = scratch("ctx.bin", &ctx);
    check(
        &["run", &f, "--type", "seccomp", "--ctx", &ctx],
        0,
        "327681 (0x50001) errno(1)\n",
        "",
    );
}

/// Built without the `pcap-filter` feature, `--filter` is refused by name.
#[cfg(not(feature = "pcap-filter"))]
#[test]
fn filter_needs_the_pcap_filter_feature() {
    check(
        &["run", "--filter", "ip"],
        2,
        "",
        "`pcap-filter` cargo feature",
    );
}
