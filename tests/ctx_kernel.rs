//! Program types against the running kernel (BPF_PROG_TEST_RUN), for every packet type
//! we model (`xdp`, `sched_cls`, `sched_act`, `socket_filter`, `cgroup_skb`, `lwt_in`,
//! `lwt_out`, `lwt_xmit`):
//!
//! - every context access (offset, size, read/ldsx/store/store-immediate) is accepted
//!   by our load-time rewrite exactly when the kernel verifier accepts it, and refused
//!   with the kernel's message (kprobe's `pt_regs`, and every other type modelled:
//!   `flow_dissector`, `sk_skb`, `sk_lookup`, the cgroup socket types, `sock_ops`,
//!   `sk_msg`, `sk_reuseport`, `cgroup_device`, `cgroup_sysctl`, `cgroup_sockopt`,
//!   `lwt_seg6local`, loaded with their expected attach types);
//! - every readable field has the kernel's value for real and edge-case packets;
//! - random programs that read every readable field (narrow loads too), write the
//!   writable ones, read and write the packet behind bounds checks and use legacy packet
//!   loads and call the packet helpers (load/store bytes, checksum replacement,
//!   `csum_diff`, `redirect`, the XDP adjust and socket-buffer resizing helpers) give the same return value and packet after the run on the
//!   interpreter, the JIT and the kernel; packets the kernel refuses are refused here
//!   too;
//! - calls to helpers a type may not call are refused as the kernel refuses them;
//! - flow dissectors: random programs that read the packet, call `skb_load_bytes`, read
//!   and write the flow keys and return any value give the kernel's retval, flow keys
//!   (its `data_out`) and `ctx_out`, with and without a `ctx_in` of flags;
//! - sk_lookup: random programs reading every readable field over random
//!   `bpf_sk_lookup`s give the kernel's retval and `ctx_out`, and the contexts the
//!   kernel's test run refuses are refused here for the same errno.
//!
//! The kernel is reached through the `ebpfvm-kernel` crate (`KernelProgram::load_raw`,
//! `test_run`). `EBPFVM_CTX_CASES=N` runs N random programs per type (default 150).
//! Skips, saying why, where `bpf()` is not permitted.

use ebpfvm::ctx::access::{self, AccessKind};
use ebpfvm::ctx::{AttachType, ContextKind, PacketContext, PointerContext, ProgramType};
use ebpfvm::isa::{AluOp, Cond, Insn, LegacyMode, Operand, Program, Reg, Size, Width};
use ebpfvm::{Engine, Vm};
use ebpfvm_kernel::{KernelError, KernelProgram, TestRun};

const TYPES: &[ProgramType] = &[
    ProgramType::Xdp,
    ProgramType::SchedCls,
    ProgramType::SchedAct,
    ProgramType::SocketFilter,
    ProgramType::CgroupSkb,
    ProgramType::LwtIn,
    ProgramType::LwtOut,
    ProgramType::LwtXmit,
];

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("r0..r10")
}

fn size_of(bytes: u32) -> Size {
    match bytes {
        1 => Size::B,
        2 => Size::H,
        4 => Size::W,
        _ => Size::DW,
    }
}

fn mov(dst: u8, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: reg(dst),
        src: Operand::Imm(imm),
    }
}

fn alu(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: reg(dst),
        src,
    }
}

