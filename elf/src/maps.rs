//! Map declarations: the legacy `maps` section (`struct bpf_map_def`), BTF-defined maps
//! in `.maps` (read through the object's BTF), and global data sections (`.data`,
//! `.rodata*`, `.bss`) as single-entry array maps.

use std::fmt;

use crate::btf::{Btf, Kind};
use crate::error::ElfError;
use crate::reader::{ElfFile, R_BPF_64_ABS64};

/// A kernel map type (`enum bpf_map_type`), kept as the kernel's number so objects with
/// types this crate does not name still parse; the runtime decides what it supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapType(pub u32);

macro_rules! map_types {
    ($($name:ident = $id:literal, $text:literal;)*) => {
        impl MapType {
            $(
                #[doc = concat!("`BPF_MAP_TYPE_", stringify!($name), "`")]
                pub const $name: MapType = MapType($id);
            )*

            /// The kernel's name in lower case without the prefix, when it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($id => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

map_types! {
    UNSPEC = 0, "unspec";
    HASH = 1, "hash";
    ARRAY = 2, "array";
    PROG_ARRAY = 3, "prog_array";
    PERF_EVENT_ARRAY = 4, "perf_event_array";
    PERCPU_HASH = 5, "percpu_hash";
    PERCPU_ARRAY = 6, "percpu_array";
    STACK_TRACE = 7, "stack_trace";
    CGROUP_ARRAY = 8, "cgroup_array";
    LRU_HASH = 9, "lru_hash";
    LRU_PERCPU_HASH = 10, "lru_percpu_hash";
    LPM_TRIE = 11, "lpm_trie";
    ARRAY_OF_MAPS = 12, "array_of_maps";
    HASH_OF_MAPS = 13, "hash_of_maps";
    DEVMAP = 14, "devmap";
    SOCKMAP = 15, "sockmap";
    CPUMAP = 16, "cpumap";
    XSKMAP = 17, "xskmap";
    SOCKHASH = 18, "sockhash";
    CGROUP_STORAGE = 19, "cgroup_storage";
    REUSEPORT_SOCKARRAY = 20, "reuseport_sockarray";
    PERCPU_CGROUP_STORAGE = 21, "percpu_cgroup_storage";
    QUEUE = 22, "queue";
    STACK = 23, "stack";
    SK_STORAGE = 24, "sk_storage";
    DEVMAP_HASH = 25, "devmap_hash";
    STRUCT_OPS = 26, "struct_ops";
    RINGBUF = 27, "ringbuf";
    INODE_STORAGE = 28, "inode_storage";
    TASK_STORAGE = 29, "task_storage";
    BLOOM_FILTER = 30, "bloom_filter";
    USER_RINGBUF = 31, "user_ringbuf";
    CGRP_STORAGE = 32, "cgrp_storage";
    ARENA = 33, "arena";
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "map type {}", self.0),
        }
    }
}

/// `BPF_F_RDONLY_PROG`: the program may only read the map (`.rodata`).
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`: libbpf creates global data maps with it.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// Where a map was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapOrigin {
    /// The legacy `maps` section.
    Legacy,
    /// The BTF-defined `.maps` section.
    Btf,
    /// A global data section (`.data`, `.rodata*`, `.bss`).
    GlobalData,
    /// The inner map template of a map-in-map (`__array(values, struct inner)`).
    InnerTemplate,
}

/// A declarative initial value of a prog array or map-in-map slot (`.values = {...}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitialValue {
    /// A program, by its function name (prog arrays).
    Program(String),
    /// A map, by its index in [`crate::Object::maps`] (maps of maps).
    Map(usize),
}

/// A map the object declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDecl {
    /// The map's name: the variable's, or the section's for global data (`.bss`).
    pub name: String,
    /// The kernel map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// For global data: the section's bytes (`None` for `.bss`, which starts zeroed).
    pub initial_data: Option<Vec<u8>>,
    /// For maps of maps: the inner map's definition.
    pub inner: Option<Box<MapDecl>>,
    /// Declarative initial values (`.values = { [i] = ... }`), by slot.
    pub initial_values: Vec<(u32, InitialValue)>,
    /// Where it was declared.
    pub origin: MapOrigin,
    /// `map_extra` (bloom filters' hash count), 0 when absent.
    pub map_extra: u64,
}

