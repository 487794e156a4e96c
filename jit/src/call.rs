//! Calls and returns: helper calls, bpf-to-bpf calls, `callx`, `exit`, and the legacy
//! packet loads (a runtime call too).
//!
//! The whole program is one Cranelift function. A bpf-to-bpf call pushes a frame (the
//! index of its return site and r6-r9) on a frame array in the run context (shared by
//! the programs of a run, see `tail.rs`),
//! moves r10 down 512 bytes and jumps to the callee's region; `exit` in a callee pops the
//! frame and dispatches on the return-site index (`br_table`). The depth limit is the
//! interpreter's: at most `MAX_FRAMES` frames, the call that would make the ninth traps.
//! Helpers are called through `runtime::call_helper`, which leaves r1-r5 as they were.
//!
//! `bpf_loop` (a helper answering `HelperError::Loop`) runs here too, as the interpreter
//! does: the callback is called in a new frame that also records the loop's state
//! (count, iteration, callback, context); when the callback returns 0 and iterations
//! remain, `exit` calls it again in the same frame with r6-r9 restored; otherwise the
//! frame pops with r0 = the number of calls. The callback must be a code target (see
//! `cfg.rs`: every function entry and `lddw` code address; any instruction in a program
//! with `callx`). The kernel only accepts callbacks loaded by such an `lddw`, but the
//! interpreter runs any instruction: a computed callback address that is no code target
//! is the one case where this engine differs (it traps `BadCallTarget`).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, JumpTableData, MemFlagsData, Value};
use ebpfvm_isa::{CallTarget, LegacyMode, Reg, Size};
use ebpfvm_vm::{CODE_REGION, FRAME_SIZE, MAX_FRAMES};

use crate::ctx::{off, status};
use crate::runtime;
use crate::translate::Translator;
use crate::JitError;

/// Layout of a saved frame in the frame array (byte offsets).
pub(crate) mod frame {
    /// Index of the return site (`Cfg::return_sites`).
    pub const SITE: i32 = 0;
    /// r6-r9, 8 bytes each.
    pub const SAVED: i32 = 8;
    /// Iterations of a `bpf_loop` frame; 0 for a plain call.
    pub const LOOP_COUNT: i32 = 40;
    /// The iteration running.
    pub const LOOP_I: i32 = 48;
    /// The callback's pc.
    pub const LOOP_CALLBACK: i32 = 56;
    /// r2 of every callback call.
    pub const LOOP_CTX: i32 = 64;
    /// The program that pushed the frame (`RunCtx::current`; see `tail.rs`).
    pub const PROG: i32 = 72;
    /// Bytes per frame.
    pub const BYTES: u32 = 80;
}