fn load(size: u32, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load {
        size: size_of(size),
        sign_extend: false,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}

/// Whether the kernel is usable; prints why not once.
fn kernel_available() -> bool {
    let exit = Program::new(vec![mov(0, 0), Insn::Exit]).unwrap();
    match load_kernel(ProgramType::Xdp, &exit) {
        Err(e) if e.is_unavailable() => {
            eprintln!("skipping: {e}");
            false
        }
        _ => true,
    }
}

/// Loads `program` into the kernel as a `ty` program (GPL), with the expected attach
/// type the type needs to load at all.
fn load_kernel(ty: ProgramType, program: &Program) -> Result<KernelProgram, KernelError> {
    load_kernel_at(ty, None, program)
}

/// [`load_kernel`] at attach point `at` (`None`: the type's default).
fn load_kernel_at(
    ty: ProgramType,
    at: Option<AttachType>,
    program: &Program,
) -> Result<KernelProgram, KernelError> {
    let attach = at.map(|a| a.id()).or(ty.default_attach_type());
    KernelProgram::load_raw(program, ty.id(), attach, "GPL")
}

/// One test run over `packet`, with `ctx_in` (which then comes back) when given:
/// (retval, packet after the run, context after the run).
fn test_run(
    loaded: &KernelProgram,
    packet: &[u8],
    ctx_in: Option<&[u8]>,
) -> Result<(u32, Vec<u8>, Vec<u8>), KernelError> {
    let run = TestRun {
        ctx_in: ctx_in.unwrap_or(&[]),
        ctx_out_capacity: if ctx_in.is_some() { 256 } else { 0 },
        ..TestRun::packet(packet)
    };
    loaded
        .test_run(&run)
        .map(|r| (r.retval, r.data_out, r.ctx_out))
}

/// Packets of every kind the tests use: real headers, broadcast/multicast/host/other
/// destinations, VLAN, ARP, 802.3 lengths, and the shortest ones each type accepts.
fn packets() -> Vec<(&'static str, Vec<u8>)> {
    let eth = |dst: &str, ethertype: &str| {
        let mut v = hex(dst);
        v.extend(hex("020000000001"));
        v.extend(hex(ethertype));
        v
    };
    let ipv4_tcp = hex(
        "4500002c12344000400600000a0000010a000002d431005000000001000000005002ffff0000000001020304",
    );
    let ipv4_udp = hex("4500002000010000401100000a0000030a00000404d2162e000c0000deadbeef");
    let ipv6_udp = [
        hex("6000000000081140"),
        (0u8..16).collect(),
        (16u8..32).collect(),
        hex("04d2162e00080000"),
    ]
    .concat();
    let arp = hex("0001080006040001020000000001c0a80001000000000000c0a80002");
    let mut out = vec![
        (
            "ipv4 tcp to host",
            [eth("000000000000", "0800"), ipv4_tcp.clone()].concat(),
        ),
        (
            "ipv4 udp broadcast",
            [eth("ffffffffffff", "0800"), ipv4_udp.clone()].concat(),
        ),
        (
            "ipv4 multicast",
            [eth("01005e000001", "0800"), ipv4_udp.clone()].concat(),
        ),
        (
            "ipv6 other host",
            [eth("020000000002", "86dd"), ipv6_udp].concat(),
        ),
        ("arp", [eth("ffffffffffff", "0806"), arp].concat()),
        (
            "vlan",
            [eth("020000000002", "8100"), hex("00050800"), ipv4_tcp].concat(),
        ),
        (
            "802.3 llc",
            [eth("020000000002", "0020"), hex("aaaa03000000")].concat(),
        ),
        (
            "802.3 raw",
            [eth("020000000002", "0010"), hex("ffff0000")].concat(),
        ),
        ("ethernet only", eth("000000000000", "0000")),
        (
            "ipv4 header only",
            [eth("000000000000", "0800"), ipv4_udp[..20].to_vec()].concat(),
        ),
    ];
    let mut g = Gen(0x1234_5678);
    for n in [15usize, 60, 200] {
        let bytes: Vec<u8> = (0..n).map(|_| g.next() as u8).collect();
        out.push(("random", bytes));
    }
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `program` loaded for `ty` on the interpreter and on the JIT.
fn engines(ty: ProgramType, program: &Program) -> Vec<Vm> {
    [Engine::Interpreter, Engine::Jit]
        .into_iter()
        .map(|engine| {
            let mut vm = Vm::with_type(program.clone(), ty).unwrap();
            vm.set_engine(engine).unwrap();
            vm
        })
        .collect()
}

/// Runs `vms` (from [`engines`]) on `packet`; `None` when the packet is refused. Panics
/// when the engines disagree or a run traps.
fn ours(ty: ProgramType, vms: &mut [Vm], packet: &[u8]) -> Option<(u32, Vec<u8>)> {
    let context = PacketContext::new(ty, packet).ok()?;
    let results: Vec<_> = vms
        .iter_mut()
        .map(|vm| {
            let mut ctx = context.clone();
            let outcome = vm.run_packet(&mut ctx);
            let r0 = outcome.result.unwrap_or_else(|t| panic!("{ty}: {t}"));
            (r0 as u32, ctx.packet_out())
        })
        .collect();
    assert_eq!(results[0], results[1], "interpreter vs JIT, {ty}");
    results.into_iter().next()
}

/// The kernel's result; `None` when the test run refuses the packet (EINVAL).
fn theirs(loaded: &KernelProgram, packet: &[u8]) -> Option<(u32, Vec<u8>)> {
    match test_run(loaded, packet, None).map(|(r, out, _)| (r, out)) {
        Ok(r) => Some(r),
        Err(KernelError::TestRun(why)) if why.contains("Invalid argument") => None,
        Err(e) => panic!("{e}"),
    }
}

fn access_program(off: i16, size: u32, kind: AccessKind) -> Program {
    let access = match kind {
        AccessKind::Read { sign_extend } => Insn::Load {
            size: size_of(size),
            sign_extend,
            dst: reg(0),
            src: reg(1),
            off,
        },
        AccessKind::WriteReg => Insn::Store {
            size: size_of(size),
            dst: reg(1),
            off,
            src: Operand::Reg(reg(2)),
        },
        AccessKind::WriteImm(imm) => Insn::Store {
            size: size_of(size),
            dst: reg(1),
            off,
            src: Operand::Imm(imm),
        },
    };
    // 1: a return value every type allows (recvmsg4 and the like allow only 1).
    Program::new(vec![mov(2, 7), access, mov(0, 1), Insn::Exit]).unwrap()
}

#[test]
fn access_rules_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let kinds = [
        AccessKind::Read { sign_extend: false },
        AccessKind::Read { sign_extend: true },
        AccessKind::WriteReg,
        AccessKind::WriteImm(7),
    ];
    let mut checked = 0;
    for &ty in TYPES.iter().chain(&[
        ProgramType::Kprobe,
        ProgramType::RawTracepoint,
        ProgramType::Tracepoint,
        ProgramType::PerfEvent,
        ProgramType::FlowDissector,
        ProgramType::SkSkb,
        ProgramType::SkLookup,
        ProgramType::CgroupSock,
        ProgramType::CgroupSockAddr,
        ProgramType::SockOps,
        ProgramType::SkMsg,
        ProgramType::SkReuseport,
        ProgramType::CgroupDevice,
        ProgramType::CgroupSysctl,
        ProgramType::CgroupSockopt,
        ProgramType::LwtSeg6local,
    ]) {
        // Every attach point of the types that have several, each with its own rules.
        let points: Vec<Option<AttachType>> = match AttachType::of(ty).count() {
            0 => vec![None],
            _ => AttachType::of(ty).map(Some).collect(),
        };
        for at in points {
            checked += compare_accesses(ty, at, &kinds);
        }
    }
    eprintln!("{checked} accesses checked");
}

/// Compares every access of `ty`'s context (at attach point `at`) with the kernel
/// verifier's verdict; how many were compared.
fn compare_accesses(ty: ProgramType, at: Option<AttachType>, kinds: &[AccessKind]) -> usize {
    let mut checked = 0;
    let model = match ContextKind::of(ty) {
        Some(kind) => kind.model_size() as i16,
        // pt_regs (168 bytes on x86_64), raw tracepoint args (96), perf event data
        // (184), the start of a tracepoint record, bpf_sock_ops (224); and past them.
        None => 232,
    };
    for off in -4..model {
        for size in [1, 2, 4, 8] {
            for &kind in kinds {
                if size == 8 && kind == (AccessKind::Read { sign_extend: true }) {
                    continue; // there is no 64-bit ldsx
                }
                let program = access_program(off, size, kind);
                let kernel = load_kernel_at(ty, at, &program);
                let ours = match at {
                    Some(a) => Vm::with_attach(program, a),
                    None => Vm::with_type(program, ty),
                };
                checked += 1;
                match (&kernel, &ours) {
                    (Ok(_), Ok(_)) => {}
                    (Err(KernelError::Refused { log, .. }), Err(e)) => {
                        let message = e.to_string();
                        let message = message.split(": ").last().unwrap();
                        assert!(
                                log.contains(message),
                                "{ty} {at:?} off={off} size={size} {kind:?}: we say `{message}`, the kernel:\n{log}"
                            );
                    }
                    (Ok(_), Err(ebpfvm::Error::Context(e))) if e.unsupported => {}
                    (k, o) => panic!(
                        "{ty} {at:?} off={off} size={size} {kind:?}: kernel {:?}, ours {:?}",
                        k.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                        o.as_ref().map(|_| ()).map_err(|e| e.to_string())
                    ),
                }
            }
        }
    }
    checked
}

/// A program reading the socket pointer at `field` of the context into r3, comparing it
/// with NULL first when `check`, then accessing `off` through it.
fn sock_access_program(field: i16, check: bool, off: i16, size: u32, kind: AccessKind) -> Program {
    let access = match kind {
        AccessKind::Read { sign_extend } => Insn::Load {
            size: size_of(size),
            sign_extend,
            dst: reg(0),
            src: reg(3),
            off,
        },
        AccessKind::WriteReg => Insn::Store {
            size: size_of(size),
            dst: reg(3),
            off,
            src: Operand::Reg(reg(2)),
        },
        AccessKind::WriteImm(imm) => Insn::Store {
            size: size_of(size),
            dst: reg(3),
            off,
            src: Operand::Imm(imm),
        },
    };
    let mut insns = vec![mov(2, 7), load(8, 3, 1, field)];
    if check {
        insns.push(Insn::Jump {
            width: Width::W64,
            cond: Cond::Eq,
            dst: reg(3),
            src: Operand::Imm(0),
            off: 1,
        });
    }
    insns.extend([access, mov(0, 1), Insn::Exit]);
    Program::new(insns).unwrap()
}

/// Every access through every socket pointer of a context (`bpf_sock_addr.sk`,
/// `bpf_sockopt.sk`, `bpf_sock_ops.sk`, `sk_msg_md.sk`, `sk_reuseport_md.sk`,
/// `migrating_sk` and `__sk_buff.sk`), with and without a NULL check first, is accepted or refused as the
/// kernel verifier decides, with its message.
#[test]
fn socket_pointer_rules_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let kinds = [
        AccessKind::Read { sign_extend: false },
        AccessKind::Read { sign_extend: true },
        AccessKind::WriteReg,
        AccessKind::WriteImm(7),
    ];
    let mut checked = 0;
    for (ty, field) in [
        (ProgramType::CgroupSockAddr, 64),
        (ProgramType::CgroupSockopt, 0),
        (ProgramType::SockOps, 184),
        (ProgramType::SkMsg, 72),
        (ProgramType::SkReuseport, 40),
        (ProgramType::SkReuseport, 48),
        (ProgramType::SchedCls, 168),
        (ProgramType::SocketFilter, 168),
        (ProgramType::CgroupSkb, 168),
        (ProgramType::LwtXmit, 168),
        (ProgramType::SkSkb, 168),
    ] {
        for check in [false, true] {
            for off in -4..88 {
                for size in [1, 2, 4, 8] {
                    for &kind in &kinds {
                        if size == 8 && kind == (AccessKind::Read { sign_extend: true }) {
                            continue;
                        }
                        let program = sock_access_program(field, check, off, size, kind);
                        let kernel = load_kernel(ty, &program);
                        let ours = Vm::with_type(program, ty);
                        checked += 1;
                        let what =
                            format!("{ty} sk@{field} check={check} off={off} size={size} {kind:?}");
                        match (&kernel, &ours) {
                            (Ok(_), Ok(_)) => {}
                            (Err(KernelError::Refused { log, .. }), Err(e)) => {
                                let message = e.to_string();
                                let message = message.split(": ").last().unwrap();
                                assert!(
                                    log.contains(message),
                                    "{what}: we say `{message}`, the kernel:\n{log}"
                                );
                            }
                            (k, o) => panic!(
                                "{what}: kernel {:?}, ours {:?}",
                                k.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                                o.as_ref().map(|_| ()).map_err(|e| e.to_string())
                            ),
                        }
                    }
                }
            }
        }
    }
    eprintln!("{checked} socket pointer accesses checked");
}

