//! Random classic programs that the kernel's checker accepts.
//!
//! With `libpcap_safe`, X is small before every indirect load and below 32 before
//! every shift by X, the two places where libpcap and the kernel differ; without it
//! the programs also exercise the kernel's 32-bit `X + k` and masked shifts.

use ebpfvm_classic::{
    check_classic, AluOp, Cond, Instr, LdSrc, LdxSrc, RetVal, Size, SockFilter, Src,
};

use super::Rng;

/// One random straight-line step (no jumps); X is always small before `IND` and below
/// 32 before shifts by X.
fn random_step(rng: &mut Rng, out: &mut Vec<Instr>, libpcap_safe: bool) {
    let size = *rng.pick(&[Size::W, Size::H, Size::B]);
    let small = |rng: &mut Rng| rng.below(80) as u32;
    let ops = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::Xor,
    ];
    match rng.below(14) {
        0 | 1 => out.push(Instr::Ld(LdSrc::Abs(size, small(rng)))),
        2 => {
            let x = if libpcap_safe || rng.chance(50) {
                rng.below(40) as u32
            } else {
                rng.u32()
            };
            out.push(Instr::Ldx(LdxSrc::Imm(x)));
            out.push(Instr::Ld(LdSrc::Ind(size, small(rng))));
        }
        3 => {
            out.push(Instr::Ldx(LdxSrc::Msh(small(rng))));
            out.push(Instr::Ld(LdSrc::Ind(size, small(rng))));
        }
        4 => out.push(Instr::Ld(LdSrc::Imm(rng.u32() >> rng.below(32)))),
        5 => out.push(Instr::Ld(LdSrc::Len)),
        6 => out.push(Instr::Ldx(LdxSrc::Len)),
        7 => out.push(Instr::St(rng.below(3) as u32)),
        8 => out.push(Instr::Ld(LdSrc::Mem(rng.below(3) as u32))),
        9 => {
            let op = *rng.pick(&ops);
            let k = match op {
                AluOp::Lsh | AluOp::Rsh => rng.below(32) as u32,
                AluOp::Div | AluOp::Mod => 1 + rng.below(300) as u32,
                _ => rng.u32() >> rng.below(32),
            };
            out.push(Instr::Alu(op, Src::K(k)));
        }
        10 => {
            let op = *rng.pick(&ops);
            if matches!(op, AluOp::Lsh | AluOp::Rsh) {
                let bound = if libpcap_safe { 32 } else { 64 };
                out.push(Instr::Ldx(LdxSrc::Imm(rng.below(bound) as u32)));
            } else if rng.chance(20) {
                out.push(Instr::Ldx(LdxSrc::Imm(0))); // division by X = 0
            }
            out.push(Instr::Alu(op, Src::X));
        }
        11 => out.push(*rng.pick(&[Instr::Neg, Instr::Tax, Instr::Txa])),
        12 => out.push(Instr::Stx(rng.below(3) as u32)),
        _ => out.push(Instr::Ldx(LdxSrc::Mem(rng.below(3) as u32))),
    }
}

/// A random program the kernel checker accepts (retried until it does). Jumps land
/// only at the start of a step, so the guards `random_step` puts before `IND` and
/// shifts by X hold on every path.
pub fn random_program(rng: &mut Rng, libpcap_safe: bool) -> Vec<SockFilter> {
    loop {
        let mut program: Vec<Instr> = vec![Instr::St(0)];
        // Indices where a jump may land, and jumps to fix up (index, kind).
        let mut starts = vec![0usize];
        let mut jumps = Vec::new();
        let len = 2 + rng.below(30) as usize;
        while program.len() < len {
            starts.push(program.len());
            if rng.chance(20) {
                let cond = *rng.pick(&[Cond::Eq, Cond::Gt, Cond::Ge, Cond::Set]);
                let src = if rng.chance(30) {
                    Src::X
                } else {
                    Src::K(rng.u32() >> rng.below(32))
                };
                jumps.push(program.len());
                program.push(Instr::Jump {
                    cond,
                    src,
                    jt: 0,
                    jf: 0,
                });
            } else if rng.chance(5) {
                jumps.push(program.len());
                program.push(Instr::Ja(0));
            } else if rng.chance(5) {
                program.push(Instr::Ret(RetVal::K(rng.below(3) as u32 * 100)));
            } else {
                random_step(rng, &mut program, libpcap_safe);
            }
        }
        starts.push(program.len());
        program.push(Instr::Ret(RetVal::A));
        for pc in jumps {
            let later: Vec<usize> = starts
                .iter()
                .copied()
                .filter(|&s| s > pc && s - pc - 1 <= 255)
                .collect();
            let mut target = || (*rng.pick(&later) - pc - 1) as u8;
            program[pc] = match program[pc] {
                Instr::Jump { cond, src, .. } => Instr::Jump {
                    cond,
                    src,
                    jt: target(),
                    jf: target(),
                },
                _ => Instr::Ja(target() as u32),
            };
        }
        let raw: Vec<SockFilter> = program.iter().map(|i| i.encode()).collect();
        if check_classic(&raw).is_ok() {
            return raw;
        }
    }
}
