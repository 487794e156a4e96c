//! `--engine kernel`: the program loaded into the running Linux kernel (through
//! `ebpfvm-kernel`) and run there with BPF_PROG_TEST_RUN, so users see what the kernel
//! itself does with the same program and input. Also the kernel's half of
//! `ebpfvm crosscheck`.
//!
//! The kernel runs exactly the instructions our engines run: bytecode and assembly as
//! given, ELF objects as `ebpfvm-elf` links them, with their maps created in the kernel.
//! Without the root crate's `kernel` feature every entry point says so.

use std::path::Path;
use std::process::ExitCode;

use ebpfvm::ctx::{AttachType, ProgramType};
use ebpfvm::elf::Object;
use ebpfvm::Program;
use serde_json::json;

use super::packet::{self, PacketResult, PacketRun};
use super::CliError;

/// Map contents by map name, entries sorted by key (the shape of `Vm::map_entries`).
pub type MapContents = Vec<(String, Vec<(Vec<u8>, Vec<u8>)>)>;

/// What the kernel engine loads.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// A program without maps (bytecode, assembly).
    Program(&'a Program),
    /// The program `name` of an ELF object, with its maps and tail-call targets.
    Object { object: &'a Object, name: &'a str },
}

/// A program loaded into the kernel.
pub struct Loaded {
    inner: Inner,
}

#[cfg(feature = "kernel")]
enum Inner {
    Program(ebpfvm_kernel::KernelProgram),
    Object(Box<ebpfvm_kernel::KernelObject>),
}

/// Without the kernel feature nothing can be loaded: no value of this type exists.
#[cfg(not(feature = "kernel"))]
enum Inner {}

#[cfg(feature = "kernel")]
fn kernel_error(e: ebpfvm_kernel::KernelError) -> CliError {
    CliError::NotSupported(format!("kernel engine: {e}"))
}

impl Loaded {
    /// Loads `source` as a program of type `ty`; the kernel verifier's refusal (with its
    /// log) and a missing permission are errors.
    pub fn load(source: Source<'_>, ty: ProgramType) -> Result<Loaded, CliError> {
        Loaded::try_load(source, ty)?.map_err(CliError::NotSupported)
    }

    /// [`Loaded::load`] with `at` as the expected attach type (`None`: the type's
    /// default).
    pub fn load_at(
        source: Source<'_>,
        ty: ProgramType,
        at: Option<AttachType>,
    ) -> Result<Loaded, CliError> {
        Loaded::try_load_at(source, ty, at)?.map_err(CliError::NotSupported)
    }

    /// Like [`Loaded::load`], but the kernel verifier's refusal is a value (its message
    /// and log), for comparing verdicts.
    pub fn try_load(
        source: Source<'_>,
        ty: ProgramType,
    ) -> Result<Result<Loaded, String>, CliError> {
        Loaded::try_load_at(source, ty, None)
    }

    /// [`Loaded::try_load`] with `at` as the expected attach type.
    pub fn try_load_at(
        source: Source<'_>,
        ty: ProgramType,
        at: Option<AttachType>,
    ) -> Result<Result<Loaded, String>, CliError> {
        let attach = at.map(|a| a.id()).or(ty.default_attach_type());
        #[cfg(feature = "kernel")]
        {
            use ebpfvm_kernel::{KernelError, KernelObject, KernelProgram};
            // A test run executes on the calling thread's CPU; our engines model CPU 0
            // (`bpf_get_smp_processor_id`, the per-CPU map value a program updates), so
            // run there too. Where pinning is refused the kernel picks, and per-CPU
            // results may differ by CPU only.
            let _ = core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
            let loaded = match source {
                Source::Program(program) => {
                    KernelProgram::load_raw(program, ty.id(), attach, "GPL").map(Inner::Program)
                }
                Source::Object { object, name } => {
                    KernelObject::from_object(object, Some(name), Some(ty.id()), attach)
                        .map(|o| Inner::Object(Box::new(o)))
                }
            };
            match loaded {
                Ok(inner) => Ok(Ok(Loaded { inner })),
                Err(e @ KernelError::Refused { .. }) => Ok(Err(e.to_string())),
                Err(e) => Err(kernel_error(e)),
            }
        }
        #[cfg(not(feature = "kernel"))]
        {
            let _ = (source, ty, attach);
            Err(CliError::NotSupported(
                "the kernel engine is not built in: rebuild with `--features kernel`".into(),
            ))
        }
    }

    /// Runs the program once on `data` with BPF_PROG_TEST_RUN, with `ctx_in` as the
    /// uapi context (`__sk_buff`, `xdp_md`) when given; the context after the run comes
    /// back then.
    pub fn run_packet(&self, data: &[u8], ctx_in: Option<&[u8]>) -> Result<PacketResult, CliError> {
        #[cfg(feature = "kernel")]
        {
            let mut run = ebpfvm_kernel::TestRun::packet(data);
            if let Some(ctx) = ctx_in {
                run.ctx_in = ctx;
                run.ctx_out_capacity = ctx.len();
            }
            let done = self.program().test_run(&run).map_err(kernel_error)?;
            Ok(PacketResult {
                result: Ok(u64::from(done.retval)),
                insns: None,
                packet: done.data_out,
                ctx: ctx_in.map(|_| done.ctx_out),
                redirect: None,
            })
        }
        #[cfg(not(feature = "kernel"))]
        {
            let _ = (data, ctx_in);
            match self.inner {}
        }
    }