/// The data behind a context's pointer fields is writable where the kernel verifier
/// lets a program write it (`bpf_sockopt.optval`, `sk_msg_md.data`) and read-only where
/// it refuses the write (`bpf_sock_ops.skb_data`, `sk_reuseport_md.data`): the kernel
/// loads a bounds-checked one-byte store exactly when our run of it (over 4 bytes, on
/// the interpreter and the JIT) does not trap, and both load the same read.
#[test]
fn data_writes_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    for (ty, start, end) in [
        (ProgramType::CgroupSockopt, 8, 16),
        (ProgramType::SockOps, 192, 200),
        (ProgramType::SkMsg, 0, 8),
        (ProgramType::SkReuseport, 0, 8),
    ] {
        for write in [false, true] {
            let access = if write {
                Insn::Store {
                    size: Size::B,
                    dst: reg(2),
                    off: 0,
                    src: Operand::Imm(0x42),
                }
            } else {
                load(1, 5, 2, 0)
            };
            let program = Program::new(vec![
                load(8, 2, 1, start),
                load(8, 3, 1, end),
                alu(AluOp::Mov, 4, Operand::Reg(reg(2))),
                alu(AluOp::Add, 4, Operand::Imm(1)),
                Insn::Jump {
                    width: Width::W64,
                    cond: Cond::Gt,
                    dst: reg(4),
                    src: Operand::Reg(reg(3)),
                    off: 1,
                },
                access,
                mov(0, 1),
                Insn::Exit,
            ])
            .unwrap();
            let kernel = load_kernel(ty, &program);
            let data = [1u8, 2, 3, 4];
            let mut results = Vec::new();
            for engine in [Engine::Interpreter, Engine::Jit] {
                let mut vm = Vm::with_type(program.clone(), ty).unwrap();
                vm.set_engine(engine).unwrap();
                let mut context = match ty {
                    ProgramType::CgroupSockopt => PointerContext::sockopt(&[], &data, None),
                    ProgramType::SockOps => PointerContext::sock_ops(&[], &data, None),
                    ProgramType::SkMsg => PointerContext::sk_msg(&[], &data, None),
                    _ => PointerContext::sk_reuseport(&[], &data, None),
                }
                .unwrap();
                let outcome = vm.run_pointers(&mut context);
                results.push((outcome, context.data().to_vec()));
            }
            assert_eq!(
                results[0], results[1],
                "{ty} write={write}: interpreter vs JIT"
            );
            let (outcome, after) = &results[0];
            assert_eq!(
                kernel.is_ok(),
                outcome.result.is_ok(),
                "{ty} write={write}: kernel {:?}, ours {outcome:?}",
                kernel.as_ref().map(|_| ()).map_err(|e| e.to_string())
            );
            if write && outcome.result.is_ok() {
                assert_eq!(after[0], 0x42, "{ty}");
            }
        }
    }
}

/// Every readable field of `ty`: (offset, size) of each allowed read.
fn readable(ty: ProgramType) -> Vec<(i16, u32)> {
    let size = ContextKind::of(ty).unwrap().model_size() as i16;
    let mut out = Vec::new();
    for off in 0..size {
        for bytes in [1, 2, 4, 8] {
            let kind = AccessKind::Read { sign_extend: false };
            if access::check(ty, off as i64, bytes, kind).is_ok() {
                out.push((off, bytes));
            }
        }
    }
    out
}

/// Every writable field of `ty`: (offset, size).
fn writable(ty: ProgramType) -> Vec<(i16, u32)> {
    let size = ContextKind::of(ty).unwrap().model_size() as i16;
    let mut out = Vec::new();
    for off in 0..size {
        for bytes in [1, 2, 4, 8] {
            if access::check(ty, off as i64, bytes, AccessKind::WriteReg).is_ok() {
                out.push((off, bytes));
            }
        }
    }
    out
}

/// Whether reads of this field return a kernel address (compared as differences only).
fn is_pointer(ty: ProgramType, off: i16) -> bool {
    match ContextKind::of(ty).unwrap() {
        ContextKind::XdpMd => off < 12,
        ContextKind::SkBuff => matches!(off, 76 | 80 | 140 | 168),
    }
}

