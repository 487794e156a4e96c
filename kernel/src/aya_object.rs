//! The second ELF loader: aya links the object (its own relocations, BTF, legacy and BTF
//! maps, global data) and loads the chosen program through its typed program API; we
//! then take duplicates of the program's and maps' descriptors and drop aya's handles,
//! so the result is an ordinary [`KernelObject`] that test runs and map read-back use
//! unchanged.
//!
//! Why a second loader: aya is an independent linker. Running the same object through
//! both loaders and comparing results checks our `ebpfvm-elf` linking against someone
//! else's reading of the same ELF file.
//!
//! What aya 0.14 cannot do is refused before anything is created, by name: sections it
//! does not know (`syscall`, `tc`, ...), program kinds that need an attach target to
//! load (fentry/fexit, lsm, tp_btf, iter, freplace), and `.values` initialisers of prog
//! arrays and maps of maps, which aya does not fill. The object is also parsed by our
//! loader, for the map order (`map_entries` lists maps in the object's order, as our
//! engines do) and the `.values` check.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use aya::maps::{Map, MapData};
use aya::programs::{Program, ProgramError};
use aya::EbpfLoader;
use aya_obj::ProgramSection;
use ebpfvm_elf::Object;

use crate::error::{is_unpermitted, KernelError};
use crate::map::KernelMap;
use crate::object::{choose, KernelObject, Loader};
use crate::program::{bpf_works, KernelProgram};
use crate::sys::{self, Fd};

/// Whether aya can load program `program` of `object` (`bytes` parsed by us): `Ok`, or
/// [`KernelError::Aya`] saying why not. Creates nothing in the kernel.
pub(crate) fn check(
    bytes: &[u8],
    object: &Object,
    program: Option<&str>,
) -> Result<usize, KernelError> {
    let entry = choose(object, program)?;
    if let Some(map) = object.maps.iter().find(|m| !m.initial_values.is_empty()) {
        return Err(KernelError::Aya(format!(
            "map `{}` is filled from `.values`, which aya 0.14 does not do (its BTF map \
             parser rejects a prog array's `values`, and it fills no slots; the ebpfvm \
             loader does)",
            map.name
        )));
    }
    let parsed = aya_obj::Object::parse(bytes)
        .map_err(|e| KernelError::Aya(format!("aya 0.14 cannot parse the object: {e}")))?;
    let name = &object.programs[entry].name;
    let Some(spec) = parsed.programs.get(name) else {
        return Err(KernelError::Aya(format!(
            "aya 0.14 finds no program `{name}` in the object"
        )));
    };
    if needs_attach_target(&spec.section) {
        return Err(KernelError::Aya(format!(
            "aya loads section `{}` only with an attach target (a BTF function, hook, \
             iterator or program), which the kernel engine does not give",
            object.programs[entry].section
        )));
    }
    Ok(entry)
}

/// Program kinds whose aya `load` takes an attach target.
fn needs_attach_target(section: &ProgramSection) -> bool {
    match section {
        ProgramSection::Lsm { .. }
        | ProgramSection::LsmCgroup
        | ProgramSection::BtfTracePoint
        | ProgramSection::FEntry { .. }
        | ProgramSection::FExit { .. }
        | ProgramSection::Extension
        | ProgramSection::Iter { .. } => true,
        ProgramSection::KRetProbe
        | ProgramSection::KProbe
        | ProgramSection::UProbe { .. }
        | ProgramSection::URetProbe { .. }
        | ProgramSection::TracePoint
        | ProgramSection::SocketFilter
        | ProgramSection::Xdp { .. }
        | ProgramSection::SkMsg
        | ProgramSection::SkSkbStream { .. }
        | ProgramSection::SockOps
        | ProgramSection::SchedClassifier
        | ProgramSection::CgroupSkb { .. }
        | ProgramSection::CgroupSockAddr { .. }
        | ProgramSection::CgroupSysctl
        | ProgramSection::CgroupSockopt { .. }
        | ProgramSection::LircMode2
        | ProgramSection::PerfEvent
        | ProgramSection::RawTracePoint
        | ProgramSection::SkLookup
        | ProgramSection::SkReuseport { .. }
        | ProgramSection::FlowDissector
        | ProgramSection::CgroupSock { .. }
        | ProgramSection::CgroupDevice => false,
    }
}

