//! Differential tests against the running kernel, where it is safe to observe:
//!
//! - socket filters attached with `SO_ATTACH_FILTER` to one end of an `AF_UNIX`
//!   datagram socketpair: a datagram the filter drops never arrives, one it keeps
//!   arrives trimmed to the returned length, so we see `min(retval, len)`;
//! - the kernel's classic checker: `setsockopt` accepts or refuses mutated programs
//!   exactly when ours does;
//! - seccomp filters installed by a forked child (`PR_SET_NO_NEW_PRIVS` +
//!   `seccomp(SECCOMP_SET_MODE_FILTER)`) that makes one harmless syscall and reports
//!   the result over a pipe; kill and trap actions end the child with SIGSYS.
//!
//! Linux only; each test says why it skips when the kernel does not cooperate.

#![cfg(target_os = "linux")]

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ebpfvm_vm::Stack;

use common::engines::engines;
use common::gen::random_program;
use common::{ethernet_packet, Rng};
use ebpfvm_classic::seccomp::{Action, SeccompData, SeccompFilter, AUDIT_ARCH_X86_64};
use ebpfvm_classic::{
    check_classic, parse_dd, Instr, LdSrc, PacketMeta, RetVal, Size, SockFilter, SocketFilter,
};

/// A datagram socketpair whose receiving end runs `program`; `Err` when the kernel
/// refuses it (its errno).
struct Attached {
    tx: OwnedFd,
    rx: OwnedFd,
}

