//! ebpfvm: a userspace eBPF virtual machine.
//!
//! Load a program (bytecode or assembly), register helpers, run it over memory, and get
//! its return value or the [`Trap`] that stopped it:
//!
//! ```
//! use ebpfvm::{HelperError, Vm};
//!
//! let mut vm = Vm::from_asm(
//!     "ldxw %r2, [%r1+0]   # r2 = first word of memory
//!      mov %r1, %r2
//!      call 1               # r0 = helper 1 (r1)
//!      stw [%r10-4], 7      # the stack is there too
//!      exit",
//! )?;
//! vm.register_helper(1, |_ctx, args| Ok(args[0] * 2));
//!
//! let mut memory = 21u32.to_le_bytes();
//! let outcome = vm.run(&mut memory);
//! assert_eq!(outcome.result, Ok(42));
//!
//! // A fault is a value, with the pc and the address.
//! let mut short = [0u8; 2];
//! let trap = vm.run(&mut short).result.unwrap_err();
//! assert_eq!(trap.pc, 0);
//! println!("{trap}"); // trap at pc 0: out-of-bounds read of 4 bytes at 0x300000000 (memory region)
//! # Ok::<(), ebpfvm::Error>(())
//! ```
//!
//! The crates underneath are re-exported: [`isa`] (instructions, decoding, assembler)
//! and [`vm`] (memory, helpers, the interpreter).

/// Runs a [`Vm`]'s program on its chosen engine with `args` in r1-r5 over `map` (a
/// `MemoryMap` that borrows the VM's stack and maps). A macro rather than a method so the
/// map's borrows of some fields and the engine's borrows of others stay disjoint.
macro_rules! execute {
    ($vm:ident, $args:expr, $map:ident) => {
        match (&$vm.elf, $vm.jit.first()) {
            (_, None) => $vm.interpreter.run_linked(
                $args,
                &mut $map,
                &mut $vm.helpers,
                $vm.budget,
                &$vm.programs,
            ),
            (None, Some(jit)) => jit.run($args, &mut $map, &mut $vm.helpers, $vm.budget),
            (Some(elf), Some(_)) => $vm.jit[elf.id as usize].run_linked(
                $args,
                &mut $map,
                &mut $vm.helpers,
                $vm.budget,
                &$vm.jit,
            ),
        }
    };
}
pub(crate) use execute;

pub mod cgroup;
pub mod conformance;
mod context;
mod lirc_helpers;
mod object;
mod packet_helpers;

pub use ebpfvm_ctx_models as ctx;
pub use ebpfvm_elf as elf;
pub use ebpfvm_isa as isa;
pub use ebpfvm_vm as vm;
pub use lirc_helpers::RcCall;
pub use object::{ElfProgram, Select};
pub use packet_helpers::{Redirect, SocketInfo};

pub use ebpfvm_jit as jit;

pub use isa::{AsmError, Features, Insn, IsaVersion, LoadError, Program};
pub use vm::{HelperContext, HelperError, Outcome, Trap, TrapKind};

use vm::{Helpers, Interpreter, MemoryMap, RegionKind, Stack};

