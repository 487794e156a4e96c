//! The translator: one Cranelift function for the whole program.
//!
//! Setup (`translate`): the function takes the run context's address and returns a
//! status (`ctx::status`). eBPF registers r0-r10 are Cranelift `Variable`s, so they live
//! in host registers across the program; so do the remaining budget (`rem`) and the call
//! depth. Each region (`cfg.rs`) gets an entry block; the
//! instructions go through one dispatch (`translate_insn`) to a small `translate_*` per
//! family (`alu.rs`, `jump.rs`, `mem.rs`, `call.rs`; memory checks in `bounds.rs`).
//!
//! # Counting, exactly as the interpreter
//!
//! The interpreter counts every instruction it starts and, with a budget of N, traps
//! before the (N+1)-th. Here `rem` is the budget left (`u64::MAX` without a budget), and
//! `insns = budget - rem` whenever the run stops. A region of `c` instructions reads
//! `rem0 = rem` at its entry; instruction `k` of the region may start only if
//! `k < rem0`. The only instructions with effects before the region's last one are
//! memory accesses (everything else that can end the run or leave the region is the
//! last instruction; registers are not observable after a trap), so:
//!
//! - each memory access `k < c - 1` tests `rem0 <= k` in the same branch as its bounds
//!   check (an `or` of the two conditions; `run` tells them apart from the access's pc
//!   and `rem0`, budget first; an unchecked stack access has a branch of its own): the
//!   budget trap is at instruction `j = rem0` of the region (its pc is found by `run`,
//!   which walks `j` instructions from the region's start), with `insns = budget`;
//! - before the last instruction, one test `rem0 <= c - 1` covers it, then
//!   `rem = rem0 - c`.
//!
//! A stop at instruction `k` (a fault, which is not counted) reports `rem0 - k`. The
//! cost is one compare and one subtraction per region and an `icmp` and `or` per memory
//! access.
//!
//! Those tests are only needed when a run has a budget. Without one, `rem` starts at
//! `u64::MAX`, and no run can execute that many instructions, so no test could ever
//! succeed. Each program is therefore compiled twice: an *unbudgeted* variant (only
//! the subtraction per region, which keeps `insns` exact) for runs without a budget,
//! and, on the first run with a budget, the *budgeted* variant with every test
//! (`JitProgram::entry`). Both come from this one translator (`Shape::budgeted`), so
//! they differ only in those tests.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block, Function, InstBuilder, MemFlagsData, SigRef, Signature, Type, Value,
};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use ebpfvm_isa::{Insn, Reg};

use crate::bounds::Checked;
use crate::cfg::{ends_region, Cfg, Region};
use crate::ctx::{off, status};
use crate::loops::LoopCheck;
use crate::{JitError, Shape, Tier};

