//! `sk_skb` programs and socket maps. The kernel cannot test-run `sk_skb`, so what can
//! be compared with it is: socket map creation (`sockmap`, `sockhash`: every key size,
//! value size, size and flag, errno for errno), host updates with real TCP sockets
//! (errno, and the entries read back: the kernel gives a socket's cookie, ours the
//! cookie given), and the verifier's verdict on every program run here, at its attach
//! point. The runs themselves (`tests/programs/sk_skb.c` and assembly calling each
//! helper) are checked against the values the kernel source gives, on the interpreter
//! and the JIT, which must agree. Kernel parts skip, saying why, without `bpf()`.
#![cfg(feature = "kernel")]

mod common;

use std::os::fd::AsRawFd;

use common::btf_map;
use ebpfvm::ctx::{AttachType, PacketContext, ProgramType};
use ebpfvm::elf::{MapDecl, Object, ProgramSpec};
use ebpfvm::vm::maps::{MapKind, MapSpec, Maps};
use ebpfvm::{Engine, Redirect, Select, SocketInfo, Vm};
use ebpfvm_kernel::{KernelError, KernelMap, KernelObject, KernelProgram};

const SOCKMAP: u32 = 15;
const SOCKHASH: u32 = 18;
const OBJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/sk_skb.o");

fn errno(e: KernelError) -> i32 {
    match e {
        KernelError::Map { error, .. } => error.raw_os_error().unwrap_or(-1),
        other => panic!("{other}"),
    }
}

/// Whether `bpf()` works here; prints why not.
fn kernel_available() -> bool {
    match KernelMap::create(&btf_map("socks", SOCKMAP, 4, 8, 1, 0)) {
        Err(e) if e.is_unavailable() => {
            eprintln!("skipping: {e}");
            false
        }
        _ => true,
    }
}

