//! A text assembler for eBPF, in two dialects detected line by line.
//!
//! The main dialect is the one of the bpf_conformance suite and uBPF:
//!
//! ```text
//! # a comment               label:                    mov %r0, 1      add32 %r0, -3
//! neg %r1   be16 %r1        movsx832 %r0, %r1         lddw %r0, 0x1122334455667788
//! ldxw %r0, [%r1+4]         ldxsb %r0, [%r10-1]       stw [%r10-8], 5
//! stxdw [%r10-8], %r1       lock fetch add32 [%r10-8], %r1   lock cmpxchg [%r1], %r2
//! jeq %r1, 5, +2            jne32 %r1, %r2, label     ja -1           ja32 label
//! call 5    call local label   call %r2   call kfunc 7   exit   ldabsw 12   ldindb %r1, 4
//! lddw %r1, map_fd 3        lddw %r1, map_value 3+16  lddw %r1, code_addr label
//! ```
//!
//! Jump targets are offsets from the next instruction (`+2`, `-0x1`) or labels; the
//! label `exit`, unless the program defines it, names the first `exit` instruction.
//! 32-bit immediates may be written as unsigned hex (`0xffffffff` is -1) but decimal
//! ones must be signed 32-bit values.
//!
//! The LLVM/kernel dialect (`r0 = 1`, `w0 += w1`, `if r1 > 5 goto +2`,
//! `*(u32 *)(r10 - 8) = r1`, `r0 = 0x1234 ll`, `lock *(u64 *)(r10 - 8) += r1`) is
//! accepted too, on any line that uses `=` or starts with `if`, `goto`, `*(`,
//! `lock *(`, `callx` or `call pc`, so listings from `llvm-objdump`, the kernel
//! verifier or [`crate::disassemble_llvm`] can be pasted in.
//!
//! Assembly is two passes: the first parses every line into an [`Insn`] whose jump
//! offset may still name a label, the second resolves labels to offsets. [`assemble`]
//! then validates the result as a [`Program`] (every feature enabled), so an error
//! always names the source line at fault.

mod conformance;
mod llvm;
mod num;

use std::collections::HashMap;

use thiserror::Error;

use crate::encode::encode_into;
use crate::insn::{CallTarget, Imm64, Insn};
use crate::program::Program;
use crate::raw::RawInsn;
use crate::version::Features;

/// Why a text was not assembled, and on which line.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct AsmError {
    /// The 1-based line number the error is on.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Where a jump, local call or code address goes, before labels are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// An offset in slots from the next instruction, as written (`+3`, `-0x2`).
    Rel(i64),
    /// A label name, resolved in the second pass.
    Label(String),
}

/// One parsed instruction; `target` is set for instructions whose offset it fills in.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parsed {
    insn: Insn,
    target: Option<Target>,
}

impl Parsed {
    fn plain(insn: Insn) -> Parsed {
        Parsed { insn, target: None }
    }

    fn with_target(insn: Insn, target: Target) -> Parsed {
        Parsed {
            insn,
            target: Some(target),
        }
    }
}

/// One instruction of the output and the line it came from.
struct Assembled {
    insn: Insn,
    line: usize,
}

/// Assembles `text` into a validated [`Program`] (with every feature enabled).
///
/// Errors name the line: syntax errors, unknown mnemonics, bad registers or
/// immediates, undefined labels, and everything [`Program::from_raw`] refuses (a write
/// to r10, a jump out of the program, a last instruction that falls off the end, an
/// empty program).
///
/// ```
/// use ebpfvm_isa::{assemble, Insn};
/// let program = assemble("mov %r0, 1\njeq %r0, 1, exit\nmov %r0, 2\nexit").unwrap();
/// assert_eq!(program.insns()[3], Insn::Exit);
/// assert_eq!(assemble("mov %r11, 1").unwrap_err().to_string(), "line 1: invalid register `%r11`");
/// ```
pub fn assemble(text: &str) -> Result<Program, AsmError> {
    let assembled = assemble_insns(text)?;
    let mut raw = Vec::with_capacity(assembled.len());
    // The line of every slot, so that a validation error (which names a slot) can name
    // the line instead.
    let mut slot_lines = Vec::with_capacity(assembled.len());
    for a in &assembled {
        encode_into(&a.insn, &mut raw);
        slot_lines.resize(raw.len(), a.line);
    }
    let last_line = text.lines().count().max(1);
    Program::from_raw(&raw, &Features::default()).map_err(|e| AsmError {
        line: slot_lines.get(e.pc).copied().unwrap_or(last_line),
        message: e.kind.to_string(),
    })
}

