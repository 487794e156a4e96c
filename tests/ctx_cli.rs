//! `ebpfvm run --type T --packet F | --pcap F` for eBPF programs of packet types: JSON
//! lines with `retval`, `action`, `packet` and `insns`, both engines, refusals at load
//! (with the pc and the kernel verifier's words) and of packets the kernel refuses.

mod common;

use common::{ebpfvm, hex, json_lines, scratch};

/// An IPv4/UDP frame to lo's address, destination port `port`.
fn udp_frame(port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend([0x08, 0x00]);
    f.extend([
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend(1234u16.to_be_bytes());
    f.extend(port.to_be_bytes());
    f.extend([0, 8, 0, 0]);
    f
}

/// XDP: drop UDP to port 53, mark byte 0 of the frame with 0x42 otherwise.
const XDP_PORT_FILTER: &str = "
    ldxw %r2, [%r1+0]        # data
    ldxw %r3, [%r1+4]        # data_end
    mov %r4, %r2
    add %r4, 38
    jgt %r4, %r3, +6         # shorter than Ethernet + IPv4 + UDP ports: pass
    ldxh %r5, [%r2+36]       # UDP destination port (network order)
    be16 %r5
    jne %r5, 53, +2
    mov %r0, 1               # XDP_DROP
    exit
    stb [%r2+0], 0x42
    mov %r0, 2               # XDP_PASS
    exit
";

#[test]
fn xdp_packet_runs_on_both_engines_with_action_and_packet() {
    let prog = scratch("xdp.s", XDP_PORT_FILTER.as_bytes());
    let pass = udp_frame(80);
    let drop = udp_frame(53);
    let pass_file = scratch("pass.bin", &pass);
    let drop_file = scratch("drop.bin", &drop);
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run", &prog, "--type", "xdp", "--packet", &pass_file, "--engine", engine, "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let line = &json_lines(&out)[0];
        assert_eq!(line["retval"], 2);
        assert_eq!(line["action"], "XDP_PASS");
        let mut expected = pass.clone();
        expected[0] = 0x42;
        assert_eq!(line["packet"], hex(&expected));
        assert_eq!(line["insns"], 11);

        let out = ebpfvm(&[
            "run", &prog, "--type", "xdp", "--packet", &drop_file, "--engine", engine, "--json",
        ]);
        let line = &json_lines(&out)[0];
        assert_eq!(line["action"], "XDP_DROP");
        assert_eq!(line["packet"], hex(&drop));
    }
    // Without --json: the value, then the action.
    let out = ebpfvm(&["run", &prog, "--type", "xdp", "--packet", &drop_file]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 (0x1) XDP_DROP\n");
}

/// A pcap file (microsecond, Ethernet) holding `packets`.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(0xa1b2_c3d4u32.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    f.extend([0u8; 8]);
    f.extend(65535u32.to_le_bytes());
    f.extend(1u32.to_le_bytes());
    for p in packets {
        f.extend([0u8; 8]);
        f.extend((p.len() as u32).to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend(p);
    }
    f
}

#[test]
fn pcap_gives_one_line_per_packet() {
    let prog = scratch("xdp2.s", XDP_PORT_FILTER.as_bytes());
    let capture = scratch("two.pcap", &pcap(&[udp_frame(53), udp_frame(80)]));
    let out = ebpfvm(&["run", &prog, "--type", "xdp", "--pcap", &capture, "--json"]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["index"].clone(), lines[0]["action"].clone()),
        (0.into(), "XDP_DROP".into())
    );
    assert_eq!(
        (lines[1]["index"].clone(), lines[1]["action"].clone()),
        (1.into(), "XDP_PASS".into())
    );
}

#[test]
fn skb_types_see_the_packet_from_their_header() {
    // r0 = len; sched_cls counts the MAC header, socket_filter does not, and gets the
    // MAC header back as zeros.
    let prog = scratch("len.s", b"ldxw %r0, [%r1+0]\nexit\n");
    let frame = udp_frame(80);
    let file = scratch("frame.bin", &frame);
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "sched_cls",
        "--packet",
        &file,
        "--json",
    ]);
    let line = &json_lines(&out)[0];
    assert_eq!(line["retval"], frame.len());
    assert_eq!(line["packet"], hex(&frame));
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "socket_filter",
        "--packet",
        &file,
        "--json",
    ]);
    let line = &json_lines(&out)[0];
    assert_eq!(line["retval"], frame.len() - 14);
    assert_eq!(line["action"], "KEEP");
    let mut zeroed = frame.clone();
    zeroed[..14].fill(0);
    assert_eq!(line["packet"], hex(&zeroed));
}