/// Loads `program` of `object` through aya (see the module doc).
pub(crate) fn load(
    bytes: &[u8],
    object: &Object,
    program: Option<&str>,
) -> Result<KernelObject, KernelError> {
    let entry = check(bytes, object, program)?;
    let name = object.programs[entry].name.as_str();
    let mut ebpf = EbpfLoader::new()
        .load(bytes)
        // Creating the maps is aya's first `bpf()` call that must succeed.
        .map_err(|e| aya_error("BPF_MAP_CREATE", &e, |_| KernelError::Aya(e.to_string())))?;
    let loaded = ebpf
        .program_mut(name)
        .ok_or_else(|| KernelError::Aya(format!("aya did not create program `{name}`")))?;
    load_program(loaded).map_err(|e| match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => aya_error("BPF_PROG_LOAD", &io_error, |error| KernelError::Refused {
            program: name.to_string(),
            error,
            log: verifier_log.to_string(),
        }),
        other => aya_error("BPF_PROG_LOAD", &other, |_| {
            KernelError::Aya(format!("loading `{name}`: {other}"))
        }),
    })?;
    let program_error =
        |e: &dyn std::fmt::Display| KernelError::Aya(format!("program `{name}`: {e}"));
    let fd = loaded.fd().map_err(|e| program_error(&e))?;
    let fd = duplicate(fd.as_fd()).map_err(|e| program_error(&e))?;
    let [prog_type, prog_id, ..] = sys::object_info(&fd).map_err(|e| program_error(&e))?;
    let entry_program = KernelProgram::adopt(fd, prog_type, name);

    // Maps in our object's order; any aya has that ours does not come after, by name.
    let position = |n: &str| {
        object
            .maps
            .iter()
            .position(|m| m.name == n)
            .unwrap_or(usize::MAX)
    };
    let mut named: Vec<(&str, &Map)> = ebpf.maps().collect();
    named.sort_by(|a, b| (position(a.0), a.0).cmp(&(position(b.0), b.0)));
    let mut maps = Vec::new();
    let mut map_ids = HashMap::new();
    for (index, (map_name, map)) in named.into_iter().enumerate() {
        let map_error = |error| KernelError::Map {
            map: map_name.to_string(),
            what: "taking it over from aya".to_string(),
            error,
        };
        let fd = duplicate(map_data(map).fd().as_fd()).map_err(map_error)?;
        let [map_type, id, key_size, value_size, ..] = sys::object_info(&fd).map_err(map_error)?;
        let map = sys::Map::adopt(fd, map_type, key_size, value_size).map_err(map_error)?;
        map_ids.insert(id, index as u32);
        maps.push(KernelMap::adopt(map_name, map));
    }
    let program_ids = HashMap::from([(prog_id, entry as u32)]);
    // `ebpf` drops here: aya closes its descriptors, ours keep everything loaded.
    Ok(KernelObject::assemble(
        maps,
        entry_program,
        Vec::new(),
        (program_ids, map_ids),
        Loader::Aya,
    ))
}

/// Loads an aya program with its typed `load()`; the kinds that need an attach target
/// were refused by [`check`].
fn load_program(program: &mut Program) -> Result<(), ProgramError> {
    match program {
        Program::KProbe(p) => p.load(),
        Program::UProbe(p) => p.load(),
        Program::TracePoint(p) => p.load(),
        Program::SocketFilter(p) => p.load(),
        Program::ReusePortSocketFilter(p) => p.load(),
        Program::Xdp(p) => p.load(),
        Program::SkMsg(p) => p.load(),
        Program::SkSkb(p) => p.load(),
        Program::CgroupSockAddr(p) => p.load(),
        Program::SockOps(p) => p.load(),
        Program::SchedClassifier(p) => p.load(),
        Program::CgroupSkb(p) => p.load(),
        Program::CgroupSysctl(p) => p.load(),
        Program::CgroupSockopt(p) => p.load(),
        Program::LircMode2(p) => p.load(),
        Program::PerfEvent(p) => p.load(),
        Program::RawTracePoint(p) => p.load(),
        Program::FlowDissector(p) => p.load(),
        Program::SkLookup(p) => p.load(),
        Program::SkReuseport(p) => p.load(),
        Program::CgroupSock(p) => p.load(),
        Program::CgroupDevice(p) => p.load(),
        Program::Lsm(_)
        | Program::LsmCgroup(_)
        | Program::BtfTracePoint(_)
        | Program::FEntry(_)
        | Program::FExit(_)
        | Program::Extension(_)
        | Program::Iter(_) => Err(ProgramError::UnexpectedProgramType),
    }
}

/// The descriptor of any kind of aya map (aya gives no accessor on [`Map`] itself).
fn map_data(map: &Map) -> &MapData {
    match map {
        Map::Array(d)
        | Map::ArrayOfMaps(d)
        | Map::BloomFilter(d)
        | Map::CgroupArray(d)
        | Map::CgroupStorage(d)
        | Map::CgrpStorage(d)
        | Map::CpuMap(d)
        | Map::DevMap(d)
        | Map::DevMapHash(d)
        | Map::HashMap(d)
        | Map::HashOfMaps(d)
        | Map::InodeStorage(d)
        | Map::LpmTrie(d)
        | Map::LruHashMap(d)
        | Map::PerCpuArray(d)
        | Map::PerCpuCgroupStorage(d)
        | Map::PerCpuHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::PerfEventArray(d)
        | Map::ProgramArray(d)
        | Map::Queue(d)
        | Map::ReusePortSockArray(d)
        | Map::RingBuf(d)
        | Map::SockHash(d)
        | Map::SockMap(d)
        | Map::SkStorage(d)
        | Map::Stack(d)
        | Map::StackTraceMap(d)
        | Map::Unsupported(d)
        | Map::XskMap(d) => d,
    }
}

/// Our own descriptor for an object aya opened (`dup`), so it outlives aya's handles.
fn duplicate(fd: BorrowedFd<'_>) -> io::Result<Fd> {
    fd.try_clone_to_owned().map(Fd::from)
}

/// An aya failure: `Unavailable` when it comes from `bpf()` not being permitted here
/// (EPERM or ENOSYS somewhere in its chain, and nothing loads), else `other` with the
/// errno found (or the message).
fn aya_error(
    call: &'static str,
    error: &(dyn std::error::Error + 'static),
    other: impl FnOnce(io::Error) -> KernelError,
) -> KernelError {
    let mut source = Some(error);
    let mut errno = None;
    while let Some(e) = source {
        if let Some(code) = e
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            errno = Some(code);
            break;
        }
        source = e.source();
    }
    match errno {
        Some(code) if is_unpermitted(code) && !bpf_works() => KernelError::Unavailable {
            call,
            error: io::Error::from_raw_os_error(code),
        },
        Some(code) => other(io::Error::from_raw_os_error(code)),
        None => other(io::Error::other(error.to_string())),
    }
}
