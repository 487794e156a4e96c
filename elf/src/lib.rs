//! eBPF ELF objects as clang writes them (`clang -target bpf -c`): programs by section
//! and by function, program types from section names (libbpf's conventions), maps
//! (legacy `maps`, BTF-defined `.maps`, global data), and linking each program with the
//! subprograms it calls into a validated [`ebpfvm_isa::Program`].
//!
//! ```no_run
//! let bytes = std::fs::read("prog.o").unwrap();
//! let object = ebpfvm_elf::Object::parse(&bytes).unwrap();
//! for p in &object.programs {
//!     println!("{} in {} ({} slots)", p.name, p.section, p.program.len());
//! }
//! for m in &object.maps {
//!     println!("map {}: {} {}B -> {}B x {}", m.name, m.map_type, m.key_size, m.value_size, m.max_entries);
//! }
//! ```
//!
//! Map references become `lddw` kinds that name a map by its index in
//! [`Object::maps`]: `Imm64::MapIdx(i)` (the map) and `Imm64::MapIdxValue { index,
//! offset }` (global data). Refused with an error naming the feature: big-endian
//! objects, CO-RE relocations, kfunc calls and extern variables.
//!
//! Invariant: no goblin type appears in this crate's public API (`reader.rs` is the only
//! file that uses goblin).

mod btf;
mod error;
mod link;
mod maps;
mod reader;

pub use ebpfvm_ctx_models::{ProgramType, UnknownProgramType};
pub use error::ElfError;
pub use maps::{InitialValue, MapDecl, MapOrigin, MapType, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG};

use btf::Btf;
use ebpfvm_isa::Program;
use reader::ElfFile;

/// One program of the object, linked with the subprograms it calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The function's symbol name (or the section's, for a section without symbols).
    pub name: String,
    /// The ELF section it is in (`xdp`, `kprobe/do_sys_open`).
    pub section: String,
    /// The type its section name gives, with libbpf's conventions; `None` when the
    /// name is not one libbpf knows.
    pub prog_type: Option<ProgramType>,
    /// The linked, validated program: the function first, then its subprograms.
    pub program: Program,
}

/// A parsed eBPF object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The `license` section's text, if any.
    pub license: Option<String>,
    /// The programs, in section then address order.
    pub programs: Vec<ProgramSpec>,
    /// The maps; `Imm64::MapIdx(i)` in a program names `maps[i]`.
    pub maps: Vec<MapDecl>,
}

impl Object {
    /// Parses and links a relocatable little-endian EM_BPF object.
    pub fn parse(bytes: &[u8]) -> Result<Object, ElfError> {
        let elf = ElfFile::parse(bytes)?;
        let btf = match elf.section_index(".BTF") {
            Some(i) => Some(Btf::parse(elf.sections[i].data)?),
            None => None,
        };
        if let Some(i) = elf.section_index(".BTF.ext") {
            let strings = elf
                .section_index(".BTF")
                .map(|b| elf.sections[b].data)
                .unwrap_or(&[]);
            let names = |off: u32| Btf::string_at(strings, off);
            if let Some((section, count)) = btf::core_relocations(elf.sections[i].data, &names)?
                .into_iter()
                .next()
            {
                return Err(ElfError::CoRe { section, count });
            }
        }
        let found = maps::find_maps(&elf, btf.as_ref())?;
        let code = link::Code::new(&elf, &found)?;
        let mut programs = Vec::new();
        for (name, section, entry) in code.entry_points() {
            let program = code.link(&name, entry)?;
            let section = elf.sections[section].name.clone();
            programs.push(ProgramSpec {
                prog_type: ProgramType::from_section(&section),
                name,
                section,
                program,
            });
        }
        let license = elf.section_index("license").map(|i| {
            let data = elf.sections[i].data;
            let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
            String::from_utf8_lossy(&data[..end]).into_owned()
        });
        Ok(Object {
            license,
            programs,
            maps: found.maps,
        })
    }

    /// The program whose function is named `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramSpec> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The programs of section `section`.
    pub fn programs_in_section<'s>(
        &'s self,
        section: &'s str,
    ) -> impl Iterator<Item = &'s ProgramSpec> + 's {
        self.programs.iter().filter(move |p| p.section == section)
    }

    /// The index of the map named `name`.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }
}
