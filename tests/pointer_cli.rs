//! `ebpfvm run` for the types whose context points elsewhere: `cgroup_sockopt` over
//! `--optval`, `sock_ops` over a TCP header (`--packet`), `sk_msg` over a message,
//! `sk_reuseport` over a packet, and the `sk` pointers to a `bpf_sock` built from the
//! context (or `--sock`). Every run on the interpreter and the JIT, which must agree on
//! everything; the kernel cannot test-run these types (`tests/ctx_kernel.rs` compares
//! their rules with its verifier).

mod common;

use common::{ebpfvm, hex, scratch};

/// The JSON line of a run, the same on the interpreter and the JIT.
fn run_both(args: &[&str]) -> serde_json::Value {
    let mut lines = Vec::new();
    for engine in ["interp", "jit"] {
        let mut all = args.to_vec();
        all.extend(["--engine", engine, "--json"]);
        let out = ebpfvm(&all);
        let text = String::from_utf8_lossy(&out.stdout);
        let line: serde_json::Value = serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("{args:?} on {engine}: {e}: {out:?}"));
        lines.push((out.status.code(), line));
    }
    assert_eq!(lines[0], lines[1], "{args:?}: interpreter vs JIT");
    lines.remove(0).1
}

/// getsockopt(SOL_SOCKET, SO_MARK): report mark 0x42, clear the error, and (to show
/// what `sk` reaches) set optlen to the socket's family; allow.
const GETSOCKOPT: &str = "
    ldxdw %r2, [%r1+8]       # optval
    ldxdw %r3, [%r1+16]      # optval_end
    mov %r4, %r2
    add %r4, 4
    jgt %r4, %r3, +1         # fewer than 4 bytes: leave them
    stw [%r2+0], 0x42
    stw [%r1+36], 0          # retval = 0
    ldxdw %r5, [%r1+0]       # sk: never NULL here
    ldxw %r6, [%r5+4]        # sk->family
    stxw [%r1+32], %r6       # optlen = the family, to show it
    mov %r0, 1
    exit
";

#[test]
fn getsockopt_rewrites_the_option_bytes() {
    let prog = scratch("getsockopt.s", GETSOCKOPT.as_bytes());
    let mut opt = vec![0u8; 40];
    opt[24..28].copy_from_slice(&1u32.to_le_bytes()); // SOL_SOCKET
    opt[28..32].copy_from_slice(&36u32.to_le_bytes()); // SO_MARK
    opt[32..36].copy_from_slice(&4u32.to_le_bytes()); // optlen
    opt[36..40].copy_from_slice(&(-1i32).to_le_bytes()); // retval: EPERM
    let ctx = scratch("sockopt.bin", &opt);
    let optval = scratch("optval.bin", &[7, 0, 0, 0]);
    let mut sock = vec![0u8; 80];
    sock[4] = 10; // AF_INET6
    let sock = scratch("sock6.bin", &sock);
    let line = run_both(&[
        "run",
        &prog,
        "--type",
        "cgroup_sockopt",
        "--ctx",
        &ctx,
        "--optval",
        &optval,
        "--sock",
        &sock,
    ]);
    assert_eq!(line["action"], "ALLOW");
    assert_eq!(line["optval"], "42000000");
    let mut after = opt.clone();
    after[32..36].copy_from_slice(&10u32.to_le_bytes());
    after[36..40].fill(0);
    assert_eq!(line["ctx"], hex(&after));
    // Two option bytes: too short to write, left as they were.
    let short = scratch("optval2.bin", &[7, 0]);
    let line = run_both(&[
        "run",
        &prog,
        "--type",
        "cgroup_sockopt",
        "--ctx",
        &ctx,
        "--optval",
        &short,
    ]);
    assert_eq!(line["optval"], "0700");
    // retval is getsockopt's: a setsockopt program may not write it.
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "cgroup_sockopt",
        "--attach",
        "setsockopt",
        "--ctx",
        &ctx,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pc 6: invalid bpf_context access off=36 size=4"),
        "{err}"
    );
    // The pointer fields are the run's to fill.
    let mut bad = opt.clone();
    bad[8] = 1;
    let bad = scratch("sockopt_bad.bin", &bad);
    let out = ebpfvm(&["run", &prog, "--type", "cgroup_sockopt", "--ctx", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bpf_sockopt `optval` must be 0"),
        "{out:?}"
    );
}

/// sock_ops: the TCP header's flags byte (through skb_data), plus the remote port from
/// the socket when it is a full one.
const SOCK_OPS: &str = "
    mov %r0, 0
    ldxdw %r2, [%r1+192]     # skb_data
    ldxdw %r3, [%r1+200]     # skb_data_end
    mov %r4, %r2
    add %r4, 14
    jgt %r4, %r3, +1
    ldxb %r0, [%r2+13]       # TCP flags
    ldxdw %r5, [%r1+184]     # sk, NULL unless a full socket
    jeq %r5, 0, +3
    ldxh %r6, [%r5+48]       # sk->dst_port (network order)
    lsh %r6, 8
    or %r0, %r6
    exit
";

