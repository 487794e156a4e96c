//! Running translated programs: the [`Engine`] trait, the memory set-up every engine
//! shares, and [`SocketFilter`].
//!
//! A socket filter run maps the context ([`crate::skb`]) read-only as
//! `RegionKind::Context` and the packet read-only as `RegionKind::Packet` (the region
//! legacy loads read), and passes r1 = the context. The program returns the number of
//! bytes to keep (0 drops the packet).

use ebpfvm_isa::Program;
use ebpfvm_vm::{
    Access, Helpers, Interpreter, MemoryMap, Outcome, RegionKind, Stack, Trap, TrapKind,
};

use crate::check::check_classic;
use crate::insn::SockFilter;
use crate::nlattr::{nlattr, nlattr_nest};
use crate::skb::PacketMeta;
use crate::translate::{
    translate, Flavor, Translation, HELPER_CPU, HELPER_NLATTR, HELPER_NLATTR_NEST, HELPER_PRANDOM,
};
use crate::Error;

/// Something that runs an eBPF program prepared from a translation: the interpreter,
/// or a compiled program.
pub trait Engine {
    /// Runs with r1-r5 = `args` over `memory`.
    fn run(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
    ) -> Outcome;
}

impl Engine for Interpreter {
    fn run(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut Helpers,
        budget: Option<u64>,
    ) -> Outcome {
        Interpreter::run(self, args, memory, helpers, budget)
    }
}

/// The helpers a translated socket filter may call, deterministic for a given `meta`:
/// `SKF_AD_RANDOM` is an xorshift32 sequence from `meta.random_seed`, restarted each
/// run; `SKF_AD_CPU` is `meta.cpu`.
pub fn socket_helpers(needed: &[u32], meta: &PacketMeta) -> Helpers {
    let mut helpers = Helpers::new();
    for &id in needed {
        match id {
            HELPER_PRANDOM => {
                let mut state = meta.random_seed.max(1);
                helpers.register(id, move |_, _| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    Ok(state as u64)
                });
            }
            HELPER_CPU => {
                let cpu = meta.cpu;
                helpers.register(id, move |_, _| Ok(cpu as u64));
            }
            HELPER_NLATTR | HELPER_NLATTR_NEST => {
                helpers.register(id, move |ctx, args| {
                    let packet = ctx.memory().packet();
                    let (a, x) = (args[0] as u32, args[1] as u32);
                    Ok(if id == HELPER_NLATTR {
                        nlattr(packet, a, x)
                    } else {
                        nlattr_nest(packet, a, x)
                    } as u64)
                });
            }
            _ => {}
        }
    }
    helpers
}

/// Runs a translated socket filter on `engine`: the one memory set-up every engine
/// shares. `stack` is not cleared (the checker guarantees that scratch memory is
/// written before it is read).
pub fn run_socket(
    engine: &dyn Engine,
    translation: &Translation,
    stack: &mut Stack,
    packet: &[u8],
    meta: &PacketMeta,
    budget: Option<u64>,
) -> Outcome {
    let ctx = meta.context_with(packet, translation.reads_payload_offset);
    let mut memory = MemoryMap::new(stack);
    let (Some(ctx_addr), Some(packet_addr)) = (
        memory.map_ro(RegionKind::Context, &ctx),
        memory.map_ro(RegionKind::Packet, packet),
    ) else {
        return too_large(packet.len());
    };
    memory.set_packet(packet_addr);
    let mut helpers = socket_helpers(&translation.helpers, meta);
    engine.run([ctx_addr, 0, 0, 0, 0], &mut memory, &mut helpers, budget)
}

/// A packet beyond the 4 GiB a region holds: the program cannot start.
pub(crate) fn too_large(len: usize) -> Outcome {
    Outcome {
        result: Err(Trap {
            pc: 0,
            kind: TrapKind::OutOfBounds {
                addr: 0,
                size: u32::try_from(len).unwrap_or(u32::MAX),
                access: Access::Read,
                region: None,
            },
        }),
        insns: 0,
    }
}

/// A checked and translated classic socket filter, ready to run on many packets.
///
/// ```
/// use ebpfvm_classic::{parse_ddd, PacketMeta, SocketFilter};
/// // tcpdump -ddd 'ip': keep IPv4 packets whole (up to 262144 bytes), drop the rest.
/// let filter = SocketFilter::new(parse_ddd("4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n")?)?;
/// let mut packet = [0u8; 60];
/// packet[12..14].copy_from_slice(&[0x08, 0x00]);
/// assert_eq!(filter.run(&packet, &PacketMeta::for_ethernet(&packet)).result, Ok(262144));
/// packet[13] = 0x06; // ARP
/// assert_eq!(filter.run(&packet, &PacketMeta::for_ethernet(&packet)).result, Ok(0));
/// # Ok::<(), ebpfvm_classic::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SocketFilter {
    classic: Vec<SockFilter>,
    translation: Translation,
    interpreter: Interpreter,
}

impl SocketFilter {
    /// Checks `classic` with the kernel's rules and translates it.
    pub fn new(classic: Vec<SockFilter>) -> Result<SocketFilter, Error> {
        let instrs = check_classic(&classic)?;
        let translation = translate(&instrs, Flavor::Socket)?;
        let interpreter = Interpreter::new(&translation.program)?;
        Ok(SocketFilter {
            classic,
            translation,
            interpreter,
        })
    }

    /// The classic instructions.
    pub fn classic(&self) -> &[SockFilter] {
        &self.classic
    }

    /// The translated eBPF program (for other engines, disassembly).
    pub fn program(&self) -> &Program {
        &self.translation.program
    }

    /// The translation, with the classic-to-eBPF pc map and the helpers it calls.
    pub fn translation(&self) -> &Translation {
        &self.translation
    }

    /// Runs on the interpreter. The result is the number of bytes to keep.
    pub fn run(&self, packet: &[u8], meta: &PacketMeta) -> Outcome {
        let mut stack = Stack::new();
        self.run_with(&self.interpreter, &mut stack, packet, meta, None)
    }

    /// Runs on `engine` (prepared from [`SocketFilter::program`]).
    pub fn run_with(
        &self,
        engine: &dyn Engine,
        stack: &mut Stack,
        packet: &[u8],
        meta: &PacketMeta,
        budget: Option<u64>,
    ) -> Outcome {
        run_socket(engine, &self.translation, stack, packet, meta, budget)
    }

    /// The interpreter prepared for this filter.
    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }
}
