//! `--engine kernel`: the program loaded into the running Linux kernel (through
//! `ebpfvm-kernel`) and run there with BPF_PROG_TEST_RUN, so users see what the kernel
//! itself does with the same program and input. Also the kernel's half of
//! `ebpfvm crosscheck`.
//!
//! Bytecode and assembly reach the kernel as given. ELF objects are linked by one of two
//! loaders (`--loader`): aya's, the default wherever it can load the program (a section
//! aya 0.14 knows, the section's own type and attach point, no `.values` slots), or ours
//! (`ebpfvm-elf`, the very instructions our engines run), which loads anything our
//! engines run. Output says which loader was used. Without the root crate's `kernel`
//! feature every entry point says so.

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

/// `--loader`: which ELF linker loads an object into the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoaderChoice {
    /// aya 0.14: its own relocation, BTF and maps; sections it knows, their own type.
    Aya,
    /// ebpfvm-elf, as our engines link it: any program, any type.
    Ebpfvm,
}

impl LoaderChoice {
    /// Its name, as `--loader` takes it and output shows it.
    pub fn name(self) -> &'static str {
        match self {
            LoaderChoice::Aya => "aya",
            LoaderChoice::Ebpfvm => "ebpfvm",
        }
    }
}

/// What the kernel engine loads.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// A program without maps (bytecode, assembly).
    Program(&'a Program),
    /// The program `name` of an ELF object (`bytes`, parsed as `object`), with its maps
    /// and tail-call targets, loaded by `loader` ([`choose_loader`]).
    Object {
        bytes: &'a [u8],
        object: &'a Object,
        name: &'a str,
        loader: LoaderChoice,
    },
}

/// The loader for program `name` of an ELF object: `given` (`--loader`), else aya when it
/// can load the program, else ours. `overridden`: `--type` or `--attach` differ from the
/// section's, which only our loader honours.
pub fn choose_loader(
    given: Option<LoaderChoice>,
    (bytes, object, name): (&[u8], &Object, &str),
    overridden: bool,
) -> Result<LoaderChoice, CliError> {
    match given {
        Some(LoaderChoice::Aya) if overridden => Err(CliError::Usage(
            "--loader aya loads a program as its section's type, at its section's attach \
             point: --type or --attach other than the section's need --loader ebpfvm"
                .into(),
        )),
        Some(loader) => Ok(loader),
        None if overridden => Ok(LoaderChoice::Ebpfvm),
        None => {
            #[cfg(feature = "kernel")]
            let aya = ebpfvm_kernel::KernelObject::aya_can_load(bytes, object, Some(name)).is_ok();
            #[cfg(not(feature = "kernel"))]
            let aya = {
                let _ = (bytes, object, name);
                false
            };
            Ok(if aya {
                LoaderChoice::Aya
            } else {
                LoaderChoice::Ebpfvm
            })
        }
    }
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
                Source::Object {
                    bytes,
                    object,
                    name,
                    loader: LoaderChoice::Aya,
                } => KernelObject::load_aya(bytes, object, Some(name))
                    .map(|o| Inner::Object(Box::new(o))),
                Source::Object {
                    object,
                    name,
                    loader: LoaderChoice::Ebpfvm,
                    ..
                } => KernelObject::from_object(object, Some(name), Some(ty.id()), attach)
                    .map(|o| Inner::Object(Box::new(o))),
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

    /// The loader of an ELF object (`None` for bytecode and assembly).
    pub fn loader(&self) -> Option<&'static str> {
        #[cfg(feature = "kernel")]
        {
            match &self.inner {
                Inner::Program(_) => None,
                Inner::Object(object) => Some(object.loader().name()),
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
    say_loader(&loaded, args.json);
    if args.ty == ProgramType::SkSkb {
        return Ok(verdict_only(&loaded, (args.ty, None), args.json));
    }
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
        match (args.json, loaded.loader()) {
            (true, Some(loader)) => {
                let mut line = result.to_json(args.ty);
                if let Some(i) = index {
                    line["index"] = json!(i);
                }
                line["loader"] = json!(loader);
                println!("{line}");
            }
            _ => packet::report(args.ty, &result, index, args.json),
        }
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
    say_loader(&loaded, json);
    let with_loader = |mut line: serde_json::Value| {
        if let Some(loader) = loaded.loader() {
            line["loader"] = json!(loader);
        }
        line
    };
    if ebpfvm::ctx::is_socket_struct(ty) && ty != ProgramType::SkLookup {
        return Ok(verdict_only(&loaded, (ty, at), json));
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
        println!("{}", with_loader(line));
    } else {
        println!("{retval} ({retval:#x})");
    }
    if maps_json {
        println!("{}", super::elf::maps_json(loaded.map_entries()?));
    }
    Ok(ExitCode::SUCCESS)
}

/// For the types the kernel has no test run for (the socket struct types, sk_skb): its
/// verifier's verdict is all it can say (a refusal was an error at load, with the log).
fn verdict_only(
    loaded: &Loaded,
    (ty, at): (ProgramType, Option<AttachType>),
    json: bool,
) -> ExitCode {
    let at = at.or(AttachType::default_for(ty));
    let at = at.map_or(String::new(), |a| format!(" at {a}"));
    if json {
        let mut line = json!({ "verifier": "accepted" });
        if let Some(loader) = loaded.loader() {
            line["loader"] = json!(loader);
        }
        println!("{line}");
    } else {
        println!(
            "accepted by the kernel verifier as a {ty} program{at} (the kernel cannot \
             test-run {ty} programs)"
        );
    }
    ExitCode::SUCCESS
}

/// In text mode, says on stderr which loader linked an ELF object (JSON lines carry
/// `"loader"` instead).
fn say_loader(loaded: &Loaded, json: bool) {
    if let (false, Some(loader)) = (json, loaded.loader()) {
        eprintln!("kernel engine: the object was linked and loaded by the {loader} loader");
    }
}

/// The error for a program kind the kernel engine does not take.
pub fn not_for(what: &str, path: &Path) -> CliError {
    CliError::NotSupported(format!(
        "{}: the kernel engine does not run {what}; use --engine interp or jit",
        path.display()
    ))
}