#[test]
fn refusals_name_the_pc_and_the_reason() {
    let frame = scratch("f.bin", &udp_frame(80));
    let bad = scratch("bad.s", b"mov %r0, 0\nldxw %r0, [%r1+88]\nexit\n");
    let out = ebpfvm(&["run", &bad, "--type", "sched_cls", "--packet", &frame]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pc 1: invalid bpf_context access off=88 size=4"),
        "{err}"
    );

    let modified = scratch("mod.s", b"add %r1, 4\nldxw %r0, [%r1+0]\nexit\n");
    let out = ebpfvm(&["run", &modified, "--type", "xdp", "--packet", &frame]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("pc 1: dereference of modified ctx ptr R1 off=4 disallowed"));

    let ld_abs = scratch("ldabs.s", b"ldabsb 0\nexit\n");
    let out = ebpfvm(&["run", &ld_abs, "--type", "xdp", "--packet", &frame]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not allowed for this program type"));

    // The kernel's test run refuses frames shorter than an Ethernet header.
    let short = scratch("short.bin", &[0u8; 10]);
    let ok = scratch("ok.s", b"mov %r0, 2\nexit\n");
    let out = ebpfvm(&["run", &ok, "--type", "xdp", "--packet", &short]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than an Ethernet header"));

    // A packet read out of bounds at run time is a trap (exit 1), not a crash.
    let oob = scratch("oob.s", b"ldxw %r2, [%r1+0]\nldxw %r0, [%r2+4000]\nexit\n");
    let out = ebpfvm(&["run", &oob, "--type", "xdp", "--packet", &frame]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("packet"));
}

#[test]
fn a_context_can_come_with_the_packet() {
    // __sk_buff with mark = 7: the program returns mark + 1 and stores it into cb[0].
    let prog = scratch(
        "mark.s",
        b"ldxw %r0, [%r1+8]\nadd %r0, 1\nstxw [%r1+48], %r0\nexit\n",
    );
    let frame = scratch("frame2.bin", &udp_frame(80));
    let mut skb = vec![0u8; 192];
    skb[8] = 7;
    let ctx = scratch("skb.bin", &skb);
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "sched_cls",
        "--packet",
        &frame,
        "--ctx",
        &ctx,
        "--json",
    ]);
    let line = &json_lines(&out)[0];
    assert_eq!(line["retval"], 8);
    let ctx_out = line["ctx"].as_str().unwrap();
    assert_eq!(&ctx_out[16..24], "07000000", "mark");
    assert_eq!(&ctx_out[96..104], "08000000", "cb[0]");
    // A field the test run may not be given is refused, exit 2.
    skb[0] = 1;
    let bad = scratch("bad_skb.bin", &skb);
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "sched_cls",
        "--packet",
        &frame,
        "--ctx",
        &bad,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("byte 0 may not be set"));
}

#[test]
fn redirects_are_recorded() {
    let prog = scratch("redirect.s", b"mov %r1, 3\nmov %r2, 1\ncall 23\nexit\n");
    let frame = scratch("frame3.bin", &udp_frame(80));
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "sched_cls",
        "--packet",
        &frame,
        "--json",
    ]);
    let line = &json_lines(&out)[0];
    assert_eq!(line["action"], "TC_ACT_REDIRECT");
    assert_eq!(
        line["redirect"],
        serde_json::json!({ "ifindex": 3, "flags": 1 })
    );
    // XDP takes no flags: XDP_ABORTED, nothing recorded.
    let out = ebpfvm(&["run", &prog, "--type", "xdp", "--packet", &frame, "--json"]);
    let line = &json_lines(&out)[0];
    assert_eq!(line["action"], "XDP_ABORTED");
    assert!(line.get("redirect").is_none());
}

#[test]
fn map_redirects_are_recorded() {
    // examples/xdp_redirect.o floods broadcasts through its (empty) device map with
    // BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS, and sends UDP to a port's entry, falling
    // back to XDP_PASS when there is none.
    let mut broadcast = udp_frame(80);
    broadcast[..6].fill(0xff);
    let broadcast = scratch("broadcast.bin", &broadcast);
    let unicast = scratch("unicast.bin", &udp_frame(80));
    let run = |packet: &str| {
        let out = ebpfvm(&[
            "run",
            "examples/xdp_redirect.o",
            "--packet",
            packet,
            "--json",
        ]);
        json_lines(&out)[0].clone()
    };
    let line = run(&broadcast);
    assert_eq!(line["action"], "XDP_REDIRECT");
    assert_eq!(
        line["redirect"],
        serde_json::json!({ "map": "ports", "key": 0, "flags": 24 })
    );
    let line = run(&unicast);
    assert_eq!(line["action"], "XDP_PASS");
    assert!(line.get("redirect").is_none());
}

#[test]
fn kprobe_reads_arguments_from_regs() {
    // r0 = di + si (x86_64 pt_regs: si at 104, di at 112).
    let prog = scratch(
        "kprobe.s",
        b"ldxdw %r0, [%r1+112]\nldxdw %r2, [%r1+104]\nadd %r0, %r2\nexit\n",
    );
    for regs in ["di=40,si=2", "40,2", "si=0x2,di=0x28"] {
        for engine in ["interp", "jit"] {
            let out = ebpfvm(&[
                "run", &prog, "--type", "kprobe", "--regs", regs, "--engine", engine,
            ]);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "42 (0x2a)\n",
                "{regs}"
            );
        }
    }
    let out = ebpfvm(&["run", &prog, "--type", "kprobe", "--regs", "zz=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no register `zz`"));
    // Writing pt_regs is refused as the kernel refuses it.
    let write = scratch("kwrite.s", b"stdw [%r1+112], 1\nmov %r0, 0\nexit\n");
    let out = ebpfvm(&["run", &write, "--type", "kprobe"]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("pc 0: invalid bpf_context access off=112 size=8"));
}