/// Translation state of one program.
pub(crate) struct Translator<'a> {
    /// The function being built.
    pub b: FunctionBuilder<'a>,
    /// The program, one instruction per slot.
    pub insns: &'a [Insn],
    /// Regions and call sites.
    pub cfg: &'a Cfg,
    /// The host pointer type.
    pub ptr: Type,
    /// r0-r10.
    pub regs: [Variable; 11],
    /// Budget left (see the module comment).
    pub rem: Variable,
    /// Active bpf-to-bpf frames beyond the main one (0..MAX_FRAMES).
    pub depth: Variable,
    /// The run context's address (the function's parameter).
    pub ctx: Value,
    /// Host address of the stack region's first byte.
    pub stack_host: Value,
    /// `RunCtx::current`: the program running, as frames record it.
    pub current: Value,
    /// Signature of `runtime::call_helper`.
    pub helper_sig: SigRef,
    /// Signature of `runtime::legacy_load`.
    pub legacy_sig: SigRef,
    /// Signature of `bounds::walk_call`: `legacy_sig` and one more `i64`.
    pub walk_sig: SigRef,
    /// Whether memory checks are calls of `bounds::walk_call` (the quick tier,
    /// `variant.rs`).
    pub walk_calls: bool,
    /// Whether the function runs at call depth 0 throughout, so r10 is `STACK_TOP`
    /// (`bounds.rs`, "The stack fast path").
    pub depth_zero: bool,
    /// Whether the unlikely side of a conditional jump goes through a block of its own
    /// (the optimized tier; see `jump.rs`).
    pub stub_unlikely: bool,

    /// Entry block of each region.
    entries: Vec<Block>,
    /// `ret(status)`: returns `status`.
    ret: Option<Block>,
    /// `exit(r0, rem)`: the program ended.
    exit: Option<Block>,
    /// `trap(code, pc, addr, info, rem)`: a trap (see `ctx::status`).
    trap: Option<Block>,
    /// `memory_trap(pc, addr, rem0)`: see `status::MEMORY`.
    memory_trap: Option<Block>,
    /// `memory_return`: returns `status::MEMORY`, which `bounds::walk_call` recorded.
    memory_return: Option<Block>,
    /// `budget_trap(region start, rem0)`: see `status::BUDGET`.
    budget_trap: Option<Block>,
    /// `exit` with frames to pop.
    pop: Option<Block>,
    /// `leave(status)`: saves the state for the next program (`tail.rs`).
    pub leave: Option<Block>,
    /// `helper_special(status, pc, site)`: a helper call did not just return.
    helper_special: Option<Block>,
    /// For each register last set by a 32-bit operation: its 64-bit value and the
    /// 32-bit value it zero-extends (see `reg32`).
    low32: [Option<(Value, Value)>; 11],
    /// What passed memory checks proved through each register in the current region
    /// (`bounds.rs`, invariants 4 and 5).
    pub checked: [Option<Checked>; 11],
    /// The pc of the instruction being translated.
    pub pc: usize,
    /// The current region's first pc and its body block, when it is a loop region with
    /// a preheader (`loops.rs`): its back edge goes to the body.
    loop_body: Option<(usize, Block)>,
    /// The loop checks of the current region's accesses (`loops.rs`).
    pub loop_checks: Vec<LoopCheck>,
    /// For each access whose loop check failed: its pc, its index in the region, and the
    /// block of the cold copy of the rest of the region from it (`loops.rs`).
    pub deopts: Vec<(usize, u32, Block)>,
    /// Its index in its region.
    pub k: u32,
    /// `rem` at the entry of the current region.
    pub rem0: Value,
    /// The current region's first pc and instruction count.
    region_start: usize,
    /// See `region_start`.
    count: u32,
    /// Whether this variant tests the budget (see "Counting").
    budgeted: bool,
    /// Whether this variant may run with frames of another program below it
    /// (`JitProgram`, `tail.rs`).
    pub nested: bool,
    /// The target, for `FunctionBuilder::finalize`.
    config: TargetFrontendConfig,
}