#[test]
fn every_field_matches_the_kernel() {
    if !kernel_available() {
        return;
    }
    let packets = packets();
    let mut checked = 0;
    for &ty in TYPES {
        for (off, size) in readable(ty) {
            if is_pointer(ty, off) {
                continue;
            }
            // cgroup_skb may return only 0 or 1: its fields are compared one bit per
            // program.
            let bits: Vec<Option<u32>> = if ty == ProgramType::CgroupSkb {
                (0..size * 8).map(Some).collect()
            } else {
                vec![None]
            };
            for bit in bits {
                let mut insns = vec![load(size, 0, 1, off)];
                if let Some(b) = bit {
                    insns.push(alu(AluOp::Rsh, 0, Operand::Imm(b as i32)));
                    insns.push(alu(AluOp::And, 0, Operand::Imm(1)));
                } else if size == 8 {
                    insns.push(alu(AluOp::Mov, 2, Operand::Reg(reg(0))));
                    insns.push(alu(AluOp::Rsh, 2, Operand::Imm(32)));
                    insns.push(alu(AluOp::Xor, 0, Operand::Reg(reg(2))));
                }
                insns.push(Insn::Exit);
                let program = Program::new(insns).unwrap();
                let loaded = load_kernel(ty, &program)
                    .unwrap_or_else(|e| panic!("{ty} off={off} size={size}: {e}"));
                let mut vms = engines(ty, &program);
                for (name, packet) in &packets {
                    let kernel = theirs(&loaded, packet);
                    let ours = ours(ty, &mut vms, packet);
                    assert_eq!(
                        ours, kernel,
                        "{ty} field off={off} size={size} bit={bit:?}, packet {name}"
                    );
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} field reads compared");
}

/// A tiny deterministic generator.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The offsets of `data` and `data_end` in `ty`'s context, when it has them.
fn packet_pointers(ty: ProgramType) -> Option<(i16, i16)> {
    match ty {
        ProgramType::Xdp => Some((0, 4)),
        ProgramType::SocketFilter => None,
        _ => Some((76, 80)),
    }
}

/// r9 = r9 * prime ^ src: folds a value into the accumulator.
fn fold(src: u8) -> [Insn; 2] {
    [
        alu(AluOp::Mul, 9, Operand::Imm(0x0100_0193)),
        alu(AluOp::Xor, 9, Operand::Reg(reg(src))),
    ]
}

/// A random program of `ty`: r6 = ctx, r9 = accumulator; steps read fields, write
/// fields, read and write the packet behind bounds checks, use legacy loads; the return
/// value folds r9 (0/1 for cgroup_skb).
fn random_program(g: &mut Gen, ty: ProgramType, helpers: bool) -> Program {
    let reads = readable(ty);
    let writes = writable(ty);
    let packet_writable = matches!(
        ty,
        ProgramType::Xdp | ProgramType::SchedCls | ProgramType::SchedAct | ProgramType::LwtXmit
    );
    let legacy = matches!(
        ty,
        ProgramType::SocketFilter | ProgramType::SchedCls | ProgramType::SchedAct
    );
    let mut insns = vec![
        alu(AluOp::Mov, 6, Operand::Reg(reg(1))),
        mov(9, g.next() as i32),
        mov(7, g.below(64) as i32),
    ];
    // A 64-byte buffer at r10-96 for the helpers, initialised.
    for i in 0..16 {
        insns.push(Insn::Store {
            size: Size::W,
            dst: Reg::FP,
            off: -96 + 4 * i,
            src: Operand::Imm(g.next() as i32),
        });
    }
    for _ in 0..(4 + g.below(12)) {
        if helpers && g.below(4) == 0 {
            helper_call(g, ty, &mut insns);
            continue;
        }
        match g.below(10) {
            0..=3 => {
                let (off, size) = g.pick(&reads);
                if is_pointer(ty, off) {
                    continue;
                }
                insns.push(Insn::Load {
                    size: size_of(size),
                    sign_extend: size < 8 && g.below(4) == 0,
                    dst: reg(2),
                    src: reg(6),
                    off,
                });
                insns.extend(fold(2));
            }
            4 | 5 if !writes.is_empty() => {
                let (off, size) = g.pick(&writes);
                let src = if g.below(2) == 0 || off == 12 {
                    let v = match g.below(3) {
                        0 => g.below(0x20000) as i32,
                        _ => g.next() as i32,
                    };
                    // queue_mapping takes immediates only here (see access.rs).
                    Operand::Imm(if off == 12 { v & 0x1ffff } else { v })
                } else {
                    Operand::Reg(reg(9))
                };
                insns.push(Insn::Store {
                    size: size_of(size),
                    dst: reg(6),
                    off,
                    src,
                });
            }
            6 | 7 => {
                let Some((mut data, mut end)) = packet_pointers(ty) else {
                    continue;
                };
                // Sometimes the metadata area, [data_meta, data).
                let meta = match ty {
                    ProgramType::Xdp => Some(8),
                    ProgramType::SchedCls | ProgramType::SchedAct => Some(140),
                    _ => None,
                };
                if let Some(meta) = meta.filter(|_| g.below(3) == 0) {
                    (data, end) = (meta, data);
                }
                let size = g.pick(&[1u32, 2, 4, 8]);
                let at = g.below(80) as i16;
                let write = packet_writable && g.below(2) == 0;
                // r2 = data; r3 = data_end; r4 = r2 + at + size; if r4 > r3 skip.
                insns.push(load(4, 2, 6, data));
                insns.push(load(4, 3, 6, end));
                insns.push(alu(AluOp::Mov, 4, Operand::Reg(reg(2))));
                insns.push(alu(AluOp::Add, 4, Operand::Imm(at as i32 + size as i32)));
                let access: Vec<Insn> = if write {
                    vec![Insn::Store {
                        size: size_of(size),
                        dst: reg(2),
                        off: at,
                        src: if g.below(2) == 0 {
                            Operand::Reg(reg(9))
                        } else {
                            Operand::Imm(g.next() as i32)
                        },
                    }]
                } else {
                    let mut v = vec![load(size, 5, 2, at)];
                    v.extend(fold(5));
                    v
                };
                insns.push(Insn::Jump {
                    width: Width::W64,
                    cond: Cond::Gt,
                    dst: reg(4),
                    src: Operand::Reg(reg(3)),
                    off: access.len() as i16,
                });
                insns.extend(access);
            }
            8 if legacy => {
                let size = g.pick(&[Size::B, Size::H, Size::W]);
                let mode = if g.below(2) == 0 {
                    LegacyMode::Abs
                } else {
                    LegacyMode::Ind(reg(7))
                };
                let imm = match g.below(8) {
                    0 => g.below(2000) as i32,
                    _ => g.below(64) as i32,
                };
                insns.push(Insn::LegacyLoad { size, mode, imm });
                insns.extend(fold(0));
            }
            _ => {
                insns.push(alu(AluOp::Add, 9, Operand::Imm(g.next() as i32)));
            }
        }
    }
    insns.push(alu(AluOp::Mov, 0, Operand::Reg(reg(9))));
    insns.push(alu(AluOp::Rsh, 0, Operand::Imm(32)));
    insns.push(alu(AluOp::Xor, 0, Operand::Reg(reg(9))));
    if ty == ProgramType::CgroupSkb {
        insns.push(alu(AluOp::And, 0, Operand::Imm(1)));
    }
    insns.push(Insn::Exit);
    Program::new(insns).unwrap()
}

/// Appends a call to a random packet helper `ty` may call, with random arguments, and
/// folds its result (and for loads, the bytes loaded) into r9.
fn helper_call(g: &mut Gen, ty: ProgramType, insns: &mut Vec<Insn>) {
    let xdp = ty == ProgramType::Xdp;
    let (load_id, store_id) = if xdp { (189, 190) } else { (26, 9) };
    let candidates = [
        load_id, store_id, 10, 11, 23, 28, 44, 54, 65, 24, 39, 40, 48, 68, 38, 43, 18, 19, 31, 32,
        50,
    ];
    let allowed: Vec<i32> = candidates
        .into_iter()
        .filter(|&id| ebpfvm::ctx::helpers::allowed(ty, id as u32) == Some(true))
        .collect();
    let id = g.pick(&allowed);
    let buffer = |insns: &mut Vec<Insn>, r: u8, off: i32| {
        insns.push(alu(AluOp::Mov, r, Operand::Reg(Reg::FP)));
        insns.push(alu(AluOp::Add, r, Operand::Imm(off)));
    };
    let small_off = |g: &mut Gen| match g.below(6) {
        0 => g.below(4000) as i32,
        _ => g.below(90) as i32,
    };
    match id {
        26 | 189 | 9 | 190 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(2, small_off(g)));
            buffer(insns, 3, -96);
            insns.push(mov(4, 1 + g.below(32) as i32));
            if id == 9 || id == 190 {
                insns.push(mov(
                    5,
                    if g.below(4) == 0 {
                        g.below(5) as i32
                    } else {
                        0
                    },
                ));
            }
        }
        10 | 11 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(2, small_off(g)));
            insns.push(alu(AluOp::Mov, 3, Operand::Reg(reg(9))));
            insns.push(mov(4, g.next() as i32));
            let size = g.pick(&[0, 2, 4, 4, 2, 3]);
            let extra = if id == 11 {
                g.pick(&[0, 0, 0x10, 0x20, 0x60, 0x80, 0x100])
            } else {
                0
            };
            insns.push(mov(5, size | extra));
            if size == 0 && g.below(2) == 0 {
                insns.push(mov(3, 0));
            }
        }
        23 => {
            insns.push(mov(1, g.below(5) as i32));
            insns.push(mov(2, g.pick(&[0, 0, 1, 2])));
        }
        24 | 40 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(2, g.next() as i32));
        }
        39 | 48 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(
                2,
                if id == 39 {
                    small_off(g)
                } else {
                    g.next() as i32
                },
            ));
        }
        68 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(2, small_off(g)));
            buffer(insns, 3, -96);
            insns.push(mov(4, 1 + g.below(32) as i32));
            insns.push(mov(5, g.pick(&[0, 0, 1, 1, 2])));
        }
        // The resizing helpers (src/packet_helpers/skb_resize.rs), with their limits.
        38 | 43 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            let len = match (id, g.below(3)) {
                (38, 0) => g.pick(&[0, 13, 14, 16064, 16065, -1]),
                // Pushes stay within the test run's 64 bytes of headroom (see
                // tests/packet_helpers_kernel.rs for what happens past it).
                (43, _) => g.pick(&[0, 1, 2, 4, 16065, -1]),
                _ => g.below(200) as i32,
            };
            insns.push(mov(2, len));
            insns.push(mov(3, g.pick(&[0, 0, 0, 0, 1])));
        }
        18 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(2, g.pick(&[0x0081, 0xa888, 0x0008])));
            insns.push(mov(3, g.next() as i32));
        }
        19 => insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6)))),
        31 | 32 => {
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            if id == 31 {
                insns.push(mov(2, g.pick(&[0xdd86, 0x0008, 0x0608])));
                insns.push(mov(3, g.pick(&[0, 0, 0, 1])));
            } else {
                insns.push(mov(2, g.pick(&[0, 1, 2, 3, 4])));
            }
        }
        50 => {
            // Encapsulation flags (not supported yet) are left out.
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(2, g.pick(&[-40, -20, -8, -4, 0, 4, 8, 20, 4096])));
            insns.push(mov(3, g.pick(&[0, 1, 0, 1, 2])));
            insns.push(mov(4, g.pick(&[0, 0, 0, 1, 32, 128, 256, 384, 512])));
        }
        44 | 54 | 65 => {
            let delta = match (id, g.below(3)) {
                (44, 0) => g.pick(&[-216, -217, -256, 14, 40, 1000]),
                (44, _) => g.below(80) as i32 - 60,
                (54, 0) => g.pick(&[-3, 4, -216, -220, -36]),
                (54, _) => -4 * g.below(10) as i32,
                (_, 0) => g.pick(&[-46, -47, 3460, 3461, 4000]),
                _ => g.below(120) as i32 - 60,
            };
            insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
            insns.push(mov(2, delta));
        }
        _ => {
            // csum_diff(from, from_size, to, to_size, seed)
            let from_size = g.pick(&[0, 4, 8, 12, 20, 32, 3]);
            let to_size = g.pick(&[0, 4, 8, 16, 32, 6]);
            if from_size == 0 && g.below(2) == 0 {
                insns.push(mov(1, 0));
            } else {
                buffer(insns, 1, -96);
            }
            insns.push(mov(2, from_size));
            buffer(insns, 3, -64);
            insns.push(mov(4, to_size));
            insns.push(alu(AluOp::Mov, 5, Operand::Reg(reg(9))));
        }
    }
    insns.push(Insn::Call(ebpfvm::isa::CallTarget::Helper(id)));
    insns.extend(fold(0));
    if id == load_id || id == 68 {
        insns.push(load(8, 2, 10, -96));
        insns.extend(fold(2));
        insns.push(load(8, 2, 10, -72));
        insns.extend(fold(2));
    }
}

