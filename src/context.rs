//! Typed programs: a program loaded for a kernel program type has its context accesses
//! checked and rewritten at load ([`ctx::rewrite`]) and runs over a context built from a
//! packet ([`ctx::PacketContext`]), with r1 pointing to the context's backing model and
//! `data`/`data_end`/`data_meta` pointing into the packet region.

use crate::ctx::{self, AttachType, PacketContext, PointerContext, ProgramType};
use crate::elf::Object;
use crate::isa::{CallTarget, Insn};
use crate::vm::{self, MemoryMap, RegionKind};
use crate::{too_large, Error, Outcome, Program, Select, Vm};

impl Vm {
    /// Prepares `program` as a program of type `ty`: its context accesses are checked
    /// against the type's rules and rewritten onto the backing model, as the kernel's
    /// verifier does at load.
    pub fn with_type(program: Program, ty: ProgramType) -> Result<Vm, Error> {
        Vm::typed(program, ty, None, ctx::regs::Arch::default())
    }

    /// [`Vm::with_type`] for a program attached at `at` (its type is the attach point's):
    /// the access rules and the meaning of the return value follow the attach point, as
    /// the kernel's follow a program's expected attach type.
    pub fn with_attach(program: Program, at: AttachType) -> Result<Vm, Error> {
        Vm::typed(
            program,
            at.prog_type(),
            Some(at),
            ctx::regs::Arch::default(),
        )
    }

    /// [`Vm::with_type`] with the rules of a kernel built for `arch` (a kprobe's
    /// `struct pt_regs` is 168 bytes on x86_64, 336 on arm64).
    pub fn with_type_for(
        program: Program,
        ty: ProgramType,
        arch: ctx::regs::Arch,
    ) -> Result<Vm, Error> {
        Vm::typed(program, ty, None, arch)
    }

    /// The constructor the others share: `program` of type `ty`, attached at `at`
    /// (`None`, or a point of another type: the type's default), its context checked
    /// with the rules of a kernel built for `arch` ([`ctx::rewrite_with`]).
    pub fn typed(
        program: Program,
        ty: ProgramType,
        at: Option<AttachType>,
        arch: ctx::regs::Arch,
    ) -> Result<Vm, Error> {
        let rewritten = ctx::rewrite_with(&program, ty, at, arch)?;
        let mut vm = Vm::new(rewritten)?;
        vm.prog_type = Some(ty);
        vm.attach = at.or(AttachType::default_for(ty));
        vm::kernel_helpers::register(&mut vm.helpers, &vm.kernel);
        crate::packet_helpers::register(&mut vm.helpers, ty, &vm.redirect);
        crate::packet_helpers::register_socket(&mut vm.helpers, ty, &vm.socket);
        if ty == ProgramType::LircMode2 {
            crate::lirc_helpers::register(&mut vm.helpers, &vm.rc_calls);
        }
        vm.check_helpers()?;
        Ok(vm)
    }

    /// Refuses a program that calls a helper its type may call but this model does not
    /// implement yet (rather than trapping when the call runs).
    fn check_helpers(&self) -> Result<(), Error> {
        for (pc, insn) in self.program.insns().iter().enumerate() {
            if let Insn::Call(CallTarget::Helper(id)) = *insn {
                if !self.helpers.contains(id as u64) {
                    let name = ctx::helpers::name(id as u32).unwrap_or("unknown");
                    return Err(Error::Context(ctx::RewriteError {
                        pc,
                        message: format!("helper bpf_{name}#{id} is not supported yet"),
                        unsupported: true,
                    }));
                }
            }
        }
        Ok(())
    }

    /// [`Vm::from_object`] for a program of type `ty` (its section's type when `None`):
    /// every program of the object with a modelled context (the entry as `ty`, the
    /// others, reachable by tail calls, as their sections say) is checked and rewritten
    /// first. A type without a modelled context loads the object unchanged.
    pub fn from_object_typed(
        object: &Object,
        select: Select<'_>,
        cpus: u32,
        ty: Option<ProgramType>,
    ) -> Result<Vm, Error> {
        Vm::from_object_at(object, select, cpus, ty, None)
    }

