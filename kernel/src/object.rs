//! An ELF object in the kernel: its maps created as declared (global data written,
//! `.rodata` frozen), the chosen program loaded with them, and every program its prog
//! arrays name (`.values`) loaded too, as the chosen program's type, and put in their
//! slots, so tail calls work.
//!
//! Two loaders give the same [`KernelObject`] ([`Loader`]). Ours (`ebpfvm-elf`, not aya
//! or libbpf) links the object, so the kernel runs the very instructions our engines run;
//! map references reach the kernel as map indexes with an `fd_array`. aya's
//! (`aya_object.rs`) links it independently, for the programs it can load.

use std::collections::HashMap;

use ebpfvm_elf::{InitialValue, Object};

use crate::error::KernelError;
use crate::map::{Entry, KernelMap};
use crate::program::KernelProgram;
use crate::sys;

/// Which ELF loader linked and loaded an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    /// Our own (`ebpfvm-elf`): any program our engines run, under any type.
    Ebpfvm,
    /// aya 0.14: programs of the sections it knows, under their section's type.
    Aya,
}

impl Loader {
    /// Its name in messages and JSON (`ebpfvm`, `aya`).
    pub fn name(self) -> &'static str {
        match self {
            Loader::Ebpfvm => "ebpfvm",
            Loader::Aya => "aya",
        }
    }
}

/// An object's maps and programs in the kernel.
#[derive(Debug)]
pub struct KernelObject {
    /// By index in the object (what `lddw` kinds 5 and 6 name).
    maps: Vec<KernelMap>,
    /// The chosen program.
    entry: KernelProgram,
    /// The other programs loaded (tail-call targets), kept with the object.
    _targets: Vec<KernelProgram>,
    /// Kernel ids to object indexes, to read prog arrays and maps of maps back.
    program_ids: HashMap<u32, u32>,
    map_ids: HashMap<u32, u32>,
    loader: Loader,
}

impl KernelObject {
    /// Parses the ELF object `bytes` and loads program `program` (its function name;
    /// `None` when the object has only one) as [`KernelObject::from_object`] does.
    pub fn load(
        bytes: &[u8],
        program: Option<&str>,
        prog_type: Option<u32>,
        expected_attach_type: Option<u32>,
    ) -> Result<KernelObject, KernelError> {
        let object = Object::parse(bytes)?;
        KernelObject::from_object(&object, program, prog_type, expected_attach_type)
    }

    /// Parses and links the ELF object `bytes` with aya and loads program `program`
    /// (`None`: the only one) as its section's type; `object` is the same file parsed by
    /// our loader (for the map order and the `.values` check). What aya cannot load is a
    /// [`KernelError::Aya`] saying why ([`KernelObject::aya_can_load`] tells beforehand).
    pub fn load_aya(
        bytes: &[u8],
        object: &Object,
        program: Option<&str>,
    ) -> Result<KernelObject, KernelError> {
        #[cfg(target_os = "linux")]
        {
            crate::aya_object::load(bytes, object, program)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (bytes, object, program);
            Err(KernelError::NotLinux)
        }
    }

    /// Whether [`KernelObject::load_aya`] can load `program`: `Ok`, or the reason it
    /// cannot (a section aya does not know, an attach target needed, `.values`). Creates
    /// nothing in the kernel.
    pub fn aya_can_load(
        bytes: &[u8],
        object: &Object,
        program: Option<&str>,
    ) -> Result<(), KernelError> {
        #[cfg(target_os = "linux")]
        {
            crate::aya_object::check(bytes, object, program).map(|_| ())
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (bytes, object, program);
            Err(KernelError::NotLinux)
        }
    }

    /// The parts of a loaded object, from either loader.
    pub(crate) fn assemble(
        maps: Vec<KernelMap>,
        entry: KernelProgram,
        targets: Vec<KernelProgram>,
        (program_ids, map_ids): (HashMap<u32, u32>, HashMap<u32, u32>),
        loader: Loader,
    ) -> KernelObject {
        KernelObject {
            maps,
            entry,
            _targets: targets,
            program_ids,
            map_ids,
            loader,
        }
    }

