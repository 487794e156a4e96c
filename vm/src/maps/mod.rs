//! Maps with the kernel's semantics, and the table ([`Maps`]) that programs and the host
//! share.
//!
//! # Guest pointers to map values
//! Each map that programs reach by pointer (arrays, the hash family, LPM tries, global
//! data, ring buffers) keeps its values in one fixed [`arena::Arena`], allocated when the
//! map is created. Map `id` is region `FIRST_MAP_REGION + id` of every memory map built
//! with `MemoryMap::with_maps`, so the value at byte `off` of that arena has the guest
//! address `(FIRST_MAP_REGION + id) << 32 | off` ([`MapId::value_address`]). That
//! address is known before any run, so `lddw` of a map value lowers to a constant, and
//! `bpf_map_lookup_elem` returns it. `arena.rs` explains why this is sound; the short
//! version: arenas never move or shrink, deleted values keep their (reused) slots, and
//! the maps outlive the memory map that refers to them.
//!
//! A program cannot read past its map's arena, but nothing stops a program run without
//! a verifier from reading a neighbouring value of the same map: the region is the map,
//! not the value.
//!
//! # Map handles
//! `lddw` of a map (`MapIdx`, `MapFd`) and lookups in maps of maps give a handle,
//! `MAP_HANDLE_REGION << 32 | id` ([`MapId::handle`]): never a mapped address (reading
//! through it faults), resolved by the helpers.
//!
//! # Operations during a run
//! The engines hold `&Maps` (through the memory map) while helpers update maps, so
//! operations take `&self` and each map's state sits in a `RefCell` that is borrowed only
//! inside one operation. All operations copy: no reference into map memory leaves this
//! module.

mod arena;
mod array;
mod error;
mod fd_array;
mod hash;
mod lpm;
mod perf;
mod prog_ops;
mod queue;
mod redirect;
mod ringbuf;
mod slots;
mod sock;
mod table;

pub use error::MapError;
pub use perf::{PerfRecord, BPF_F_CURRENT_CPU};
pub use table::{Entry, Maps};

/// Update flag: create or replace.
pub const BPF_ANY: u64 = 0;
/// Update flag: create only (`EEXIST` if the key exists).
pub const BPF_NOEXIST: u64 = 1;
/// Update flag: replace only (`ENOENT` if the key is missing).
pub const BPF_EXIST: u64 = 2;
/// Update flag: take the value's spin lock (accepted, nothing to lock here).
pub const BPF_F_LOCK: u64 = 4;
/// Map flag: do not preallocate (required by LPM tries).
pub const BPF_F_NO_PREALLOC: u32 = 1;
/// Map flag: programs may only read the map (`.rodata`).
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// The region of map 0's values; map `id` is region `FIRST_MAP_REGION + id`.
pub const FIRST_MAP_REGION: u64 = 3;
/// The region number of map handles: never mapped.
pub const MAP_HANDLE_REGION: u64 = 0xffff_ffff;

pub(crate) fn round8(n: u32) -> usize {
    (n as usize + 7) & !7
}

pub(crate) fn check_update_flags(flags: u64) -> Result<(), MapError> {
    if flags & !BPF_F_LOCK > BPF_EXIST {
        Err(MapError::Invalid)
    } else {
        Ok(())
    }
}

macro_rules! map_kinds {
    ($($kind:ident = $id:literal, $name:literal;)*) => {
        /// The map types this runtime implements, by the kernel's numbers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum MapKind {
            $(
                #[doc = concat!("`BPF_MAP_TYPE_", $name, "` (", stringify!($id), ")")]
                $kind,
            )*
        }

        impl MapKind {
            /// The kernel's `enum bpf_map_type` number.
            pub const fn type_id(self) -> u32 {
                match self { $(MapKind::$kind => $id,)* }
            }

            /// The kind with the kernel's number `id`, if this runtime implements it.
            pub const fn from_type_id(id: u32) -> Option<MapKind> {
                match id { $($id => Some(MapKind::$kind),)* _ => None }
            }

            /// The kernel's name, in lower case (`percpu_array`).
            pub fn name(self) -> String {
                match self { $(MapKind::$kind => $name.to_ascii_lowercase(),)* }
            }
        }
    };
}