/// Maps found in the object, and how relocations find them: `(section, offset)` of
/// each map's definition, in index order.
pub(crate) struct FoundMaps {
    pub maps: Vec<MapDecl>,
    /// `(section index, start offset)` of each map; global data maps have offset 0 and
    /// cover the whole section.
    pub places: Vec<(usize, u64)>,
}

fn read_u32(data: &[u8], at: u64) -> Option<u32> {
    let at = usize::try_from(at).ok()?;
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Every map of the object: legacy, BTF-defined, then global data.
pub(crate) fn find_maps(elf: &ElfFile<'_>, btf: Option<&Btf>) -> Result<FoundMaps, ElfError> {
    let mut found = FoundMaps {
        maps: Vec::new(),
        places: Vec::new(),
    };
    if let Some(sec) = elf.section_index("maps") {
        legacy_maps(elf, sec, &mut found)?;
    }
    if let Some(sec) = elf.section_index(".maps") {
        let btf = btf.ok_or_else(|| {
            ElfError::malformed(
                "section `.maps`",
                "BTF-defined maps need the object's .BTF section (compile with -g)",
            )
        })?;
        btf_maps(elf, sec, btf, &mut found)?;
    }
    for (i, s) in elf.sections.iter().enumerate() {
        if is_global_data(&s.name) && s.size > 0 {
            let readonly = s.name.starts_with(".rodata");
            let value_size = u32::try_from(s.size).map_err(|_| {
                ElfError::map(
                    &s.name,
                    format!("{} bytes is too large for a map value", s.size),
                )
            })?;
            found.maps.push(MapDecl {
                name: s.name.clone(),
                map_type: MapType::ARRAY,
                key_size: 4,
                value_size,
                max_entries: 1,
                flags: BPF_F_MMAPABLE | if readonly { BPF_F_RDONLY_PROG } else { 0 },
                initial_data: (!s.nobits).then(|| s.data.to_vec()),
                inner: None,
                initial_values: Vec::new(),
                origin: MapOrigin::GlobalData,
                map_extra: 0,
            });
            found.places.push((i, 0));
        }
    }
    Ok(found)
}

/// Whether a section holds global variables that become an array map.
pub(crate) fn is_global_data(name: &str) -> bool {
    let stem = |s: &str| name == s || name.starts_with(&format!("{s}."));
    stem(".data") || stem(".rodata") || stem(".bss")
}

/// The legacy `maps` section: one `struct bpf_map_def` (or a longer variant such as
/// iproute2's `bpf_elf_map`) per symbol, all the same size.
fn legacy_maps(elf: &ElfFile<'_>, sec: usize, found: &mut FoundMaps) -> Result<(), ElfError> {
    let data = elf.sections[sec].data;
    let mut syms: Vec<&crate::reader::Symbol> = elf
        .symbols
        .iter()
        .filter(|s| s.section == Some(sec) && !s.is_section && !s.name.is_empty())
        .collect();
    syms.sort_by_key(|s| s.value);
    if syms.is_empty() {
        return Ok(());
    }
    let def_size = data.len() as u64 / syms.len() as u64;
    if def_size < 16 || data.len() as u64 % syms.len() as u64 != 0 {
        return Err(ElfError::malformed(
            "section `maps`",
            format!(
                "{} bytes do not divide into {} map definitions of at least 16 bytes",
                data.len(),
                syms.len()
            ),
        ));
    }
    for sym in syms {
        let field = |i: u64| {
            if i * 4 + 4 > def_size {
                return Ok(0);
            }
            let at = sym.value.saturating_add(i * 4);
            read_u32(data, at).ok_or_else(|| {
                ElfError::map(
                    &sym.name,
                    format!("definition at {:#x} runs past section `maps`", sym.value),
                )
            })
        };
        found.maps.push(MapDecl {
            name: sym.name.clone(),
            map_type: MapType(field(0)?),
            key_size: field(1)?,
            value_size: field(2)?,
            max_entries: field(3)?,
            flags: field(4)?,
            initial_data: None,
            inner: None,
            initial_values: Vec::new(),
            origin: MapOrigin::Legacy,
            map_extra: 0,
        });
        found.places.push((sec, sym.value));
    }
    Ok(())
}

/// BTF-defined maps: each variable of the `.maps` data section is a struct whose
/// members describe the map (`__uint(type, ...)`, `__type(key, ...)`, ...).
fn btf_maps(
    elf: &ElfFile<'_>,
    sec: usize,
    btf: &Btf,
    found: &mut FoundMaps,
) -> Result<(), ElfError> {
    let Some(datasec) = btf.datasec(".maps") else {
        return Err(ElfError::malformed(
            "section `.maps`",
            "the BTF has no `.maps` data section describing the maps",
        ));
    };
    // Pass 1: the maps themselves, so that `.values` of maps of maps can name any map.
    let first = found.maps.len();
    let mut values_at = Vec::new();
    for var in &datasec.vars {
        let v = btf
            .get(var.type_id)
            .filter(|t| t.kind == Kind::Var)
            .ok_or_else(|| ElfError::Btf {
                offset: datasec.offset,
                reason: format!(".maps entry type {} is not a variable", var.type_id),
            })?;
        let name = v.name.clone();
        let sym = elf
            .symbols
            .iter()
            .find(|s| s.section == Some(sec) && s.name == name)
            .ok_or_else(|| ElfError::map(&name, "no symbol for it in section `.maps`"))?;
        let (decl, values_offset) = map_from_struct(btf, &name, v.size_or_type, MapOrigin::Btf, 0)?;
        values_at.push((sym.value, values_offset));
        found.maps.push(decl);
        found.places.push((sec, sym.value));
    }
    // Pass 2: `.values` initialisers, as relocations in `.rel.maps`.
    for reloc in &elf.relocs[sec] {
        // The map whose `.values` array holds this relocation is the one starting last
        // before it.
        let owner = values_at
            .iter()
            .enumerate()
            .filter(|(_, (start, values))| values.is_some() && reloc.offset >= *start)
            .max_by_key(|(_, (start, _))| *start);
        let Some((i, &(start, Some(values)))) = owner else {
            return Err(ElfError::Relocation {
                section: ".maps".into(),
                offset: reloc.offset,
                reason: "relocation outside any map's `.values`".into(),
            });
        };
        let map_index = first + i;
        let rel = reloc.offset - start;
        if reloc.kind != R_BPF_64_ABS64 || rel < values || (rel - values) % 8 != 0 {
            return Err(ElfError::Relocation {
                section: ".maps".into(),
                offset: reloc.offset,
                reason: format!(
                    "map `{}`: expected an 8-byte `.values` slot (R_BPF_64_ABS64)",
                    found.maps[map_index].name
                ),
            });
        }
        let slot = u32::try_from((rel - values) / 8).unwrap_or(u32::MAX);
        let target = &elf.symbols[reloc.symbol];
        let map = &found.maps[map_index];
        let value = if map.map_type == MapType::PROG_ARRAY {
            if !target.is_function {
                return Err(ElfError::map(
                    &map.name,
                    format!("`.values` slot {slot} is not a program"),
                ));
            }
            InitialValue::Program(target.name.clone())
        } else {
            let index = found
                .places
                .iter()
                .position(|&(s, off)| Some(s) == target.section && off == target.value && s == sec)
                .ok_or_else(|| {
                    ElfError::map(&map.name, format!("`.values` slot {slot} is not a map"))
                })?;
            InitialValue::Map(index)
        };
        if slot >= map.max_entries {
            return Err(ElfError::map(
                &map.name,
                format!(
                    "`.values` slot {slot} is beyond max_entries {}",
                    map.max_entries
                ),
            ));
        }
        found.maps[map_index].initial_values.push((slot, value));
    }
    for m in &mut found.maps[first..] {
        m.initial_values.sort_by_key(|(slot, _)| *slot);
    }
    Ok(())
}

/// Reads a map definition struct. Returns it and the byte offset of its `values`
/// member, when it has one.
fn map_from_struct(
    btf: &Btf,
    name: &str,
    type_id: u32,
    origin: MapOrigin,
    depth: usize,
) -> Result<(MapDecl, Option<u64>), ElfError> {
    let (_, def) = btf.resolve(type_id)?;
    if def.kind != Kind::Struct {
        return Err(ElfError::map(
            name,
            format!("its BTF type is a {:?}, not a struct", def.kind),
        ));
    }
    let mut decl = MapDecl {
        name: name.to_string(),
        map_type: MapType::UNSPEC,
        key_size: 0,
        value_size: 0,
        max_entries: 0,
        flags: 0,
        initial_data: None,
        inner: None,
        initial_values: Vec::new(),
        origin,
        map_extra: 0,
    };
    let mut values_offset = None;
    let mut has_value_size = false;
    for m in &def.members {
        let what = |reason: String| ElfError::map(name, format!("member `{}`: {reason}", m.name));
        match m.name.as_str() {
            "type" => decl.map_type = MapType(uint_member(btf, m.type_id).map_err(what)?),
            "max_entries" => decl.max_entries = uint_member(btf, m.type_id).map_err(what)?,
            "map_flags" => decl.flags = uint_member(btf, m.type_id).map_err(what)?,
            "key_size" => decl.key_size = uint_member(btf, m.type_id).map_err(what)?,
            "value_size" => {
                decl.value_size = uint_member(btf, m.type_id).map_err(what)?;
                has_value_size = true;
            }
            "map_extra" => decl.map_extra = uint_member(btf, m.type_id).map_err(what)? as u64,
            "key" => decl.key_size = pointee_size(btf, m.type_id).map_err(what)?,
            "value" => {
                decl.value_size = pointee_size(btf, m.type_id).map_err(what)?;
                has_value_size = true;
            }
            "values" => {
                values_offset = Some(m.bit_offset as u64 / 8);
                let (_, arr) = btf.resolve(m.type_id)?;
                let (elem, _) = arr
                    .array
                    .filter(|_| arr.kind == Kind::Array)
                    .ok_or_else(|| {
                        what(
                            "`values` must be an array of pointers (`__array(values, ...)`)".into(),
                        )
                    })?;
                let (_, ptr) = btf.resolve(elem)?;
                if ptr.kind != Kind::Ptr {
                    return Err(what("`values` elements must be pointers".into()));
                }
                let (inner_id, inner) = btf.resolve(ptr.size_or_type)?;
                if inner.kind == Kind::Struct {
                    if depth > 0 {
                        return Err(what("maps of maps nest only one level".into()));
                    }
                    let inner_name = format!("{name}.inner");
                    let (inner_decl, _) = map_from_struct(
                        btf,
                        &inner_name,
                        inner_id,
                        MapOrigin::InnerTemplate,
                        depth + 1,
                    )?;
                    decl.inner = Some(Box::new(inner_decl));
                }
            }
            "pinning" | "numa_node" => {}
            other => {
                return Err(ElfError::map(
                    name,
                    format!("unknown map definition member `{other}`"),
                ))
            }
        }
    }
    // The kernel's value of a prog array or map-of-maps slot is an fd.
    if values_offset.is_some() && !has_value_size {
        decl.value_size = 4;
    }
    Ok((decl, values_offset))
}

/// `__uint(name, N)` is `int (*name)[N]`: a pointer to an array of N elements.
fn uint_member(btf: &Btf, type_id: u32) -> Result<u32, String> {
    let (_, ptr) = btf.resolve(type_id).map_err(|e| e.to_string())?;
    if ptr.kind != Kind::Ptr {
        return Err("expected `__uint(...)` (a pointer to an array)".into());
    }
    let (_, arr) = btf.resolve(ptr.size_or_type).map_err(|e| e.to_string())?;
    match (arr.kind, arr.array) {
        (Kind::Array, Some((_, n))) => Ok(n),
        _ => Err("expected `__uint(...)` (a pointer to an array)".into()),
    }
}

/// `__type(name, T)` is `T *name`: the size of T.
fn pointee_size(btf: &Btf, type_id: u32) -> Result<u32, String> {
    let (_, ptr) = btf.resolve(type_id).map_err(|e| e.to_string())?;
    if ptr.kind != Kind::Ptr {
        return Err("expected `__type(...)` (a pointer to the type)".into());
    }
    let size = btf.size_of(ptr.size_or_type).map_err(|e| e.to_string())?;
    u32::try_from(size).map_err(|_| format!("type size {size} is too large"))
}
