//! The runtime shared by the engines: guest memory as virtual regions ([`MemoryMap`]),
//! guest faults ([`Trap`]) inside an [`Outcome`], helpers ([`Helpers`]), and the
//! interpreter ([`Interpreter`]).
//!
//! ```
//! use ebpfvm_isa::{Features, Program};
//! use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, RegionKind, Stack};
//!
//! // r0 = *(u8 *)(r1 + 1) + helper 7's result
//! let bytes = [
//!     0x71, 0x10, 1, 0, 0, 0, 0, 0, // ldxb r0, [r1+1]
//!     0xbf, 0x06, 0, 0, 0, 0, 0, 0, // mov r6, r0
//!     0x85, 0x00, 0, 0, 7, 0, 0, 0, // call 7
//!     0x0f, 0x60, 0, 0, 0, 0, 0, 0, // add r0, r6
//!     0x95, 0x00, 0, 0, 0, 0, 0, 0, // exit
//! ];
//! let program = Program::from_bytes(&bytes, &Features::default()).unwrap();
//! let interp = Interpreter::new(&program).unwrap();
//! let mut helpers = Helpers::new();
//! helpers.register(7, |_ctx, _args| Ok(100));
//!
//! let mut stack = Stack::new();
//! let mut data = [5u8, 6, 7];
//! let mut memory = MemoryMap::new(&mut stack);
//! let addr = memory.map_mut(RegionKind::Memory, &mut data).unwrap();
//! let outcome = interp.run([addr, 3, 0, 0, 0], &mut memory, &mut helpers, None);
//! assert_eq!(outcome.result, Ok(106));
//! ```

mod helpers;
mod interp;
pub mod kernel_helpers;
pub mod maps;
mod memory;
mod stack_writes;
mod trap;

pub use helpers::{HelperContext, HelperError, HelperFn, Helpers};
pub use interp::{Interpreter, Unsupported, MAX_TAIL_CALLS};
pub use maps::{MapError, MapId, MapKind, MapSpec, Maps};
pub use memory::{
    code_address, MemoryMap, RegionKind, Stack, CODE_REGION, FRAME_SIZE, MAX_FRAMES, REGION_HOST,
    REGION_READ_LEN, REGION_STRIDE, REGION_WRITE_LEN, STACK_BASE, STACK_REGION, STACK_SIZE,
    STACK_TOP,
};
pub use stack_writes::stack_writes;
pub use trap::{Access, Outcome, Trap, TrapKind};
