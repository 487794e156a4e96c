//! Every engine a translated program runs on: the interpreter and the JIT, so each
//! differential test checks both.

use ebpfvm_classic::Engine;
use ebpfvm_isa::Program;
use ebpfvm_jit::JitProgram;
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, Outcome};

/// The JIT behind the classic crate's engine trait.
pub struct Jit(pub JitProgram);

impl Engine for Jit {
    fn run(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
    ) -> Outcome {
        self.0.run(args, memory, helpers, budget)
    }
}

/// `(name, engine)` for every engine, prepared for `program`.
pub fn engines(program: &Program) -> Vec<(&'static str, Box<dyn Engine>)> {
    let interp = Interpreter::new(program).expect("the interpreter runs translations");
    let jit = JitProgram::compile(program).expect("the JIT compiles translations");
    vec![("interp", Box::new(interp)), ("jit", Box::new(Jit(jit)))]
}