#[test]
fn random_programs_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let cases: u64 = std::env::var("EBPFVM_CTX_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let packets = packets();
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut compared = 0;
    for &ty in TYPES {
        for case in 0..cases {
            let program = random_program(&mut g, ty, case % 2 == 1);
            let loaded = load_kernel(ty, &program).unwrap_or_else(|e| {
                panic!(
                    "{ty} case {case}: kernel refused\n{}\n{e}",
                    ebpfvm::isa::disassemble(&program)
                )
            });
            let (name, packet) = &packets[g.below(packets.len() as u64) as usize];
            let kernel = theirs(&loaded, packet);
            let ours = ours(ty, &mut engines(ty, &program), packet);
            assert_eq!(
                ours,
                kernel,
                "{ty} case {case}, packet {name}:\n{}",
                ebpfvm::isa::disassemble(&program)
            );
            compared += 1;
        }
    }
    eprintln!("{compared} random programs compared");
}

#[test]
fn helper_allow_lists_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    for &ty in TYPES.iter().chain(&[
        ProgramType::FlowDissector,
        ProgramType::SkSkb,
        ProgramType::SkLookup,
    ]) {
        for id in (0..216).chain([-1, 5000]) {
            let mut insns: Vec<Insn> = (1..=5).map(|r| mov(r, 0)).collect();
            insns.extend([
                Insn::Call(ebpfvm::isa::CallTarget::Helper(id)),
                mov(0, 0),
                Insn::Exit,
            ]);
            let program = Program::new(insns).unwrap();
            let log = match load_kernel(ty, &program) {
                Ok(_) => String::new(),
                Err(KernelError::Refused { log, .. }) => log,
                Err(e) => panic!("{e}"),
            };
            let kernel_refuses = log.contains("cannot use helper") || log.contains("invalid func");
            match ebpfvm::ctx::rewrite(&program, ty) {
                Ok(_) => assert!(
                    !kernel_refuses,
                    "{ty} helper {id}: the kernel refuses:\n{log}"
                ),
                Err(e) => assert!(
                    log.contains(&e.message),
                    "{ty} helper {id}: we say `{}`, the kernel:\n{log}",
                    e.message
                ),
            }
        }
    }
}