/// Why a program could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytecode is invalid.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The assembly text is invalid.
    #[error("assembly error: {0}")]
    Asm(#[from] AsmError),
    /// The program uses something this engine cannot run.
    #[error(transparent)]
    Unsupported(#[from] vm::Unsupported),
    /// The ELF object is invalid or uses something unsupported.
    #[error(transparent)]
    Elf(#[from] elf::ElfError),
    /// A map of the object cannot be created.
    #[error("map `{map}`: {error}")]
    Map {
        /// The map's name.
        map: String,
        /// Why.
        error: String,
    },
    /// The program asked for is not in the object (or several match).
    #[error("{0}")]
    Select(String),
    /// The JIT could not compile the program.
    #[error(transparent)]
    Jit(#[from] jit::JitError),
    /// A context access the program type does not allow (or this model cannot run).
    #[error(transparent)]
    Context(#[from] ctx::RewriteError),
}

/// Which engine runs a [`Vm`]'s program. Both have the same semantics: the same return
/// value, memory after the run, trap (kind and pc) and instruction count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// The checked interpreter: no compile step, every access checked.
    #[default]
    Interpreter,
    /// The Cranelift JIT: compiled once, every access checked inline, much faster.
    Jit,
}

/// A loaded program with its helpers, ready to run many times.
///
/// `run` follows the `raw` program type of uBPF and bpf_conformance: r1 points to the
/// memory given (0 when it is empty), r2 holds its length, r10 the top of a 512-byte
/// stack frame (8 frames for bpf-to-bpf calls). Legacy packet loads read that memory.
pub struct Vm {
    program: Program,
    interpreter: Interpreter,
    helpers: Helpers,
    stack: Stack,
    budget: Option<u64>,
    /// Maps (an ELF object's; empty otherwise), every program of the object by id (the
    /// tail-call table, prepared for the interpreter and as loaded, for the JIT), the
    /// kernel helpers' state, and which object program this is.
    maps: vm::Maps,
    programs: Vec<Interpreter>,
    sources: Vec<Program>,
    kernel: vm::kernel_helpers::Kernel,
    elf: Option<ElfProgram>,
    /// When the engine is the JIT: the compiled program, or for an ELF object every
    /// program of `sources` (each compiled once; the one run is `elf.id`).
    jit: Vec<jit::JitProgram>,
    /// The program type given to [`Vm::with_type`] (`None`: raw).
    prog_type: Option<ctx::ProgramType>,
    /// The attach point given to [`Vm::with_attach`] or read from an ELF section.
    attach: Option<ctx::AttachType>,
    /// The last `bpf_redirect` of the current run (packet types).
    redirect: packet_helpers::LastRedirect,
    /// The `rc_*` helper calls of `lirc_mode2` runs, until taken.
    rc_calls: lirc_helpers::RcCalls,
    /// The socket the socket helpers (`get_socket_cookie`, ...) describe.
    socket: packet_helpers::SharedSocket,
    /// When the JIT compiles in which tier.
    tiering: jit::Tiering,
    /// The stack bytes a run may write ([`vm::stack_writes`] of every program a run can
    /// reach): the only ones zeroed before the next run, as the rest stays zero.
    stack_dirty: std::ops::Range<usize>,
}

impl Vm {
    /// Prepares a validated program.
    pub fn new(program: Program) -> Result<Vm, Error> {
        Ok(Vm {
            interpreter: Interpreter::new(&program)?,
            stack_dirty: stack_dirty(std::slice::from_ref(&program)),
            program,
            helpers: Helpers::new(),
            stack: Stack::new(),
            budget: None,
            maps: vm::Maps::new(),
            programs: Vec::new(),
            sources: Vec::new(),
            kernel: vm::kernel_helpers::Kernel::new(),
            elf: None,
            jit: Vec::new(),
            prog_type: None,
            attach: None,
            redirect: Default::default(),
            rc_calls: Default::default(),
            socket: Default::default(),
            tiering: Default::default(),
        })
    }

    /// Chooses the engine; choosing the JIT compiles the program now (for an ELF
    /// object, every program of the object: tail calls may reach any of them).
    pub fn set_engine(&mut self, engine: Engine) -> Result<&mut Vm, Error> {
        self.jit = match engine {
            Engine::Interpreter => Vec::new(),
            Engine::Jit if self.elf.is_some() => self
                .sources
                .iter()
                .map(|p| jit::JitProgram::compile_with(p, Some(&self.maps), self.tiering))
                .collect::<Result<_, _>>()?,
            Engine::Jit => vec![jit::JitProgram::compile_with(
                &self.program,
                None,
                self.tiering,
            )?],
        };
        Ok(self)
    }

    /// When the JIT compiles in which tier (default [`jit::Tiering::Adaptive`]: quick
    /// code at once, optimized code once the program has run long enough). Takes
    /// effect at the next [`Vm::set_engine`].
    pub fn set_jit_tiering(&mut self, tiering: jit::Tiering) -> &mut Vm {
        self.tiering = tiering;
        self
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        if self.jit.is_empty() {
            Engine::Interpreter
        } else {
            Engine::Jit
        }
    }

    /// How long the JIT took to compile the program, or all the programs of an ELF
    /// object (`None` on the interpreter).
    pub fn compile_time(&self) -> Option<std::time::Duration> {
        (!self.jit.is_empty()).then(|| self.jit.iter().map(jit::JitProgram::compile_time).sum())
    }

    /// Loads little-endian bytecode (8 bytes per instruction), accepting ISA v4 and callx.
    pub fn from_bytes(bytes: &[u8]) -> Result<Vm, Error> {
        Vm::new(Program::from_bytes(bytes, &Features::default())?)
    }

    /// Assembles text in the bpf_conformance/uBPF dialect (`mov %r0, 1`).
    pub fn from_asm(text: &str) -> Result<Vm, Error> {
        Vm::new(isa::assemble(text)?)
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Registers helper `id` (replacing any earlier one). It receives a
    /// [`HelperContext`] for checked access to guest memory, and r1-r5.
    pub fn register_helper<F>(&mut self, id: u32, helper: F) -> &mut Vm
    where
        F: FnMut(&mut HelperContext<'_, '_>, [u64; 5]) -> Result<u64, HelperError> + Send + 'static,
    {
        self.helpers.register(id, helper);
        self
    }

    /// The helper registry.
    pub fn helpers_mut(&mut self) -> &mut Helpers {
        &mut self.helpers
    }

    /// Limits each run to `budget` instructions (`None`: no limit). A run that would
    /// execute more traps with [`TrapKind::BudgetExhausted`].
    pub fn set_budget(&mut self, budget: Option<u64>) -> &mut Vm {
        self.budget = budget;
        self
    }

    /// Zeroes what earlier runs may have left on the stack.
    fn clear_stack(&mut self) {
        self.stack.clear_range(self.stack_dirty.clone());
    }

    /// Runs the program once over `memory`, which it may read and write.
    pub fn run(&mut self, memory: &mut [u8]) -> Outcome {
        self.clear_stack();
        let len = memory.len() as u64;
        let mut map = MemoryMap::with_maps(&mut self.stack, &self.maps);
        let addr = if memory.is_empty() {
            0
        } else {
            match map.map_mut(RegionKind::Memory, memory) {
                Some(addr) => addr,
                None => return too_large(len),
            }
        };
        if addr != 0 {
            map.set_packet(addr);
        }
        let args = [addr, len, 0, 0, 0];
        execute!(self, args, map)
    }
}

/// The stack bytes a run through `programs` may write: the union of their
/// [`vm::stack_writes`] (a tail call may reach any of them).
fn stack_dirty(programs: &[Program]) -> std::ops::Range<usize> {
    programs
        .iter()
        .map(|p| vm::stack_writes(p.insns()))
        .filter(|r| !r.is_empty())
        .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))
        .unwrap_or(0..0)
}

/// Memory beyond the 4 GiB a region can hold: the program cannot even start.
fn too_large(len: u64) -> Outcome {
    Outcome {
        result: Err(Trap {
            pc: 0,
            kind: TrapKind::OutOfBounds {
                addr: 0,
                size: u32::try_from(len).unwrap_or(u32::MAX),
                access: vm::Access::Read,
                region: None,
            },
        }),
        insns: 0,
    }
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
