//! ELF objects with socket and cgroup sections (`tests/programs/socket_types.c`: one
//! program per section, `cgroup/sock_create` to `sk_reuseport`): each section gives
//! libbpf's program type and attach point; each program runs with `run --program NAME
//! --ctx ...` on the interpreter and the JIT with the same result and context after
//! the run; the kernel verifier accepts each at the same attach point (`--engine
//! kernel`), the one verdict the kernel gives for types it cannot test-run.

mod common;

use common::{ebpfvm, hex, scratch};

use ebpfvm::ctx::{AttachType, ProgramType};
use ebpfvm::elf::Object;

const OBJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/socket_types.o");

fn put(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// One program of the object: its section's type and attach point, the context (and
/// data) it runs on, its expected return value and the context after the run.
struct Case {
    program: &'static str,
    ty: ProgramType,
    at: Option<AttachType>,
    ctx: Vec<u8>,
    /// `--packet` or `--optval`, and its bytes.
    data: Option<(&'static str, Vec<u8>)>,
    retval: u32,
    ctx_out: Vec<u8>,
}

fn cases() -> Vec<Case> {
    use AttachType as A;
    use ProgramType as P;
    let mut out = Vec::new();
    let mut case = |program, ty, at, ctx: Vec<u8>, data, retval, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut ctx_out = ctx.clone();
        edit(&mut ctx_out);
        out.push(Case {
            program,
            ty,
            at,
            ctx,
            data,
            retval,
            ctx_out,
        });
    };
    let mut udp = vec![0u8; 80];
    put(&mut udp, 12, 17);
    case(
        "create_mark",
        P::CgroupSock,
        Some(A::SockCreate),
        udp,
        None,
        1,
        &|c| put(c, 16, 0x42),
    );
    let mut ssh = vec![0u8; 80];
    put(&mut ssh, 44, 22);
    case(
        "bind_no_ssh",
        P::CgroupSock,
        Some(A::PostBind4),
        ssh,
        None,
        0,
        &|_| {},
    );
    let mut lo = vec![0u8; 72];
    lo[4..8].copy_from_slice(&[127, 0, 0, 1]);
    case(
        "recv_rename",
        P::CgroupSockAddr,
        Some(A::Recvmsg4),
        lo,
        None,
        1,
        &|c| c[4..8].copy_from_slice(&[192, 168, 1, 2]),
    );
    let mut dgram = vec![0u8; 72];
    put(&mut dgram, 20, 0x0900_0000);
    put(&mut dgram, 32, 2); // SOCK_DGRAM
    case(
        "send_source",
        P::CgroupSockAddr,
        Some(A::Sendmsg6),
        dgram,
        None,
        1,
        &|c| put(c, 56, 0x0900_0000),
    );
    let mut mark = vec![0u8; 40];
    put(&mut mark, 28, 36); // SO_MARK
    put(&mut mark, 36, 1);
    case(
        "get_mark",
        P::CgroupSockopt,
        Some(A::Getsockopt),
        mark.clone(),
        Some(("--optval", vec![0, 0, 0, 0])),
        1,
        &|c| put(c, 36, 0),
    );
    case(
        "set_rename",
        P::CgroupSockopt,
        Some(A::Setsockopt),
        mark,
        None,
        1,
        &|c| put(c, 28, 37),
    );
    let mut ops = vec![0u8; 224];
    put(&mut ops, 0, 1); // BPF_SOCK_OPS_TIMEOUT_INIT
    let mut syn = vec![0u8; 20];
    syn[13] = 0x02;
    case(
        "ops_flags",
        P::SockOps,
        None,
        ops,
        Some(("--packet", syn)),
        1,
        &|c| put(c, 4, 10000),
    );
    let mut msg = vec![0u8; 80];
    put(&mut msg, 68, 5);
    case(
        "msg_flip",
        P::SkMsg,
        None,
        msg,
        Some(("--packet", b"hello".to_vec())),
        1,
        &|_| {},
    );
    let mut md = vec![0u8; 56];
    md[20..22].copy_from_slice(&[0x08, 0x00]); // ETH_P_IP
    put(&mut md, 24, 17);
    case(
        "select_dns",
        P::SkReuseport,
        Some(A::ReuseportSelect),
        md,
        Some(("--packet", vec![0, 53])),
        1,
        &|_| {},
    );
    case(
        "sysctl_ro",
        P::CgroupSysctl,
        None,
        vec![0; 8],
        None,
        1,
        &|_| {},
    );
    let mut dev = vec![0u8; 12];
    put(&mut dev, 4, 1);
    case("dev_policy", P::CgroupDevice, None, dev, None, 0, &|_| {});
    out
}

#[test]
fn sections_give_type_and_attach_point() {
    let object = Object::parse(&std::fs::read(OBJECT).unwrap()).unwrap();
    let mut cases = cases();
    cases.push(Case {
        program: "parse_len",
        ty: ProgramType::SkSkb,
        at: Some(AttachType::StreamParser),
        ctx: Vec::new(),
        data: None,
        retval: 0,
        ctx_out: Vec::new(),
    });
    for case in &cases {
        let spec = object
            .programs
            .iter()
            .find(|p| p.name == case.program)
            .unwrap_or_else(|| panic!("no program {}", case.program));
        assert_eq!(spec.prog_type, Some(case.ty), "{}", spec.section);
        assert_eq!(
            AttachType::from_section(&spec.section),
            case.at,
            "{}",
            spec.section
        );
    }
    assert_eq!(
        cases.len(),
        object.programs.len(),
        "every program is a case"
    );
}

#[test]
fn every_section_runs_on_both_engines() {
    for case in cases() {
        let ctx = scratch(&format!("{}.ctx", case.program), &case.ctx);
        let mut args = vec!["run", OBJECT, "--program", case.program, "--ctx", &ctx];
        let data_file;
        if let Some((flag, bytes)) = &case.data {
            data_file = scratch(&format!("{}.data", case.program), bytes);
            args.extend([*flag, data_file.as_str()]);
        }
        let mut lines = Vec::new();
        for engine in ["interp", "jit"] {
            let mut all = args.clone();
            all.extend(["--engine", engine, "--json"]);
            let out = ebpfvm(&all);
            assert_eq!(out.status.code(), Some(0), "{}: {out:?}", case.program);
            let line: serde_json::Value =
                serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
            lines.push(line);
        }
        assert_eq!(lines[0], lines[1], "{}: interpreter vs JIT", case.program);
        assert_eq!(lines[0]["retval"], case.retval, "{}", case.program);
        assert_eq!(lines[0]["ctx"], hex(&case.ctx_out), "{}", case.program);
    }
    // Data written through the pointers comes back too.
    let get = cases()
        .into_iter()
        .find(|c| c.program == "get_mark")
        .unwrap();
    let ctx = scratch("get_mark2.ctx", &get.ctx);
    let optval = scratch("get_mark2.opt", &[0, 0]);
    let out = ebpfvm(&[
        "run",
        OBJECT,
        "--program",
        "get_mark",
        "--ctx",
        &ctx,
        "--optval",
        &optval,
        "--json",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(r#""optval":"4200""#),
        "{out:?}"
    );
    // sk_skb runs on a stream payload; the stream parser's return value is a length.
    let out = ebpfvm(&[
        "run",
        OBJECT,
        "--program",
        "parse_len",
        "--packet",
        &ctx,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#""action":"MESSAGE_LENGTH""#) && stdout.contains(r#""retval":40"#),
        "{out:?}"
    );
}

#[test]
fn the_kernel_verifier_accepts_every_section_at_its_attach_point() {
    for case in cases() {
        let out = ebpfvm(&[
            "run",
            OBJECT,
            "--program",
            case.program,
            "--engine",
            "kernel",
            "--json",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("not permitted") || err.contains("only on Linux") {
            eprintln!("skipped: {}", err.trim());
            return;
        }
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            r#"{"loader":"aya","verifier":"accepted"}"#,
            "{}: {err}",
            case.program
        );
    }
}
