//! Our engines as bpf_conformance engines (used by `ebpfvm conformance` and the tests).

use ebpfvm_conformance::{register_helpers, Engine};

use crate::{Engine as VmEngine, Outcome, Program, Vm};

/// Each test may run at most this many instructions: a looping test file fails instead
/// of hanging the suite.
pub const TEST_BUDGET: u64 = 10_000_000;

/// The interpreter, with the suite's helpers and budget.
#[derive(Debug, Default)]
pub struct InterpEngine;

impl Engine for InterpEngine {
    fn name(&self) -> &str {
        "interp"
    }

    fn run(&mut self, program: &Program, mem: &mut [u8]) -> Result<Outcome, String> {
        let mut vm = Vm::new(program.clone()).map_err(|e| e.to_string())?;
        register_helpers(vm.helpers_mut());
        vm.set_budget(Some(TEST_BUDGET));
        Ok(vm.run(mem))
    }
}

/// The JIT, with the suite's helpers and budget.
#[derive(Debug, Default)]
pub struct JitEngine;

impl Engine for JitEngine {
    fn name(&self) -> &str {
        "jit"
    }

    fn run(&mut self, program: &Program, mem: &mut [u8]) -> Result<Outcome, String> {
        let mut vm = Vm::new(program.clone()).map_err(|e| e.to_string())?;
        vm.set_engine(VmEngine::Jit).map_err(|e| e.to_string())?;
        register_helpers(vm.helpers_mut());
        vm.set_budget(Some(TEST_BUDGET));
        Ok(vm.run(mem))
    }
}
