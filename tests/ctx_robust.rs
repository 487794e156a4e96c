//! Bad input never crashes typed runs: arbitrary programs poking at the context and the
//! packet (any offset and size, modified and spilled context pointers, unchecked packet
//! accesses, the packet helpers with wild arguments) over arbitrary packets are either
//! refused at load with an error or run to a value or a trap, identically on the
//! interpreter and the JIT; the same for the contexts whose pointer fields reach data and
//! a socket (`bpf_sockopt`, `bpf_sock_ops`, `sk_msg_md`, `sk_reuseport_md`,
//! `bpf_sock_addr`) at any attach point, over arbitrary structs and data. (No kernel
//! needed.)

use ebpfvm::ctx::{AttachType, PacketContext, PointerContext, ProgramType};
use ebpfvm::isa::{AluOp, CallTarget, Insn, Operand, Program, Reg, Size, Width};
use ebpfvm::{Engine, Vm};
use proptest::prelude::*;

const TYPES: &[ProgramType] = &[
    ProgramType::Xdp,
    ProgramType::SchedCls,
    ProgramType::SchedAct,
    ProgramType::SocketFilter,
    ProgramType::CgroupSkb,
    ProgramType::LwtIn,
    ProgramType::LwtOut,
    ProgramType::LwtXmit,
    ProgramType::SkSkb,
];

fn reg(n: u8) -> Reg {
    Reg::new(n % 10).expect("r0..r9")
}

fn size(n: u8) -> Size {
    [Size::B, Size::H, Size::W, Size::DW][n as usize % 4]
}

/// Mostly offsets of real fields (so the program is not simply refused), else anything.
fn field(pick: u8, off: i16) -> i16 {
    const FIELDS: &[i16] = &[
        0, 4, 8, 12, 16, 32, 36, 40, 44, 48, 56, 64, 68, 72, 92, 140, 152,
    ];
    if pick & 16 == 0 {
        FIELDS[off.unsigned_abs() as usize % FIELDS.len()]
    } else {
        off % 256
    }
}

/// One instruction from a few random numbers, biased towards the context (r1, r6) and
/// the packet pointers (r2, r3).
fn insn(kind: u8, a: u8, b: u8, off: i16, imm: i32) -> Insn {
    match kind % 9 {
        0 => Insn::Load {
            size: size(b),
            sign_extend: false,
            dst: reg(a),
            src: reg([1, 6, 2, 3][b as usize % 4]),
            off: field(b, off),
        },
        1 => Insn::Store {
            size: size(b),
            dst: reg([1, 6, 2, 3][a as usize % 4]),
            off: field(a, off),
            src: if b & 4 == 0 {
                Operand::Reg(reg(a / 4))
            } else {
                Operand::Imm(imm)
            },
        },
        2 => Insn::Alu {
            width: Width::W64,
            op: [AluOp::Mov, AluOp::Add, AluOp::Sub, AluOp::Xor][b as usize % 4],
            dst: reg(a),
            src: if b & 4 == 0 {
                Operand::Reg(reg(b / 8))
            } else {
                Operand::Imm(imm % 300)
            },
        },
        3 => Insn::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -8 * (1 + (off.rem_euclid(8))),
            src: Operand::Reg(reg(a)),
        },
        4 => Insn::Load {
            size: Size::DW,
            sign_extend: false,
            dst: reg(a),
            src: Reg::FP,
            off: -8 * (1 + (off.rem_euclid(8))),
        },
        5 => Insn::Call(CallTarget::Helper(
            [
                9, 10, 11, 23, 26, 28, 44, 54, 65, 189, 190, 18, 19, 31, 32, 38, 43, 50, 51, 68,
                17, 39, 46, 47, 52, 72, 79, 83,
            ][b as usize % 28],
        )),
        6 => Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: reg(a % 6),
            src: Operand::Imm(imm % 5000),
        },
        // Reload the packet pointers (xdp offsets and __sk_buff offsets alike).
        7 => Insn::Load {
            size: Size::W,
            sign_extend: false,
            dst: reg(2 + b % 2),
            src: reg(1),
            off: [0, 4, 76, 80, 8, 140][a as usize % 6],
        },
        _ => Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: reg(6),
            src: Operand::Reg(reg(1)),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn typed_runs_never_crash(
        ty in 0..TYPES.len(),
        body in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<i16>(), any::<i32>()), 1..24),
        packet in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let ty = TYPES[ty];
        let mut insns: Vec<Insn> = body.iter().map(|&(k, a, b, off, imm)| insn(k, a, b, off, imm)).collect();
        insns.push(Insn::Exit);
        let Ok(program) = Program::new(insns) else { return Ok(()) };
        let Ok(context) = PacketContext::new(ty, &packet) else { return Ok(()) };
        let mut results = Vec::new();
        for engine in [Engine::Interpreter, Engine::Jit] {
            let Ok(mut vm) = Vm::with_type(program.clone(), ty) else { return Ok(()) };
            vm.set_engine(engine).unwrap();
            vm.set_budget(Some(10_000));
            let mut ctx = context.clone();
            let outcome = vm.run_packet(&mut ctx);
            results.push((outcome.result.map_err(|t| t.to_string()), outcome.insns, ctx.packet_out()));
        }
        prop_assert_eq!(&results[0], &results[1]);
    }
}