impl Translator<'_> {
    /// `call helper`, `call local`, `callx`; kfuncs need the kernel.
    pub(crate) fn translate_call(&mut self, target: CallTarget) -> Result<(), JitError> {
        let next = self.pc + 1;
        match target {
            CallTarget::Helper(id) => {
                let id = self.b.ins().iconst(types::I64, i64::from(id as u32));
                self.call_helper(id, next);
            }
            CallTarget::Local(off) => {
                let target = (self.pc as i64 + 1 + i64::from(off)) as usize;
                self.push_frame(next);
                let block = self.region_block(target);
                self.b.ins().jump(block, &[]);
            }
            CallTarget::Reg(reg) => self.callx(reg, next),
            CallTarget::Kfunc(_) => return Err(self.unsupported("a kernel function call (kfunc)")),
        }
        Ok(())
    }

    /// The index of the return site at `return_pc`.
    fn site_index(&self, return_pc: usize) -> i64 {
        self.cfg
            .return_sites
            .binary_search(&return_pc)
            .expect("every call has a return site") as i64
    }

    /// Calls the helper whose id is `id`, then goes on at `next` (or starts a
    /// `bpf_loop`, or returns the status the runtime reports).
    fn call_helper(&mut self, id: Value, next: usize) {
        let mut args = vec![self.ctx, id];
        for r in 1..=5 {
            args.push(self.reg(Reg::new(r).expect("r1-r5")));
        }
        let pc = self.b.ins().iconst(types::I64, self.pc as i64);
        let rem = self.b.use_var(self.rem);
        args.extend([pc, rem]);
        let f = self
            .b
            .ins()
            .iconst(self.ptr, runtime::call_helper as *const () as usize as i64);
        let call = self.b.ins().call_indirect(self.helper_sig, f, &args);
        let r0 = self.b.inst_results(call)[0];
        let st = self.b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            self.ctx,
            off::CALL_STATUS,
        );
        let cont = self.b.create_block();
        let special = self.helper_special_block();
        let site = if self.cfg.loops {
            self.site_index(next)
        } else {
            0
        };
        let site = self.b.ins().iconst(types::I64, site);
        self.b
            .ins()
            .brif(st, special, &[st.into(), pc.into(), site.into()], cont, &[]);
        self.b.seal_block(cont);

        self.b.switch_to_block(cont);
        self.set_reg(Reg::R0, r0);
        self.forget_checks();
        let block = self.region_block(next);
        self.b.ins().jump(block, &[]);
    }

    /// The call-depth check (trapping at `pc` with `rem`), then a new frame returning to
    /// return site `site`: saves r6-r9 and moves r10 down one frame. Returns the
    /// frame's address.
    fn push_frame_at(&mut self, site: Value, pc: Value, rem: Value) -> Value {
        let depth = self.b.use_var(self.depth);
        let full = self.b.ins().icmp_imm_s(
            IntCC::UnsignedGreaterThanOrEqual,
            depth,
            (MAX_FRAMES - 1) as i64,
        );
        let zero = self.b.ins().iconst(types::I64, 0);
        self.branch_to_trap_at(full, status::CALL_DEPTH, pc, zero, 0, rem);
        let frame = self.frame_addr(depth);
        let f = MemFlagsData::trusted();
        self.b.ins().store(f, site, frame, frame::SITE);
        for (i, r) in (6..=9).enumerate() {
            let v = self.reg(Reg::new(r).expect("r6-r9"));
            self.b.ins().store(f, v, frame, frame::SAVED + 8 * i as i32);
        }
        self.b.ins().store(f, zero, frame, frame::LOOP_COUNT);
        self.b.ins().store(f, self.current, frame, frame::PROG);
        let depth = self.b.ins().iadd_imm_s(depth, 1);
        self.b.def_var(self.depth, depth);
        let fp = self.reg(Reg::FP);
        let fp = self.b.ins().iadd_imm_s(fp, -(FRAME_SIZE as i64));
        self.set_reg(Reg::FP, fp);
        frame
    }

    /// [`push_frame_at`](Self::push_frame_at) for the call being translated.
    fn push_frame(&mut self, return_pc: usize) {
        let site = self.site_index(return_pc);
        let site = self.b.ins().iconst(types::I64, site);
        let pc = self.b.ins().iconst(types::I64, self.pc as i64);
        // Cold path only; Cranelift places the constant where it is used.
        let rem = self.rem_here();
        self.push_frame_at(site, pc, rem);
    }

    /// The host address of frame slot `depth` in the run context's frame array
    /// (`depth < MAX_FRAMES - 1`: the depth check before every push keeps it there).
    fn frame_addr(&mut self, depth: Value) -> Value {
        let offset = self.b.ins().imul_imm_s(depth, i64::from(frame::BYTES));
        let offset = self.b.ins().iadd_imm_s(offset, i64::from(off::FRAMES));
        self.b.ins().iadd(self.ctx, offset)
    }

    /// A `br_table` on the slot index `index32` to the code target there; any other
    /// slot (and any index past the end) goes to `bad`.
    fn dispatch_to_region(&mut self, index32: Value, bad: Block) {
        let table: Vec<_> = (0..self.insns.len())
            .map(|pc| {
                let to = if !self.cfg.code_target[pc] {
                    bad
                } else {
                    self.region_block(pc)
                };
                self.b.func.dfg.block_call(to, &[])
            })
            .collect();
        let default = self.b.func.dfg.block_call(bad, &[]);
        let jt = self
            .b
            .create_jump_table(JumpTableData::new(default, &table));
        self.b.ins().br_table(index32, jt);
    }

    /// Checks that `target` is a code address in the code region and 8-byte aligned
    /// (else traps `BadCallTarget` at `pc` with `rem`); its slot index as an `i32`.
    fn code_index(&mut self, target: Value, pc: Value, rem: Value) -> Value {
        let region = self.b.ins().ushr_imm_s(target, 32);
        let not_code = self
            .b
            .ins()
            .icmp_imm_s(IntCC::NotEqual, region, CODE_REGION as i64);
        self.branch_to_trap_at(not_code, status::BAD_CALL_TARGET, pc, target, 0, rem);
        let offset = self.b.ins().band_imm_s(target, 0xffff_ffff);
        let misaligned = self.b.ins().band_imm_s(offset, 7);
        self.branch_to_trap_at(misaligned, status::BAD_CALL_TARGET, pc, target, 0, rem);
        let index = self.b.ins().ushr_imm_s(offset, 3);
        // offset < 2^32, so the slot index fits in 29 bits.
        self.b.ins().ireduce(types::I32, index)
    }

    /// Fills `bad`: traps `BadCallTarget` for `target` at `pc` with `rem`.
    fn fill_bad_target(&mut self, bad: Block, pc: Value, target: Value, rem: Value) {
        self.b.switch_to_block(bad);
        let code = self
            .b
            .ins()
            .iconst(types::I64, status::BAD_CALL_TARGET as i64);
        let info = self.b.ins().iconst(types::I64, 0);
        let trap = self.trap_block();
        self.b.ins().jump(
            trap,
            &[
                code.into(),
                pc.into(),
                target.into(),
                info.into(),
                rem.into(),
            ],
        );
    }

    /// A `br_table` on the slot index `index32`: to `valid` when it is a code target,
    /// else to `bad`.
    fn validate_index(&mut self, index32: Value, valid: Block, bad: Block) {
        let table: Vec<_> = (0..self.insns.len())
            .map(|pc| {
                let to = if !self.cfg.code_target[pc] {
                    bad
                } else {
                    valid
                };
                self.b.func.dfg.block_call(to, &[])
            })
            .collect();
        let default = self.b.func.dfg.block_call(bad, &[]);
        let jt = self
            .b
            .create_jump_table(JumpTableData::new(default, &table));
        self.b.ins().br_table(index32, jt);
    }

    /// `callx reg`: a helper id (< 2^32) calls that helper, the code address of an
    /// instruction calls the function there, anything else traps.
    fn callx(&mut self, reg: Reg, next: usize) {
        let target = self.reg(reg);
        let region = self.b.ins().ushr_imm_s(target, 32);
        let code = self.b.create_block();
        let helper = self.b.create_block();
        self.b.ins().brif(region, code, &[], helper, &[]);
        self.b.seal_block(code);
        self.b.seal_block(helper);

        self.b.switch_to_block(helper);
        self.call_helper(target, next);

        // In a program with callx every instruction is a code target (see cfg.rs). The depth check comes after
        // the target check, as in the interpreter.
        self.b.switch_to_block(code);
        let pc = self.b.ins().iconst(types::I64, self.pc as i64);
        let rem = self.rem_here();
        let index32 = self.code_index(target, pc, rem);
        let bad = self.b.create_block();
        self.b.set_cold_block(bad);
        let valid = self.b.create_block();
        self.validate_index(index32, valid, bad);
        self.b.seal_block(valid);
        self.b.switch_to_block(valid);
        self.push_frame(next);
        self.dispatch_to_region(index32, bad);
        self.b.seal_block(bad);
        self.fill_bad_target(bad, pc, target, rem);
    }

    /// `exit`: ends the program with r0, or returns from a bpf-to-bpf call.
    pub(crate) fn translate_exit(&mut self) {
        let r0 = self.reg(Reg::R0);
        let rem = self.b.use_var(self.rem);
        let exit = self.exit_block();
        let depth = self.b.use_var(self.depth);
        if !self.cfg.has_frames {
            if !self.nested {
                // Entered at depth 0 with no frames of its own: the depth stays 0.
                self.b.ins().jump(exit, &[r0.into(), rem.into()]);
                return;
            }
            // Frames below are another program's (this one was tail-called from a
            // callee): resume there (see tail.rs).
            let leave = self.leave_block();
            let st = self.b.ins().iconst(types::I64, status::RESUME as i64);
            self.b
                .ins()
                .brif(depth, leave, &[st.into()], exit, &[r0.into(), rem.into()]);
            return;
        }
        let pop = self.pop_block();
        self.b
            .ins()
            .brif(depth, pop, &[], exit, &[r0.into(), rem.into()]);
    }

    /// Goes on after the call whose return site has index `site`.
    fn dispatch_return(&mut self, site: Value) {
        let sites = self.cfg.return_sites.clone();
        let first = self.region_block(sites[0]);
        if sites.len() == 1 {
            self.b.ins().jump(first, &[]);
            return;
        }
        let table: Vec<_> = sites
            .iter()
            .map(|&pc| {
                let block = self.region_block(pc);
                self.b.func.dfg.block_call(block, &[])
            })
            .collect();
        // Frames only hold valid indices; the default is never taken.
        let default = self.b.func.dfg.block_call(first, &[]);
        let jt = self
            .b
            .create_jump_table(JumpTableData::new(default, &table));
        let site = self.b.ins().ireduce(types::I32, site);
        self.b.ins().br_table(site, jt);
    }

    /// Fills the shared `pop` block: `exit` with frames to pop (see the module comment
    /// for `bpf_loop` frames).
    pub(crate) fn fill_pop_block(&mut self, pop: Block) {
        self.b.switch_to_block(pop);
        let depth = self.b.use_var(self.depth);
        let depth = self.b.ins().iadd_imm_s(depth, -1);
        let frame = self.frame_addr(depth);
        self.resume_elsewhere(frame);
        let f = MemFlagsData::trusted();
        let count = self.b.ins().load(types::I64, f, frame, frame::LOOP_COUNT);
        let looping = self.b.create_block();
        let plain = self.b.create_block();
        self.b.ins().brif(count, looping, &[], plain, &[]);
        self.b.seal_block(looping);

        // A bpf_loop callback returned: call it again, or end the loop.
        self.b.switch_to_block(looping);
        let i = self.b.ins().load(types::I64, f, frame, frame::LOOP_I);
        let done = self.b.ins().iadd_imm_s(i, 1);
        let r0 = self.reg(Reg::R0);
        let r0_zero = self.b.ins().icmp_imm_s(IntCC::Equal, r0, 0);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, done, count);
        let again_cond = self.b.ins().band(r0_zero, more);
        let again = self.b.create_block();
        let finish = self.b.create_block();
        self.b.ins().brif(again_cond, again, &[], finish, &[]);
        self.b.seal_block(again);
        self.b.seal_block(finish);

        self.b.switch_to_block(again);
        self.b.ins().store(f, done, frame, frame::LOOP_I);
        let ctx = self.b.ins().load(types::I64, f, frame, frame::LOOP_CTX);
        let zero = self.b.ins().iconst(types::I64, 0);
        for (r, v) in [(1, done), (2, ctx), (3, zero), (4, zero), (5, zero)] {
            self.set_reg(Reg::new(r).expect("r1-r5"), v);
        }
        self.restore_callee_saved(frame);
        let callback = self
            .b
            .ins()
            .load(types::I64, f, frame, frame::LOOP_CALLBACK);
        let callback = self.b.ins().ireduce(types::I32, callback);
        // The callback was validated when the loop started; the default is never taken.
        let first = self.region_block(0);
        self.dispatch_to_region(callback, first);

        self.b.switch_to_block(finish);
        let r0_set = self.b.ins().icmp_imm_s(IntCC::NotEqual, r0, 0);
        let calls = self.b.ins().select(r0_set, done, count);
        self.set_reg(Reg::R0, calls);
        self.b.ins().jump(plain, &[]);
        self.b.seal_block(plain);

        self.b.switch_to_block(plain);
        self.b.def_var(self.depth, depth);
        self.restore_callee_saved(frame);
        let fp = self.reg(Reg::FP);
        let fp = self.b.ins().iadd_imm_s(fp, FRAME_SIZE as i64);
        self.set_reg(Reg::FP, fp);
        let site = self.b.ins().load(types::I64, f, frame, frame::SITE);
        self.dispatch_return(site);
    }

    /// r6-r9 from `frame`.
    fn restore_callee_saved(&mut self, frame: Value) {
        let f = MemFlagsData::trusted();
        for (i, r) in (6..=9).enumerate() {
            let v = self
                .b
                .ins()
                .load(types::I64, f, frame, frame::SAVED + 8 * i as i32);
            self.set_reg(Reg::new(r).expect("r6-r9"), v);
        }
    }

    /// Fills the shared `helper_special(status, pc, site)` block: the helper call at
    /// `pc` (return site `site`) ended the run, or asked for a `bpf_loop`.
    pub(crate) fn fill_helper_special_block(&mut self, block: Block) {
        self.b.switch_to_block(block);
        let p = self.b.block_params(block).to_vec();
        let (st, pc, site) = (p[0], p[1], p[2]);
        let is_loop = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, st, status::LOOP as i64);
        let start = self.b.create_block();
        let other = self.b.create_block();
        self.b.ins().brif(is_loop, start, &[], other, &[]);
        self.b.seal_block(start);
        self.b.seal_block(other);

        // A tail call leaves with the state (see tail.rs); anything else ends the run.
        self.b.switch_to_block(other);
        let is_tail = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, st, status::TAIL_CALL as i64);
        let ret = self.ret_block();
        let leave = self.leave_block();
        self.b
            .ins()
            .brif(is_tail, leave, &[st.into()], ret, &[st.into()]);

        self.b.switch_to_block(start);
        self.forget_checks();
        let f = MemFlagsData::trusted();
        let callback = self.b.ins().load(types::I64, f, self.ctx, off::TRAP_ADDR);
        // The call is counted; a trap uncounts it.
        let rem = self.b.use_var(self.rem);
        let rem = self.b.ins().iadd_imm_s(rem, 1);
        let bad = self.b.create_block();
        self.b.set_cold_block(bad);
        if !self.cfg.loops {
            // No code target exists, so no callback can be valid.
            self.b.ins().jump(bad, &[]);
            self.b.seal_block(bad);
            self.fill_bad_target(bad, pc, callback, rem);
            return;
        }
        let count = self.b.ins().load(types::I64, f, self.ctx, off::TRAP_INFO);
        let loop_ctx = self.b.ins().load(types::I64, f, self.ctx, off::RESULT);
        let index32 = self.code_index(callback, pc, rem);
        let valid = self.b.create_block();
        self.validate_index(index32, valid, bad);
        self.b.seal_block(valid);

        self.b.switch_to_block(valid);
        let none = self.b.create_block();
        let some = self.b.create_block();
        self.b.ins().brif(count, some, &[], none, &[]);
        self.b.seal_block(none);
        self.b.seal_block(some);
        self.b.switch_to_block(none);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.set_reg(Reg::R0, zero);
        self.dispatch_return(site);

        self.b.switch_to_block(some);
        let frame = self.push_frame_at(site, pc, rem);
        self.b.ins().store(f, count, frame, frame::LOOP_COUNT);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().store(f, zero, frame, frame::LOOP_I);
        let index = self.b.ins().uextend(types::I64, index32);
        self.b.ins().store(f, index, frame, frame::LOOP_CALLBACK);
        self.b.ins().store(f, loop_ctx, frame, frame::LOOP_CTX);
        for (r, v) in [(1, zero), (2, loop_ctx), (3, zero), (4, zero), (5, zero)] {
            self.set_reg(Reg::new(r).expect("r1-r5"), v);
        }
        self.dispatch_to_region(index32, bad);
        self.b.seal_block(bad);
        self.fill_bad_target(bad, pc, callback, rem);
    }

    /// `LD_ABS`/`LD_IND`: r0 = the big-endian packet bytes at `base + imm`; out of range
    /// ends the program with r0 = 0 (not a trap), as in the kernel.
    pub(crate) fn translate_legacy(&mut self, size: Size, mode: LegacyMode, imm: i32) {
        let base = match mode {
            LegacyMode::Abs => self.b.ins().iconst(types::I64, 0),
            LegacyMode::Ind(r) => self.reg(r),
        };
        let addr = self.b.ins().iadd_imm_s(base, i64::from(imm));
        let size = self.b.ins().iconst(types::I64, i64::from(size.bytes()));
        let f = self
            .b
            .ins()
            .iconst(self.ptr, runtime::legacy_load as *const () as usize as i64);
        let call = self
            .b
            .ins()
            .call_indirect(self.legacy_sig, f, &[self.ctx, addr, size]);
        let v = self.b.inst_results(call)[0];
        let out = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, v, runtime::LEGACY_OUT_OF_RANGE as i64);
        let rem = self.b.use_var(self.rem);
        let zero = self.b.ins().iconst(types::I64, 0);
        let exit = self.exit_block();
        let cont = self.b.create_block();
        self.b
            .ins()
            .brif(out, exit, &[zero.into(), rem.into()], cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
        self.set_reg(Reg::R0, v);
        let next = self.region_block(self.pc + 1);
        self.b.ins().jump(next, &[]);
    }
}