#[test]
fn sock_ops_reads_the_tcp_header_and_the_socket() {
    let prog = scratch("sock_ops_ptr.s", SOCK_OPS.as_bytes());
    let mut ops = vec![0u8; 224];
    ops[0] = 4; // BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB
    ops[20] = 2; // AF_INET
    ops[64..68].copy_from_slice(&(0xbb01u32 << 16).to_le_bytes()); // htons(443) << 16
    let mut tcp = vec![0u8; 20];
    tcp[13] = 0x12; // SYN|ACK
    let header = scratch("tcp.bin", &tcp);
    for (full, expected) in [(1u8, 0x12 | (0xbb01u32 << 8)), (0, 0x12)] {
        ops[72] = full; // is_fullsock
        let ctx = scratch(&format!("sock_ops_{full}.bin"), &ops);
        let line = run_both(&[
            "run", &prog, "--type", "sock_ops", "--ctx", &ctx, "--packet", &header,
        ]);
        assert_eq!(line["retval"], expected, "is_fullsock={full}");
    }
    // Without --packet the header is empty: the bounds check fails.
    let ctx = scratch("sock_ops_nopkt.bin", &ops);
    let line = run_both(&["run", &prog, "--type", "sock_ops", "--ctx", &ctx]);
    assert_eq!(line["retval"], 0);
}

/// sk_msg: capitalise the message's first byte, pass it.
const SK_MSG: &str = "
    ldxdw %r2, [%r1+0]       # data
    ldxdw %r3, [%r1+8]       # data_end
    mov %r4, %r2
    add %r4, 1
    jgt %r4, %r3, +3
    ldxb %r5, [%r2+0]
    sub %r5, 32
    stxb [%r2+0], %r5
    ldxdw %r6, [%r1+72]      # sk
    ldxw %r7, [%r6+44]       # sk->src_port, from local_port
    mov %r0, 1               # SK_PASS
    jne %r7, 8080, +1
    exit
    mov %r0, 0
    exit
";

#[test]
fn sk_msg_rewrites_the_message() {
    let prog = scratch("sk_msg.s", SK_MSG.as_bytes());
    let msg = scratch("msg.bin", b"hello");
    let mut md = vec![0u8; 80];
    md[16] = 2; // AF_INET
    md[64..68].copy_from_slice(&8080u32.to_le_bytes()); // local_port
    let ctx = scratch("sk_msg.bin", &md);
    let line = run_both(&[
        "run", &prog, "--type", "sk_msg", "--ctx", &ctx, "--packet", &msg,
    ]);
    assert_eq!(line["action"], "SK_PASS");
    assert_eq!(line["packet"], hex(b"Hello"));
    // Without --ctx: a zero struct, so another port.
    let line = run_both(&["run", &prog, "--type", "sk_msg", "--packet", &msg]);
    assert_eq!(line["action"], "SK_DROP");
}

/// sk_msg: push two bytes after the first, pop the last, cork 100 bytes.
const SK_MSG_HELPERS: &str = "
    mov %r6, %r1
    mov %r2, 1
    mov %r3, 2
    mov %r4, 0
    call 90                  # msg_push_data(msg, 1, 2, 0)
    mov %r1, %r6
    mov %r2, 6
    mov %r3, 1
    mov %r4, 0
    call 91                  # msg_pop_data(msg, 6, 1, 0)
    mov %r1, %r6
    mov %r2, 100
    call 62                  # msg_cork_bytes(msg, 100)
    mov %r0, 1
    exit
";

#[test]
fn sk_msg_helpers_change_the_message_and_record_the_cork() {
    let prog = scratch("sk_msg_helpers.s", SK_MSG_HELPERS.as_bytes());
    let msg = scratch("msg_helpers.bin", b"hello");
    let line = run_both(&["run", &prog, "--type", "sk_msg", "--packet", &msg]);
    assert_eq!(line["action"], "SK_PASS");
    // h, two pushed (zeroed) bytes, ell; the o popped.
    assert_eq!(line["packet"], hex(b"h\0\0ell"));
    assert_eq!(line["cork_bytes"], 100);
    assert!(line.get("apply_bytes").is_none(), "{line}");
}

#[test]
fn sk_reuseport_reads_the_packet_but_may_not_write_it() {
    let read = scratch(
        "reuseport.s",
        b"mov %r0, 0\nldxdw %r2, [%r1+0]\nldxdw %r3, [%r1+8]\nmov %r4, %r2\nadd %r4, 1\n\
          jgt %r4, %r3, +1\nldxb %r0, [%r2+0]\nexit\n",
    );
    let packet = scratch("udp.bin", &[0x30, 0x39, 0, 53, 0, 8, 0, 0]);
    let mut md = vec![0u8; 56];
    md[20..22].copy_from_slice(&[0x08, 0x00]); // ETH_P_IP, network order
    md[24] = 17; // IPPROTO_UDP
    let ctx = scratch("reuseport.bin", &md);
    let line = run_both(&[
        "run",
        &read,
        "--type",
        "sk_reuseport",
        "--ctx",
        &ctx,
        "--packet",
        &packet,
    ]);
    assert_eq!(line["retval"], 0x30);
    // The kernel refuses a write at load; without a verifier it traps when it runs.
    let write = scratch(
        "reuseport_write.s",
        b"ldxdw %r2, [%r1+0]\nldxdw %r3, [%r1+8]\nmov %r4, %r2\nadd %r4, 1\n\
          jgt %r4, %r3, +1\nstb [%r2+0], 1\nmov %r0, 1\nexit\n",
    );
    let line = run_both(&[
        "run",
        &write,
        "--type",
        "sk_reuseport",
        "--ctx",
        &ctx,
        "--packet",
        &packet,
    ]);
    assert_eq!(line["trap"]["pc"], 5, "{line}");
}
