use ebpfvm_isa::*;
use std::time::Instant;
fn r(n: u8) -> Reg { Reg::new(n).unwrap() }
fn time(name: &str, insns: Vec<Insn>) {
    let p = Program::new(insns).unwrap();
    let _ = ebpfvm_jit::JitProgram::compile(&p).unwrap();
    let t = Instant::now();
    let n = 20;
    for _ in 0..n { let _ = ebpfvm_jit::JitProgram::compile(&p).unwrap(); }
    let per = t.elapsed() / n;
    println!("{name}: {} slots, {:?} per compile, {:?} per slot", p.len(), per, per / p.len() as u32);
}
#[test]
fn timing2() {
    let alu = |i: usize| Insn::Alu { width: Width::W64, op: AluOp::Add, dst: r((i % 9) as u8), src: Operand::Reg(r(((i * 7) % 9) as u8)) };
    let mut v: Vec<Insn> = (0..199).map(alu).collect(); v.push(Insn::Exit);
    time("alu", v);
    let mut v = vec![];
    for i in 0..66 { v.push(alu(i)); v.push(Insn::Load { size: Size::DW, sign_extend: false, dst: r(2), src: r(1), off: (i % 8) as i16 * 8 }); v.push(Insn::Store { size: Size::W, dst: r(10), off: -8, src: Operand::Reg(r(3)) }); }
    v.push(Insn::Exit); time("mem", v);
    let mut v = vec![];
    for i in 0..66 { v.push(alu(i)); v.push(Insn::Jump { width: Width::W64, cond: Cond::Gt, dst: r(2), src: Operand::Imm(5), off: 1 }); v.push(alu(i+1)); }
    v.push(Insn::Exit); time("jumps", v);
    let mut v = vec![];
    for i in 0..66 { v.push(alu(i)); v.push(Insn::Call(CallTarget::Helper(1))); v.push(alu(i+1)); }
    v.push(Insn::Exit); time("helpers", v);
    let mut v = vec![Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: r(0), src: Operand::Imm(0) }, Insn::Exit];
    time("empty", v.clone());
    v.clear();
}