/// The pointer-field types, their struct sizes and where their 64-bit pointers are.
const POINTER_TYPES: &[(ProgramType, usize, &[i16])] = &[
    (ProgramType::CgroupSockopt, 40, &[0, 8, 16]),
    (ProgramType::SockOps, 224, &[184, 192, 200]),
    (ProgramType::SkMsg, 80, &[0, 8, 72]),
    (ProgramType::SkReuseport, 56, &[0, 8, 40, 48]),
    (ProgramType::CgroupSockAddr, 72, &[64]),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn pointer_runs_never_crash(
        which in 0..POINTER_TYPES.len(),
        at in any::<u8>(),
        body in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<i16>(), any::<i32>()), 1..12),
        given in prop::collection::vec(any::<u8>(), 0..224),
        data in prop::collection::vec(any::<u8>(), 0..64),
        sock in prop::option::of(prop::collection::vec(any::<u8>(), 80)),
    ) {
        let (ty, struct_size, pointers) = POINTER_TYPES[which];
        let points: Vec<AttachType> = AttachType::of(ty).collect();
        let at = (!points.is_empty()).then(|| points[at as usize % points.len()]);
        // Pointer reloads into r2/r3, accesses through them (data or socket), NULL
        // checks, 32-bit context reads, arithmetic and spills.
        let through = |b: u8| reg([2, 3][b as usize % 2]);
        let insns: Vec<Insn> = body
            .iter()
            .map(|&(k, a, b, off, imm)| match k % 8 {
                0 | 1 => Insn::Load {
                    size: Size::DW,
                    sign_extend: false,
                    dst: through(b),
                    src: reg(1),
                    off: pointers[a as usize % pointers.len()],
                },
                2 => Insn::Load {
                    size: size(b),
                    sign_extend: false,
                    dst: reg(4 + a % 3),
                    src: through(b),
                    off: if a & 1 == 0 { off % 16 } else { off.rem_euclid(20) * 4 },
                },
                3 => Insn::Store {
                    size: size(b),
                    dst: through(a),
                    off: off % 16,
                    src: Operand::Imm(imm),
                },
                4 => Insn::Jump {
                    width: Width::W64,
                    cond: ebpfvm::isa::Cond::Eq,
                    dst: through(b),
                    src: Operand::Imm(0),
                    off: 1,
                },
                5 => Insn::Load {
                    size: Size::W,
                    sign_extend: false,
                    dst: reg(4 + a % 3),
                    src: reg(1),
                    off: (off.rem_euclid(struct_size as i16)) & !3,
                },
                _ => insn(2 + k % 3, a, b, off, imm),
            })
            .collect();
        let mut insns = insns;
        insns.push(Insn::Exit);
        let Ok(program) = Program::new(insns) else { return Ok(()) };
        // The struct given: its pointer fields 0, else refused (that is tested elsewhere).
        let mut given = given;
        given.truncate(struct_size);
        for &p in pointers {
            let p = p as usize;
            if p < given.len() {
                let end = (p + 8).min(given.len());
                given[p..end].fill(0);
            }
        }
        let built = match ty {
            ProgramType::CgroupSockopt => PointerContext::sockopt(&given, &data, sock.as_deref()),
            ProgramType::SockOps => PointerContext::sock_ops(&given, &data, sock.as_deref()),
            ProgramType::SkMsg => PointerContext::sk_msg(&given, &data, sock.as_deref()),
            ProgramType::SkReuseport => PointerContext::sk_reuseport(&given, &data, sock.as_deref()),
            _ => PointerContext::sock_addr(&given, sock.as_deref()),
        };
        let Ok(context) = built else { return Ok(()) };
        let mut results = Vec::new();
        for engine in [Engine::Interpreter, Engine::Jit] {
            let vm = match at {
                Some(a) => Vm::with_attach(program.clone(), a),
                None => Vm::with_type(program.clone(), ty),
            };
            let Ok(mut vm) = vm else { return Ok(()) };
            vm.set_engine(engine).unwrap();
            vm.set_budget(Some(10_000));
            let mut ctx = context.clone();
            let outcome = vm.run_pointers(&mut ctx);
            results.push((outcome.result.map_err(|t| t.to_string()), outcome.insns, ctx.ctx_out(), ctx.data().to_vec()));
        }
        prop_assert_eq!(&results[0], &results[1]);
    }
}
