//! Loading an ELF object into a [`Vm`]: the object's maps are created as it declares them
//! (global data with its initial bytes, prog arrays and maps of maps with their
//! declarative `.values`), every program is prepared so that tail calls can reach it,
//! and the kernel helpers are registered.
//!
//! ```no_run
//! use ebpfvm::{Select, Vm};
//!
//! let bytes = std::fs::read("examples/counter.o")?;
//! let mut vm = Vm::from_elf(&bytes, Select::Program("count"), 1)?;
//! let outcome = vm.run(&mut [0u8; 64]);
//! for (name, entries) in vm.map_entries() {
//!     println!("{name}: {} entries", entries.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Program ids (the values of prog-array slots, what `bpf_tail_call` jumps to) are the
//! programs' indexes in [`elf::Object::programs`].

use ebpfvm_elf::{self as elf, InitialValue, MapDecl, Object, ProgramType};
use ebpfvm_vm::kernel_helpers::{self, Kernel};
use ebpfvm_vm::maps::{Entry, BPF_ANY};
use ebpfvm_vm::{Helpers, Interpreter, MapError, MapId, MapKind, MapSpec, Maps, Stack};

use crate::{Error, Program, Vm};

/// Which program of an object to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select<'a> {
    /// The object's only program (an error lists them when there are several).
    Only,
    /// The program whose function is named so.
    Program(&'a str),
    /// The only program of this section (an error lists them when there are several).
    Section(&'a str),
}

/// What the object says about the program chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfProgram {
    /// The function's name.
    pub name: String,
    /// Its section.
    pub section: String,
    /// The type its section gives, if libbpf knows the name.
    pub prog_type: Option<ProgramType>,
    /// Its id in the tail-call table.
    pub id: u32,
}