#[test]
fn socket_map_creation_matches_the_kernel() {
    if !kernel_available() {
        return;
    }
    let (mut compared, mut differ) = (0, Vec::new());
    for t in [SOCKMAP, SOCKHASH] {
        for key in [0, 1, 4, 8, 16, 512, 513] {
            for value in [0, 4, 8, 12] {
                for max in [0, 1, 4] {
                    for flags in [0, 1, 4, 8, 16, 24, 128, 1024] {
                        let d = btf_map("socks", t, key, value, max, flags);
                        let theirs = KernelMap::create(&d).map(drop).map_err(errno);
                        let spec = MapSpec {
                            flags,
                            ..MapSpec::new(
                                "socks",
                                MapKind::from_type_id(t).unwrap(),
                                key,
                                value,
                                max,
                            )
                        };
                        let ours = Maps::new().create(spec).map(drop).map_err(|e| e.errno());
                        if ours != theirs {
                            differ.push(format!(
                                "type {t} key {key} value {value} max {max} flags {flags:#x}: \
                                 ours {ours:?}, kernel {theirs:?}"
                            ));
                        }
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(compared, 2 * 7 * 4 * 3 * 8);
}

/// Three established TCP connections on the loopback device; the client ends.
fn sockets() -> Vec<std::net::TcpStream> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut keep = Vec::new();
    let clients = (0..3)
        .map(|_| {
            let client = std::net::TcpStream::connect(addr).unwrap();
            keep.push(listener.accept().unwrap().0);
            client
        })
        .collect();
    // The accepted ends may close: the clients stay established until read from.
    std::mem::forget(keep);
    clients
}

/// `SO_COOKIE` of a socket: what the kernel's socket map gives back for it.
fn cookie(s: &std::net::TcpStream) -> u64 {
    let mut cookie = 0u64;
    let mut len = 8 as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` (8) bytes into `cookie`.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "SO_COOKIE");
    cookie
}

fn object(section: &str, asm: &str, maps: Vec<MapDecl>) -> Object {
    Object {
        license: Some("GPL".into()),
        programs: vec![ProgramSpec {
            name: "prog".into(),
            section: section.into(),
            prog_type: ProgramType::from_section(section),
            program: ebpfvm::isa::assemble(asm).unwrap(),
        }],
        maps,
    }
}

#[test]
fn host_updates_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let socks = sockets();
    for t in [SOCKMAP, SOCKHASH] {
        let d = btf_map("socks", t, 4, 8, 4, 0);
        let obj = object("sk_skb/stream_verdict", "mov %r0, 1\nexit", vec![d]);
        let theirs = KernelObject::from_object(&obj, None, None, None).unwrap();
        let vm = Vm::from_object_typed(&obj, Select::Only, 1, None).unwrap();
        let (map, id) = (
            theirs.map("socks").unwrap(),
            vm.maps().find("socks").unwrap(),
        );
        // (key, socket, flags): BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2, bad flags 4.
        let updates = [
            (0u32, 0usize, 0u64),
            (0, 1, 1),
            (1, 1, 2),
            (1, 1, 0),
            (0, 2, 2),
            (3, 2, 1),
            (2, 0, 4),
            (2, 0, 0),
            (7, 1, 0),
            (4, 1, 0),
        ];
        for (key, sock, flags) in updates {
            let what = format!("type {t}: update {key} with socket {sock}, flags {flags}");
            let fd = socks[sock].as_raw_fd() as u64;
            let k = map
                .update(&key.to_le_bytes(), &fd.to_le_bytes(), flags)
                .map_err(errno);
            let given = cookie(&socks[sock]).to_le_bytes();
            let o = vm
                .maps()
                .update(id, &key.to_le_bytes(), &given, flags)
                .map_err(|e| e.errno());
            assert_eq!(o, k, "{what}");
            assert_eq!(
                vm.map_entries(),
                theirs.map_entries().unwrap(),
                "{what}: entries"
            );
        }
    }
}

/// Our engines' verdict on `program` at `at` and the kernel verifier's must agree.
fn same_verdict(program: &ebpfvm::Program, at: AttachType) -> bool {
    let ours = Vm::with_attach(program.clone(), at);
    let theirs = KernelProgram::load_raw(program, ProgramType::SkSkb.id(), Some(at.id()), "GPL");
    assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "{at}: ours {:?}, kernel {:?}",
        ours.err(),
        theirs.err()
    );
    ours.is_ok()
}

/// One call of helper `id` with constant arguments after the context in r1.
fn call(id: u32, args: &str) -> String {
    format!("mov %r6, %r1\n{args}\nmov %r1, %r6\ncall {id}\nexit")
}

#[test]
fn the_kernel_verifier_accepts_what_runs_here() {
    if !kernel_available() {
        return;
    }
    let at_all = [
        AttachType::StreamParser,
        AttachType::StreamVerdict,
        AttachType::SkbVerdict,
    ];
    // Writes to the payload, reads of every socket field, each helper ours implements.
    let mut programs = vec![
        "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 1\n\
         jgt %r4, %r3, +1\nstb [%r2+0], 7\nmov %r0, 1\nexit"
            .to_string(),
    ];
    for off in (88..140).step_by(4) {
        programs.push(format!("ldxw %r0, [%r1+{off}]\nexit"));
    }
    for (id, args) in [
        (
            9,
            "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nstdw [%r10-8], 0\nmov %r4, 1\nmov %r5, 0",
        ),
        (26, "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4"),
        (38, "mov %r2, 20\nmov %r3, 0"),
        (39, "mov %r2, 4"),
        (43, "mov %r2, 4\nmov %r3, 0"),
        (46, ""),
        (47, ""),
        (50, "mov %r2, -2\nmov %r3, 0\nmov %r4, 0"),
    ] {
        programs.push(call(id, args));
    }
    for asm in &programs {
        let program = ebpfvm::isa::assemble(asm).unwrap();
        for at in at_all {
            assert!(same_verdict(&program, at), "{at}: {asm}");
        }
    }
    // Every program of the object at its section's attach point.
    let bytes = std::fs::read(OBJECT).unwrap();
    let object = Object::parse(&bytes).unwrap();
    for spec in &object.programs {
        let at = AttachType::from_section(&spec.section).unwrap();
        let loaded = KernelObject::load(&bytes, Some(&spec.name), None, Some(at.id()));
        assert!(loaded.is_ok(), "{}: {}", spec.name, loaded.err().unwrap());
        Vm::from_object_at(&object, Select::Program(&spec.name), 1, None, Some(at)).unwrap();
    }
}

/// Runs `vm`'s program on both engines over `payload` from `socket`; returns the common
/// return value, payload after the run and redirect.
fn run_both(
    make: impl Fn() -> Vm,
    payload: &[u8],
    socket: Option<&[u8]>,
) -> (u64, Vec<u8>, Option<Redirect>) {
    let results: Vec<_> = [Engine::Interpreter, Engine::Jit]
        .into_iter()
        .map(|engine| {
            let mut vm = make();
            vm.set_engine(engine).unwrap();
            let mut ctx = PacketContext::sk_skb(payload, socket).unwrap();
            let r0 = vm.run_packet(&mut ctx).result.unwrap();
            (r0, ctx.packet_out(), vm.last_redirect())
        })
        .collect();
    assert_eq!(results[0], results[1], "interpreter vs JIT");
    results.into_iter().next().unwrap()
}

/// The object's program `name` with `fill` applied to its maps first.
fn from_object(name: &str, info: SocketInfo, fill: impl Fn(&Vm) + Copy) -> impl Fn() -> Vm {
    let object = Object::parse(&std::fs::read(OBJECT).unwrap()).unwrap();
    let name = name.to_string();
    move || {
        let mut vm = Vm::from_object_typed(&object, Select::Program(&name), 1, None).unwrap();
        vm.set_socket(info.clone());
        fill(&vm);
        vm
    }
}

#[test]
fn the_stream_parser_returns_a_message_length() {
    let make = from_object("parse_prefix", SocketInfo::default(), |_| {});
    assert_eq!(make().attach_type(), Some(AttachType::StreamParser));
    for (payload, want) in [
        (&b""[..], 0),
        (b"\x00", 0),
        (b"\x00\x03abcdef", 5),
        (b"\x01\x00", 258),
    ] {
        let (r0, out, _) = run_both(&make, payload, None);
        assert_eq!((r0, out.as_slice()), (want, payload), "{payload:?}");
    }
    assert_eq!(
        ebpfvm::ctx::action_at(ProgramType::SkSkb, Some(AttachType::StreamParser), 5),
        Some("MESSAGE_LENGTH")
    );
    assert_eq!(
        ebpfvm::ctx::action_at(ProgramType::SkSkb, Some(AttachType::StreamParser), 0),
        Some("NEED_MORE_DATA")
    );
}

#[test]
fn sk_redirect_map_records_the_socket() {
    let fill = |vm: &Vm| {
        let id = vm.maps().find("by_byte").unwrap();
        for (key, cookie) in [(0u32, 100u64), (2, 102)] {
            vm.maps()
                .update(id, &key.to_le_bytes(), &cookie.to_le_bytes(), 0)
                .unwrap();
        }
    };
    let make = from_object("by_first_byte", SocketInfo::default(), fill);
    assert_eq!(make().attach_type(), Some(AttachType::StreamVerdict));
    let target = |key: u32, cookie| Redirect::Socket {
        map: "by_byte".into(),
        key: key.to_le_bytes().to_vec(),
        cookie,
        flags: 1,
    };
    for (payload, want) in [
        (&b"\x00hi"[..], (1, Some(target(0, 100)))),
        (b"\x06", (1, Some(target(2, 102)))),
        (b"\x01", (0, None)),
        (b"", (0, None)),
    ] {
        let (r0, out, redirect) = run_both(&make, payload, None);
        assert_eq!((r0, redirect), want, "{payload:?}");
        assert_eq!(out, payload);
    }
}

#[test]
fn sk_redirect_hash_finds_the_peer_from_the_socket_fields() {
    // struct bpf_sock: dst_ip4 10.0.0.2 (remote), dst_port 8080 (big-endian), family
    // AF_INET; the program keys the sockhash by (remote_ip4, remote_port >> 16).
    let mut sock = vec![0u8; 80];
    sock[4] = 2;
    sock[48..50].copy_from_slice(&8080u16.to_be_bytes());
    sock[52..56].copy_from_slice(&[10, 0, 0, 2]);
    let key = [
        [10, 0, 0, 2],
        u32::from(u16::from_le_bytes(8080u16.to_be_bytes())).to_le_bytes(),
    ]
    .concat();
    let fill = {
        let key = key.clone();
        move |vm: &Vm| {
            let id = vm.maps().find("by_peer").unwrap();
            vm.maps().update(id, &key, &7u64.to_le_bytes(), 0).unwrap();
        }
    };
    let object = Object::parse(&std::fs::read(OBJECT).unwrap()).unwrap();
    let make = || {
        let vm =
            Vm::from_object_typed(&object, Select::Program("by_peer_address"), 1, None).unwrap();
        fill(&vm);
        vm
    };
    assert_eq!(make().attach_type(), Some(AttachType::SkbVerdict));
    let (r0, _, redirect) = run_both(make, b"x", Some(&sock));
    let target = Redirect::Socket {
        map: "by_peer".into(),
        key,
        cookie: 7,
        flags: 0,
    };
    assert_eq!((r0, redirect), (1, Some(target)));
    // Another peer port: no socket, SK_DROP.
    sock[48..50].copy_from_slice(&8081u16.to_be_bytes());
    assert_eq!(run_both(make, b"x", Some(&sock)).0, 0);
    // No socket given: the fields are 0.
    assert_eq!(run_both(make, b"x", None).0, 0);
}

#[test]
fn adjust_room_strips_a_header_and_the_cookie_is_the_one_set() {
    let info = SocketInfo {
        cookie: 0x12a,
        ..SocketInfo::default()
    };
    let make = from_object("strip_and_tag", info, |_| {});
    assert_eq!(
        run_both(&make, b"HDR!hello", None),
        (1, b"*ello".to_vec(), None)
    );
    // Shorter than the header: -ENOMEM, untouched.
    assert_eq!(run_both(&make, b"abc", None), (0, b"abc".to_vec(), None));
}

/// Runs one helper call (`call(id, args)`, then the result and `len` in r0 as
/// `len << 32 | result as u32`) over `payload` at every attach point.
fn helper(id: u32, args: &str, payload: &[u8]) -> (u64, Vec<u8>) {
    let asm = format!(
        "mov %r6, %r1\n{args}\nmov %r1, %r6\ncall {id}\nmov %r7, %r0\nlsh %r7, 32\nrsh %r7, 32\n\
         ldxw %r0, [%r6+0]\nlsh %r0, 32\nor %r0, %r7\nexit"
    );
    let program = ebpfvm::isa::assemble(&asm).unwrap();
    let mut seen = None;
    for at in [
        AttachType::StreamParser,
        AttachType::StreamVerdict,
        AttachType::SkbVerdict,
    ] {
        let got = run_both(
            || Vm::with_attach(program.clone(), at).unwrap(),
            payload,
            None,
        );
        let got = (got.0, got.1);
        assert!(seen.as_ref().map_or(true, |s| s == &got), "{at}: {asm}");
        seen = Some(got);
    }
    seen.unwrap()
}

const EINVAL: u64 = 22u32.wrapping_neg() as u64;
const EFAULT: u64 = 14u32.wrapping_neg() as u64;
const ENOMEM: u64 = 12u32.wrapping_neg() as u64;

#[test]
fn each_helper_follows_the_kernel_source() {
    let p = b"0123456789";
    let with_len = |len: u64, r: u64| len << 32 | r;
    // skb_adjust_room: the front grows (zeros) or shrinks; mode/flags, size, length.
    let room = |diff: i32, mode: u32, flags: u64| {
        helper(
            50,
            &format!(
                "lddw %r2, {:#x}\nmov %r3, {mode}\nlddw %r4, {flags:#x}",
                diff as u32
            ),
            p,
        )
    };
    assert_eq!(
        room(2, 0, 0),
        (with_len(12, 0), b"\x00\x000123456789".to_vec())
    );
    assert_eq!(room(-3, 0, 0), (with_len(7, 0), b"3456789".to_vec()));
    assert_eq!(room(-10, 0, 0), (with_len(0, 0), b"".to_vec()));
    assert_eq!(
        room(-11, 0, 0),
        (with_len(10, ENOMEM & 0xffff_ffff), p.to_vec())
    );
    assert_eq!(
        room(2, 1, 0),
        (with_len(10, EINVAL & 0xffff_ffff), p.to_vec())
    );
    assert_eq!(
        room(2, 0, 1),
        (with_len(10, EINVAL & 0xffff_ffff), p.to_vec())
    );
    assert_eq!(
        room(0x1000, 0, 0),
        (with_len(10, EFAULT & 0xffff_ffff), p.to_vec())
    );
    assert_eq!(room(0xfff, 0, 0).0, with_len(10 + 0xfff, 0));
    // skb_change_tail: the headers lie before data, so any length down to 0.
    let tail =
        |len: u64, flags: u64| helper(38, &format!("lddw %r2, {len:#x}\nmov %r3, {flags}"), p);
    assert_eq!(tail(4, 0), (with_len(4, 0), b"0123".to_vec()));
    assert_eq!(tail(0, 0), (with_len(0, 0), b"".to_vec()));
    assert_eq!(tail(12, 0), (with_len(12, 0), b"0123456789\0\0".to_vec()));
    assert_eq!(tail(16065, 0).0, with_len(10, EINVAL & 0xffff_ffff));
    assert_eq!(tail(4, 1).0, with_len(10, EINVAL & 0xffff_ffff));
    // skb_change_head: zeros before the payload.
    let head =
        |room: u64, flags: u64| helper(43, &format!("lddw %r2, {room:#x}\nmov %r3, {flags}"), p);
    assert_eq!(
        head(3, 0),
        (with_len(13, 0), b"\x00\x00\x000123456789".to_vec())
    );
    assert_eq!(head(3, 1).0, with_len(10, EINVAL & 0xffff_ffff));
    assert_eq!(head(16055, 0).0, with_len(10, EINVAL & 0xffff_ffff));
    // skb_pull_data: everything is linear; more than the payload is -ENOMEM.
    assert_eq!(helper(39, "mov %r2, 10", p).0, with_len(10, 0));
    assert_eq!(
        helper(39, "mov %r2, 11", p).0,
        with_len(10, ENOMEM & 0xffff_ffff)
    );
    // skb_load_bytes / skb_store_bytes on the payload.
    let store =
        "stw [%r10-4], 0x41424344\nmov %r2, 6\nmov %r3, %r10\nadd %r3, -4\nmov %r4, 4\nmov %r5, 0";
    assert_eq!(
        helper(9, store, p),
        (with_len(10, 0), b"012345DCBA".to_vec())
    );
    let past = "stw [%r10-4], 0\nmov %r2, 7\nmov %r3, %r10\nadd %r3, -4\nmov %r4, 4\nmov %r5, 0";
    assert_eq!(helper(9, past, p).0, with_len(10, EFAULT & 0xffff_ffff));
    let load = "mov %r2, 6\nmov %r3, %r10\nadd %r3, -4\nmov %r4, 4";
    assert_eq!(helper(26, load, p).0, with_len(10, 0));
    // The socket helpers give the default socket: cookie 1, uid 0.
    assert_eq!(helper(46, "", p).0, with_len(10, 1));
    assert_eq!(helper(47, "", p).0, with_len(10, 0));
}

#[test]
fn the_context_carries_the_socket() {
    // struct bpf_sock: family AF_INET6, src 2001:db8::1 port 443, dst 2001:db8::2 port
    // 50000 (big-endian), dst_ip4/src_ip4 too.
    let mut sock = vec![0u8; 80];
    sock[4] = 10;
    sock[24..28].copy_from_slice(&[127, 0, 0, 1]);
    sock[28..44].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    sock[44..48].copy_from_slice(&443u32.to_le_bytes());
    sock[48..50].copy_from_slice(&50000u16.to_be_bytes());
    sock[52..56].copy_from_slice(&[127, 0, 0, 2]);
    sock[56..72].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    let ctx = PacketContext::sk_skb(b"payload", Some(&sock)).unwrap();
    let word = |off: usize| u32::from_le_bytes(ctx.context()[off..off + 4].try_into().unwrap());
    assert_eq!(word(0), 7, "len");
    assert_eq!(word(16), 0xdd86, "protocol, network order");
    assert_eq!(word(88), 10, "family");
    assert_eq!(word(92).to_ne_bytes(), [127, 0, 0, 2], "remote_ip4");
    assert_eq!(word(96).to_ne_bytes(), [127, 0, 0, 1], "local_ip4");
    assert_eq!(word(112).to_ne_bytes(), [0, 0, 0, 2], "remote_ip6[3]");
    assert_eq!(word(128).to_ne_bytes(), [0, 0, 0, 1], "local_ip6[3]");
    assert_eq!(
        word(132),
        u32::from(u16::from_le_bytes(50000u16.to_be_bytes())) << 16
    );
    assert_eq!(word(136), 443, "local_port");
    // Programs read them through the rewrite, the same on both engines.
    let program = ebpfvm::isa::assemble("ldxw %r0, [%r1+132]\nrsh %r0, 16\nexit").unwrap();
    let make = || Vm::with_attach(program.clone(), AttachType::SkbVerdict).unwrap();
    let (r0, ..) = run_both(make, b"x", Some(&sock));
    assert_eq!(r0 as u16, u16::from_le_bytes(50000u16.to_be_bytes()));
    // `sk` points to the same socket: its src_port (local, host order).
    let through_sk = "ldxdw %r2, [%r1+168]\nmov %r0, 99\njeq %r2, 0, +1\nldxw %r0, [%r2+44]\nexit";
    let program = ebpfvm::isa::assemble(through_sk).unwrap();
    let make = || Vm::with_attach(program.clone(), AttachType::StreamVerdict).unwrap();
    assert_eq!(run_both(make, b"x", Some(&sock)).0, 443);
    // A socket struct the kernel could not hold is refused.
    let mut bad = sock.clone();
    bad[72] = 0xff;
    bad[73] = 1;
    assert!(PacketContext::sk_skb(b"x", Some(&bad)).is_err());
    assert!(PacketContext::sk_skb(&vec![0; 16065], None).is_err());
}

#[test]
fn socket_map_lookups_from_programs_are_refused_as_not_supported() {
    let asm = "stw [%r10-4], 0\nlddw %r1, map_idx 0\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r0, 1\nexit";
    let obj = object(
        "sk_skb/stream_verdict",
        asm,
        vec![btf_map("socks", SOCKMAP, 4, 8, 4, 0)],
    );
    for engine in [Engine::Interpreter, Engine::Jit] {
        let mut vm = Vm::from_object_typed(&obj, Select::Only, 1, None).unwrap();
        vm.set_engine(engine).unwrap();
        let mut ctx = PacketContext::sk_skb(b"x", None).unwrap();
        let trap = vm.run_packet(&mut ctx).result.unwrap_err();
        assert!(trap.to_string().contains("is not supported yet"), "{trap}");
    }
}