    /// [`Vm::from_object_typed`] attached at `at` (when `None`: the attach point the
    /// entry's section names, `cgroup/connect6`, else the type's default).
    pub fn from_object_at(
        object: &Object,
        select: Select<'_>,
        cpus: u32,
        ty: Option<ProgramType>,
        at: Option<AttachType>,
    ) -> Result<Vm, Error> {
        let mut object = object.clone();
        let entry = crate::object::choose(&object, select)?;
        let ty = at
            .map(|a| a.prog_type())
            .or(ty)
            .or(object.programs[entry].prog_type);
        let section_at = |section: &str, t: Option<ProgramType>| {
            AttachType::from_section(section).filter(|a| Some(a.prog_type()) == t)
        };
        let entry_at = at.or_else(|| section_at(&object.programs[entry].section, ty));
        for (i, spec) in object.programs.iter_mut().enumerate() {
            // The other programs (tail-call targets, or unrelated ones this run never
            // reaches) as their own sections say.
            let (own, own_at) = if i == entry {
                (ty, entry_at)
            } else {
                (spec.prog_type, section_at(&spec.section, spec.prog_type))
            };
            if let Some(t) = own.filter(|&t| typed_in_objects(t)) {
                spec.program = ctx::rewrite_at(&spec.program, t, own_at)?;
            }
        }
        let name = object.programs[entry].name.clone();
        let mut vm = Vm::from_object(&object, Select::Program(&name), cpus)?;
        vm.prog_type = ty.filter(|&t| typed_in_objects(t));
        vm.attach = vm
            .prog_type
            .and_then(|t| entry_at.or(AttachType::default_for(t)));
        if let Some(t) = vm.prog_type {
            crate::packet_helpers::register(&mut vm.helpers, t, &vm.redirect);
            crate::packet_helpers::register_socket(&mut vm.helpers, t, &vm.socket);
            vm.check_helpers()?;
        }
        Ok(vm)
    }