fn attach(program: &[SockFilter]) -> Result<Attached, i32> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "socketpair");
    // SAFETY: socketpair returned two new descriptors we now own.
    let (tx, rx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let insns: Vec<libc::sock_filter> = program
        .iter()
        .map(|f| libc::sock_filter {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        })
        .collect();
    let prog = libc::sock_fprog {
        len: insns.len() as u16,
        filter: insns.as_ptr().cast_mut(),
    };
    // SAFETY: prog points to insns, alive across the call.
    let rc = unsafe {
        libc::setsockopt(
            rx.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as u32,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    Ok(Attached { tx, rx })
}

impl Attached {
    /// Sends `packet` and returns how many bytes arrived (`None`: dropped).
    fn deliver(&self, packet: &[u8]) -> Option<usize> {
        // SAFETY: packet is a valid buffer of its length.
        let sent =
            unsafe { libc::send(self.tx.as_raw_fd(), packet.as_ptr().cast(), packet.len(), 0) };
        assert_eq!(sent, packet.len() as isize, "send");
        let mut buf = vec![0u8; packet.len() + 16];
        // SAFETY: buf is a valid buffer of its length.
        let got = unsafe {
            libc::recv(
                self.rx.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if got < 0 {
            None
        } else {
            Some(got as usize)
        }
    }
}

fn kernel_view(retval: u64, len: usize) -> Option<usize> {
    (retval != 0).then(|| (retval as usize).min(len))
}

#[test]
fn socket_filters_match_the_kernel() {
    let mut rng = Rng::new(11);
    let packets: Vec<Vec<u8>> = (0..25).map(|_| ethernet_packet(&mut rng)).collect();
    let mut programs: Vec<Vec<SockFilter>> =
        (0..400).map(|_| random_program(&mut rng, false)).collect();
    // Loads at 32-bit-wrapping X + k and by masked shifts: kernel-only semantics.
    programs.push(
        parse_dd("{ 0x01, 0, 0, 0xfffffff0 }, { 0x50, 0, 0, 0x14 }, { 0x16, 0, 0, 0 },").unwrap(),
    );
    programs.push(
        parse_dd("{ 0x00, 0, 0, 1 }, { 0x01, 0, 0, 33 }, { 0x6c, 0, 0, 0 }, { 0x16, 0, 0, 0 },")
            .unwrap(),
    );
    for (i, program) in programs.iter().enumerate() {
        let attached = match attach(program) {
            Ok(a) => a,
            Err(errno) => panic!("program {i}: the kernel refused it (errno {errno})"),
        };
        let filter = SocketFilter::new(program.clone()).unwrap();
        let engines = engines(filter.program());
        let mut stack = Stack::new();
        let meta = PacketMeta {
            protocol: 0,
            ..PacketMeta::default()
        };
        for p in &packets {
            let kernel = attached.deliver(p);
            for (name, engine) in &engines {
                let ours = filter.run_with(engine.as_ref(), &mut stack, p, &meta, None);
                let ours = kernel_view(ours.result.unwrap(), p.len());
                assert_eq!(
                    ours,
                    kernel,
                    "program {i} on {p:02x?} ({name})\n{}",
                    ebpfvm_classic::disassemble(program)
                );
            }
        }
    }
}

#[test]
fn ancillary_fields_of_a_unix_socket_skb() {
    // An AF_UNIX skb has protocol 0, pkt_type 0 (host), no mark, queue, hash or VLAN.
    let p = [0x55u8; 40];
    for n in [0u32, 4, 20, 24, 32, 44, 48, 60] {
        let program = [
            Instr::Ld(LdSrc::Abs(Size::W, 0xffff_f000 + n)),
            Instr::Alu(ebpfvm_classic::AluOp::Add, ebpfvm_classic::Src::K(1)),
            Instr::Ret(RetVal::A),
        ]
        .map(|i| i.encode());
        let attached = attach(&program).expect("kernel accepts the extension");
        let ours = SocketFilter::new(program.to_vec()).unwrap().run(
            &p,
            &PacketMeta {
                protocol: 0,
                ..PacketMeta::default()
            },
        );
        assert_eq!(
            kernel_view(ours.result.unwrap(), p.len()),
            attached.deliver(&p),
            "SKF_AD_OFF + {n}"
        );
    }
}

#[test]
fn checker_agrees_with_the_kernel() {
    let mut rng = Rng::new(12);
    let mut refused = 0;
    for i in 0..3000 {
        let mut program = random_program(&mut rng, false);
        // Mutate a few fields: opcodes, jump offsets, constants, the length.
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(program.len() as u64) as usize;
            let f = &mut program[at];
            match rng.below(6) {
                0 => f.code = rng.below(0x100) as u16,
                1 => f.jt = rng.below(40) as u8,
                2 => f.jf = rng.below(40) as u8,
                3 => {
                    let choices = [0, 16, 31, 32, 0xffff_f000 + rng.below(80) as u32, rng.u32()];
                    f.k = *rng.pick(&choices);
                }
                4 => {
                    program.truncate(at.max(1));
                }
                _ => program.insert(
                    at,
                    SockFilter::new(rng.below(0x100) as u16, 0, 0, rng.below(20) as u32),
                ),
            }
        }
        let ours = check_classic(&program);
        let kernel = attach(&program).map(|_| ());
        assert_eq!(
            ours.is_ok(),
            kernel.is_ok(),
            "mutant {i}: ours {ours:?}, kernel {kernel:?}\n{}",
            ebpfvm_classic::disassemble(&program)
        );
        refused += ours.is_err() as usize;
    }
    assert!(
        refused > 500,
        "the mutants exercise the refusals: {refused}"
    );
}

/// What a child saw when it made the syscall under the filter.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Returned(i64, i32),
    Signalled(i32),
    NotInstalled,
}

/// Forks a child that installs `filter` and makes `syscall(nr, args)`.
fn under_seccomp(filter: &[SockFilter], nr: i64, args: [u64; 6]) -> Seen {
    let insns: Vec<libc::sock_filter> = filter
        .iter()
        .map(|f| libc::sock_filter {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        })
        .collect();
    let prog = libc::sock_fprog {
        len: insns.len() as u16,
        filter: insns.as_ptr().cast_mut(),
    };
    let mut pipe = [0; 2];
    // SAFETY: pipe has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes async-signal-safe calls (prctl, syscall, write,
    // _exit) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: see above; the child never returns into the test harness.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_seccomp, 1, 0, &prog as *const libc::sock_fprog) != 0
            {
                libc::_exit(99);
            }
            let r = libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
            let errno = *libc::__errno_location();
            let mut out = [0u8; 12];
            out[..8].copy_from_slice(&(r as i64).to_le_bytes());
            out[8..].copy_from_slice(&errno.to_le_bytes());
            libc::write(pipe[1], out.as_ptr().cast(), out.len());
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child; reading into a local buffer.
    unsafe {
        libc::close(pipe[1]);
        libc::waitpid(pid, &mut status, 0);
        let mut out = [0u8; 12];
        let n = libc::read(pipe[0], out.as_mut_ptr().cast(), out.len());
        libc::close(pipe[0]);
        if libc::WIFSIGNALED(status) {
            return Seen::Signalled(libc::WTERMSIG(status));
        }
        if libc::WEXITSTATUS(status) == 99 {
            return Seen::NotInstalled;
        }
        assert_eq!(n, 12);
        Seen::Returned(
            i64::from_le_bytes(out[..8].try_into().unwrap()),
            i32::from_le_bytes(out[8..].try_into().unwrap()),
        )
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn seccomp_filters_match_the_kernel() {
    // getpriority(which, who) and dup(fd) are harmless whatever their arguments.
    let filter_text = |errno_a: u32, errno_b: u32| {
        format!(
            "{{ 0x20, 0, 0, 4 }}, {{ 0x15, 1, 0, 0xc000003e }}, {{ 0x06, 0, 0, 0 }},
             {{ 0x20, 0, 0, 0 }}, {{ 0x15, 0, 7, 140 }},
             {{ 0x20, 0, 0, 16 }}, {{ 0x25, 0, 1, 10 }}, {{ 0x06, 0, 0, {:#x} }},
             {{ 0x20, 0, 0, 24 }}, {{ 0x45, 1, 0, 0x4 }}, {{ 0x06, 0, 0, 0x7fff0000 }},
             {{ 0x06, 0, 0, {:#x} }},
             {{ 0x15, 0, 1, 32 }}, {{ 0x06, 0, 0, 0x00030000 }},
             {{ 0x06, 0, 0, 0x7fff0000 }},",
            0x0005_0000 | errno_a,
            0x0005_0000 | errno_b
        )
    };
    let program = parse_dd(&filter_text(1234, 2345)).unwrap();
    let filter = SeccompFilter::new(program.clone()).unwrap();
    if under_seccomp(&program, 39, [0; 6]) == Seen::NotInstalled {
        eprintln!("SKIP: this environment does not let a process install a seccomp filter");
        return;
    }
    for (nr, args) in [
        (140i64, [0u64, 0, 0, 0, 0, 0]),
        (140, [11, 0, 0, 0, 0, 0]),
        (140, [0, 4, 0, 0, 0, 0]),
        (140, [0, 0x1_0000_0004, 0, 0, 0, 0]),
        (140, [0x1_0000_0000, 0, 0, 0, 0, 0]),
        (32, [u64::MAX, 0, 0, 0, 0, 0]),
        (39, [0; 6]),
    ] {
        let data = SeccompData {
            nr: nr as i32,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0,
            args,
        };
        let mut stack = Stack::new();
        let rets: Vec<u32> = engines(filter.program())
            .iter()
            .map(|(_, e)| filter.run_with(e.as_ref(), &mut stack, &data).unwrap())
            .collect();
        assert!(
            rets.windows(2).all(|w| w[0] == w[1]),
            "engines differ: {rets:?}"
        );
        let action = Action::from_ret(rets[0]);
        let seen = under_seccomp(&program, nr, args);
        match action {
            Action::Errno(e) => assert_eq!(seen, Seen::Returned(-1, e as i32), "{nr} {args:?}"),
            Action::Allow => assert!(
                matches!(seen, Seen::Returned(_, e) if e != 1234 && e != 2345),
                "{nr} {args:?}: {seen:?}"
            ),
            Action::Trap(_) | Action::KillThread | Action::KillProcess => {
                assert_eq!(seen, Seen::Signalled(libc::SIGSYS), "{nr} {args:?}")
            }
            other => panic!("unexpected action {other}"),
        }
    }
}

#[test]
fn seccomp_rejects_what_the_kernel_rejects() {
    // Classic-valid but not allowed in seccomp: a byte load, a misaligned or
    // out-of-range data load, MOD. And one that is fine, for contrast.
    for (text, ok) in [
        ("{ 0x30, 0, 0, 0 }, { 0x06, 0, 0, 0x7fff0000 },", false),
        ("{ 0x20, 0, 0, 2 }, { 0x06, 0, 0, 0x7fff0000 },", false),
        ("{ 0x20, 0, 0, 64 }, { 0x06, 0, 0, 0x7fff0000 },", false),
        ("{ 0x94, 0, 0, 3 }, { 0x06, 0, 0, 0x7fff0000 },", false),
        ("{ 0x20, 0, 0, 60 }, { 0x06, 0, 0, 0x7fff0000 },", true),
    ] {
        let program = parse_dd(text).unwrap();
        assert_eq!(SeccompFilter::new(program.clone()).is_ok(), ok, "{text}");
        let seen = under_seccomp(&program, 39, [0; 6]);
        if ok && seen == Seen::NotInstalled {
            eprintln!("SKIP: this environment does not let a process install a seccomp filter");
            return;
        }
        assert_eq!(seen != Seen::NotInstalled, ok, "{text}: {seen:?}");
    }
}
