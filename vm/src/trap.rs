//! Guest faults: a `Trap` is a value inside an `Outcome`, never a host error or a panic.

use std::fmt;

use crate::memory::RegionKind;

/// Whether a faulting access read or wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A load.
    Read,
    /// A store or an atomic read-modify-write.
    Write,
}

/// A guest fault: where it happened and why.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Trap {
    /// The slot index of the instruction that faulted.
    pub pc: usize,
    /// What went wrong.
    pub kind: TrapKind,
}

/// The kinds of guest fault.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapKind {
    /// A load or store outside every region it may touch.
    OutOfBounds {
        /// The guest address.
        addr: u64,
        /// The access size in bytes.
        size: u32,
        /// Read or write.
        access: Access,
        /// The region the address falls in, if any (a write to a read-only region, or
        /// an access running past a region's end).
        region: Option<RegionKind>,
    },
    /// A bpf-to-bpf call past the deepest allowed frame.
    CallDepthExceeded {
        /// The frame limit.
        max_frames: usize,
    },
    /// The instruction budget ran out before the program ended.
    BudgetExhausted {
        /// The budget.
        budget: u64,
    },
    /// A call to a helper id nothing is registered for.
    UnknownHelper {
        /// The helper id.
        id: u64,
    },
    /// `callx` with a value that is neither a helper id nor a function's code address.
    BadCallTarget {
        /// The value called.
        target: u64,
    },
    /// A helper reported a fault.
    HelperFault {
        /// The helper id.
        id: u32,
        /// The helper's message.
        message: String,
    },
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trap at pc {}: ", self.pc)?;
        match &self.kind {
            TrapKind::OutOfBounds {
                addr,
                size,
                access,
                region,
            } => {
                let verb = match access {
                    Access::Read => "read",
                    Access::Write => "write",
                };
                write!(f, "out-of-bounds {verb} of {size} bytes at {addr:#x}")?;
                match region {
                    Some(r) => write!(f, " ({r} region)"),
                    None => write!(f, " (unmapped)"),
                }
            }
            TrapKind::CallDepthExceeded { max_frames } => {
                write!(f, "call depth exceeded ({max_frames} frames at most)")
            }
            TrapKind::BudgetExhausted { budget } => {
                write!(f, "instruction budget of {budget} exhausted")
            }
            TrapKind::UnknownHelper { id } => write!(f, "call to unknown helper {id}"),
            TrapKind::BadCallTarget { target } => {
                write!(
                    f,
                    "callx to {target:#x}, neither a helper id nor a function"
                )
            }
            TrapKind::HelperFault { id, message } => write!(f, "helper {id} failed: {message}"),
        }
    }
}

impl std::error::Error for Trap {}

/// The result of a run: the return value (r0) or a trap, and how many instructions ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// r0 at the final `exit`, or the fault.
    pub result: Result<u64, Trap>,
    /// Instructions executed (an `lddw` counts once), including the faulting one's
    /// predecessors but not the faulting instruction itself.
    pub insns: u64,
}