map_kinds! {
    Hash = 1, "HASH";
    Array = 2, "ARRAY";
    ProgArray = 3, "PROG_ARRAY";
    PerfEventArray = 4, "PERF_EVENT_ARRAY";
    PercpuHash = 5, "PERCPU_HASH";
    PercpuArray = 6, "PERCPU_ARRAY";
    LruHash = 9, "LRU_HASH";
    LruPercpuHash = 10, "LRU_PERCPU_HASH";
    LpmTrie = 11, "LPM_TRIE";
    ArrayOfMaps = 12, "ARRAY_OF_MAPS";
    HashOfMaps = 13, "HASH_OF_MAPS";
    Devmap = 14, "DEVMAP";
    Cpumap = 16, "CPUMAP";
    Sockmap = 15, "SOCKMAP";
    Xskmap = 17, "XSKMAP";
    Sockhash = 18, "SOCKHASH";
    Queue = 22, "QUEUE";
    Stack = 23, "STACK";
    DevmapHash = 25, "DEVMAP_HASH";
    RingBuf = 27, "RINGBUF";
}

impl MapKind {
    /// Whether the host sees one value per CPU.
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapKind::PercpuArray | MapKind::PercpuHash | MapKind::LruPercpuHash
        )
    }

    /// Whether `bpf_redirect_map` may take the map (devices, CPUs, AF_XDP sockets).
    pub fn is_redirect(self) -> bool {
        matches!(
            self,
            MapKind::Devmap | MapKind::DevmapHash | MapKind::Cpumap | MapKind::Xskmap
        )
    }
}

impl MapKind {
    /// Whether `bpf_sk_redirect_map`/`bpf_sk_redirect_hash` take the map (sockets).
    pub fn is_sock(self) -> bool {
        matches!(self, MapKind::Sockmap | MapKind::Sockhash)
    }
}

/// What a map is: the attributes of `BPF_MAP_CREATE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// A name for the host (maps are found by it, `--maps-json` prints it).
    pub name: String,
    /// The map type.
    pub kind: MapKind,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries (the ring size for ring buffers).
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_NO_PREALLOC`, `BPF_F_RDONLY_PROG`, ...).
    pub flags: u32,
    /// For maps of maps: what inner maps must look like.
    pub inner: Option<Box<MapSpec>>,
}

impl MapSpec {
    /// A spec with no flags and no inner map.
    pub fn new(
        name: &str,
        kind: MapKind,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> MapSpec {
        MapSpec {
            name: name.to_string(),
            kind,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            inner: None,
        }
    }
}

/// The value an `lddw` of a map reference loads, for the engines' lowering: map
/// `index`'s handle (`offset` `None`: `MapIdx`, `MapFd`), or the guest address of byte
/// `offset` of its value (`MapIdxValue`, `MapValue`), which the kernel allows only for
/// single-element arrays. `Err` says what is wrong.
pub fn lddw_value(maps: &Maps, index: i64, offset: Option<u32>) -> Result<u64, &'static str> {
    let id = u32::try_from(index)
        .ok()
        .map(MapId)
        .filter(|&id| maps.spec(id).is_some())
        .ok_or("a map reference to a map index outside the map table")?;
    let spec = maps.spec(id).ok_or("a map reference to a missing map")?;
    match offset {
        None => Ok(id.handle()),
        Some(off)
            if spec.kind == MapKind::Array && spec.max_entries == 1 && off < spec.value_size =>
        {
            Ok(id.value_address(off))
        }
        Some(_) => Err("a map value reference outside the value of a single-element array"),
    }
}

/// A map's index in its [`Maps`] table (what `Imm64::MapIdx` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapId(pub u32);

impl MapId {
    /// The opaque value `lddw` of the map gives a program (never a mapped address).
    pub const fn handle(self) -> u64 {
        MAP_HANDLE_REGION << 32 | self.0 as u64
    }

    /// The map a handle names, if the value is a handle.
    pub const fn from_handle(handle: u64) -> Option<MapId> {
        if handle >> 32 == MAP_HANDLE_REGION {
            Some(MapId(handle as u32))
        } else {
            None
        }
    }

    /// The guest address of byte `offset` of the map's value storage.
    pub const fn value_address(self, offset: u32) -> u64 {
        (FIRST_MAP_REGION + self.0 as u64) << 32 | offset as u64
    }

    /// The map whose value storage contains guest address `addr`.
    pub const fn from_value_address(addr: u64) -> Option<MapId> {
        match (addr >> 32).checked_sub(FIRST_MAP_REGION) {
            Some(id) if id < u32::MAX as u64 => Some(MapId(id as u32)),
            _ => None,
        }
    }
}
