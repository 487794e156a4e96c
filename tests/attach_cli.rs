//! `ebpfvm run --type T --attach NAME`: the attach points of `cgroup_sock`,
//! `cgroup_sock_addr`, `cgroup_sockopt` and `sk_skb` on the command line: each point's
//! access rules (a field one point shows, another hides, refused at load in the kernel
//! verifier's words), its return values' names, both engines giving the same result and
//! context, the kernel engine's verdict for types it cannot test-run, and the errors for
//! a wrong name.

mod common;

use std::process::Output;

use common::{ebpfvm, hex, scratch, stderr};

/// The one JSON line of a run on `engine`.
fn run_json(args: &[&str], engine: &str) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--engine", engine, "--json"]);
    let out = ebpfvm(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?} on {engine}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().next().expect("a line")).expect("JSON")
}

/// Runs on the interpreter and the JIT, which must agree; the line.
fn run_both(args: &[&str]) -> serde_json::Value {
    let interp = run_json(args, "interp");
    // Everything agrees, the instruction count too.
    assert_eq!(interp, run_json(args, "jit"), "{args:?}");
    interp
}

/// connect6: connections to [...]:80 go to [::1]:80 instead.
const CONNECT6: &str = "
    ldxw %r2, [%r1+24]       # user_port
    jne %r2, 0x5000, +5      # htons(80)
    mov %r3, 0
    stxdw [%r1+8], %r3       # user_ip6[0..2] = 0 (a 64-bit store: allowed)
    stw [%r1+16], 0
    stw [%r1+20], 0x01000000 # user_ip6[3] = htonl(1)
    mov %r0, 1
    exit
";

fn sockaddr6(port: u16) -> Vec<u8> {
    let mut c = vec![0u8; 72];
    c[0] = 10; // AF_INET6
    c[8..24].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    c[24..26].copy_from_slice(&port.to_be_bytes());
    c[28] = 10;
    c[32] = 1; // SOCK_STREAM
    c[36] = 6; // IPPROTO_TCP
    c
}

#[test]
fn connect6_sees_the_ipv6_address_connect4_does_not() {
    let prog = scratch("connect6.s", CONNECT6.as_bytes());
    let given = sockaddr6(80);
    let ctx = scratch("connect6.bin", &given);
    let args = [
        "run",
        &prog,
        "--type",
        "cgroup_sock_addr",
        "--attach",
        "connect6",
        "--ctx",
        &ctx,
    ];
    let line = run_both(&args);
    assert_eq!(line["action"], "ALLOW");
    let mut after = given.clone();
    after[8..24].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(line["ctx"], hex(&after));
    // Another port: unchanged.
    let other = scratch("connect6_443.bin", &sockaddr6(443));
    let line = run_both(&[
        "run",
        &prog,
        "--type",
        "cgroup_sock_addr",
        "--attach",
        "connect6",
        "--ctx",
        &other,
    ]);
    assert_eq!(line["ctx"], hex(&sockaddr6(443)));
    // The default attach point (connect4) and sendmsg4 hide user_ip6.
    for at in [None, Some("sendmsg4")] {
        let mut args = vec!["run", &prog, "--type", "cgroup_sock_addr", "--ctx", &ctx];
        if let Some(at) = at {
            args.extend(["--attach", at]);
        }
        let out = ebpfvm(&args);
        assert_eq!(out.status.code(), Some(2), "{at:?}");
        assert!(
            stderr(&out).contains("pc 3: invalid bpf_context access off=8 size=8"),
            "{at:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn sendmsg_sees_the_source_address_and_recvmsg_must_allow() {
    // msg_src_ip4 (40) exists at sendmsg4 only.
    let prog = scratch("sendmsg4.s", b"ldxw %r0, [%r1+40]\nmov %r0, 1\nexit\n");
    let ctx = scratch("sendmsg4.bin", &[0u8; 72]);
    let line = run_both(&[
        "run",
        &prog,
        "--type",
        "cgroup_sock_addr",
        "--attach",
        "sendmsg4",
        "--ctx",
        &ctx,
    ]);
    assert_eq!(line["action"], "ALLOW");
    for at in ["connect4", "recvmsg4", "sendmsg6", "connect_unix"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "cgroup_sock_addr",
            "--attach",
            at,
            "--ctx",
            &ctx,
        ]);
        assert!(
            stderr(&out).contains("invalid bpf_context access off=40 size=4"),
            "{at}: {}",
            stderr(&out)
        );
    }
    // recvmsg4 programs may only return 1: 0 names no action there.
    let deny = scratch("deny.s", b"mov %r0, 0\nexit\n");
    for (at, action) in [("recvmsg4", None), ("connect4", Some("DENY"))] {
        let line = run_both(&[
            "run",
            &deny,
            "--type",
            "cgroup_sock_addr",
            "--attach",
            at,
            "--ctx",
            &ctx,
        ]);
        assert_eq!(line["action"].as_str(), action, "{at}");
    }
    // bind4: bit 1 of the return value lifts the CAP_NET_BIND_SERVICE check.
    let three = scratch("three.s", b"mov %r0, 3\nexit\n");
    let line = run_both(&[
        "run",
        &three,
        "--type",
        "cgroup_sock_addr",
        "--attach",
        "bind4",
        "--ctx",
        &ctx,
    ]);
    assert_eq!(line["action"], "ALLOW_NO_CAP_NET_BIND_SERVICE");
}