#[test]
fn arm64_kprobes_use_user_pt_regs_and_the_kernels_pt_regs_size() {
    // x0 + x1 + pc (256) + exit_rcu (328, past user_pt_regs, 0 here).
    let prog = scratch(
        "kprobe_arm64.s",
        b"ldxdw %r0, [%r1+0]\nldxdw %r2, [%r1+8]\nadd %r0, %r2\nldxdw %r2, [%r1+256]\n\
          add %r0, %r2\nldxdw %r2, [%r1+328]\nadd %r0, %r2\nexit\n",
    );
    for regs in ["40,2,pc=0x1000", "x1=2,x0=40,pc=4096"] {
        for engine in ["interp", "jit"] {
            let out = ebpfvm(&[
                "run", &prog, "--type", "kprobe", "--arch", "arm64", "--regs", regs, "--engine",
                engine,
            ]);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "4138 (0x102a)\n",
                "{out:?}"
            );
        }
    }
    // x86_64's pt_regs ends at 168; arm64's at 336.
    let out = ebpfvm(&["run", &prog, "--type", "kprobe", "--regs", "40,2"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pc 3: invalid bpf_context access off=256")
    );
    let far = scratch("kprobe_far.s", b"ldxw %r0, [%r1+336]\nexit\n");
    let out = ebpfvm(&["run", &far, "--type", "kprobe", "--arch", "arm64"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid bpf_context access off=336 size=4")
    );
    let out = ebpfvm(&[
        "run", &prog, "--type", "kprobe", "--arch", "arm64", "--regs", "di=1",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no register `di` on arm64"));
    let out = ebpfvm(&[
        "run", &prog, "--type", "kprobe", "--arch", "arm64", "--engine", "kernel",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the kernel here is x86_64"));
}

#[test]
fn raw_tracepoint_reads_its_arguments() {
    let prog = scratch("rawtp.s", b"ldxdw %r0, [%r1+8]\nexit\n");
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "raw_tracepoint",
        "--regs",
        "1,41",
        "--json",
    ]);
    assert_eq!(json_lines(&out)[0]["retval"], 41);
    // The arguments must cover what the program reads, as the kernel's test run demands.
    let out = ebpfvm(&["run", &prog, "--type", "raw_tracepoint", "--regs", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the program reads 16"));
}

#[test]
fn tracepoint_and_perf_event_read_their_record() {
    // A tracepoint record: 8 bytes of common header, then fields.
    let mut record = vec![0u8; 24];
    record[8..16].copy_from_slice(&42u64.to_le_bytes());
    let record = scratch("record.bin", &record);
    let prog = scratch("tp.s", b"ldxdw %r0, [%r1+8]\nexit\n");
    let out = ebpfvm(&["run", &prog, "--type", "tracepoint", "--ctx", &record]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42 (0x2a)\n");
    // The common header is off limits, as in the kernel.
    let header = scratch("tp0.s", b"ldxw %r0, [%r1+0]\nexit\n");
    let out = ebpfvm(&["run", &header, "--type", "tracepoint", "--ctx", &record]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid bpf_context access off=0"));
    // bpf_perf_event_data: sample_period at 168, narrow loads allowed.
    let mut data = vec![0u8; 184];
    data[168] = 7;
    let data = scratch("perf.bin", &data);
    let prog = scratch("pe.s", b"ldxb %r0, [%r1+168]\nexit\n");
    let out = ebpfvm(&["run", &prog, "--type", "perf_event", "--ctx", &data]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "7 (0x7)\n");
}

/// A tracefs format copied from this machine (ctx-models/tests/formats).
fn format_file(name: &str) -> String {
    format!("ctx-models/tests/formats/{name}.format")
}

#[test]
fn tracepoint_record_from_its_format_and_fields() {
    // dfd (16) + flags (32) of sys_enter_openat.
    let prog = scratch(
        "openat.s",
        b"ldxdw %r0, [%r1+16]\nldxdw %r2, [%r1+32]\nadd %r0, %r2\nexit\n",
    );
    let format = format_file("sys_enter_openat");
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "tracepoint",
            "--format",
            &format,
            "--fields",
            "dfd=-100,filename=0x7fff0000,flags=0x42",
            "--engine",
            engine,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(json_lines(&out)[0]["retval"], (-100i64 + 0x42) as u32);
    }
    // Text into a char array: sched_switch's next_comm at 40.
    let comm = scratch("comm.s", b"ldxb %r0, [%r1+41]\nexit\n");
    let out = ebpfvm(&[
        "run",
        &comm,
        "--type",
        "tracepoint",
        "--format",
        &format_file("sched_switch"),
        "--fields",
        "next_comm=sh,next_pid=1",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "104 (0x68)\n",
        "{out:?}"
    );
    // Mistakes say what is wrong.
    for (fields, expect) in [
        ("dfd=-100,flag=2", "no such field"),
        ("dfd", "is not NAME=VALUE"),
        ("flags=0x10000000000000000", "not a number"),
    ] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "tracepoint",
            "--format",
            &format,
            "--fields",
            fields,
        ]);
        assert_eq!(out.status.code(), Some(2), "{fields}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expect),
            "{out:?}"
        );
    }
    let out = ebpfvm(&["run", &prog, "--type", "tracepoint", "--fields", "dfd=1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the record's layout"));
    // A malformed format names its line.
    let bad = scratch(
        "bad.format",
        b"name: x\nformat:\n\tfield:int a;\toffset:q;\tsize:4;\n",
    );
    let out = ebpfvm(&["run", &prog, "--type", "tracepoint", "--format", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("format line 3: offset `q`"),
        "{out:?}"
    );
    // Reading past the last field (mode ends at 48) would not attach in the kernel.
    let far = scratch("far.s", b"ldxdw %r0, [%r1+48]\nexit\n");
    let out = ebpfvm(&["run", &far, "--type", "tracepoint", "--format", &format]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refuse to attach it (EACCES)"));
}

#[test]
fn perf_event_data_from_regs_sample_period_and_addr() {
    // sample_period (168) + addr (176) + di (112); a narrow read of sample_period too.
    let prog = scratch(
        "pe_sample.s",
        b"ldxdw %r0, [%r1+168]\nldxdw %r2, [%r1+176]\nadd %r0, %r2\nldxdw %r2, [%r1+112]\n\
          add %r0, %r2\nldxh %r2, [%r1+168]\nadd %r0, %r2\nexit\n",
    );
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "perf_event",
            "--sample-period",
            "1000",
            "--addr",
            "0x10",
            "--regs",
            "di=5",
            "--engine",
            engine,
        ]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "2021 (0x7e5)\n",
            "{out:?}"
        );
    }
    // The regs are whole 8-byte reads only, as pe_prog_is_valid_access says.
    let narrow = scratch("pe_narrow.s", b"ldxw %r0, [%r1+112]\nexit\n");
    let out = ebpfvm(&[
        "run",
        &narrow,
        "--type",
        "perf_event",
        "--sample-period",
        "1",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid bpf_context access off=112 size=4")
    );
    let out = ebpfvm(&["run", &prog, "--type", "perf_event", "--sample-period", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ebpfvm(&["run", &prog, "--type", "tracepoint", "--sample-period", "1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("are for `perf_event` programs"));
}

#[test]
fn lirc_mode2_runs_once_per_sample_with_its_rc_calls() {
    // A pulse over 8 ms is a key (scancode = its length), a 2250 us space a repeat.
    let prog = scratch(
        "lirc.s",
        b"ldxw %r6, [%r1+0]\nmov %r7, %r6\nand %r7, 0xffffff\nrsh %r6, 24\n\
          jne %r6, 1, +6\njlt %r7, 8000, +7\nmov %r2, 8\nmov %r3, %r7\nmov %r4, 1\n\
          call 78\nja +2\njne %r7, 2250, +1\ncall 77\nmov %r0, %r7\nexit\n",
    );
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "lirc_mode2",
            "--sample",
            "pulse:9000,space:2250,space:560,pulse:500",
            "--engine",
            engine,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["sample"], 0x0100_0000 | 9000);
        assert_eq!(lines[0]["retval"], 9000);
        assert_eq!(
            lines[0]["rc"],
            serde_json::json!([{ "keydown": { "protocol": 8, "scancode": 9000, "toggle": true } }])
        );
        assert_eq!(lines[1]["rc"], serde_json::json!([{ "repeat": {} }]));
        assert_eq!(lines[2]["rc"], serde_json::json!([]));
        assert_eq!(
            (
                lines[3]["retval"].as_u64(),
                lines[3]["rc"].as_array().map(Vec::len)
            ),
            (Some(500), Some(0))
        );
    }
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "lirc_mode2",
        "--sample",
        "pulse:9000",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "9000 (0x2328)\n  rc_keydown protocol=8 scancode=0x2328 toggle=true\n"
    );
    // The 4-byte --ctx; a bad sample; a narrow read of the sample.
    let ctx = scratch("lirc.bin", &(0x0100_0000u32 | 9000).to_le_bytes());
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "lirc_mode2",
        "--ctx",
        &ctx,
        "--json",
    ]);
    assert_eq!(json_lines(&out)[0]["retval"], 9000);
    let out = ebpfvm(&["run", &prog, "--type", "lirc_mode2", "--sample", "blink:3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind"));
    let narrow = scratch("lirc_narrow.s", b"ldxb %r0, [%r1+3]\nexit\n");
    let out = ebpfvm(&["run", &narrow, "--type", "lirc_mode2", "--sample", "1"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid bpf_context access off=3 size=1")
    );
}

#[test]
fn kprobe_and_tracepoint_examples() {
    let out = ebpfvm(&["run", "examples/kprobe_args.o", "--regs", "di=40,si=2"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "trace: open flags 40 mode 2\n42 (0x2a)\n"
    );
    // sys_enter_openat: flags at 32; O_CREAT | O_WRONLY creates.
    let mut record = vec![0u8; 48];
    record[32] = 0o101;
    let record = scratch("openat.bin", &record);
    let out = ebpfvm(&["run", "examples/tracepoint.o", "--ctx", &record]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 (0x1)\n");
    // Records built from a format are for bytecode and assembly so far.
    let out = ebpfvm(&[
        "run",
        "examples/tracepoint.o",
        "--format",
        &format_file("sys_enter_openat"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--format for ELF objects is not supported yet"));
}

/// A flow dissector: IPv4 frames fill the flow keys (protocol, addresses, ports,
/// thoff) and return BPF_OK; anything else BPF_DROP.
const FLOW_DISSECTOR: &str = "
    ldxw %r2, [%r1+76]       # data: the frame's first byte
    ldxw %r3, [%r1+80]       # data_end
    ldxdw %r6, [%r1+144]     # flow_keys
    mov %r4, %r2
    add %r4, 38
    jgt %r4, %r3, +16        # shorter than Ethernet + IPv4 + ports: BPF_DROP
    ldxh %r5, [%r2+12]
    jne %r5, 8, +14          # not IPv4 (0x0800 read little-endian): BPF_DROP
    ldxb %r5, [%r2+23]
    stxb [%r6+9], %r5        # ip_proto
    ldxw %r5, [%r2+26]
    stxw [%r6+16], %r5       # ipv4_src
    ldxw %r5, [%r2+30]
    stxw [%r6+20], %r5       # ipv4_dst
    ldxh %r5, [%r2+34]
    stxh [%r6+12], %r5       # sport
    ldxh %r5, [%r2+36]
    stxh [%r6+14], %r5       # dport
    sth [%r6+2], 34          # thoff
    sth [%r6+4], 0x800       # addr_proto: ETH_P_IP
    mov %r0, 0               # BPF_OK
    exit
    mov %r0, 2               # BPF_DROP
    exit
";

#[test]
fn flow_dissector_returns_the_flow_keys_as_the_packet() {
    let prog = scratch("flow.s", FLOW_DISSECTOR.as_bytes());
    let udp = scratch("flow_udp.bin", &udp_frame(53));
    let mut arp = vec![0u8; 12];
    arp.extend([0x08, 0x06]);
    arp.extend([0u8; 28]);
    let arp = scratch("flow_arp.bin", &arp);
    let mut flags = vec![0u8; 56];
    flags[48] = 1; // BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG
    let flags = scratch("flow_flags.bin", &flags);
    // nhoff 14, thoff 34, addr_proto 0x0800, ip_proto 17, n_proto 08 00, ports, addresses.
    let keys = "0e002200000800000011080004d200350a0000010a000002";
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "flow_dissector",
            "--packet",
            &udp,
            "--engine",
            engine,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let line = &json_lines(&out)[0];
        assert_eq!(line["action"], "BPF_OK");
        let packet = line["packet"].as_str().unwrap();
        assert_eq!(packet.len(), 112, "56 bytes of bpf_flow_keys");
        assert_eq!(&packet[..keys.len()], keys);
        assert!(packet[keys.len()..].bytes().all(|b| b == b'0'));

        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "flow_dissector",
            "--packet",
            &arp,
            "--ctx",
            &flags,
            "--engine",
            engine,
            "--json",
        ]);
        let line = &json_lines(&out)[0];
        assert_eq!(line["retval"], 2);
        assert_eq!(line["action"], "BPF_DROP");
        // Untouched keys: nhoff = thoff = 14, n_proto ARP, the flags given.
        let packet = line["packet"].as_str().unwrap();
        assert_eq!(&packet[..24], "0e000e000000000000000806");
        assert_eq!(&packet[96..104], "01000000");
        // ctx_out is ctx_in as given.
        let ctx = format!("{}01000000{}", "00".repeat(48), "00".repeat(4));
        assert_eq!(line["ctx"], ctx.as_str());
    }
}

#[test]
fn sk_skb_checks_its_access_rules_and_runs_on_a_payload() {
    let payload = scratch("sk_skb.bin", b"GET / HTTP/1.1");
    let mark = scratch("sk_skb_mark.s", b"ldxw %r0, [%r1+8]\nexit\n");
    let out = ebpfvm(&["run", &mark, "--type", "sk_skb", "--packet", &payload]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pc 0: invalid bpf_context access off=8 size=4"),
        "{err}"
    );
    let len = scratch("sk_skb_len.s", b"ldxw %r0, [%r1+0]\nexit\n");
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run", &len, "--type", "sk_skb", "--packet", &payload, "--engine", engine, "--json",
        ]);
        let line = &json_lines(&out)[0];
        assert_eq!(line["retval"], 14, "{out:?}");
        assert_eq!(line["action"], serde_json::Value::Null);
        assert_eq!(line["packet"], hex(b"GET / HTTP/1.1").as_str());
    }
    // A context given with the payload has no kernel meaning for sk_skb.
    let ctx = scratch("sk_skb_ctx.bin", &[0; 8]);
    let out = ebpfvm(&[
        "run", &len, "--type", "sk_skb", "--packet", &payload, "--ctx", &ctx,
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not supported yet"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// sk_lookup: drop lookups for local port 22, pass the rest.
const SK_LOOKUP: &str = "
    ldxw %r2, [%r1+60]       # local_port (host order)
    mov %r0, 1               # SK_PASS
    jne %r2, 22, +1
    mov %r0, 0               # SK_DROP: nothing reaches port 22
    exit
";

/// A `bpf_sk_lookup` for TCP from 10.0.0.1:5555 to 10.0.0.2:`port`.
fn sk_lookup_ctx(port: u32) -> Vec<u8> {
    let mut c = vec![0u8; 72];
    c[8..12].copy_from_slice(&2u32.to_le_bytes()); // AF_INET
    c[12..16].copy_from_slice(&6u32.to_le_bytes()); // IPPROTO_TCP
    c[16..20].copy_from_slice(&[10, 0, 0, 1]);
    c[36..38].copy_from_slice(&5555u16.to_be_bytes());
    c[40..44].copy_from_slice(&[10, 0, 0, 2]);
    c[60..64].copy_from_slice(&port.to_le_bytes());
    c
}

#[test]
fn sk_lookup_runs_on_its_context_with_action_and_ctx_out() {
    let prog = scratch("sk_lookup.s", SK_LOOKUP.as_bytes());
    let ssh = scratch("sk_lookup_22.bin", &sk_lookup_ctx(22));
    let web = scratch("sk_lookup_80.bin", &sk_lookup_ctx(80));
    for engine in ["interp", "jit", "kernel"] {
        for (ctx, retval, action) in [(&ssh, 0, "SK_DROP"), (&web, 1, "SK_PASS")] {
            let out = ebpfvm(&[
                "run",
                &prog,
                "--type",
                "sk_lookup",
                "--ctx",
                ctx,
                "--engine",
                engine,
                "--json",
            ]);
            let err = String::from_utf8_lossy(&out.stderr);
            if engine == "kernel" && err.contains("not permitted") {
                eprintln!("kernel engine skipped: {err}");
                continue;
            }
            assert_eq!(out.status.code(), Some(0), "{engine}: {out:?}");
            let line = &json_lines(&out)[0];
            assert_eq!(line["retval"], retval);
            assert_eq!(line["action"], action);
            assert_eq!(line["ctx"], hex(&std::fs::read(ctx).unwrap()));
        }
    }
    // What the kernel's test run refuses is refused, with its errno's reason.
    let mut bad = sk_lookup_ctx(80);
    bad[60..64].copy_from_slice(&70000u32.to_le_bytes());
    let bad = scratch("sk_lookup_bad.bin", &bad);
    let out = ebpfvm(&["run", &prog, "--type", "sk_lookup", "--ctx", &bad]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("local_port 70000 is above 65535"), "{err}");
    let out = ebpfvm(&["run", &prog, "--type", "sk_lookup"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give --ctx FILE"), "{err}");
}

/// cgroup_sock: UDP sockets get mark 0x42; every socket is allowed.
const CGROUP_SOCK: &str = "
    ldxw %r2, [%r1+12]       # protocol
    jne %r2, 17, +1
    stw [%r1+16], 0x42       # mark
    mov %r0, 1               # allow
    exit
";

#[test]
fn cgroup_sock_runs_on_the_bpf_sock_given() {
    let prog = scratch("cgroup_sock.s", CGROUP_SOCK.as_bytes());
    let mut sock = vec![0u8; 80];
    sock[4] = 2; // AF_INET
    sock[8] = 2; // SOCK_DGRAM
    sock[12] = 17; // IPPROTO_UDP
    let ctx = scratch("sock.bin", &sock);
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "cgroup_sock",
            "--ctx",
            &ctx,
            "--engine",
            engine,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let line = &json_lines(&out)[0];
        assert_eq!(line["action"], "ALLOW");
        let mut after = sock.clone();
        after[16] = 0x42;
        assert_eq!(line["ctx"], hex(&after));
    }
    // The source address is hidden before bind, as the kernel verifier says.
    let src = scratch("cgroup_sock_src.s", b"ldxw %r0, [%r1+24]\nexit\n");
    let out = ebpfvm(&["run", &src, "--type", "cgroup_sock", "--ctx", &ctx]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid bpf_context access off=24 size=4"),
        "{err}"
    );
    // A family wider than the kernel's 16 bits is refused.
    sock[6] = 1;
    let wide = scratch("sock_wide.bin", &sock);
    let out = ebpfvm(&["run", &prog, "--type", "cgroup_sock", "--ctx", &wide]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`family` holds more than the kernel keeps (16 bits)"),
        "{err}"
    );
}

/// cgroup_sock_addr (connect4): connections to port 80 go to 127.0.0.1:8080 instead.
const CONNECT4: &str = "
    ldxw %r2, [%r1+24]       # user_port (network order in the low 16 bits)
    jne %r2, 0x5000, +2      # htons(80)
    stw [%r1+4], 0x0100007f  # user_ip4 = 127.0.0.1
    stw [%r1+24], 0x901f     # user_port = htons(8080)
    mov %r0, 1               # allow
    exit
";

#[test]
fn cgroup_sock_addr_rewrites_the_address_given() {
    let prog = scratch("connect4.s", CONNECT4.as_bytes());
    let mut addr = vec![0u8; 72];
    addr[0] = 2; // user_family AF_INET
    addr[4..8].copy_from_slice(&[10, 0, 0, 9]);
    addr[24..26].copy_from_slice(&80u16.to_be_bytes());
    addr[28] = 2; // family
    addr[32] = 1; // SOCK_STREAM
    addr[36] = 6; // IPPROTO_TCP
    let ctx = scratch("connect4.bin", &addr);
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "cgroup_sock_addr",
            "--ctx",
            &ctx,
            "--engine",
            engine,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let line = &json_lines(&out)[0];
        assert_eq!(line["action"], "ALLOW");
        let mut after = addr.clone();
        after[4..8].copy_from_slice(&[127, 0, 0, 1]);
        after[24..26].copy_from_slice(&8080u16.to_be_bytes());
        assert_eq!(line["ctx"], hex(&after));
    }
    // IPv6 fields are hidden from connect4 programs, as the kernel verifier says.
    let ip6 = scratch("connect4_ip6.s", b"ldxw %r0, [%r1+8]\nexit\n");
    let out = ebpfvm(&["run", &ip6, "--type", "cgroup_sock_addr", "--ctx", &ctx]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid bpf_context access off=8 size=4"),
        "{err}"
    );
    // The socket pointer reaches a read-only bpf_sock of the struct's family, type
    // and protocol; writing it is refused at load, as the kernel verifier refuses it.
    let sk = scratch(
        "connect4_sk.s",
        b"ldxdw %r2, [%r1+64]\nldxw %r0, [%r2+12]\nexit\n",
    );
    let out = ebpfvm(&["run", &sk, "--type", "cgroup_sock_addr", "--ctx", &ctx]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6 (0x6)");
    let write = scratch(
        "connect4_sk_write.s",
        b"ldxdw %r2, [%r1+64]\nstw [%r2+16], 1\nmov %r0, 1\nexit\n",
    );
    let out = ebpfvm(&["run", &write, "--type", "cgroup_sock_addr", "--ctx", &ctx]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pc 1: R2 cannot write into sock"), "{err}");
}

/// sock_ops: for BPF_SOCK_OPS_TIMEOUT_INIT (1), reply with a 10-second timeout.
const SOCK_OPS: &str = "
    ldxw %r2, [%r1+0]        # op
    mov %r0, 1
    jne %r2, 1, +1
    stw [%r1+4], 10000       # reply
    exit
";

#[test]
fn sock_ops_replies_in_the_struct_given() {
    let prog = scratch("sock_ops.s", SOCK_OPS.as_bytes());
    let mut ops = vec![0u8; 224];
    ops[0] = 1; // BPF_SOCK_OPS_TIMEOUT_INIT
    let ctx = scratch("sock_ops.bin", &ops);
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run", &prog, "--type", "sock_ops", "--ctx", &ctx, "--engine", engine, "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let line = &json_lines(&out)[0];
        assert_eq!(line["retval"], 1);
        let mut after = ops.clone();
        after[4..8].copy_from_slice(&10000u32.to_le_bytes());
        assert_eq!(line["ctx"], hex(&after));
    }
    // Only reply and sk_txhash are writable, as the kernel verifier says.
    let op = scratch("sock_ops_op.s", b"stw [%r1+0], 1\nmov %r0, 1\nexit\n");
    let out = ebpfvm(&["run", &op, "--type", "sock_ops", "--ctx", &ctx]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid bpf_context access off=0 size=4"),
        "{err}"
    );
    // sk may be NULL (unless is_fullsock): using it unchecked is refused, as the
    // kernel verifier refuses it (tests/attach_cli.rs runs it checked).
    let sk = scratch(
        "sock_ops_sk.s",
        b"ldxdw %r2, [%r1+184]\nldxw %r0, [%r2+4]\nexit\n",
    );
    let out = ebpfvm(&["run", &sk, "--type", "sock_ops", "--ctx", &ctx]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pc 1: R2 invalid mem access 'sock_or_null'"),
        "{err}"
    );
}

#[test]
fn cgroup_device_and_sysctl_run_on_the_struct_given() {
    // Deny write access (BPF_DEVCG_ACC_WRITE, 4 in the upper half of access_type) to
    // character devices (BPF_DEVCG_DEV_CHAR, 2 in the lower half) of major 1.
    let device = scratch(
        "device.s",
        b"ldxh %r2, [%r1+0]\nldxh %r3, [%r1+2]\nldxw %r4, [%r1+4]\nmov %r0, 1\n\
          jne %r2, 2, +5\njne %r4, 1, +4\nmov %r5, %r3\nand %r5, 4\njeq %r5, 0, +1\n\
          mov %r0, 0\nexit\n",
    );
    for (access, action) in [(4u8, "DENY"), (2, "ALLOW")] {
        let mut dev = vec![0u8; 12];
        dev[0] = 2;
        dev[2] = access;
        dev[4] = 1;
        let ctx = scratch("device.bin", &dev);
        let out = ebpfvm(&[
            "run",
            &device,
            "--type",
            "cgroup_device",
            "--ctx",
            &ctx,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(json_lines(&out)[0]["action"], action);
    }
    // sysctl: file_pos is writable, write is not.
    let sysctl = scratch("sysctl.s", b"ldxw %r0, [%r1+0]\nstw [%r1+4], 9\nexit\n");
    let ctx = scratch("sysctl.bin", &[1, 0, 0, 0, 0, 0, 0, 0]);
    let out = ebpfvm(&[
        "run",
        &sysctl,
        "--type",
        "cgroup_sysctl",
        "--ctx",
        &ctx,
        "--json",
    ]);
    let line = &json_lines(&out)[0];
    assert_eq!(line["action"], "ALLOW");
    assert_eq!(line["ctx"], "0100000009000000");
    let bad = scratch("sysctl_bad.s", b"stw [%r1+0], 1\nmov %r0, 1\nexit\n");
    let out = ebpfvm(&["run", &bad, "--type", "cgroup_sysctl", "--ctx", &ctx]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid bpf_context access off=0 size=4"),
        "{err}"
    );
}

#[test]
fn message_and_reuseport_types_check_their_rules() {
    // Their pointers and scalars are read at load as the kernel reads them; runs are in
    // tests/attach_cli.rs.
    let bad = scratch("msg_bad.s", b"ldxw %r0, [%r1+0]\nexit\n");
    for ty in ["sk_msg", "sk_reuseport", "cgroup_sockopt"] {
        let out = ebpfvm(&["run", &bad, "--type", ty]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("invalid bpf_context access off=0 size=4"),
            "{ty}: {err}"
        );
    }
}

/// sk_skb on the command line: the socket's fields from `--sock FILE`, the socket
/// helpers' answers from `--sock` settings and `--cgroup`, the action per attach point.
#[test]
fn sk_skb_takes_its_socket_and_settings_from_the_command_line() {
    // struct bpf_sock: family AF_INET, local 127.0.0.1:443 (host order), remote port
    // 8080 (big-endian).
    let mut sock = vec![0u8; 80];
    sock[4] = 2;
    sock[24..28].copy_from_slice(&[127, 0, 0, 1]);
    sock[44..48].copy_from_slice(&443u32.to_le_bytes());
    sock[48..50].copy_from_slice(&8080u16.to_be_bytes());
    let sock = scratch("sk_skb_sock.bin", &sock);
    let payload = scratch("sk_skb_payload.bin", b"abc");
    // r0 = local_port + family + cookie + skb_cgroup_id... each helper its own run.
    let fields = scratch(
        "sk_skb_fields.s",
        b"ldxw %r0, [%r1+136]\nldxw %r2, [%r1+88]\nadd %r0, %r2\nexit\n",
    );
    let cookie = scratch("sk_skb_cookie.s", b"call 46\nexit\n");
    let uid = scratch("sk_skb_uid.s", b"call 47\nexit\n");
    let run = |prog: &str, extra: &[&str]| {
        let mut args = vec![
            "run", prog, "--type", "sk_skb", "--packet", &payload, "--json",
        ];
        args.extend_from_slice(extra);
        json_lines(&ebpfvm(&args))[0]["retval"].clone()
    };
    assert_eq!(run(&fields, &["--sock", &sock]), 445);
    assert_eq!(run(&fields, &[]), 0);
    let with_cookie = format!("{sock},cookie=0x2a,uid=1000");
    assert_eq!(run(&cookie, &["--sock", &with_cookie]), 42);
    assert_eq!(run(&cookie, &["--sock", "cookie=7"]), 7);
    assert_eq!(run(&cookie, &[]), 1);
    assert_eq!(run(&uid, &["--sock", &with_cookie]), 1000);
    // tc's skb_cgroup_id and skb_ancestor_cgroup_id follow --cgroup.
    let frame = scratch("sk_skb_frame.bin", &udp_frame(80));
    let cgid = scratch("tc_cgroup_id.s", b"call 79\nexit\n");
    let ancestor = scratch("tc_ancestor.s", b"mov %r2, 1\ncall 83\nexit\n");
    let tc = |prog: &str, cgroup: &str| {
        let out = ebpfvm(&[
            "run",
            prog,
            "--type",
            "sched_cls",
            "--packet",
            &frame,
            "--cgroup",
            cgroup,
            "--json",
        ]);
        json_lines(&out)[0]["retval"].clone()
    };
    assert_eq!(tc(&cgid, "1,300,4242"), 4242);
    assert_eq!(tc(&ancestor, "1,300,4242"), 300);
    assert_eq!(tc(&ancestor, "1"), 0);
    // Bad settings are usage errors.
    let out = ebpfvm(&[
        "run", &cookie, "--type", "sk_skb", "--packet", &payload, "--sock", "colour=3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown setting `colour`"),
        "{out:?}"
    );
    let out = ebpfvm(&[
        "run",
        &cgid,
        "--type",
        "sched_cls",
        "--packet",
        &frame,
        "--cgroup",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    // The stream parser's result is a length.
    let len = scratch("sk_skb_parser.s", b"ldxw %r0, [%r1+0]\nexit\n");
    let out = ebpfvm(&[
        "run",
        &len,
        "--type",
        "sk_skb",
        "--attach",
        "stream_parser",
        "--packet",
        &payload,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "3 (0x3) MESSAGE_LENGTH"
    );
}

/// `--cgroup self` gives our engines this process's cgroup, as the kernel's test run
/// charges its socket: `skb_cgroup_id` and its ancestors agree with `--engine kernel`.
#[test]
fn cgroup_self_matches_the_kernel_engine() {
    let frame = scratch("cgroup_self.bin", &udp_frame(80));
    for (name, asm) in [
        ("cgroup_self_id.s", &b"call 79\nexit\n"[..]),
        ("cgroup_self_root.s", b"mov %r2, 0\ncall 83\nexit\n"),
        ("cgroup_self_deep.s", b"mov %r2, 9\ncall 83\nexit\n"),
    ] {
        let prog = scratch(name, asm);
        let kernel = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "sched_cls",
            "--packet",
            &frame,
            "--engine",
            "kernel",
            "--json",
        ]);
        let err = String::from_utf8_lossy(&kernel.stderr);
        if err.contains("not permitted") || err.contains("only on Linux") {
            eprintln!("skipped: {}", err.trim());
            return;
        }
        for engine in ["interp", "jit"] {
            let ours = ebpfvm(&[
                "run",
                &prog,
                "--type",
                "sched_cls",
                "--packet",
                &frame,
                "--cgroup",
                "self",
                "--engine",
                engine,
                "--json",
            ]);
            assert_eq!(
                json_lines(&ours)[0]["retval"],
                json_lines(&kernel)[0]["retval"],
                "{name} {engine}: {ours:?} {kernel:?}"
            );
        }
    }
}

/// `--map-update` fills an ELF object's socket map (with cookies) before the run; the
/// sk_skb verdict's redirect is recorded in the JSON.
#[test]
fn sk_skb_redirects_through_a_socket_map_filled_on_the_command_line() {
    let object = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/sk_skb.o");
    let payload = scratch("sk_skb_redirect.bin", b"\x02hi");
    for engine in ["interp", "jit"] {
        let out = ebpfvm(&[
            "run",
            object,
            "--program",
            "by_first_byte",
            "--packet",
            &payload,
            "--engine",
            engine,
            "--map-update",
            "by_byte:02000000=2a00000000000000",
            "--json",
        ]);
        let line = &json_lines(&out)[0];
        assert_eq!(line["action"], "SK_PASS", "{out:?}");
        let redirect = &line["redirect"];
        assert_eq!(redirect["map"], "by_byte");
        assert_eq!(redirect["key"], "02000000");
        assert_eq!(redirect["cookie"], 42);
        assert_eq!(redirect["flags"], 1);
    }
    // Refusals: an index past the map (E2BIG), a map the object does not have, bad hex,
    // a program that is not an ELF object.
    for update in [
        "by_byte:09000000=2a00000000000000",
        "nope:00=00",
        "by_byte:0=1",
    ] {
        let out = ebpfvm(&[
            "run",
            object,
            "--program",
            "by_first_byte",
            "--packet",
            &payload,
            "--map-update",
            update,
        ]);
        assert_eq!(out.status.code(), Some(2), "{update}: {out:?}");
    }
    let asm = scratch("map_update.s", b"mov %r0, 0\nexit\n");
    let out = ebpfvm(&["run", &asm, "--map-update", "m:00=00"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
