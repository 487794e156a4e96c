//! The socket helpers against the running kernel: `get_socket_cookie` (46),
//! `get_socket_uid` (47), `skb_cgroup_id` (79), `skb_ancestor_cgroup_id` (83, at every
//! level), `sk_cgroup_id` (128) and `sk_ancestor_cgroup_id` (129) on `__sk_buff->sk`,
//! and `get_cgroup_classid` (17), on every socket-buffer type that may call them (and
//! XDP's `get_cgroup_classid`): the interpreter, the JIT and BPF_PROG_TEST_RUN must give
//! the same return value and `cb[]` (the helper's 64-bit result). And the socket behind
//! `__sk_buff->sk` itself: every read through it (offset, size, with and without the
//! NULL check) accepted or refused as the kernel does, with the same value.
//!
//! The kernel's test run charges its dummy socket to the test process's cgroup, so the
//! test moves this process into a nested cgroup v2 of its own (two levels under the
//! root) and gives our engines that cgroup's ids as read from the cgroup filesystem
//! (`ebpfvm::cgroup::current_ids`). The cookie is a counter in the kernel: our engines
//! get the value the kernel gave in the same case, and every program checks that two
//! calls in one run agree. Skips, saying why, without `bpf()` permission or a writable
//! cgroup2 filesystem (the cgroup comparison then runs in the cgroup the process is in).
#![cfg(feature = "kernel")]

use std::path::PathBuf;

use ebpfvm::ctx::{PacketContext, ProgramType};
use ebpfvm::{Engine, SocketInfo, Vm};
use ebpfvm_kernel::{KernelProgram, TestRun};

/// Calls helper `id` with `r2 = arg` twice; stores the first result in `cb[0..2]`
/// (low, high) and returns 1 when both calls agree, 0 else.
fn program(id: u32, arg: u64) -> String {
    format!(
        "mov %r6, %r1\nlddw %r2, {arg:#x}\ncall {id}\nmov %r7, %r0\n\
         mov %r1, %r6\nlddw %r2, {arg:#x}\ncall {id}\nmov %r8, %r0\n\
         stxw [%r6+48], %r7\nmov %r9, %r7\nrsh %r9, 32\nstxw [%r6+52], %r9\n\
         mov %r0, 0\njne %r8, %r7, +1\nmov %r0, 1\nexit"
    )
}

/// Calls helper `id` on `__sk_buff->sk` (after its NULL check) with `r2 = arg`; stores
/// the result (99 for NULL) in `cb[0..2]` and returns 1.
fn sk_program(id: u32, arg: u64) -> String {
    format!(
        "mov %r6, %r1\nmov %r7, 99\nldxdw %r1, [%r6+168]\njeq %r1, 0, +4\n\
         lddw %r2, {arg:#x}\ncall {id}\nmov %r7, %r0\n\
         stxw [%r6+48], %r7\nmov %r9, %r7\nrsh %r9, 32\nstxw [%r6+52], %r9\n\
         mov %r0, 1\nexit"
    )
}

/// XDP has no `cb[]`: the low 32 bits of the result are the return value.
fn xdp_program(id: u32) -> String {
    format!("call {id}\nexit")
}

