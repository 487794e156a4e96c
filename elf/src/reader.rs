//! The ELF layer: checks the header ourselves (so the refusals name the problem), then
//! lets goblin read section headers, symbols and relocations, and copies what we need
//! into plain types of our own. Nothing of goblin leaves this file.

use goblin::elf::header::{EM_BPF, ET_CORE, ET_DYN, ET_EXEC, ET_REL};
use goblin::elf::section_header::{SHF_EXECINSTR, SHT_NOBITS, SHT_REL};
use goblin::elf::sym::{STB_GLOBAL, STB_WEAK, STT_FUNC, STT_SECTION};
use goblin::elf::Elf;

use crate::error::ElfError;

/// A section header with its name and contents.
#[derive(Clone, Debug)]
pub(crate) struct Section<'a> {
    pub name: String,
    /// The file bytes (empty for `SHT_NOBITS`).
    pub data: &'a [u8],
    /// The size in memory (`sh_size`, also for `.bss`).
    pub size: u64,
    pub executable: bool,
    pub nobits: bool,
}

/// A symbol table entry.
#[derive(Clone, Debug)]
pub(crate) struct Symbol {
    pub name: String,
    /// Section index, `None` for undefined (extern) symbols.
    pub section: Option<usize>,
    pub value: u64,
    pub size: u64,
    pub is_function: bool,
    pub is_section: bool,
    pub is_global: bool,
}

/// A relocation of a section: offset, type and symbol index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reloc {
    pub offset: u64,
    pub kind: u32,
    pub symbol: usize,
}

/// R_BPF_64_64: an `lddw` referencing a map, global data or a function.
pub(crate) const R_BPF_64_64: u32 = 1;
/// R_BPF_64_ABS64: a 64-bit data word (e.g. `.values` of a map in `.maps`).
pub(crate) const R_BPF_64_ABS64: u32 = 2;
/// R_BPF_64_32: a `call` of a function.
pub(crate) const R_BPF_64_32: u32 = 10;

/// The parts of an ELF object the loader uses.
pub(crate) struct ElfFile<'a> {
    pub sections: Vec<Section<'a>>,
    pub symbols: Vec<Symbol>,
    /// Relocations by the index of the section they apply to.
    pub relocs: Vec<Vec<Reloc>>,
}

/// Checks the identification and header fields that decide whether we can load the
/// object at all, before goblin sees it.
fn check_header(bytes: &[u8]) -> Result<(), ElfError> {
    if !bytes.starts_with(b"\x7fELF") {
        return Err(ElfError::NotElf);
    }
    if bytes.len() < 64 {
        return Err(ElfError::BadHeader(format!(
            "{} bytes is shorter than the 64-byte ELF64 header",
            bytes.len()
        )));
    }
    match bytes[4] {
        2 => {}
        1 => return Err(ElfError::Class32),
        c => return Err(ElfError::BadHeader(format!("invalid class {c}"))),
    }
    match bytes[5] {
        1 => {}
        2 => return Err(ElfError::BigEndian),
        d => return Err(ElfError::BadHeader(format!("invalid data encoding {d}"))),
    }
    let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    if machine != EM_BPF {
        return Err(ElfError::NotBpf { machine });
    }
    let kind = match e_type {
        ET_REL => return Ok(()),
        ET_EXEC => "an executable (ET_EXEC)",
        ET_DYN => "a shared object (ET_DYN)",
        ET_CORE => "a core file (ET_CORE)",
        0 => "none (ET_NONE)",
        _ => "unknown",
    };
    Err(ElfError::NotRelocatable { kind })
}

impl<'a> ElfFile<'a> {
    /// Reads an eBPF relocatable object.
    pub fn parse(bytes: &'a [u8]) -> Result<ElfFile<'a>, ElfError> {
        check_header(bytes)?;
        let elf =
            Elf::parse(bytes).map_err(|e| ElfError::malformed("the ELF tables", e.to_string()))?;
        let mut sections = Vec::with_capacity(elf.section_headers.len());
        for (i, sh) in elf.section_headers.iter().enumerate() {
            let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("").to_string();
            let nobits = sh.sh_type == SHT_NOBITS;
            let data = if nobits || sh.sh_type == 0 {
                &[][..]
            } else {
                let range = (sh.sh_offset as usize)
                    .checked_add(sh.sh_size as usize)
                    .filter(|&end| end <= bytes.len() && sh.sh_offset <= usize::MAX as u64)
                    .map(|end| sh.sh_offset as usize..end);
                match range {
                    Some(r) => &bytes[r],
                    None => {
                        return Err(ElfError::malformed(
                            format!("section {i} `{name}`"),
                            format!(
                                "contents ({:#x}+{:#x}) lie outside the file ({:#x} bytes)",
                                sh.sh_offset,
                                sh.sh_size,
                                bytes.len()
                            ),
                        ))
                    }
                }
            };
            sections.push(Section {
                name,
                data,
                size: sh.sh_size,
                executable: sh.sh_flags & SHF_EXECINSTR as u64 != 0,
                nobits,
            });
        }
        let symbols = elf
            .syms
            .iter()
            .map(|s| Symbol {
                name: elf.strtab.get_at(s.st_name).unwrap_or("").to_string(),
                section: (s.st_shndx != 0 && s.st_shndx < sections.len()).then_some(s.st_shndx),
                value: s.st_value,
                size: s.st_size,
                is_function: s.st_type() == STT_FUNC,
                is_section: s.st_type() == STT_SECTION,
                is_global: matches!(s.st_bind(), STB_GLOBAL | STB_WEAK),
            })
            .collect::<Vec<_>>();
        let mut relocs = vec![Vec::new(); sections.len()];
        for (index, rs) in &elf.shdr_relocs {
            let sh = &elf.section_headers[*index];
            if sh.sh_type != SHT_REL {
                return Err(ElfError::malformed(
                    format!("section {index} `{}`", sections[*index].name),
                    "RELA relocations are not used by eBPF objects",
                ));
            }
            let target = sh.sh_info as usize;
            let Some(list) = relocs.get_mut(target) else {
                return Err(ElfError::malformed(
                    format!("section {index} `{}`", sections[*index].name),
                    format!("relocates section {target}, which does not exist"),
                ));
            };
            for r in rs.iter() {
                if r.r_sym >= symbols.len() {
                    return Err(ElfError::malformed(
                        format!(
                            "section {index} `{}` at {:#x}",
                            sections[*index].name, r.r_offset
                        ),
                        format!("symbol index {} outside the symbol table", r.r_sym),
                    ));
                }
                list.push(Reloc {
                    offset: r.r_offset,
                    kind: r.r_type,
                    symbol: r.r_sym,
                });
            }
        }
        Ok(ElfFile {
            sections,
            symbols,
            relocs,
        })
    }

    /// The index of the section named `name`.
    pub fn section_index(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// The display name of a symbol: its own, or its section's for section symbols.
    pub fn symbol_name(&self, index: usize) -> String {
        let sym = &self.symbols[index];
        match (sym.is_section, sym.section) {
            (true, Some(s)) if sym.name.is_empty() => self.sections[s].name.clone(),
            _ => sym.name.clone(),
        }
    }
}