/// The socket and cgroup types' helper allow-lists at every attach point: a call the
/// kernel refuses at one attach point (`bpf_bind` outside `connect4`/`connect6`, ...) is
/// refused at that point here, with its words.
#[test]
fn socket_helper_allow_lists_match_the_kernel_at_every_attach_point() {
    if !kernel_available() {
        return;
    }
    let mut differences = Vec::new();
    for ty in [
        ProgramType::CgroupSock,
        ProgramType::CgroupSockAddr,
        ProgramType::CgroupSockopt,
        ProgramType::SockOps,
        ProgramType::SkMsg,
        ProgramType::SkReuseport,
        ProgramType::CgroupDevice,
        ProgramType::CgroupSysctl,
        ProgramType::SkSkb,
    ] {
        let points: Vec<Option<AttachType>> = match AttachType::of(ty).count() {
            0 => vec![None],
            _ => AttachType::of(ty).map(Some).collect(),
        };
        for at in points {
            for id in (0..216).chain([-1, 5000]) {
                let mut insns: Vec<Insn> = (1..=5).map(|r| mov(r, 0)).collect();
                insns.extend([
                    Insn::Call(ebpfvm::isa::CallTarget::Helper(id)),
                    mov(0, 1),
                    Insn::Exit,
                ]);
                let program = Program::new(insns).unwrap();
                let log = match load_kernel_at(ty, at, &program) {
                    Ok(_) => String::new(),
                    Err(KernelError::Refused { log, .. }) => log,
                    Err(e) => panic!("{e}"),
                };
                let kernel_refuses =
                    log.contains("cannot use helper") || log.contains("invalid func");
                match ebpfvm::ctx::rewrite_at(&program, ty, at) {
                    Ok(_) if kernel_refuses => {
                        differences.push(format!("{ty} {at:?} {id}: kernel refuses"))
                    }
                    Ok(_) => {}
                    Err(e) if !log.contains(&e.message) => {
                        differences.push(format!("{ty} {at:?} {id}: we say `{}`", e.message))
                    }
                    Err(_) => {}
                }
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn examples_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/");
    for name in [
        "xdp_port_filter",
        "tc_marker",
        "socket_filter",
        "cgroup_skb",
    ] {
        let bytes = std::fs::read(format!("{dir}{name}.o")).unwrap();
        let object = ebpfvm::elf::Object::parse(&bytes).unwrap();
        let spec = &object.programs[0];
        let ty = spec.prog_type.unwrap();
        let loaded = load_kernel(ty, &spec.program).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut vms = engines(ty, &spec.program);
        for (packet_name, packet) in packets() {
            let kernel = theirs(&loaded, &packet);
            let ours = ours(ty, &mut vms, &packet);
            assert_eq!(ours, kernel, "{name}, packet {packet_name}");
        }
    }
}

/// A random `ctx_in` for `ty`: mostly fields the test run accepts, sometimes not.
fn random_ctx_in(g: &mut Gen, ty: ProgramType, packet_len: usize) -> Vec<u8> {
    let put = |c: &mut Vec<u8>, off: usize, v: u32| {
        if let Some(field) = c.get_mut(off..off + 4) {
            field.copy_from_slice(&v.to_le_bytes());
        }
    };
    if ty == ProgramType::Xdp {
        let mut c = vec![0u8; 24];
        let metalen = g.pick(&[0, 0, 4, 8, 32, 3, 60]).min(packet_len as u32);
        put(&mut c, 0, metalen);
        put(&mut c, 4, g.pick(&[0, packet_len as u32, 5]));
        if g.below(6) == 0 {
            put(&mut c, g.pick(&[8, 12, 16, 20]), 1);
        }
        return c;
    }
    let mut c = vec![0u8; g.pick(&[192, 192, 100, 200])];
    for _ in 0..g.below(6) {
        let off = g.pick(&[
            8, 32, 36, 40, 48, 52, 64, 152, 156, 160, 164, 176, 184, 0, 12, 44,
        ]);
        let v = match off {
            40 => g.pick(&[0, 1, 1, 2]),
            160 => g.pick(&[0, packet_len as u32, 70000, 3000, 1]),
            _ => g.next() as u32,
        };
        put(&mut c, off, v);
    }
    if c.len() > 192 && g.below(2) == 0 {
        c[195] = 1;
    }
    c
}

#[test]
fn contexts_given_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let packets = packets();
    let mut g = Gen(0x5151_7272_aaaa_0101);
    let mut compared = 0;
    for &ty in TYPES {
        for case in 0..60 {
            let program = random_program(&mut g, ty, case % 2 == 1);
            let loaded = load_kernel(ty, &program).unwrap();
            let (name, packet) = &packets[g.below(packets.len() as u64) as usize];
            let ctx_in = random_ctx_in(&mut g, ty, packet.len());
            let kernel = match test_run(&loaded, packet, Some(&ctx_in)) {
                Ok((retval, out, ctx_out)) => Some((retval, out, ctx_out)),
                Err(KernelError::TestRun(why))
                    if why.contains("Invalid argument")
                        || why.contains("Argument list too long") =>
                {
                    None
                }
                Err(e) => panic!("{e}"),
            };
            let ours = match PacketContext::with_ctx(ty, packet, &ctx_in) {
                Ok(context) => {
                    let mut vm = Vm::with_type(program.clone(), ty).unwrap();
                    let mut ctx = context.clone();
                    let r0 = vm.run_packet(&mut ctx).result.unwrap();
                    Some((r0 as u32, ctx.packet_out(), ctx.ctx_out()))
                }
                Err(ebpfvm::ctx::PacketError::Unsupported(_)) => continue,
                Err(_) => None,
            };
            assert_eq!(
                ours, kernel,
                "{ty} case {case}, packet {name}, ctx_in {ctx_in:02x?}"
            );
            compared += 1;
        }
    }
    eprintln!("{compared} runs with a context compared");
}

#[test]
fn raw_tracepoints_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let ty = ProgramType::RawTracepoint;
    let mut g = Gen(0xabcd_ef01_2345_6789);
    for case in 0..300 {
        let mut insns = vec![mov(9, g.next() as i32)];
        for _ in 0..g.below(5) {
            let size = g.pick(&[1u32, 2, 4, 8]);
            let off = (g.below(96 / size as u64) * size as u64) as i16;
            insns.push(Insn::Load {
                size: size_of(size),
                sign_extend: size < 8 && g.below(3) == 0,
                dst: reg(2),
                src: reg(1),
                off,
            });
            insns.extend(fold(2));
        }
        insns.push(alu(AluOp::Mov, 0, Operand::Reg(reg(9))));
        insns.push(Insn::Exit);
        let program = Program::new(insns).unwrap();
        let loaded = load_kernel(ty, &program).unwrap();
        let len = g.pick(&[0usize, 8, 16, 48, 96, 104, 12, 95]);
        let mut args: Vec<u8> = (0..len).map(|_| g.next() as u8).collect();
        let kernel = match loaded.test_run(&TestRun::context(&args)).map(|r| r.retval) {
            Ok(retval) => Some(retval),
            Err(KernelError::TestRun(why)) if why.contains("Invalid argument") => None,
            Err(e) => panic!("{e}"),
        };
        let extent = ebpfvm::ctx::context_extent(&program);
        let ours = (len >= extent && len <= 96).then(|| {
            let results: Vec<u32> = [Engine::Interpreter, Engine::Jit]
                .into_iter()
                .map(|engine| {
                    let mut vm = Vm::with_type(program.clone(), ty).unwrap();
                    vm.set_engine(engine).unwrap();
                    vm.run_context(&mut args).result.unwrap() as u32
                })
                .collect();
            assert_eq!(results[0], results[1]);
            results[0]
        });
        assert_eq!(
            ours,
            kernel,
            "case {case}, {len} bytes:\n{}",
            ebpfvm::isa::disassemble(&program)
        );
    }
}

/// A random flow dissector: reads the packet behind a bounds check, loads bytes with
/// `skb_load_bytes`, reads and writes random flow keys fields (nhoff and thoff too, which
/// the kernel clamps after the run) and returns one of the BPF_* values or garbage.
fn flow_dissector_program(g: &mut Gen) -> Program {
    let mut insns = vec![
        alu(AluOp::Mov, 6, Operand::Reg(reg(1))),
        mov(9, g.next() as i32),
        load(8, 7, 6, 144), // r7 = flow_keys
        // The helper's buffer, initialised (a shorter load leaves the rest as it was).
        Insn::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -64,
            src: Operand::Imm(g.next() as i32),
        },
    ];
    for _ in 0..(3 + g.below(10)) {
        match g.below(6) {
            0 | 1 => {
                let size = g.pick(&[1u32, 2, 4, 8]);
                let off = g.below(57 - size as u64) as i16;
                insns.push(Insn::Load {
                    size: size_of(size),
                    sign_extend: size < 8 && g.below(4) == 0,
                    dst: reg(2),
                    src: reg(7),
                    off,
                });
                insns.extend(fold(2));
            }
            2 => {
                let size = g.pick(&[1u32, 2, 4, 8]);
                let off = match g.below(3) {
                    0 => g.pick(&[0, 2]),
                    _ => g.below(57 - size as u64) as i16,
                };
                let src = if g.below(2) == 0 {
                    Operand::Reg(reg(9))
                } else {
                    Operand::Imm(match g.below(3) {
                        0 => g.below(120) as i32,
                        _ => g.next() as i32,
                    })
                };
                insns.push(Insn::Store {
                    size: size_of(size),
                    dst: reg(7),
                    off,
                    src,
                });
            }
            3 => {
                let size = g.pick(&[1u32, 2, 4, 8]);
                let at = g.below(80) as i16;
                insns.push(load(4, 2, 6, 76));
                insns.push(load(4, 3, 6, 80));
                insns.push(alu(AluOp::Mov, 4, Operand::Reg(reg(2))));
                insns.push(alu(AluOp::Add, 4, Operand::Imm(at as i32 + size as i32)));
                insns.push(Insn::Jump {
                    width: Width::W64,
                    cond: Cond::Gt,
                    dst: reg(4),
                    src: Operand::Reg(reg(3)),
                    off: 3,
                });
                insns.push(load(size, 5, 2, at));
                insns.extend(fold(5));
            }
            4 => {
                // skb_load_bytes(ctx, off, r10 - 64, len)
                insns.push(alu(AluOp::Mov, 1, Operand::Reg(reg(6))));
                insns.push(mov(2, g.pick(&[0, 12, 14, 30, 60, 5000, -1])));
                insns.push(alu(AluOp::Mov, 3, Operand::Reg(Reg::FP)));
                insns.push(alu(AluOp::Add, 3, Operand::Imm(-64)));
                insns.push(mov(4, 1 + g.below(32) as i32));
                insns.push(Insn::Call(ebpfvm::isa::CallTarget::Helper(26)));
                insns.extend(fold(0));
                insns.push(load(8, 2, 10, -64));
                insns.extend(fold(2));
            }
            _ => insns.push(alu(AluOp::Add, 9, Operand::Imm(g.next() as i32))),
        }
    }
    match g.below(4) {
        0 => insns.push(alu(AluOp::Mov, 0, Operand::Reg(reg(9)))),
        _ => insns.push(mov(0, g.pick(&[0, 0, 2, 7, 129, -1]))),
    }
    insns.push(Insn::Exit);
    Program::new(insns).unwrap()
}

