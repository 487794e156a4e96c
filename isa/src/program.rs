//! `Program`: a validated instruction sequence, one [`Insn`] per 8-byte slot.
//!
//! Every way of making a `Program` runs the same checks, so engines can rely on them:
//! each slot decodes (see `decode`), every `lddw` has its second slot, every jump, local
//! call and code address lands on an instruction inside the program (never on the
//! second slot of an `lddw`), and the last instruction cannot fall off the end.

use crate::decode::decode_slot;
use crate::encode::encode_into;
use crate::error::{LoadError, LoadErrorKind};
use crate::insn::Insn;
use crate::raw::RawInsn;
use crate::version::Features;

/// A validated eBPF program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Program {
    insns: Vec<Insn>,
}

impl Program {
    /// The most slots a program may have (the kernel's limit for privileged programs).
    pub const MAX_SLOTS: usize = 1_000_000;

    /// Decodes and validates little-endian bytecode, 8 bytes per slot.
    pub fn from_bytes(bytes: &[u8], features: &Features) -> Result<Program, LoadError> {
        if bytes.len() % RawInsn::SIZE != 0 {
            return Err(LoadError {
                pc: bytes.len() / RawInsn::SIZE,
                kind: LoadErrorKind::Truncated { len: bytes.len() },
            });
        }
        let raw: Vec<RawInsn> = bytes
            .chunks_exact(RawInsn::SIZE)
            .map(|c| RawInsn::from_bytes(c.try_into().expect("chunks of 8")))
            .collect();
        Program::from_raw(&raw, features)
    }

    /// Decodes and validates a sequence of raw slots.
    pub fn from_raw(raw: &[RawInsn], features: &Features) -> Result<Program, LoadError> {
        let fail = |pc, kind| Err(LoadError { pc, kind });
        if raw.is_empty() {
            return fail(0, LoadErrorKind::Empty);
        }
        if raw.len() > Program::MAX_SLOTS {
            return fail(
                Program::MAX_SLOTS,
                LoadErrorKind::TooLong {
                    len: raw.len(),
                    max: Program::MAX_SLOTS,
                },
            );
        }
        let mut insns = Vec::with_capacity(raw.len());
        let mut pc = 0;
        while pc < raw.len() {
            let insn = decode_slot(raw[pc], raw.get(pc + 1).copied(), features)
                .map_err(|kind| LoadError { pc, kind })?;
            insns.push(insn);
            if insn.slots() == 2 {
                insns.push(Insn::Imm64Tail);
            }
            pc += insn.slots();
        }
        check_control_flow(&insns)?;
        Ok(Program { insns })
    }

    /// Validates typed instructions, one per slot (each `lddw` followed by
    /// [`Insn::Imm64Tail`]), with every feature enabled.
    pub fn new(insns: Vec<Insn>) -> Result<Program, LoadError> {
        let raw = encode_all(&insns);
        let program = Program::from_raw(&raw, &Features::default())?;
        // An instruction whose fields do not fit its encoding (a 16-bit `ja` with a
        // 32-bit offset, a stray `Imm64Tail`) comes back different: refuse it there.
        if let Some(pc) = (0..insns.len()).find(|&pc| program.insns.get(pc) != Some(&insns[pc])) {
            return Err(LoadError {
                pc,
                kind: LoadErrorKind::BadField {
                    insn: "instruction",
                    field: "encoding (a value does not fit its field)",
                    value: 0,
                },
            });
        }
        Ok(program)
    }

    /// The instructions, one per slot.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Always false: an empty program is refused at load.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The raw slots.
    pub fn to_raw(&self) -> Vec<RawInsn> {
        encode_all(&self.insns)
    }

    /// The bytecode, 8 little-endian bytes per slot.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_raw().iter().flat_map(|r| r.to_bytes()).collect()
    }
}

fn encode_all(insns: &[Insn]) -> Vec<RawInsn> {
    let mut raw = Vec::with_capacity(insns.len());
    for insn in insns {
        encode_into(insn, &mut raw);
    }
    raw
}

/// Jump, call and code-address targets, and the end of the program.
fn check_control_flow(insns: &[Insn]) -> Result<(), LoadError> {
    let len = insns.len();
    for (pc, insn) in insns.iter().enumerate() {
        let Some(target) = insn.branch_target(pc) else {
            continue;
        };
        let kind = if target < 0 || target >= len as i64 {
            LoadErrorKind::TargetOutOfRange { target, len }
        } else if insns[target as usize] == Insn::Imm64Tail {
            LoadErrorKind::TargetInImm64 {
                target: target as usize,
            }
        } else {
            continue;
        };
        return Err(LoadError { pc, kind });
    }
    match insns[len - 1] {
        Insn::Exit | Insn::Ja { .. } => Ok(()),
        _ => Err(LoadError {
            pc: len - 1,
            kind: LoadErrorKind::FallsOffEnd,
        }),
    }
}
