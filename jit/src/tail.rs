//! Runs through several programs: tail calls, and returns into frames that another
//! program pushed.
//!
//! Each program is its own compiled function. A run starts in one; `bpf_tail_call`
//! (a helper answering `HelperError::TailCall` for a program of the table) replaces the
//! program running while keeping everything else, as the interpreter does: registers,
//! stack, frames, call depth, budget. Compiled code does it by *leaving*: it stores
//! r0-r10 and the depth in `RunCtx::saved`, the budget left in `rem`, and returns
//! `status::TAIL_CALL`; the driver (`JitProgram::run_linked`) copies `saved` to the
//! entry fields and enters the target's function, whose entry loads them back. Saving
//! elsewhere than the entry fields keeps those read-only for compiled code (`ctx.rs`).
//!
//! The frames of bpf-to-bpf calls (and `bpf_loop` callbacks) live in the run context,
//! and each records the program that pushed it (`RunCtx::current`). When `exit` would
//! pop a frame of another program (a callee tail-called, and its replacement returns),
//! the code leaves with `status::RESUME`; the driver enters the frame's program in
//! resume mode, which goes straight to its `exit` path and pops the frame there: the
//! return (or the next `bpf_loop` iteration) happens in the program that owns the
//! return site. A program without frames of its own treats every frame as another's.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, MemFlagsData, Value};
use ebpfvm_isa::Reg;

use crate::call::frame;
use crate::ctx::{off, status, SAVED_WORDS};
use crate::translate::Translator;

impl Translator<'_> {
    /// Ends the entry block: to the first instruction, or (in resume mode) to the
    /// `exit` path that pops the top frame. Only programs with frames can be resumed.
    pub(crate) fn enter(&mut self) {
        let first = self.region_block(0);
        if !self.cfg.has_frames {
            self.b.ins().jump(first, &[]);
            return;
        }
        let mode = self
            .b
            .ins()
            .load(types::I64, MemFlagsData::trusted(), self.ctx, off::MODE);
        let pop = self.pop_block();
        self.b.ins().brif(mode, pop, &[], first, &[]);
    }

    /// The shared `leave(status)` block: saves the state for the next program.
    pub(crate) fn leave_block(&mut self) -> Block {
        *self.leave.get_or_insert_with(|| {
            let block = self.b.create_block();
            self.b.set_cold_block(block);
            self.b.append_block_param(block, types::I64);
            block
        })
    }

    /// Leaves with `status` (in the current block).
    pub(crate) fn leave_with(&mut self, status: u64) {
        let st = self.b.ins().iconst(types::I64, status as i64);
        let leave = self.leave_block();
        self.b.ins().jump(leave, &[st.into()]);
    }

    /// In `exit` with frames: when the top frame (at `frame`) belongs to another
    /// program, leaves for it; continues in a fresh block otherwise.
    pub(crate) fn resume_elsewhere(&mut self, frame: Value) {
        let owner = self
            .b
            .ins()
            .load(types::I64, MemFlagsData::trusted(), frame, frame::PROG);
        let foreign = self.b.ins().icmp(IntCC::NotEqual, owner, self.current);
        let cont = self.cold_branch(foreign);
        self.leave_with(status::RESUME);
        self.b.switch_to_block(cont);
    }

    /// Fills the `leave(status)` block: stores r0-r10 and the depth in `saved`, the
    /// budget left in `rem`, and returns the status.
    pub(crate) fn fill_leave_block(&mut self, block: Block) {
        self.b.switch_to_block(block);
        let st = self.b.block_params(block)[0];
        let f = MemFlagsData::trusted();
        for i in 0..=10u8 {
            let v = self.reg(Reg::new(i).expect("r0-r10"));
            self.b
                .ins()
                .store(f, v, self.ctx, off::SAVED + 8 * i32::from(i));
        }
        let depth = self.b.use_var(self.depth);
        let at = off::SAVED + 8 * (SAVED_WORDS as i32 - 1);
        self.b.ins().store(f, depth, self.ctx, at);
        let rem = self.b.use_var(self.rem);
        self.b.ins().store(f, rem, self.ctx, off::REM);
        self.b.ins().return_(&[st]);
    }
}
