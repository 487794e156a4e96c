//! Compiled variants of a program, and the two tiers they are compiled in.
//!
//! One translation (`translate.rs`) gives every variant; they differ in the [`Shape`]
//! the translator is given (budget tests, nesting) and in the Cranelift settings of the
//! [`Tier`]:
//!
//! - **quick**: `opt_level=none`, the single-pass register allocator, and memory
//!   checks (other than the stack's) as calls of `bounds::walk_call` rather than
//!   inline code. Compiles a 200-instruction program about seven times faster; its
//!   code runs 3-6x slower: spills, unfolded constants, a call per memory access.
//! - **optimized**: `opt_level=speed` (e-graph rewrites, GVN, LICM) and the backtracking
//!   allocator.
//!
//! With [`Tiering::Adaptive`] (the default) a program starts in the quick tier and is
//! recompiled in the optimized tier by the run that takes its count of executed
//! instructions past [`TIER_UP_PER_SLOT`] per slot: about the point where the time
//! spent in slower code equals the optimized compile's cost (ski rental). Both tiers run
//! the same translated function, so they give the same outcomes; the differential tests
//! compare each with the interpreter.

use std::sync::{Mutex, OnceLock};

use cranelift_codegen::ir::{types, AbiParam};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use ebpfvm_isa::Insn;

use crate::ctx::RunCtx;
use crate::{cfg, translate, JitError};

/// Instructions a program runs in the quick tier, per slot, before
/// [`Tiering::Adaptive`] recompiles it optimized. An optimized compile costs about
/// 10-35 µs per slot here, and quick code runs about 0.25-1 ns per instruction slower
/// (a memory access is a call), so 32 Ki instructions per slot is roughly where the
/// two costs meet.
pub const TIER_UP_PER_SLOT: u64 = 1 << 15;

/// The Cranelift settings a variant is compiled with (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Fast to compile, slower to run.
    Quick,
    /// Slow to compile, fast to run.
    Optimized,
}

/// When a program's code is compiled in which [`Tier`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tiering {
    /// Quick code at once; optimized code once the program has run
    /// [`TIER_UP_PER_SLOT`] instructions per slot (or on
    /// [`JitProgram::optimize`](crate::JitProgram::optimize)).
    #[default]
    Adaptive,
    /// Quick code only (unless [`JitProgram::optimize`](crate::JitProgram::optimize)
    /// is called).
    Quick,
    /// Optimized code at once: the slowest compile, no recompilation later.
    Optimized,
}

impl Tier {
    /// The index of the tier's variants in `JitProgram::variants`.
    pub(crate) fn index(self) -> usize {
        match self {
            Tier::Quick => 0,
            Tier::Optimized => 1,
        }
    }
}

/// Which variant of a program's code (see `JitProgram`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Tests the budget.
    pub budgeted: bool,
    /// May be entered with frames of another program below (only matters for a
    /// program without frames of its own).
    pub nested: bool,
}

impl Shape {
    /// The plain variant.
    pub const PLAIN: Shape = Shape {
        budgeted: false,
        nested: false,
    };

    /// The index of the shape's variant within a tier.
    pub fn index(self) -> usize {
        usize::from(self.budgeted) * 2 + usize::from(self.nested)
    }
}

/// The compiled function: takes the run context, returns a `ctx::status`.
pub(crate) type EntryFn = for<'a> unsafe extern "C" fn(*mut RunCtx<'a>) -> u64;

/// One compiled function and the module that owns its code.
pub(crate) struct Variant {
    pub entry: EntryFn,
    /// Owns the code `entry` points into; declared last, so dropped (and the code
    /// freed) after `entry`.
    _code: Code,
}

/// The module that owns the code; frees it on drop. The mutex is only taken on drop
/// and makes `JitProgram` `Sync` (the module has interior mutability we never use).
struct Code(Mutex<Option<JITModule>>);

impl Drop for Code {
    fn drop(&mut self) {
        let module = self.0.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(module) = module {
            // SAFETY: the code is only called through `JitProgram::run`, which borrows
            // the program, so nothing runs it any more and no pointer into it remains.
            unsafe { module.free_memory() };
        }
    }
}

impl Variant {
    /// Compiles the variant `shape` of `insns` in `tier`.
    pub fn compile(
        insns: &[Insn],
        shape: Shape,
        tier: Tier,
    ) -> Result<(Variant, cfg::Cfg), JitError> {
        let isa = host_isa(tier)?;
        let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        match build(&mut module, insns, shape, tier) {
            Ok((code, cfg)) => {
                // SAFETY: the function was compiled with the `EntryFn` signature (one
                // pointer in, one i64 out) in the host's default calling convention,
                // which is extern "C".
                let entry = unsafe { std::mem::transmute::<*const u8, EntryFn>(code) };
                let code = Code(Mutex::new(Some(module)));
                Ok((Variant { entry, _code: code }, cfg))
            }
            Err(e) => {
                // SAFETY: nothing from this module was ever called.
                unsafe { module.free_memory() };
                Err(e)
            }
        }
    }
}

/// The host ISA with the settings of `tier`, built once per process and tier.
fn host_isa(tier: Tier) -> Result<OwnedTargetIsa, JitError> {
    static ISAS: [OnceLock<Result<OwnedTargetIsa, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    ISAS[tier.index()]
        .get_or_init(|| {
            if cfg!(target_endian = "big") {
                return Err("big-endian hosts are not supported".to_string());
            }
            let mut flags = settings::builder();
            let verifier = if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            };
            let (opt_level, regalloc) = match tier {
                Tier::Quick => ("none", "single_pass"),
                Tier::Optimized => ("speed", "backtracking"),
            };
            for (name, value) in [
                ("opt_level", opt_level),
                ("regalloc_algorithm", regalloc),
                ("is_pic", "false"),
                ("use_colocated_libcalls", "false"),
                ("enable_verifier", verifier),
                // Nothing unwinds through compiled code: helper panics are caught.
                ("unwind_info", "false"),
            ] {
                flags.set(name, value).map_err(|e| e.to_string())?;
            }
            let builder = cranelift_native::builder().map_err(|e| e.to_string())?;
            let isa = builder
                .finish(settings::Flags::new(flags))
                .map_err(|e| e.to_string())?;
            if isa.pointer_bytes() != 8 {
                return Err("only 64-bit hosts are supported".to_string());
            }
            Ok(isa)
        })
        .clone()
        .map_err(JitError::Codegen)
}

/// Translates and compiles `insns` into `module`; the code's address.
fn build(
    module: &mut JITModule,
    insns: &[Insn],
    shape: Shape,
    tier: Tier,
) -> Result<(*const u8, cfg::Cfg), JitError> {
    let codegen = |e: cranelift_module::ModuleError| JitError::Codegen(format!("{e:?}"));
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I64));
    let id = module
        .declare_function("ebpf_program", Linkage::Local, &sig)
        .map_err(codegen)?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    debug_assert!(insns.last().is_some_and(|i| *i != Insn::Imm64Tail));
    let cfg = translate::translate(
        insns,
        shape,
        tier,
        &mut ctx.func,
        &mut fctx,
        module.isa().frontend_config(),
    )?;
    module.define_function(id, &mut ctx).map_err(codegen)?;
    module.finalize_definitions().map_err(codegen)?;
    Ok((module.get_finalized_function(id), cfg))
}