/// post_bind4: allow binding to port 8080 only.
const POST_BIND4: &str = "
    ldxw %r2, [%r1+44]       # src_port (host order)
    mov %r0, 0
    jne %r2, 8080, +1
    mov %r0, 1
    exit
";

#[test]
fn post_bind_sees_the_source_port_sock_create_does_not() {
    let prog = scratch("post_bind4.s", POST_BIND4.as_bytes());
    for (port, action) in [(8080u32, "ALLOW"), (22, "DENY")] {
        let mut sock = vec![0u8; 80];
        sock[4] = 2; // AF_INET
        sock[24..28].copy_from_slice(&[127, 0, 0, 1]);
        sock[44..48].copy_from_slice(&port.to_le_bytes());
        let ctx = scratch(&format!("post_bind4_{port}.bin"), &sock);
        let line = run_both(&[
            "run",
            &prog,
            "--type",
            "cgroup_sock",
            "--attach",
            "post_bind4",
            "--ctx",
            &ctx,
        ]);
        assert_eq!(line["action"], action, "port {port}");
        assert_eq!(line["ctx"], hex(&sock), "the struct is read-only here");
    }
    let ctx = scratch("sock0.bin", &[0u8; 80]);
    for at in ["sock_create", "sock_release"] {
        let out = ebpfvm(&[
            "run",
            &prog,
            "--type",
            "cgroup_sock",
            "--attach",
            at,
            "--ctx",
            &ctx,
        ]);
        assert!(
            stderr(&out).contains("pc 0: invalid bpf_context access off=44 size=4"),
            "{at}: {}",
            stderr(&out)
        );
    }
    // mark is written at sock_create, not even read at post_bind4.
    let mark = scratch("mark.s", b"ldxw %r0, [%r1+16]\nexit\n");
    let out = ebpfvm(&[
        "run",
        &mark,
        "--type",
        "cgroup_sock",
        "--attach",
        "post_bind6",
        "--ctx",
        &ctx,
    ]);
    assert!(
        stderr(&out).contains("invalid bpf_context access off=16 size=4"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wrong_attach_points_are_usage_errors() {
    let prog = scratch("one.s", b"mov %r0, 1\nexit\n");
    let out = ebpfvm(&[
        "run",
        &prog,
        "--type",
        "cgroup_sock_addr",
        "--attach",
        "connect5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("`connect5` is no attach point of cgroup_sock_addr programs")
            && err.contains("getsockname_unix"),
        "{err}"
    );
    let out = ebpfvm(&["run", &prog, "--type", "xdp", "--attach", "connect4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the type has one"),
        "{}",
        stderr(&out)
    );
    let out = ebpfvm(&["run", &prog, "--attach", "connect4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--attach needs a program type"));
}

/// `true` (after saying why) when the kernel engine cannot be used here.
fn kernel_unavailable(out: &Output) -> bool {
    let err = stderr(out);
    let skip = err.contains("not permitted") || err.contains("only on Linux");
    if skip {
        eprintln!("skipped: {}", err.trim());
    }
    skip
}

#[test]
fn the_kernel_engine_gives_the_verifier_verdict_at_the_attach_point() {
    let prog = scratch("k_sendmsg6.s", b"ldxw %r0, [%r1+44]\nmov %r0, 1\nexit\n");
    let ctx = scratch("k_ctx.bin", &[0u8; 72]);
    let base = [
        "run",
        &prog,
        "--type",
        "cgroup_sock_addr",
        "--ctx",
        &ctx,
        "--engine",
        "kernel",
    ];
    let mut accepted = base.to_vec();
    accepted.extend(["--attach", "sendmsg6", "--json"]);
    let out = ebpfvm(&accepted);
    if kernel_unavailable(&out) {
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#"{"verifier":"accepted"}"#));
    let mut refused = base.to_vec();
    refused.extend(["--attach", "sendmsg4"]);
    let out = ebpfvm(&refused);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("invalid bpf_context access off=44 size=4"),
        "{}",
        stderr(&out)
    );
}

/// `--attach` and `--arch` together: the arch is checked for every type but only a
/// kprobe's context depends on it, so a socket program at its attach point gives the
/// same line with `--arch arm64`; a kprobe has no attach point to name.
#[test]
fn attach_and_arch_go_together() {
    let prog = scratch("both_connect6.s", CONNECT6.as_bytes());
    let ctx = scratch("both_ctx.bin", &sockaddr6(80));
    let base = [
        "run",
        &prog,
        "--type",
        "cgroup_sock_addr",
        "--attach",
        "connect6",
        "--ctx",
        &ctx,
    ];
    let mut arm64 = base.to_vec();
    arm64.extend(["--arch", "arm64"]);
    assert_eq!(run_both(&arm64), run_both(&base));
    let mut bad = base.to_vec();
    bad.extend(["--arch", "sparc"]);
    let out = ebpfvm(&bad);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("unknown architecture `sparc`"));
    let kprobe = scratch("both_kprobe.s", b"ldxdw %r0, [%r1+328]\nexit\n");
    let out = ebpfvm(&[
        "run", &kprobe, "--type", "kprobe", "--arch", "arm64", "--attach", "connect4",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("no attach point of kprobe"));
    let out = ebpfvm(&[
        "run", &kprobe, "--type", "kprobe", "--arch", "arm64", "--regs", "x0=1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