#[test]
fn flow_dissectors_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let ty = ProgramType::FlowDissector;
    let mut packets = packets();
    packets.push(("4096 bytes", vec![0x45; 4096]));
    packets.push(("4097 bytes", vec![0x45; 4097]));
    packets.push(("13 bytes", vec![8; 13]));
    let mut g = Gen(0x0f10_d155_ec70_0001);
    let mut compared = 0;
    for case in 0..400 {
        let program = flow_dissector_program(&mut g);
        let loaded = load_kernel(ty, &program).unwrap_or_else(|e| {
            panic!(
                "case {case}: kernel refused\n{}\n{e}",
                ebpfvm::isa::disassemble(&program)
            )
        });
        let (name, packet) = &packets[g.below(packets.len() as u64) as usize];
        let ctx_in: Option<Vec<u8>> = match g.below(4) {
            0 => None,
            1 => {
                let mut c = vec![0u8; g.pick(&[56, 56, 48, 60])];
                if let Some(flags) = c.get_mut(48..52) {
                    flags.copy_from_slice(&(g.below(8) as u32).to_le_bytes());
                }
                if g.below(5) == 0 {
                    let at = g.below(c.len() as u64) as usize;
                    c[at] = 1;
                }
                Some(c)
            }
            _ => Some(vec![0u8; 56]),
        };
        let kernel = match test_run(&loaded, packet, ctx_in.as_deref()) {
            Ok(r) => Some(r),
            Err(KernelError::TestRun(why))
                if why.contains("Invalid argument") || why.contains("Argument list too long") =>
            {
                None
            }
            Err(e) => panic!("{e}"),
        };
        let context = match &ctx_in {
            Some(c) => PacketContext::with_ctx(ty, packet, c),
            None => PacketContext::new(ty, packet),
        };
        let ours = context.ok().map(|context| {
            let results: Vec<_> = engines(ty, &program)
                .iter_mut()
                .map(|vm| {
                    let mut ctx = context.clone();
                    let r0 = vm.run_packet(&mut ctx).result.unwrap();
                    let ctx_out = if ctx_in.is_some() {
                        ctx.ctx_out()
                    } else {
                        Vec::new()
                    };
                    let retval = r0 as u32;
                    (retval, ctx.packet_out(), ctx_out)
                })
                .collect();
            assert_eq!(results[0], results[1], "interpreter vs JIT, case {case}");
            results.into_iter().next().unwrap()
        });
        assert_eq!(
            ours,
            kernel,
            "case {case}, packet {name}, ctx_in {ctx_in:02x?}:\n{}",
            ebpfvm::isa::disassemble(&program)
        );
        compared += 1;
    }
    eprintln!("{compared} flow dissector runs compared");
}