pub(crate) fn choose(object: &Object, select: Select<'_>) -> Result<usize, Error> {
    let list = |it: &mut dyn Iterator<Item = &elf::ProgramSpec>| {
        it.map(|p| format!("{} (section {})", p.name, p.section))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let candidates: Vec<usize> = match select {
        Select::Only => (0..object.programs.len()).collect(),
        Select::Program(name) => object
            .programs
            .iter()
            .position(|p| p.name == name)
            .into_iter()
            .collect(),
        Select::Section(name) => (0..object.programs.len())
            .filter(|&i| object.programs[i].section == name)
            .collect(),
    };
    match candidates.as_slice() {
        [one] => Ok(*one),
        [] if object.programs.is_empty() => Err(Error::Select("the object has no programs".into())),
        [] => Err(Error::Select(format!(
            "no such program; the object has: {}",
            list(&mut object.programs.iter())
        ))),
        many => Err(Error::Select(format!(
            "several programs match, choose one with --program: {}",
            list(&mut many.iter().map(|&i| &object.programs[i]))
        ))),
    }
}

/// The runtime's spec for a declared map.
fn map_spec(decl: &MapDecl, cpus: u32) -> Result<MapSpec, Error> {
    let unsupported = || Error::Map {
        map: decl.name.clone(),
        error: format!("map type `{}` is not supported", decl.map_type),
    };
    let kind = MapKind::from_type_id(decl.map_type.0).ok_or_else(unsupported)?;
    let mut spec = MapSpec {
        name: decl.name.clone(),
        kind,
        key_size: decl.key_size,
        value_size: decl.value_size,
        max_entries: decl.max_entries,
        flags: decl.flags,
        inner: None,
    };
    // libbpf's defaults: perf event arrays get 4-byte keys and values and one slot per CPU.
    if kind == MapKind::PerfEventArray {
        spec.key_size = if spec.key_size == 0 { 4 } else { spec.key_size };
        spec.value_size = if spec.value_size == 0 {
            4
        } else {
            spec.value_size
        };
        spec.max_entries = if spec.max_entries == 0 {
            cpus
        } else {
            spec.max_entries
        };
    }
    if let Some(inner) = &decl.inner {
        spec.inner = Some(Box::new(map_spec(inner, cpus)?));
    }
    Ok(spec)
}

fn map_error(decl: &MapDecl, error: MapError) -> Error {
    Error::Map {
        map: decl.name.clone(),
        error: error.to_string(),
    }
}

/// Creates the object's maps in order (so `MapIdx(i)` is `MapId(i)`) with their
/// initial contents.
fn create_maps(object: &Object, cpus: u32) -> Result<Maps, Error> {
    let mut maps = Maps::with_cpus(cpus);
    for decl in &object.maps {
        let id = maps
            .create(map_spec(decl, cpus)?)
            .map_err(|e| map_error(decl, e))?;
        if let Some(data) = &decl.initial_data {
            maps.set_initial_data(id, data)
                .map_err(|e| map_error(decl, e))?;
        }
    }
    for (i, decl) in object.maps.iter().enumerate() {
        for (slot, value) in &decl.initial_values {
            let id = match value {
                InitialValue::Map(index) => *index as u32,
                InitialValue::Program(name) => object
                    .programs
                    .iter()
                    .position(|p| &p.name == name)
                    .ok_or_else(|| Error::Map {
                        map: decl.name.clone(),
                        error: format!("`.values` names `{name}`, which is not a program"),
                    })? as u32,
            };
            maps.update(
                MapId(i as u32),
                &slot.to_le_bytes(),
                &id.to_le_bytes(),
                BPF_ANY,
            )
            .map_err(|e| map_error(decl, e))?;
        }
    }
    Ok(maps)
}

impl Vm {
    /// Loads program `select` of the ELF object `bytes`, with the object's maps (per-CPU
    /// maps with `cpus` copies) and the kernel helpers.
    pub fn from_elf(bytes: &[u8], select: Select<'_>, cpus: u32) -> Result<Vm, Error> {
        Vm::from_object(&Object::parse(bytes)?, select, cpus)
    }

    /// [`Vm::from_elf`] for an object already parsed.
    pub fn from_object(object: &Object, select: Select<'_>, cpus: u32) -> Result<Vm, Error> {
        let entry = choose(object, select)?;
        let maps = create_maps(object, cpus)?;
        let programs = object
            .programs
            .iter()
            .map(|p| Interpreter::with_maps(&p.program, &maps))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = &object.programs[entry];
        let sources: Vec<Program> = object.programs.iter().map(|p| p.program.clone()).collect();
        let kernel = Kernel::new();
        let mut helpers = Helpers::new();
        kernel_helpers::register(&mut helpers, &kernel);
        Ok(Vm {
            program: spec.program.clone(),
            interpreter: programs[entry].clone(),
            helpers,
            stack: Stack::new(),
            budget: None,
            maps,
            programs,
            stack_dirty: crate::stack_dirty(&sources),
            sources,
            kernel,
            elf: Some(ElfProgram {
                name: spec.name.clone(),
                section: spec.section.clone(),
                prog_type: spec.prog_type,
                id: entry as u32,
            }),
            jit: Vec::new(),
            prog_type: None,
            attach: None,
            redirect: Default::default(),
            rc_calls: Default::default(),
            socket: Default::default(),
            tiering: Default::default(),
        })
    }

    /// The maps (empty unless loaded from an object): read and write them between runs.
    pub fn maps(&self) -> &Maps {
        &self.maps
    }

    /// The maps, mutably (to create maps).
    pub fn maps_mut(&mut self) -> &mut Maps {
        &mut self.maps
    }

    /// The state the kernel helpers share with the embedder (clock, random seed, task,
    /// captured `bpf_trace_printk` output).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The program chosen from an ELF object, if the program came from one.
    pub fn elf_program(&self) -> Option<&ElfProgram> {
        self.elf.as_ref()
    }

    /// Every map by name with its entries sorted by key; per-CPU maps give one
    /// `value_size` value per CPU, concatenated (without the 8-byte rounding between
    /// copies that [`Maps::entries`] keeps, as the kernel's syscall interface does);
    /// ring buffers and perf event arrays have none. This is `--maps-json`'s form, and
    /// the one the kernel backend reads back.
    pub fn map_entries(&self) -> Vec<(String, Vec<Entry>)> {
        self.maps
            .ids()
            .filter_map(|id| {
                let spec = self.maps.spec(id)?;
                let mut entries = self.maps.entries(id).unwrap_or_default();
                if spec.kind.is_percpu() {
                    let size = spec.value_size as usize;
                    let stride = size.div_ceil(8) * 8;
                    for (_, value) in &mut entries {
                        *value = value
                            .chunks(stride.max(1))
                            .flat_map(|copy| &copy[..size.min(copy.len())])
                            .copied()
                            .collect();
                    }
                }
                Some((spec.name.clone(), entries))
            })
            .collect()
    }
}