    /// Creates the object's maps and loads program `program` with the programs its prog
    /// arrays name, all as kernel type `prog_type` (default: the type the program's
    /// section gives; tail-call targets take their caller's type, as the kernel wants).
    pub fn from_object(
        object: &Object,
        program: Option<&str>,
        prog_type: Option<u32>,
        expected_attach_type: Option<u32>,
    ) -> Result<KernelObject, KernelError> {
        if !cfg!(target_os = "linux") {
            return Err(KernelError::NotLinux);
        }
        let entry = choose(object, program)?;
        let maps = object
            .maps
            .iter()
            .map(KernelMap::create)
            .collect::<Result<Vec<_>, _>>()?;
        let fd_array: Vec<u32> = maps.iter().map(|m| m.fd().raw()).collect();
        let license = object.license.as_deref().unwrap_or("");
        let mut wanted = vec![entry];
        for decl in &object.maps {
            for (_, value) in &decl.initial_values {
                if let InitialValue::Program(name) = value {
                    let index = object
                        .programs
                        .iter()
                        .position(|p| &p.name == name)
                        .ok_or_else(|| {
                            KernelError::Select(format!(
                                "map `{}`: `.values` names `{name}`, which is not a program",
                                decl.name
                            ))
                        })?;
                    wanted.push(index);
                }
            }
        }
        // Tail-call targets must have their caller's type, so all are loaded as the
        // entry's (whatever their own sections say).
        let entry_spec = &object.programs[entry];
        let prog_type = prog_type
            .or(entry_spec.prog_type.map(|t| t.id()))
            .ok_or_else(|| {
                KernelError::Select(format!(
                    "section `{}` of program `{}` names no program type; give one",
                    entry_spec.section, entry_spec.name
                ))
            })?;
        let mut programs = HashMap::new();
        for index in wanted {
            if programs.contains_key(&index) {
                continue;
            }
            let spec = &object.programs[index];
            let loaded = KernelProgram::load(
                &spec.program,
                prog_type,
                expected_attach_type,
                license,
                &spec.name,
                &fd_array,
            )?;
            programs.insert(index, loaded);
        }
        let ids = |what: &str, fd: &sys::Fd| {
            sys::object_id(fd).map_err(|error| KernelError::Map {
                map: what.to_string(),
                what: "reading its kernel id".to_string(),
                error,
            })
        };
        let mut program_ids = HashMap::new();
        for (&index, p) in &programs {
            program_ids.insert(ids(p.name(), p.fd())?, index as u32);
        }
        let mut map_ids = HashMap::new();
        for (index, m) in maps.iter().enumerate() {
            map_ids.insert(ids(m.name(), m.fd())?, index as u32);
        }
        for (decl, map) in object.maps.iter().zip(&maps) {
            for (slot, value) in &decl.initial_values {
                let fd = match value {
                    InitialValue::Program(name) => object
                        .programs
                        .iter()
                        .position(|p| &p.name == name)
                        .and_then(|i| programs.get(&i))
                        .map(|p| p.fd().raw()),
                    InitialValue::Map(i) => maps.get(*i).map(|m| m.fd().raw()),
                };
                let fd = fd.ok_or_else(|| {
                    KernelError::Select(format!(
                        "map `{}`: a `.values` slot names nothing",
                        decl.name
                    ))
                })?;
                map.update(&slot.to_ne_bytes(), &fd.to_ne_bytes(), 0)?;
            }
        }
        let entry = programs
            .remove(&entry)
            .ok_or_else(|| KernelError::Select("the chosen program was not loaded".to_string()))?;
        Ok(KernelObject::assemble(
            maps,
            entry,
            programs.into_values().collect(),
            (program_ids, map_ids),
            Loader::Ebpfvm,
        ))
    }

    /// The loader that linked and loaded it.
    pub fn loader(&self) -> Loader {
        self.loader
    }

    /// The chosen program.
    pub fn program(&self) -> &KernelProgram {
        &self.entry
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&KernelMap> {
        self.maps.iter().find(|m| m.name() == name)
    }

    /// Every map by name, in the object's order, with its entries sorted by key (the
    /// form of `ebpfvm::Vm::map_entries`; see [`crate::map`]).
    pub fn map_entries(&self) -> Result<Vec<(String, Vec<Entry>)>, KernelError> {
        self.maps
            .iter()
            .map(|m| {
                Ok((
                    m.name().to_string(),
                    m.entries(&self.program_ids, &self.map_ids)?,
                ))
            })
            .collect()
    }
}

/// The index of the program named `name`, or of the only program.
pub(crate) fn choose(object: &Object, name: Option<&str>) -> Result<usize, KernelError> {
    let names = || {
        object
            .programs
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => object
            .programs
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                KernelError::Select(format!("no program `{name}`; the object has: {}", names()))
            }),
        None if object.programs.len() == 1 => Ok(0),
        None if object.programs.is_empty() => Err(KernelError::Select(
            "the object has no programs".to_string(),
        )),
        None => Err(KernelError::Select(format!(
            "the object has several programs, choose one: {}",
            names()
        ))),
    }
}