/// Assembles `text` into raw slots without validating them as a program: jumps may
/// leave the program, the last instruction may fall through, r10 may be written.
/// Syntax is still checked (registers are r0..=r10, immediates and offsets fit their
/// fields, labels are defined).
pub fn assemble_raw(text: &str) -> Result<Vec<RawInsn>, AsmError> {
    let assembled = assemble_insns(text)?;
    let mut raw = Vec::with_capacity(assembled.len());
    for a in &assembled {
        encode_into(&a.insn, &mut raw);
    }
    Ok(raw)
}

/// Both passes: parse every line, then resolve targets.
fn assemble_insns(text: &str) -> Result<Vec<Assembled>, AsmError> {
    let mut parsed: Vec<(Parsed, usize, usize)> = Vec::new(); // (insn, line, pc)
    let mut labels: HashMap<&str, usize> = HashMap::new();
    let mut first_exit = None;
    let mut pc: usize = 0;
    for (index, source) in text.lines().enumerate() {
        let line = index.saturating_add(1);
        let err = |message: String| AsmError { line, message };
        let code = strip_comment(source).trim();
        if code.is_empty() {
            continue;
        }
        let (label, code) = split_label(code).map_err(err)?;
        if let Some(name) = label {
            if labels.insert(name, pc).is_some() {
                return Err(err(format!("duplicate label `{name}`")));
            }
        }
        if code.is_empty() {
            continue;
        }
        let p = if llvm::is_llvm_line(code) {
            llvm::parse_line(code)
        } else {
            conformance::parse_line(code)
        }
        .map_err(err)?;
        if p.insn == Insn::Exit && first_exit.is_none() {
            first_exit = Some(pc);
        }
        let next = pc.saturating_add(p.insn.slots());
        parsed.push((p, line, pc));
        pc = next;
    }

    let mut out = Vec::with_capacity(parsed.len());
    for (p, line, pc) in parsed {
        let insn = match p.target {
            None => p.insn,
            Some(target) => {
                let rel = match target {
                    Target::Rel(rel) => rel,
                    Target::Label(name) => {
                        // `exit` names the first exit unless the program defines it:
                        // the upstream assembler's convention, used all over the suite.
                        let to = labels
                            .get(name.as_str())
                            .copied()
                            .or(if name == "exit" { first_exit } else { None })
                            .ok_or_else(|| AsmError {
                                line,
                                message: format!("undefined label `{name}`"),
                            })?;
                        (to as i64).wrapping_sub(pc as i64).wrapping_sub(1)
                    }
                };
                set_offset(p.insn, rel).map_err(|message| AsmError { line, message })?
            }
        };
        out.push(Assembled { insn, line });
    }
    Ok(out)
}

/// The line without its comment: `#` (both dialects) or `//` (LLVM listings).
fn strip_comment(line: &str) -> &str {
    let end = [line.find('#'), line.find("//")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(line.len());
    line.get(..end).unwrap_or(line)
}

/// Splits a leading `name:` label off a line. Neither dialect uses `:` anywhere else.
fn split_label(code: &str) -> Result<(Option<&str>, &str), String> {
    let Some((name, rest)) = code.split_once(':') else {
        return Ok((None, code));
    };
    let name = name.trim();
    if !num::is_identifier(name) {
        return Err(
            if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
                format!("invalid label `{name}` (strip the `pc:` prefixes of a disassembly first)")
            } else {
                format!("invalid label `{name}`")
            },
        );
    }
    Ok((Some(name), rest.trim()))
}

/// Puts a resolved offset into the field the instruction carries it in, refusing one
/// that does not fit: 16 bits for `ja` and conditional jumps, 32 for the others.
fn set_offset(insn: Insn, rel: i64) -> Result<Insn, String> {
    let too_far = |bits| format!("jump offset {rel} does not fit in {bits} bits");
    let off16 = || i16::try_from(rel).map_err(|_| too_far(16));
    let off32 = || i32::try_from(rel).map_err(|_| too_far(32));
    Ok(match insn {
        Insn::Ja { long: false, .. } => Insn::Ja {
            off: off16()?.into(),
            long: false,
        },
        Insn::Ja { long: true, .. } => Insn::Ja {
            off: off32()?,
            long: true,
        },
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            ..
        } => Insn::Jump {
            width,
            cond,
            dst,
            src,
            off: off16()?,
        },
        Insn::Call(CallTarget::Local(_)) => Insn::Call(CallTarget::Local(off32()?)),
        Insn::LoadImm64 {
            dst,
            imm: Imm64::CodeAddr(_),
        } => Insn::LoadImm64 {
            dst,
            imm: Imm64::CodeAddr(off32()?),
        },
        other => other,
    })
}
