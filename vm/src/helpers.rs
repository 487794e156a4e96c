//! Helper functions: closures registered by id that receive the execution environment.
//!
//! A helper gets a [`HelperContext`] (checked access to guest memory, the pc of the
//! call, the instruction count) and r1-r5; it returns r0, asks the program to end with a
//! value ([`HelperError::Exit`]), or reports a guest fault.

use std::collections::BTreeMap;
use std::fmt;

use crate::memory::MemoryMap;
use crate::trap::Access;

/// Why a helper did not return normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperError {
    /// End the program now with this return value; not a fault.
    Exit(u64),
    /// A guest memory access the helper made was out of bounds.
    OutOfBounds {
        /// The guest address.
        addr: u64,
        /// The access size.
        size: u64,
        /// Read or write.
        access: Access,
    },
    /// Any other guest fault, with a message for the user.
    Fault(String),
    /// Control transfer (`bpf_tail_call`): replace the running function with program
    /// `id` of the engine's program table, keeping the registers and the stack frame;
    /// its `exit` returns where the replaced function would have. When the engine has
    /// no program `id` or 33 tail calls already happened in this run, execution goes on
    /// after the call with r0 = -ENOENT (the helper returns that itself for an empty
    /// prog-array slot).
    TailCall(u32),
    /// Control transfer (`bpf_loop`): call the guest function at code address
    /// `callback` with r1 = i, r2 = `ctx` (r3-r5 = 0), for i in 0..`count`, each call in
    /// a new stack frame, stopping after the first call that returns non-zero; then go
    /// on after the helper call with r0 = the number of calls made. A code address that
    /// is not a function traps (`BadCallTarget`).
    Loop {
        /// The callback's code address (`lddw` src 4).
        callback: u64,
        /// r2 of every call.
        ctx: u64,
        /// The number of iterations, at least 1.
        count: u64,
    },
}

/// What a helper sees of the running program.
pub struct HelperContext<'r, 'm> {
    memory: &'r mut MemoryMap<'m>,
    pc: usize,
    insns: u64,
}

impl<'r, 'm> HelperContext<'r, 'm> {
    /// A context for a call at `pc` after `insns` instructions.
    pub fn new(memory: &'r mut MemoryMap<'m>, pc: usize, insns: u64) -> Self {
        HelperContext { memory, pc, insns }
    }

    /// The pc of the call instruction.
    pub fn pc(&self) -> usize {
        self.pc
    }

    /// Instructions executed so far.
    pub fn insns(&self) -> u64 {
        self.insns
    }

    /// Reads `len` guest bytes at `addr`.
    pub fn read(&self, addr: u64, len: u64) -> Result<&[u8], HelperError> {
        self.memory
            .slice(addr, len)
            .ok_or(HelperError::OutOfBounds {
                addr,
                size: len,
                access: Access::Read,
            })
    }

    /// Writes `data` to guest memory at `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), HelperError> {
        let len = data.len() as u64;
        let dst = self
            .memory
            .slice_mut(addr, len)
            .ok_or(HelperError::OutOfBounds {
                addr,
                size: len,
                access: Access::Write,
            })?;
        dst.copy_from_slice(data);
        Ok(())
    }

    /// The whole memory map, for helpers that map new regions or need raw access.
    pub fn memory(&mut self) -> &mut MemoryMap<'m> {
        self.memory
    }

    /// The maps of the run, if the memory map has them ([`MemoryMap::with_maps`]).
    /// Borrows the context mutably, so copy guest bytes ([`HelperContext::read`])
    /// before calling map operations with them.
    pub fn maps(&mut self) -> Option<&crate::maps::Maps> {
        self.memory.maps()
    }
}

/// A helper: r1-r5 in, r0 out.
pub type HelperFn =
    Box<dyn FnMut(&mut HelperContext<'_, '_>, [u64; 5]) -> Result<u64, HelperError> + Send>;

/// Helpers by id. Ids below 4096 live in a dense table, so a call is an index.
#[derive(Default)]
pub struct Helpers {
    dense: Vec<Option<HelperFn>>,
    // A BTreeMap, not a HashMap: creating an empty one costs nothing (no random
    // state), and socket filters build an empty `Helpers` for every packet.
    sparse: BTreeMap<u32, HelperFn>,
}

const DENSE_LIMIT: u32 = 4096;

impl Helpers {
    /// No helpers.
    pub fn new() -> Helpers {
        Helpers::default()
    }

    /// Registers `f` as helper `id`, replacing any earlier one.
    pub fn register<F>(&mut self, id: u32, f: F)
    where
        F: FnMut(&mut HelperContext<'_, '_>, [u64; 5]) -> Result<u64, HelperError> + Send + 'static,
    {
        let f: HelperFn = Box::new(f);
        if id < DENSE_LIMIT {
            let i = id as usize;
            if self.dense.len() <= i {
                self.dense.resize_with(i + 1, || None);
            }
            self.dense[i] = Some(f);
        } else {
            self.sparse.insert(id, f);
        }
    }

    /// Whether helper `id` is registered.
    pub fn contains(&self, id: u64) -> bool {
        match u32::try_from(id) {
            Ok(id) if id < DENSE_LIMIT => matches!(self.dense.get(id as usize), Some(Some(_))),
            Ok(id) => self.sparse.contains_key(&id),
            Err(_) => false,
        }
    }

    /// The helper registered as `id`.
    #[inline]
    pub fn get_mut(&mut self, id: u64) -> Option<&mut HelperFn> {
        let id = u32::try_from(id).ok()?;
        if id < DENSE_LIMIT {
            self.dense.get_mut(id as usize)?.as_mut()
        } else {
            self.sparse.get_mut(&id)
        }
    }
}

impl fmt::Debug for Helpers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<u32> = (0..self.dense.len() as u32)
            .filter(|&i| self.dense[i as usize].is_some())
            .chain(self.sparse.keys().copied())
            .collect();
        ids.sort_unstable();
        f.debug_struct("Helpers").field("ids", &ids).finish()
    }
}