/// Builds the function for `insns` into `func`.
pub(crate) fn translate(
    insns: &[Insn],
    shape: Shape,
    tier: Tier,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    config: TargetFrontendConfig,
) -> Result<Cfg, JitError> {
    let ptr = config.pointer_type();
    let call_conv = config.default_call_conv;
    let cfg = Cfg::new(insns);
    let mut b = FunctionBuilder::new(func, fctx);
    let i64t = types::I64;
    let mut helper_sig = Signature::new(call_conv);
    helper_sig.params.push(AbiParam::new(ptr));
    helper_sig
        .params
        .extend(std::iter::repeat_n(AbiParam::new(i64t), 8));
    helper_sig.returns.push(AbiParam::new(i64t));
    let helper_sig = b.import_signature(helper_sig);
    let mut legacy_sig = Signature::new(call_conv);
    legacy_sig.params.push(AbiParam::new(ptr));
    legacy_sig.params.push(AbiParam::new(i64t));
    legacy_sig.params.push(AbiParam::new(i64t));
    legacy_sig.returns.push(AbiParam::new(i64t));
    let mut walk_sig = legacy_sig.clone();
    walk_sig.params.push(AbiParam::new(i64t));
    let walk_sig = b.import_signature(walk_sig);
    let legacy_sig = b.import_signature(legacy_sig);

    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let ctx = b.block_params(entry)[0];
    let regs: [Variable; 11] = std::array::from_fn(|_| b.declare_var(i64t));
    let rem = b.declare_var(i64t);
    let depth = b.declare_var(i64t);
    let f = MemFlagsData::trusted();
    // Compiled code never stores to the entry fields of the registers and the depth
    // (it leaves its state in `saved`, `ctx.rs`), nor to the stack address or the
    // program running: those loads are read-only, so Cranelift drops the unused ones
    // and may place the others at their first use. `rem` is stored at every end.
    let fixed = f.with_readonly().with_can_move();
    let v = b.ins().load(i64t, f, ctx, off::REM);
    b.def_var(rem, v);
    let stack_host = b.ins().load(ptr, fixed, ctx, off::STACK_HOST);
    let current = b.ins().load(i64t, fixed, ctx, off::CURRENT);
    for (i, &r) in regs.iter().enumerate() {
        let v = b.ins().load(i64t, fixed, ctx, off::REGS + 8 * i as i32);
        b.def_var(r, v);
    }
    let v = b.ins().load(i64t, fixed, ctx, off::DEPTH);
    b.def_var(depth, v);
    let zero = b.ins().iconst(i64t, 0);
    let entries: Vec<Block> = cfg.regions.iter().map(|_| b.create_block()).collect();

    let mut t = Translator {
        b,
        insns,
        cfg: &cfg,
        ptr,
        regs,
        rem,
        depth,
        ctx,
        stack_host,
        current,
        helper_sig,
        legacy_sig,
        walk_sig,
        walk_calls: tier == Tier::Quick,
        depth_zero: !shape.nested && !cfg.has_frames,
        stub_unlikely: tier == Tier::Optimized,
        entries,
        ret: None,
        exit: None,
        trap: None,
        memory_trap: None,
        memory_return: None,
        budget_trap: None,
        pop: None,
        leave: None,
        helper_special: None,
        low32: [None; 11],
        checked: [None; 11],
        pc: 0,
        loop_body: None,
        loop_checks: Vec::new(),
        deopts: Vec::new(),
        k: 0,
        rem0: zero,
        region_start: 0,
        count: 0,
        budgeted: shape.budgeted,
        nested: shape.nested,
        config,
    };
    t.enter();
    for r in 0..cfg.regions.len() {
        t.translate_region(r)?;
    }
    t.finish();
    Ok(cfg)
}

impl<'a> Translator<'a> {
    /// Emits region `r` (see the module comment for the budget checks).
    fn translate_region(&mut self, r: usize) -> Result<(), JitError> {
        let region = self.cfg.regions[r];
        let count = region.count;
        self.b.switch_to_block(self.entries[r]);
        // The optimized tier checks a loop's buffer accesses once per entry (`loops.rs`):
        // the entry block is the preheader, the body a block of its own.
        self.loop_body = None;
        self.loop_checks = if self.walk_calls {
            Vec::new()
        } else {
            self.loop_preheader(region)
        };
        if !self.loop_checks.is_empty() {
            let body = self.b.create_block();
            self.b.ins().jump(body, &[]);
            self.b.switch_to_block(body);
            self.loop_body = Some((region.start, body));
        }
        self.rem0 = self.b.use_var(self.rem);
        self.region_start = region.start;
        self.count = count;
        self.translate_span(region, region.start, 0)?;
        // The cold copies of the rest of the region after a failed loop check: full
        // checks, and the back edge through the preheader.
        self.loop_checks.clear();
        self.loop_body = None;
        while let Some((pc, k, block)) = self.deopts.pop() {
            self.b.switch_to_block(block);
            self.translate_span(region, pc, k)?;
        }
        Ok(())
    }

    /// Translates the instructions of `region` from `pc`, its `k`-th, to its end, in
    /// the current block: the whole region, or a cold copy of its rest (`loops.rs`).
    fn translate_span(
        &mut self,
        region: Region,
        mut pc: usize,
        mut k: u32,
    ) -> Result<(), JitError> {
        let count = region.count;
        // Facts from other regions do not hold here (they may not dominate it), nor
        // those of the accesses before `pc` in the copy of a region's rest.
        self.checked = [None; 11];
        let insns = self.insns;
        let mut last = &Insn::Exit;
        while pc < region.end {
            let insn = &insns[pc];
            self.pc = pc;
            self.k = k;
            if k + 1 == count {
                if self.budgeted {
                    // The last instruction runs only if the budget allows all of them.
                    let cut = self.b.ins().icmp_imm_s(
                        IntCC::UnsignedLessThanOrEqual,
                        self.rem0,
                        i64::from(k),
                    );
                    self.branch_to_budget_trap(cut);
                }
                let rem = self.b.ins().iadd_imm_s(self.rem0, -i64::from(count));
                self.b.def_var(self.rem, rem);
            }
            self.translate_insn(insn)?;
            last = insn;
            pc += insn.slots();
            k += 1;
        }
        if !ends_region(last) {
            // Validation makes the last instruction of a program `exit` or `ja`, so a
            // region that falls through has a successor.
            let next = self.region_block(region.end);
            self.b.ins().jump(next, &[]);
        }
        Ok(())
    }