    /// The target of the last successful `bpf_redirect` or `bpf_redirect_map` of the
    /// last [`Vm::run_packet`], if the program called one.
    pub fn last_redirect(&self) -> Option<crate::Redirect> {
        self.redirect
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the socket the socket helpers describe (`bpf_get_socket_cookie`,
    /// `bpf_get_socket_uid`, `bpf_skb_cgroup_id`, `bpf_skb_ancestor_cgroup_id`,
    /// `bpf_get_cgroup_classid`) for the runs that follow; default [`SocketInfo`].
    ///
    /// [`SocketInfo`]: crate::SocketInfo
    pub fn set_socket(&mut self, info: crate::SocketInfo) -> &mut Vm {
        *self.socket.lock().unwrap_or_else(|e| e.into_inner()) = info;
        self
    }

    /// The socket the socket helpers describe.
    pub fn socket(&self) -> crate::SocketInfo {
        self.socket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The `bpf_rc_keydown`, `bpf_rc_repeat` and `bpf_rc_pointer_rel` calls of the last
    /// [`Vm::run_context`] of a `lirc_mode2` program, in order (taken: a second call
    /// returns none).
    pub fn take_rc_calls(&self) -> Vec<crate::RcCall> {
        std::mem::take(&mut *self.rc_calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The program type given to [`Vm::with_type`].
    pub fn prog_type(&self) -> Option<ProgramType> {
        self.prog_type
    }

    /// The attach point of a typed program whose type has several.
    pub fn attach_type(&self) -> Option<AttachType> {
        self.attach
    }

    /// Runs the program once with r1 pointing to `context`, the bytes of a context that
    /// is its own backing model (a kprobe's `pt_regs`).
    pub fn run_context(&mut self, context: &mut [u8]) -> Outcome {
        self.clear_stack();
        *self.redirect.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.take_rc_calls();
        let len = context.len() as u64;
        let mut map = MemoryMap::with_maps(&mut self.stack, &self.maps);
        let Some(ctx) = map.map_mut(RegionKind::Context, context) else {
            return too_large(len);
        };
        let args = [ctx, 0, 0, 0, 0];
        crate::execute!(self, args, map)
    }

    /// Runs the program once over `context`, whose pointer fields reach its data (a
    /// region of its own, read-only unless the type may write it) and its socket (a
    /// read-only region); the context and data after the run are
    /// [`PointerContext::ctx_out`] and [`PointerContext::data`].
    pub fn run_pointers(&mut self, context: &mut PointerContext) -> Outcome {
        self.clear_stack();
        *self.redirect.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let regions = context.regions();
        let mut map = MemoryMap::with_maps(&mut self.stack, &self.maps);
        let len = regions.data_len;
        let data = map.map_window(
            RegionKind::Packet,
            regions.data,
            0,
            len,
            regions.data_writable,
        );
        let sock = map.map_ro(RegionKind::ReadOnly, regions.sock);
        let (Some(data), Some(sock)) = (data, sock) else {
            return too_large(len as u64);
        };
        let mut put = |at: usize, addr: u64| {
            regions.ctx[at..at + 8].copy_from_slice(&addr.to_le_bytes());
        };
        if let Some((start, end)) = regions.data_fields {
            put(start, data);
            put(end, data + len as u64);
        }
        for &at in regions.sock_fields {
            put(at, sock);
        }
        let Some(ctx) = map.map_mut(RegionKind::Context, regions.ctx) else {
            return too_large(0);
        };
        let args = [ctx, 0, 0, 0, 0];
        crate::execute!(self, args, map)
    }

    /// Runs the program once over `context` (built for the same program type); the
    /// packet after the run is [`PacketContext::packet_out`].
    pub fn run_packet(&mut self, context: &mut PacketContext) -> Outcome {
        self.clear_stack();
        *self.redirect.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let regions = context.regions();
        let mut map = MemoryMap::with_maps(&mut self.stack, &self.maps);
        let frame_len = regions.frame.len() as u64;
        let (start, end) = regions.window;
        let packet = map.map_window(
            RegionKind::Packet,
            regions.frame,
            start,
            end,
            regions.packet_writable,
        );
        let Some(packet) = packet else {
            return too_large(frame_len);
        };
        for (slot, offset) in regions.pointers {
            let addr = packet + offset as u64;
            regions.ctx[slot..slot + 8].copy_from_slice(&addr.to_le_bytes());
        }
        if let Some((keys, at)) = regions.flow_keys {
            let Some(addr) = map.map_mut(RegionKind::Context, keys) else {
                return too_large(0);
            };
            regions.ctx[at..at + 8].copy_from_slice(&addr.to_le_bytes());
        }
        if let Some((sock, at)) = regions.sock {
            let Some(addr) = map.map_ro(RegionKind::ReadOnly, sock) else {
                return too_large(0);
            };
            regions.ctx[at..at + 8].copy_from_slice(&addr.to_le_bytes());
        }
        if regions.legacy_loads {
            map.set_packet(packet);
        }
        let Some(ctx) = map.map_mut(RegionKind::Context, regions.ctx) else {
            return too_large(0);
        };
        let args = [ctx, 0, 0, 0, 0];
        crate::execute!(self, args, map)
    }
}

/// Types whose ELF programs are checked and rewritten: the packet types and the types
/// whose context is a socket or cgroup struct. (kprobe and tracepoint objects run on
/// plain memory.)
fn typed_in_objects(ty: ProgramType) -> bool {
    ctx::ContextKind::of(ty).is_some() || ctx::is_socket_struct(ty)
}