fn ipv4_frame() -> Vec<u8> {
    let mut f = vec![0u8; 14];
    f[12] = 0x08;
    f.extend([
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend([0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
    f
}

/// A cgroup two levels below this process's own, which the process moves into while
/// alive and leaves (back to where it was) when dropped.
struct NestedCgroup {
    dirs: Vec<PathBuf>,
    home: PathBuf,
}

impl NestedCgroup {
    fn enter() -> Option<NestedCgroup> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let root = ebpfvm::cgroup::cgroup2_mount(&mounts)?;
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))?
            .trim_start_matches('/');
        let home = root.join(path);
        let outer = home.join(format!("ebpfvm-test-{}", std::process::id()));
        let inner = outer.join("inner");
        std::fs::create_dir(&outer).ok()?;
        let nested = NestedCgroup {
            dirs: vec![inner.clone(), outer],
            home,
        };
        std::fs::create_dir(&inner).ok()?;
        let pid = std::process::id().to_string();
        std::fs::write(inner.join("cgroup.procs"), &pid).ok()?;
        Some(nested)
    }
}

impl Drop for NestedCgroup {
    fn drop(&mut self) {
        let pid = std::process::id().to_string();
        let _ = std::fs::write(self.home.join("cgroup.procs"), pid);
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

type Observed = (u32, Vec<u8>);

fn ours(ty: ProgramType, asm: &str, info: &SocketInfo, packet: &[u8]) -> Observed {
    let program = ebpfvm::isa::assemble(asm).unwrap();
    let results: Vec<Observed> = [Engine::Interpreter, Engine::Jit]
        .into_iter()
        .map(|engine| {
            let mut vm = Vm::with_type(program.clone(), ty).unwrap_or_else(|e| panic!("{ty}: {e}"));
            vm.set_engine(engine).unwrap();
            vm.set_socket(info.clone());
            let mut ctx = match ty {
                ProgramType::Xdp => PacketContext::new(ty, packet).unwrap(),
                _ => PacketContext::with_ctx(ty, packet, &[0; 192]).unwrap(),
            };
            let r0 = vm
                .run_packet(&mut ctx)
                .result
                .unwrap_or_else(|t| panic!("{ty}: {t}"));
            let cb = match ty {
                ProgramType::Xdp => Vec::new(),
                _ => ctx.ctx_out()[48..56].to_vec(),
            };
            (r0 as u32, cb)
        })
        .collect();
    assert_eq!(results[0], results[1], "interpreter vs JIT, {ty}: {asm}");
    results.into_iter().next().unwrap()
}

fn theirs(ty: ProgramType, asm: &str, packet: &[u8]) -> Option<Observed> {
    let program = ebpfvm::isa::assemble(asm).unwrap();
    let loaded = match KernelProgram::load_raw(&program, ty.id(), None, "GPL") {
        Ok(p) => p,
        Err(e) if e.is_unavailable() => return None,
        Err(e) => panic!("{ty}: {e}"),
    };
    let ctx_in = [0u8; 192];
    let run = match ty {
        ProgramType::Xdp => TestRun::packet(packet),
        _ => TestRun {
            ctx_in: &ctx_in,
            ctx_out_capacity: 192,
            ..TestRun::packet(packet)
        },
    };
    let r = loaded
        .test_run(&run)
        .unwrap_or_else(|e| panic!("{ty}: {e}"));
    let cb = match ty {
        ProgramType::Xdp => Vec::new(),
        _ => r.ctx_out[48..56].to_vec(),
    };
    Some((r.retval, cb))
}

#[test]
fn socket_helpers_match_the_kernel() {
    let probe = ebpfvm::isa::assemble("mov %r0, 0\nexit").unwrap();
    if let Err(e) = KernelProgram::load_raw(&probe, ProgramType::SchedCls.id(), None, "GPL") {
        if e.is_unavailable() {
            eprintln!("skipping: {e}");
            return;
        }
    }
    let nested = NestedCgroup::enter();
    if nested.is_none() {
        eprintln!("no nested cgroup (cgroup2 not writable here): comparing in this one");
    }
    let cgroup = ebpfvm::cgroup::current_ids().expect("this process's cgroup v2");
    if nested.is_some() {
        assert!(cgroup.len() >= 3, "{cgroup:?}");
    }
    let packet = ipv4_frame();
    let levels = [0u64, 1, 2, 3, 4, 64, u64::MAX, 1 << 32, (1 << 32) | 1];
    let mut cases: Vec<(u32, u64)> = vec![(46, 0), (47, 0), (79, 0), (17, 0)];
    cases.extend(levels.iter().map(|&l| (83, l)));
    cases.push((128, 0));
    cases.extend(levels.iter().map(|&l| (129, l)));
    let mut compared = 0;
    for ty in [
        ProgramType::SchedCls,
        ProgramType::SchedAct,
        ProgramType::SocketFilter,
        ProgramType::CgroupSkb,
        ProgramType::Xdp,
    ] {
        for &(id, arg) in &cases {
            if ebpfvm::ctx::helpers::allowed(ty, id) != Some(true) {
                continue;
            }
            let asm = match (ty, id) {
                (ProgramType::Xdp, _) => xdp_program(id),
                (_, 128 | 129) => sk_program(id, arg),
                _ => program(id, arg),
            };
            let Some(kernel) = theirs(ty, &asm, &packet) else {
                eprintln!("skipping: bpf() is not available here");
                return;
            };
            // The cookie is the kernel's counter: ours gets the value it gave.
            let cookie =
                u64::from_le_bytes(kernel.1.get(..8).map_or([0; 8], |b| b.try_into().unwrap()));
            let info = SocketInfo {
                cookie: if id == 46 { cookie } else { 1 },
                uid: 0,
                cgroup: cgroup.clone(),
                classid: 0,
            };
            let ours = ours(ty, &asm, &info, &packet);
            assert_eq!(ours, kernel, "{ty}: helper {id} ({arg:#x})");
            if ty != ProgramType::Xdp {
                assert_eq!(kernel.0, 1, "{ty}: helper {id}: two calls disagree");
            }
            compared += 1;
        }
    }
    // 4 skb types x (46, 47, 17) + (79, 83 x 9) where allowed, cgroup_skb's 128 and
    // 129 x 9, and XDP's 17.
    assert!(compared > 4 * 3 + 2 * 10 + 10, "{compared}");
    drop(nested);
}

/// Reads `size` bytes at `off` of `__sk_buff->sk` (after the NULL check unless
/// `unchecked`) into `cb[0..2]` (99 for NULL); returns 1.
fn sk_read(off: i16, size: u32, unchecked: bool) -> String {
    let op = match size {
        1 => "ldxb",
        2 => "ldxh",
        4 => "ldxw",
        _ => "ldxdw",
    };
    let check = if unchecked { "" } else { "jeq %r2, 0, +1\n" };
    format!(
        "mov %r6, %r1\nmov %r3, 99\nldxdw %r2, [%r6+168]\n{check}{op} %r3, [%r2+{off}]\n\
         stxw [%r6+48], %r3\nrsh %r3, 32\nstxw [%r6+52], %r3\nmov %r0, 1\nexit"
    )
}

#[test]
fn the_socket_behind_sk_matches_the_kernel() {
    let probe = ebpfvm::isa::assemble("mov %r0, 0\nexit").unwrap();
    if let Err(e) = KernelProgram::load_raw(&probe, ProgramType::SchedCls.id(), None, "GPL") {
        if e.is_unavailable() {
            eprintln!("skipping: {e}");
            return;
        }
    }
    let v4 = ipv4_frame();
    let mut v6 = vec![0u8; 14];
    v6[12..14].copy_from_slice(&[0x86, 0xdd]);
    v6.extend([0x60, 0, 0, 0, 0, 8, 17, 64]);
    v6.extend(1u8..=32);
    v6.extend([0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
    let mut arp = vec![0u8; 14];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    arp.extend([0u8; 28]);
    let (mut accepted, mut refused) = (0, 0);
    for ty in [
        ProgramType::SchedCls,
        ProgramType::SchedAct,
        ProgramType::SocketFilter,
        ProgramType::CgroupSkb,
        ProgramType::LwtIn,
        ProgramType::LwtOut,
        ProgramType::LwtXmit,
    ] {
        for unchecked in [false, true] {
            for size in [1u32, 2, 4, 8] {
                for off in (-8i16..88).filter(|o| o.rem_euclid(size as i16) == 0) {
                    let asm = sk_read(off, size, unchecked);
                    let program = ebpfvm::isa::assemble(&asm).unwrap();
                    let kernel = KernelProgram::load_raw(&program, ty.id(), None, "GPL");
                    let loaded = Vm::with_type(program.clone(), ty);
                    let what = format!("{ty}: {size} bytes at {off}, unchecked {unchecked}");
                    assert_eq!(
                        loaded.is_ok(),
                        kernel.is_ok(),
                        "{what}: ours {:?}",
                        loaded.err()
                    );
                    let Ok(kernel) = kernel else {
                        refused += 1;
                        continue;
                    };
                    accepted += 1;
                    for packet in [&v4, &v6, &arp] {
                        let run = TestRun {
                            ctx_in: &[0; 192],
                            ctx_out_capacity: 192,
                            ..TestRun::packet(packet)
                        };
                        let r = kernel.test_run(&run).unwrap();
                        let theirs = (r.retval, r.ctx_out[48..56].to_vec());
                        let info = SocketInfo::default();
                        assert_eq!(ours(ty, &asm, &info, packet), theirs, "{what}");
                    }
                }
            }
        }
    }
    assert!(accepted > 100 && refused > 100, "{accepted} {refused}");
}