/// A random `bpf_sk_lookup` for the test run: mostly valid, sometimes with what the
/// kernel refuses (a selected socket, a port above 16 bits, another family, bytes past
/// the struct, `ingress_ifindex`).
fn random_sk_lookup(g: &mut Gen) -> Vec<u8> {
    let mut c: Vec<u8> = (0..72).map(|_| g.next() as u8).collect();
    c[0..8].fill(0);
    c[38..40].fill(g.pick(&[0, 0, 0, 1]));
    c[64..72].fill(0);
    let family: u32 = g.pick(&[2, 2, 10, 10, 0x3_0002, 0x1_000a, 0, 3]);
    c[8..12].copy_from_slice(&family.to_le_bytes());
    let any = g.next() as u32 & 0xffff;
    let port: u32 = g.pick(&[0, 80, 443, 65535, 65536, any]);
    c[60..64].copy_from_slice(&port.to_le_bytes());
    match g.below(12) {
        0 => c[g.below(8) as usize] = 1,
        1 => c[64 + g.below(8) as usize] = 1,
        2 => c.extend([0, 0, 0, 0]),
        3 => c.extend([0, 1]),
        4 => c.truncate(g.pick(&[0, 12, 40, 64, 68])),
        _ => {}
    }
    c
}

#[test]
fn sk_lookups_match_the_kernel() {
    if !kernel_available() {
        return;
    }
    let ty = ProgramType::SkLookup;
    let reads: Vec<(i16, u32)> = (0..72)
        .flat_map(|off| [1u32, 2, 4, 8].map(|size| (off, size)))
        .filter(|&(off, size)| {
            access::check(
                ty,
                off as i64,
                size,
                AccessKind::Read { sign_extend: false },
            )
            .is_ok()
        })
        .collect();
    let mut g = Gen(0x5c10_0c0b_0000_0001);
    let mut compared = 0;
    for case in 0..500 {
        let mut insns = vec![mov(9, g.next() as i32)];
        for _ in 0..(1 + g.below(6)) {
            let (off, size) = g.pick(&reads);
            insns.push(Insn::Load {
                size: size_of(size),
                sign_extend: size < 8 && g.below(4) == 0,
                dst: reg(2),
                src: reg(1),
                off,
            });
            if off == 0 {
                // sk: a socket or NULL, which may only be compared.
                insns.push(Insn::Jump {
                    width: Width::W64,
                    cond: Cond::Eq,
                    dst: reg(2),
                    src: Operand::Imm(0),
                    off: 1,
                });
                insns.push(alu(AluOp::Add, 9, Operand::Imm(0x1234)));
            } else {
                insns.extend(fold(2));
            }
        }
        // sk_lookup may return SK_DROP (0) or SK_PASS (1) only.
        insns.push(alu(AluOp::Mov, 0, Operand::Reg(reg(9))));
        insns.push(alu(AluOp::Rsh, 0, Operand::Imm(g.below(40) as i32)));
        insns.push(alu(AluOp::And, 0, Operand::Imm(1)));
        insns.push(Insn::Exit);
        let program = Program::new(insns).unwrap();
        let loaded = load_kernel(ty, &program).unwrap();
        let ctx_in = random_sk_lookup(&mut g);
        let run = TestRun {
            ctx_in: &ctx_in,
            ctx_out_capacity: 256,
            repeat: 1,
            ..TestRun::default()
        };
        let kernel = match loaded.test_run(&run) {
            Ok(r) => Ok((r.retval, r.ctx_out)),
            Err(KernelError::TestRun(why)) => Err(why),
            Err(e) => panic!("{e}"),
        };
        let ours = ebpfvm::ctx::sk_lookup::context(&ctx_in).map(|model| {
            let results: Vec<u32> = [Engine::Interpreter, Engine::Jit]
                .into_iter()
                .map(|engine| {
                    let mut vm = Vm::with_type(program.clone(), ty).unwrap();
                    vm.set_engine(engine).unwrap();
                    let mut ctx = model.clone();
                    vm.run_context(&mut ctx).result.unwrap() as u32
                })
                .collect();
            assert_eq!(results[0], results[1], "interpreter vs JIT, case {case}");
            (results[0], ebpfvm::ctx::sk_lookup::ctx_out(&ctx_in))
        });
        match (&ours, &kernel) {
            (Ok(o), Ok(k)) => assert_eq!(
                o,
                k,
                "case {case}, ctx_in {ctx_in:02x?}:\n{}",
                ebpfvm::isa::disassemble(&program)
            ),
            (Err(e), Err(why)) => {
                let errno = why
                    .split("os error ")
                    .nth(1)
                    .and_then(|rest| rest.split(')').next())
                    .unwrap_or("");
                let expected = match e {
                    ebpfvm::ctx::sk_lookup::SkLookupError::Invalid(_) => "22",
                    ebpfvm::ctx::sk_lookup::SkLookupError::TooBig => "7",
                    ebpfvm::ctx::sk_lookup::SkLookupError::Port(_) => "34",
                    ebpfvm::ctx::sk_lookup::SkLookupError::Family(_) => "97",
                };
                assert_eq!(
                    errno, expected,
                    "case {case}: we say `{e}`, the kernel {why}"
                );
            }
            _ => panic!("case {case}, ctx_in {ctx_in:02x?}: ours {ours:?}, kernel {kernel:?}"),
        }
        compared += 1;
    }
    eprintln!("{compared} sk_lookup runs compared");
}