    /// Runs the program once with `ctx` as its context (syscall programs: their memory)
    /// and returns r0's low 32 bits and the context after the run.
    pub fn run_context(&self, ctx: &[u8]) -> Result<(u32, Vec<u8>), CliError> {
        #[cfg(feature = "kernel")]
        {
            let done = self
                .program()
                .test_run(&ebpfvm_kernel::TestRun::context(ctx))
                .map_err(kernel_error)?;
            Ok((done.retval, done.ctx_out))
        }
        #[cfg(not(feature = "kernel"))]
        {
            let _ = ctx;
            match self.inner {}
        }
    }

    /// The object's maps as the kernel holds them now (none for a plain program).
    pub fn map_entries(&self) -> Result<MapContents, CliError> {
        #[cfg(feature = "kernel")]
        {
            match &self.inner {
                Inner::Program(_) => Ok(Vec::new()),
                Inner::Object(object) => object.map_entries().map_err(kernel_error),
            }
        }
        #[cfg(not(feature = "kernel"))]
        match self.inner {}
    }

    #[cfg(feature = "kernel")]
    fn program(&self) -> &ebpfvm_kernel::KernelProgram {
        match &self.inner {
            Inner::Program(p) => p,
            Inner::Object(o) => o.program(),
        }
    }
}

/// The number of values a per-CPU map holds in the kernel, so our engines can be given
/// the same (`None` without the kernel feature or when it cannot be read).
pub fn possible_cpus() -> Option<u32> {
    #[cfg(feature = "kernel")]
    {
        ebpfvm_kernel::possible_cpus().ok()
    }
    #[cfg(not(feature = "kernel"))]
    None
}

/// `run --engine kernel` for a packet-type program: one result per packet, as the other
/// engines print them; then the maps with `maps_json`.
pub fn run_packets(
    source: Source<'_>,
    args: PacketRun<'_>,
    maps_json: bool,
) -> Result<ExitCode, CliError> {
    let packets = packet::packets(&args)?;
    let ctx_in = match args.ctx {
        Some(path) => Some(super::read_file(&path.to_path_buf())?),
        None => None,
    };
    let loaded = Loaded::load(source, args.ty)?;
    let in_capture = args.pcap.is_some();
    let mut refused = 0;
    for (index, bytes) in packets.iter().enumerate() {
        // Our model refuses what the kernel's test run refuses, with a clearer message;
        // one bad packet of a capture does not stop the others.
        let result = packet::context(args.ty, bytes, ctx_in.as_deref(), index, in_capture)
            .and_then(|_| loaded.run_packet(bytes, ctx_in.as_deref()));
        let result = match result {
            Ok(result) => result,
            Err(e) if in_capture => {
                packet::report_refusal(&e, index, args.json);
                refused += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let index = in_capture.then_some(index);
        packet::report(args.ty, &result, index, args.json);
    }
    if maps_json {
        println!("{}", super::elf::maps_json(loaded.map_entries()?));
    }
    match refused {
        1.. => Err(packet::refused_packets(refused)),
        0 => Ok(ExitCode::SUCCESS),
    }
}

/// `run --engine kernel` for a program without a packet, whose context is `mem` (raw
/// programs run as `syscall` programs: r1 points to the memory, but the kernel gives no
/// length in r2). Prints r0 and, when memory was given, the memory after the run (`mem`;
/// `ctx` for other types). Types
/// the kernel cannot test-run this way give the kernel's answer as an error.
pub fn run_memory(
    source: Source<'_>,
    (ty, at): (ProgramType, Option<AttachType>),
    mem: Option<&[u8]>,
    json: bool,
    maps_json: bool,
) -> Result<ExitCode, CliError> {
    let loaded = Loaded::load_at(source, ty, at)?;
    if ebpfvm::ctx::is_socket_struct(ty) && ty != ProgramType::SkLookup {
        // The kernel has no test run for these types: its verifier's verdict is all it
        // can say (a refusal was an error above, with the log).
        let at = at.or(AttachType::default_for(ty));
        let at = at.map_or(String::new(), |a| format!(" at {a}"));
        if json {
            println!("{}", json!({ "verifier": "accepted" }));
        } else {
            println!(
                "accepted by the kernel verifier as a {ty} program{at} (the kernel cannot \
                 test-run {ty} programs)"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (retval, after) = loaded.run_context(mem.unwrap_or(&[]))?;
    if json {
        let mut line = json!({ "retval": retval });
        if ty != ProgramType::Syscall {
            line["action"] = json!(ebpfvm::ctx::action_at(ty, at, u64::from(retval)));
        }
        if mem.is_some() {
            // A syscall program's context is plain memory (`mem`, as for raw programs);
            // other types' is their uapi context (`ctx`), as our engines print them.
            let key = if ty == ProgramType::Syscall {
                "mem"
            } else {
                "ctx"
            };
            line[key] = json!(packet::hex(&after));
        }
        println!("{line}");
    } else {
        println!("{retval} ({retval:#x})");
    }
    if maps_json {
        println!("{}", super::elf::maps_json(loaded.map_entries()?));
    }
    Ok(ExitCode::SUCCESS)
}

/// The error for a program kind the kernel engine does not take.
pub fn not_for(what: &str, path: &Path) -> CliError {
    CliError::NotSupported(format!(
        "{}: the kernel engine does not run {what}; use --engine interp or jit",
        path.display()
    ))
}
