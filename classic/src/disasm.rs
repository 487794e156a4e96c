//! A disassembler in the style of `tcpdump -d` (libpcap's `bpf_image`): one line per
//! instruction, `(000) ldh      [12]`, conditional jumps with absolute targets
//! (`jt 2<TAB>jf 5`). Opcodes the kernel does not know print as `unimp 0x..`.

use std::fmt::Write;

use crate::ext::{AbsTarget, Ancillary};
use crate::insn::{AluOp, Cond, Instr, LdSrc, LdxSrc, RetVal, Size, SockFilter, Src};

/// The whole program, one line per instruction, each ending in a newline.
pub fn disassemble(program: &[SockFilter]) -> String {
    let mut out = String::new();
    for (pc, f) in program.iter().enumerate() {
        out.push_str(&disassemble_one(*f, pc));
        out.push('\n');
    }
    out
}

/// One instruction at index `pc`, without a newline.
pub fn disassemble_one(f: SockFilter, pc: usize) -> String {
    let (op, operand) = match Instr::decode(f) {
        Some(instr) => mnemonic(instr, pc),
        None => ("unimp", format!("{:#x}", f.code)),
    };
    let mut line = String::new();
    match Instr::decode(f) {
        Some(Instr::Jump { jt, jf, .. }) => {
            let _ = write!(
                line,
                "({pc:03}) {op:<8} {operand:<16} jt {}\tjf {}",
                pc + 1 + jt as usize,
                pc + 1 + jf as usize
            );
        }
        _ => {
            let _ = write!(line, "({pc:03}) {op:<8} {operand}");
        }
    }
    line
}

fn size_suffix(s: Size) -> &'static str {
    match s {
        Size::W => "ld",
        Size::H => "ldh",
        Size::B => "ldb",
    }
}

fn alu_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Sub => "sub",
        AluOp::Mul => "mul",
        AluOp::Div => "div",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Lsh => "lsh",
        AluOp::Rsh => "rsh",
        AluOp::Mod => "mod",
        AluOp::Xor => "xor",
    }
}

fn cond_name(c: Cond) -> &'static str {
    match c {
        Cond::Eq => "jeq",
        Cond::Gt => "jgt",
        Cond::Ge => "jge",
        Cond::Set => "jset",
    }
}

/// libpcap's names for the Linux extensions.
fn ancillary_name(a: Ancillary) -> &'static str {
    match a {
        Ancillary::Protocol => "proto",
        Ancillary::PktType => "type",
        Ancillary::Ifindex => "ifidx",
        Ancillary::NlAttr => "nla",
        Ancillary::NlAttrNest => "nlan",
        Ancillary::Mark => "mark",
        Ancillary::Queue => "queue",
        Ancillary::Hatype => "hatype",
        Ancillary::RxHash => "rxhash",
        Ancillary::Cpu => "cpu",
        Ancillary::AluXorX => "xor_x",
        Ancillary::VlanTag => "vlan_tci",
        Ancillary::VlanTagPresent => "vlanp",
        Ancillary::PayOffset => "poff",
        Ancillary::Random => "random",
        Ancillary::VlanTpid => "vlan_tpid",
    }
}

/// libpcap prints offsets and most constants with `%d` of the signed value.
fn signed(k: u32) -> i32 {
    k as i32
}

fn mnemonic(instr: Instr, pc: usize) -> (&'static str, String) {
    match instr {
        Instr::Ld(LdSrc::Abs(s, k)) => match AbsTarget::of_abs(k) {
            AbsTarget::Ancillary(a) => (size_suffix(s), format!("[{}]", ancillary_name(a))),
            _ => (size_suffix(s), format!("[{}]", signed(k))),
        },
        Instr::Ld(LdSrc::Ind(s, k)) => (size_suffix(s), format!("[x + {}]", signed(k))),
        Instr::Ld(LdSrc::Mem(k)) => ("ld", format!("M[{}]", signed(k))),
        Instr::Ld(LdSrc::Len) => ("ld", "#pktlen".into()),
        Instr::Ld(LdSrc::Imm(k)) => ("ld", format!("#{k:#x}")),
        Instr::Ldx(LdxSrc::Imm(k)) => ("ldx", format!("#{k:#x}")),
        Instr::Ldx(LdxSrc::Mem(k)) => ("ldx", format!("M[{}]", signed(k))),
        Instr::Ldx(LdxSrc::Len) => ("ldx", "#pktlen".into()),
        Instr::Ldx(LdxSrc::Msh(k)) => ("ldxb", format!("4*([{}]&0xf)", signed(k))),
        Instr::St(k) => ("st", format!("M[{}]", signed(k))),
        Instr::Stx(k) => ("stx", format!("M[{}]", signed(k))),
        Instr::Alu(op, Src::X) => (alu_name(op), "x".into()),
        Instr::Alu(op @ (AluOp::And | AluOp::Or | AluOp::Xor), Src::K(k)) => {
            (alu_name(op), format!("#{k:#x}"))
        }
        Instr::Alu(op, Src::K(k)) => (alu_name(op), format!("#{}", signed(k))),
        Instr::Neg => ("neg", String::new()),
        // libpcap prints the target as a C int.
        Instr::Ja(k) => (
            "ja",
            ((pc as u32).wrapping_add(1).wrapping_add(k) as i32).to_string(),
        ),
        Instr::Jump { cond, src, .. } => (
            cond_name(cond),
            match src {
                Src::K(k) => format!("#{k:#x}"),
                Src::X => "x".into(),
            },
        ),
        Instr::Ret(RetVal::K(k)) => ("ret", format!("#{}", signed(k))),
        Instr::Ret(RetVal::A) => ("ret", String::new()),
        Instr::Tax => ("tax", String::new()),
        Instr::Txa => ("txa", String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_ddd;

    #[test]
    fn matches_tcpdump_d() {
        // `tcpdump -ddd -y EN10MB 'ip and tcp'`-like program with every operand form.
        let program = parse_ddd(
            "9\n40 0 0 12\n21 0 6 2048\n177 0 0 14\n72 0 0 14\n84 0 0 15\n\
             7 0 0 0\n5 0 0 1\n22 0 0 0\n6 0 0 262144\n",
        )
        .unwrap();
        let expected = "\
(000) ldh      [12]
(001) jeq      #0x800           jt 2\tjf 8
(002) ldxb     4*([14]&0xf)
(003) ldh      [x + 14]
(004) and      #0xf
(005) tax      \n(006) ja       8
(007) ret      \n(008) ret      #262144
";
        assert_eq!(disassemble(&program), expected);
        assert_eq!(
            disassemble_one(SockFilter::new(0xffff, 0, 0, 0), 3),
            "(003) unimp    0xffff"
        );
        assert_eq!(
            disassemble_one(SockFilter::new(0x20, 0, 0, 0xffff_f000), 0),
            "(000) ld       [proto]"
        );
        assert_eq!(
            disassemble_one(SockFilter::new(0x20, 0, 0, 0xfff0_0000), 0),
            "(000) ld       [-1048576]"
        );
    }
}
