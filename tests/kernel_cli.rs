//! `run --engine kernel` and `ebpfvm crosscheck`: the command line's kernel engine gives
//! the results our engines give on the same program and packets, and crosscheck finds
//! agreement where there is agreement and reports a difference where there is one.
//! Every test skips, saying why, when `bpf()` is not permitted here.

mod common;

use std::process::Output;

use common::{ebpfvm, json_lines, scratch};

/// `true` (after saying why) when the kernel engine cannot be used here.
fn kernel_unavailable(out: &Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    let skip = err.contains("not permitted") || err.contains("only on Linux");
    if skip {
        eprintln!("skipped: {}", err.trim());
    }
    skip
}

fn ipv4(proto: u8, src_last: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend([0x08, 0x00]);
    let total = (20 + l4.len()) as u16;
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend([0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, src_last, 10, 0, 0, 2]);
    f.extend(l4);
    f
}

fn ports(dport: u16, extra: usize) -> Vec<u8> {
    let mut l4 = 4321u16.to_be_bytes().to_vec();
    l4.extend(dport.to_be_bytes());
    l4.extend(vec![0u8; 16 + extra]);
    l4
}

/// A capture of TCP, UDP, ICMP, IPv6, ARP, short and truncated frames, deterministic.
fn capture() -> Vec<u8> {
    let mut frames = Vec::new();
    for i in 0..30u16 {
        let frame = match i % 7 {
            0 => ipv4(
                6,
                (i % 5) as u8 + 1,
                &ports([22, 23, 80, 443][i as usize % 4], i as usize),
            ),
            1 => ipv4(17, (i % 3) as u8 + 1, &ports([53, 123][i as usize % 2], 3)),
            2 => ipv4(1, 9, &[8, 0, 0, 0, 0, 0, 0, 0]),
            3 => {
                let mut f = vec![0u8; 12];
                f.extend([0x86, 0xdd, 0x60]);
                f.extend([0u8; 47]);
                f
            }
            4 => {
                let mut f = vec![0xff; 6];
                f.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
                f.extend([0u8; 28]);
                f
            }
            5 => ipv4(6, 4, &[0, 80]),
            // IPv4 EtherType without an IPv4 header: skb types refuse it (EINVAL).
            _ => {
                let mut f = vec![0u8; 12];
                f.extend([0x08, 0x00, 0x45, 0x00]);
                f
            }
        };
        frames.push(frame);
    }
    let mut pcap = Vec::new();
    pcap.extend(0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend(2u16.to_le_bytes());
    pcap.extend(4u16.to_le_bytes());
    pcap.extend([0u8; 8]);
    pcap.extend(65535u32.to_le_bytes());
    pcap.extend(1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        pcap.extend((i as u32).to_le_bytes());
        pcap.extend(0u32.to_le_bytes());
        pcap.extend((f.len() as u32).to_le_bytes());
        pcap.extend((f.len() as u32).to_le_bytes());
        pcap.extend(f);
    }
    pcap
}

/// The fields every engine must agree on.
fn observed(line: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    (line["retval"].clone(), line["packet"].clone())
}

#[test]
fn run_engine_kernel_matches_interp_and_jit_on_an_object_with_maps() {
    let pcap = scratch("stats.pcap", &capture());
    let run = |engine: &str| {
        ebpfvm(&[
            "run",
            "examples/xdp_stats.o",
            "--program",
            "xdp_stats",
            "--pcap",
            &pcap,
            "--json",
            "--maps-json",
            "--cpus",
            "1",
            "--engine",
            engine,
        ])
    };
    let kernel = run("kernel");
    if kernel_unavailable(&kernel) {
        return;
    }
    assert!(kernel.status.success(), "{kernel:?}");
    let kernel = json_lines(&kernel);
    assert_eq!(kernel.len(), 31, "30 packets and the maps");
    for engine in ["interp", "jit"] {
        let ours = run(engine);
        assert!(ours.status.success(), "{ours:?}");
        let ours = json_lines(&ours);
        assert_eq!(ours.len(), kernel.len());
        for (i, (k, o)) in kernel.iter().zip(&ours).enumerate().take(30) {
            assert_eq!(observed(k), observed(o), "packet {i} on {engine}");
            assert_eq!(k["action"], o["action"]);
        }
        // Per-CPU values: the kernel keeps one per possible CPU, ours (--cpus 1) one;
        // every other map must be byte-equal.
        let mut kmaps = kernel[30]["maps"].clone();
        let mut omaps = ours[30]["maps"].clone();
        kmaps.as_object_mut().unwrap().remove("per_cpu");
        omaps.as_object_mut().unwrap().remove("per_cpu");
        assert_eq!(kmaps, omaps, "maps after the capture on {engine}");
        assert!(kmaps["proto_count"].as_array().unwrap().len() >= 3);
    }
}

#[test]
fn crosscheck_agrees_on_the_examples_and_test_programs() {
    let pcap = scratch("examples.pcap", &capture());
    for (object, program) in [
        ("examples/xdp_stats.o", "xdp_stats"),
        ("examples/xdp_port_filter.o", ""),
        ("examples/xdp_redirect.o", ""),
        ("examples/tc_marker.o", ""),
        ("examples/socket_filter.o", ""),
        ("examples/cgroup_skb.o", ""),
        // Held-out-style programs: LPM trie, per-CPU hash, queue, bpf_loop, a global
        // function, a three-program tail-call chain; maps of maps, ring buffer, LRU
        // per-CPU hash, skb_load/store_bytes and l3_csum_replace.
        ("tests/programs/xdp_mix.o", "xdp_mix"),
        ("tests/programs/tc_mix.o", ""),
    ] {
        let mut args = vec!["crosscheck", object, "--pcap", &pcap];
        if !program.is_empty() {
            args.extend(["--program", program]);
        }
        let out = ebpfvm(&args);
        if kernel_unavailable(&out) {
            return;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{object}: {text}\n{out:?}");
        assert!(
            text.contains("30 packet(s): 30 agree, 0 differ"),
            "{object}: {text}"
        );
    }
}

#[test]
fn crosscheck_reports_a_program_only_the_kernel_refuses() {
    // r2 is never written: our engines (no verifier yet) run it, the kernel refuses it.
    let program = scratch("uninit.s", b"mov %r0, %r2\nexit\n");
    let packet = scratch("frame.bin", &ipv4(17, 1, &ports(53, 0)));
    let out = ebpfvm(&["crosscheck", &program, "--type", "xdp", "--packet", &packet]);
    if kernel_unavailable(&out) {
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("DIFFER") && text.contains("R2 !read_ok"),
        "{text}"
    );
}

#[test]
fn crosscheck_json_has_every_engine_per_packet() {
    let program = scratch(
        "len.s",
        b"ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r0, %r3\nsub %r0, %r2\nexit\n",
    );
    let pcap = scratch("len.pcap", &capture());
    let out = ebpfvm(&[
        "crosscheck",
        &program,
        "--type",
        "xdp",
        "--pcap",
        &pcap,
        "--json",
    ]);
    if kernel_unavailable(&out) {
        return;
    }
    assert!(out.status.success(), "{out:?}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 32, "30 packets, the maps, the summary");
    for line in &lines[..30] {
        assert_eq!(line["agree"], true, "{line}");
        for engine in ["interp", "jit", "kernel"] {
            assert!(line[engine]["retval"].as_u64().unwrap() >= 14, "{line}");
        }
    }
    assert_eq!(lines[31]["differ"], 0);
}

#[test]
fn run_engine_kernel_runs_raw_programs_as_syscall_programs() {
    // r0 = first word of memory; the word is doubled in place.
    let program = scratch(
        "double.s",
        b"ldxw %r0, [%r1+0]\nmov %r2, %r0\nlsh %r2, 1\nstxw [%r1+0], %r2\nexit\n",
    );
    let mem = scratch("mem.bin", &21u32.to_le_bytes());
    let run =
        |engine: &str| ebpfvm(&["run", &program, "--mem", &mem, "--json", "--engine", engine]);
    let kernel = run("kernel");
    if kernel_unavailable(&kernel) {
        return;
    }
    assert!(kernel.status.success(), "{kernel:?}");
    let kernel = json_lines(&kernel);
    let interp = json_lines(&run("interp"));
    assert_eq!(kernel[0]["retval"], 21);
    assert_eq!(kernel[0]["retval"], interp[0]["retval"]);
    assert_eq!(kernel[0]["mem"], "2a000000");
    assert_eq!(kernel[0]["mem"], interp[0]["mem"]);
}

#[test]
fn run_engine_kernel_refuses_classic_programs_clearly() {
    let program = scratch("accept.ddd", b"1\n6 0 0 65535\n");
    let out = ebpfvm(&["run", &program, "--classic", "--engine", "kernel"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kernel engine does not run classic BPF"),
        "{err}"
    );
}

#[test]
fn a_refused_packet_of_a_capture_does_not_stop_the_others() {
    let mut pcap = Vec::new();
    pcap.extend(0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend(2u16.to_le_bytes());
    pcap.extend(4u16.to_le_bytes());
    pcap.extend([0u8; 8]);
    pcap.extend(65535u32.to_le_bytes());
    pcap.extend(1u32.to_le_bytes());
    let truncated = [&[0u8; 12][..], &[0x08, 0x00, 0x45, 0x00]].concat();
    let udp = ipv4(17, 1, &ports(53, 0));
    for f in [&truncated, &udp] {
        pcap.extend([0u8; 8]);
        pcap.extend((f.len() as u32).to_le_bytes());
        pcap.extend((f.len() as u32).to_le_bytes());
        pcap.extend(f.iter());
    }
    let pcap = scratch("truncated.pcap", &pcap);
    for engine in ["interp", "jit", "kernel"] {
        let out = ebpfvm(&[
            "run",
            "tests/programs/tc_mix.o",
            "--pcap",
            &pcap,
            "--json",
            "--engine",
            engine,
        ]);
        if engine == "kernel" && kernel_unavailable(&out) {
            return;
        }
        assert_eq!(out.status.code(), Some(2), "{engine}: {out:?}");
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 2, "{engine}: {lines:?}");
        assert_eq!(lines[0]["index"], 0);
        assert!(lines[0]["error"].as_str().unwrap().contains("refused"));
        assert_eq!(lines[1]["index"], 1);
        assert_eq!(lines[1]["action"], "TC_ACT_OK", "{engine}: {lines:?}");
    }
}

#[test]
fn sk_skb_compares_the_kernel_verifiers_verdict() {
    // The kernel has no test run for sk_skb: `--engine kernel` and `crosscheck` give its
    // verifier's verdict (accepted here; refused with its log for the second program).
    let program = scratch("sk_skb_pass.s", b"ldxw %r0, [%r1+0]\nmov %r0, 1\nexit\n");
    let payload = scratch("payload.bin", b"hello");
    let out = ebpfvm(&[
        "run", &program, "--type", "sk_skb", "--packet", &payload, "--engine", "kernel", "--json",
    ]);
    if kernel_unavailable(&out) {
        return;
    }
    let lines = json_lines(&out);
    assert_eq!(lines, vec![serde_json::json!({ "verifier": "accepted" })]);
    let out = ebpfvm(&[
        "crosscheck",
        &program,
        "--type",
        "sk_skb",
        "--packet",
        &payload,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("only the verdicts are compared"), "{text}");
    let refused = scratch("sk_skb_uninit.s", b"mov %r0, %r2\nexit\n");
    let out = ebpfvm(&[
        "crosscheck",
        &refused,
        "--type",
        "sk_skb",
        "--packet",
        &payload,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("R2 !read_ok"), "{text}");
}