    /// Whether the current instruction needs its own budget test: a memory access
    /// before the region's last instruction (which the region-end test covers).
    pub(crate) fn needs_budget_test(&self) -> bool {
        self.budgeted && self.k + 1 < self.count
    }

    /// `rem0 <= k`: the budget ends before the current instruction.
    pub(crate) fn budget_cut(&mut self) -> Value {
        self.b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, self.rem0, i64::from(self.k))
    }

    /// Traps `BudgetExhausted` when `cut` holds: `rem0` instructions of the region ran.
    pub(crate) fn branch_to_budget_trap(&mut self, cut: Value) {
        let cont = self.cold_branch(cut);
        let start = self.b.ins().iconst(types::I64, self.region_start as i64);
        let trap = self.budget_trap_block();
        self.b.ins().jump(trap, &[start.into(), self.rem0.into()]);
        self.b.switch_to_block(cont);
    }

    /// The dispatch over instruction families.
    fn translate_insn(&mut self, insn: &Insn) -> Result<(), JitError> {
        let pc = self.pc;
        match *insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.translate_alu(width, op, dst, src),
            Insn::Neg { width, dst } => self.translate_neg(width, dst),
            Insn::Endian { order, width, dst } => self.translate_endian(order, width, dst),
            Insn::LoadImm64 { dst, imm } => self.translate_lddw(dst, imm)?,
            Insn::Imm64Tail => {}
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => self.translate_load(size, sign_extend, dst, src, off),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => self.translate_store(size, dst, off, src),
            Insn::Atomic {
                width,
                op,
                dst,
                src,
                off,
            } => self.translate_atomic(width, op, dst, src, off),
            Insn::LegacyLoad { size, mode, imm } => self.translate_legacy(size, mode, imm),
            Insn::Ja { off, .. } => self.translate_ja(target(pc, off)),
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            } => self.translate_jump(width, cond, dst, src, target(pc, i32::from(off)), pc + 1),
            Insn::Call(t) => self.translate_call(t)?,
            Insn::Exit => self.translate_exit(),
        }
        Ok(())
    }

    /// The current value of `r`.
    pub(crate) fn reg(&mut self, r: Reg) -> Value {
        self.b.use_var(self.regs[r.index()])
    }

    /// The low 32 bits of `r`. When `r` holds the zero extension a 32-bit operation
    /// made (`set_reg32`), that operation's own 32-bit value: no `ireduce`, which the
    /// quick tier would compile as an instruction of its own. The 64-bit value is an
    /// SSA value, so the match is exact, and the 32-bit value is defined just before
    /// it, so it is available wherever the 64-bit one is.
    pub(crate) fn reg32(&mut self, r: Reg) -> Value {
        let full = self.reg(r);
        match self.low32[r.index()] {
            Some((wide, low)) if wide == full => low,
            _ => self.b.ins().ireduce(types::I32, full),
        }
    }

    /// Sets `r` to the zero extension of the 32-bit `low`.
    pub(crate) fn set_reg32(&mut self, r: Reg, low: Value) {
        let full = self.b.ins().uextend(types::I64, low);
        self.set_reg(r, full);
        self.low32[r.index()] = Some((full, low));
    }

    /// Sets `r` (never r10 from a guest instruction: validation refuses writes to it).
    /// Forgets what memory checks proved through `r`.
    pub(crate) fn set_reg(&mut self, r: Reg, v: Value) {
        self.checked[r.index()] = None;
        self.b.def_var(self.regs[r.index()], v);
    }

    /// The entry block of the region starting at `pc`.
    pub(crate) fn region_block(&self, pc: usize) -> Block {
        if let Some((start, body)) = self.loop_body {
            if start == pc {
                return body;
            }
        }
        let r = self.cfg.region_at[pc];
        debug_assert_ne!(r, crate::cfg::NONE, "pc {pc} starts no region");
        self.entries[r as usize]
    }

    /// The error for an instruction this engine cannot run.
    pub(crate) fn unsupported(&self, what: &'static str) -> JitError {
        JitError::Unsupported { pc: self.pc, what }
    }

    /// `rem` for a stop at the current instruction, which is not counted.
    pub(crate) fn rem_here(&mut self) -> Value {
        self.b.ins().iadd_imm_s(self.rem0, -i64::from(self.k))
    }

    /// Forgets what memory checks proved, after a call that may have changed regions.
    pub(crate) fn forget_checks(&mut self) {
        // Regions end at calls, so this is only a precaution.
        self.checked = [None; 11];
    }

    /// Leaves for the shared memory-trap block when `fails` holds or, unless the region
    /// end's test covers this instruction, when the budget ends before it; continues in
    /// a fresh block otherwise. `run` tells the two apart.
    pub(crate) fn branch_to_memory_trap(&mut self, fails: Value, addr: Value) {
        let cond = if self.needs_budget_test() {
            let cut = self.budget_cut();
            self.b.ins().bor(fails, cut)
        } else {
            fails
        };
        let cont = self.cold_branch(cond);
        let pc = self.b.ins().iconst(types::I64, self.pc as i64);
        let trap = self.memory_trap_block();
        self.b
            .ins()
            .jump(trap, &[pc.into(), addr.into(), self.rem0.into()]);
        self.b.switch_to_block(cont);
    }

    /// Leaves for the shared `memory_return` block when `host` is 0 (a failed
    /// `bounds::walk_call`, which recorded the trap); continues in a fresh block
    /// otherwise. One branch and no block of its own per check: the quick tier's
    /// compile time goes mostly into blocks.
    pub(crate) fn branch_to_memory_return(&mut self, host: Value) {
        let leave = *self.memory_return.get_or_insert_with(|| {
            let block = self.b.create_block();
            self.b.set_cold_block(block);
            block
        });
        let cont = self.b.create_block();
        self.b.ins().brif(host, cont, &[], leave, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// Ends the run with trap `code` at `pc` (`addr`, `info` and `rem` as `RunCtx`
    /// describes) when `cond` holds; continues in a fresh block otherwise.
    pub(crate) fn branch_to_trap_at(
        &mut self,
        cond: Value,
        code: u64,
        pc: Value,
        addr: Value,
        info: u64,
        rem: Value,
    ) {
        let site = self.cold_branch(cond);
        self.finish_trap_site(site, code, pc, addr, info, rem);
    }

    /// Branches to a new cold block when `cond` holds and stays there; returns the
    /// block to continue in otherwise.
    pub(crate) fn cold_branch(&mut self, cond: Value) -> Block {
        let (site, cont) = self.cold_split(cond);
        self.b.switch_to_block(site);
        cont
    }

    /// Ends the current block with a branch to a new cold block when `cond` holds and
    /// to a new block otherwise, both sealed (each has this one predecessor); returns
    /// them, cold first, and stays in the ended block.
    pub(crate) fn cold_split(&mut self, cond: Value) -> (Block, Block) {
        let site = self.b.create_block();
        self.b.set_cold_block(site);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, site, &[], cont, &[]);
        self.b.seal_block(site);
        self.b.seal_block(cont);
        (site, cont)
    }

    /// Ends a trap site (the current block) and switches to `cont`.
    fn finish_trap_site(
        &mut self,
        cont: Block,
        code: u64,
        pc: Value,
        addr: Value,
        info: u64,
        rem: Value,
    ) {
        let trap = self.trap_block();
        let code = self.b.ins().iconst(types::I64, code as i64);
        let info = self.b.ins().iconst(types::I64, info as i64);
        self.b.ins().jump(
            trap,
            &[code.into(), pc.into(), addr.into(), info.into(), rem.into()],
        );
        self.b.switch_to_block(cont);
    }

    /// The shared `pop` block (filled by `finish`).
    pub(crate) fn pop_block(&mut self) -> Block {
        *self.pop.get_or_insert_with(|| self.b.create_block())
    }

    /// The shared `ret(status)` block.
    pub(crate) fn ret_block(&mut self) -> Block {
        Self::shared_block(&mut self.b, &mut self.ret, 1)
    }

    /// The shared `exit(r0, rem)` block: the program ended normally.
    pub(crate) fn exit_block(&mut self) -> Block {
        *self.exit.get_or_insert_with(|| {
            let block = self.b.create_block();
            self.b.append_block_param(block, types::I64);
            self.b.append_block_param(block, types::I64);
            block
        })
    }

    /// The shared `trap(code, pc, addr, info, rem)` block.
    pub(crate) fn trap_block(&mut self) -> Block {
        Self::shared_block(&mut self.b, &mut self.trap, 5)
    }

    /// The shared `helper_special(status, pc, site)` block (filled by `finish`).
    pub(crate) fn helper_special_block(&mut self) -> Block {
        Self::shared_block(&mut self.b, &mut self.helper_special, 3)
    }

    /// A shared cold block with `n` i64 parameters, created once in `slot`.
    fn shared_block(b: &mut FunctionBuilder<'_>, slot: &mut Option<Block>, n: usize) -> Block {
        *slot.get_or_insert_with(|| {
            let block = b.create_block();
            b.set_cold_block(block);
            for _ in 0..n {
                b.append_block_param(block, types::I64);
            }
            block
        })
    }

    /// The shared `memory_trap(pc, addr, rem0)` block.
    fn memory_trap_block(&mut self) -> Block {
        Self::shared_block(&mut self.b, &mut self.memory_trap, 3)
    }

    /// The shared `budget_trap(start, rem0)` block.
    fn budget_trap_block(&mut self) -> Block {
        Self::shared_block(&mut self.b, &mut self.budget_trap, 2)
    }

    /// Emits the shared blocks that were used, and finishes the function.
    fn finish(mut self) {
        // These two may use the ones below, so they come first.
        if let Some(block) = self.pop {
            self.fill_pop_block(block);
        }
        if let Some(block) = self.helper_special {
            self.fill_helper_special_block(block);
        }
        if let Some(block) = self.leave {
            self.fill_leave_block(block);
        }
        let f = MemFlagsData::trusted();
        if let Some(block) = self.exit {
            self.b.switch_to_block(block);
            let p = self.b.block_params(block).to_vec();
            self.b.ins().store(f, p[0], self.ctx, off::RESULT);
            self.b.ins().store(f, p[1], self.ctx, off::REM);
            let code = self.b.ins().iconst(types::I64, status::EXIT as i64);
            self.b.ins().return_(&[code]);
        }
        if let Some(block) = self.trap {
            self.b.switch_to_block(block);
            let p = self.b.block_params(block).to_vec();
            self.b.ins().store(f, p[1], self.ctx, off::TRAP_PC);
            self.b.ins().store(f, p[2], self.ctx, off::TRAP_ADDR);
            self.b.ins().store(f, p[3], self.ctx, off::TRAP_INFO);
            self.b.ins().store(f, p[4], self.ctx, off::REM);
            self.b.ins().return_(&[p[0]]);
        }
        for (block, code, fields) in [
            (
                self.memory_trap,
                status::MEMORY,
                &[off::TRAP_PC, off::TRAP_ADDR, off::TRAP_INFO][..],
            ),
            (
                self.budget_trap,
                status::BUDGET,
                &[off::TRAP_PC, off::TRAP_INFO][..],
            ),
        ] {
            let Some(block) = block else { continue };
            self.b.switch_to_block(block);
            let p = self.b.block_params(block).to_vec();
            for (&v, &field) in p.iter().zip(fields) {
                self.b.ins().store(f, v, self.ctx, field);
            }
            let code = self.b.ins().iconst(types::I64, code as i64);
            self.b.ins().return_(&[code]);
        }
        if let Some(block) = self.memory_return {
            self.b.switch_to_block(block);
            let code = self.b.ins().iconst(types::I64, status::MEMORY as i64);
            self.b.ins().return_(&[code]);
        }
        if let Some(block) = self.ret {
            self.b.switch_to_block(block);
            let status = self.b.block_params(block)[0];
            self.b.ins().return_(&[status]);
        }
        self.b.seal_all_blocks();
        self.b.finalize(self.config);
    }
}

/// The slot `pc + 1 + off`.
fn target(pc: usize, off: i32) -> usize {
    // Validation guarantees 0 <= pc + 1 + off < len.
    (pc as i64 + 1 + i64::from(off)) as usize
}
