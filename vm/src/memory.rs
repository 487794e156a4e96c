//! Guest memory: virtual regions, and the one place where guest addresses become host
//! pointers.
//!
//! # SAFETY-CRITICAL
//! Every guest load and store of both engines goes through [`MemoryMap::host_ptr`]. A bug
//! here is a sandbox escape, so this file keeps its unsafe code small and says why each
//! block is sound.
//!
//! # Layout
//! A guest address is `region << 32 | offset`. The region number indexes a table, so
//! translation is O(1) and identical in the interpreter and the JIT:
//!
//! ```text
//!  0x0_0000_0000  region 0  null      never mapped: NULL and small offsets fault
//!  0x1_0000_0000  region 1  code      code addresses (pc * 8) for callx; not readable
//!  0x2_0000_0000  region 2  stack     8 frames x 512 bytes; frame 0's r10 is at the top
//!  0x3_0000_0000  region 3+ others    caller memory, context, packet, map values, ...
//! ```
//!
//! Each region records how many bytes may be read and how many written (0 for read-only
//! memory), so a check is one table load and one compare: `offset + size <= limit`.
//! `offset < 2^32` and `size <= 8`, so the sum never overflows.
//!
//! Invariant: a region's host pointer and lengths come from a slice borrowed for the
//! map's lifetime `'a` (mutably, when the write length is non-zero), so the memory stays
//! valid and unaliased by the host while the map exists.

use std::fmt;
use std::marker::PhantomData;

use smallvec::SmallVec;

use crate::maps::Maps;

/// Bytes of stack per call frame.
pub const FRAME_SIZE: usize = 512;
/// Call frames at most: the main program plus 7 nested bpf-to-bpf calls (as the kernel).
pub const MAX_FRAMES: usize = 8;
/// Total stack bytes.
pub const STACK_SIZE: usize = FRAME_SIZE * MAX_FRAMES;

/// Region number of code addresses.
pub const CODE_REGION: u64 = 1;
/// Region number of the stack.
pub const STACK_REGION: u64 = 2;
/// Guest address of the first byte of the stack.
pub const STACK_BASE: u64 = STACK_REGION << 32;
/// Guest address of the top of the stack: r10 of the main program.
pub const STACK_TOP: u64 = STACK_BASE + STACK_SIZE as u64;

/// The guest address of the instruction at `pc`, as `lddw` code addresses hold it.
pub const fn code_address(pc: usize) -> u64 {
    (CODE_REGION << 32) | (pc as u64 * 8)
}

/// What a region holds; named in traps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegionKind {
    /// The program's stack.
    Stack,
    /// Memory the caller passed in (`raw` programs: r1).
    Memory,
    /// A program context.
    Context,
    /// Packet data.
    Packet,
    /// A map value.
    MapValue,
    /// Read-only data.
    ReadOnly,
    /// Code addresses (never readable).
    Code,
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RegionKind::Stack => "stack",
            RegionKind::Memory => "memory",
            RegionKind::Context => "context",
            RegionKind::Packet => "packet",
            RegionKind::MapValue => "map value",
            RegionKind::ReadOnly => "read-only",
            RegionKind::Code => "code",
        })
    }
}

/// One entry of the region table. `#[repr(C)]` with this field order, because compiled
/// code (the JIT) reads `host`, `read_len` and `write_len` directly at the offsets
/// [`REGION_STRIDE`], [`REGION_HOST`], [`REGION_READ_LEN`] and [`REGION_WRITE_LEN`] name.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Region {
    host: *mut u8,
    read_len: u64,
    write_len: u64,
    kind: Option<RegionKind>,
}

/// Bytes between two entries of the region table ([`MemoryMap::region_table`]).
pub const REGION_STRIDE: usize = std::mem::size_of::<Region>();
/// Offset in a region-table entry of the host pointer (`*mut u8`) of offset 0.
pub const REGION_HOST: usize = std::mem::offset_of!(Region, host);
/// Offset in a region-table entry of the read limit (`u64`): an access of `size` bytes
/// at offset `o` may read when `o + size <= read_len`.
pub const REGION_READ_LEN: usize = std::mem::offset_of!(Region, read_len);
/// Offset in a region-table entry of the write limit (`u64`, 0 for read-only memory).
pub const REGION_WRITE_LEN: usize = std::mem::offset_of!(Region, write_len);

impl Region {
    const UNMAPPED: Region = Region {
        host: std::ptr::null_mut(),
        read_len: 0,
        write_len: 0,
        kind: None,
    };
}

/// The stack of one run: 8 frames of 512 bytes, owned by the caller so it can be reused.
pub struct Stack(Box<[u8; STACK_SIZE]>);

impl Stack {
    /// A zeroed stack.
    pub fn new() -> Stack {
        Stack(Box::new([0; STACK_SIZE]))
    }

    /// Zeroes the stack, so no run sees what an earlier one left.
    pub fn clear(&mut self) {
        self.0.fill(0);
    }

    /// Zeroes the bytes at offsets `range` (clipped to the stack): enough before a run
    /// when the earlier runs on this stack could only write there
    /// ([`crate::stack_writes`]).
    pub fn clear_range(&mut self, range: std::ops::Range<usize>) {
        let end = range.end.min(STACK_SIZE);
        if range.start < end {
            self.0[range.start..end].fill(0);
        }
    }

    /// The stack's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0[..]
    }
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new()
    }
}

/// The regions a run may touch, by guest address.
pub struct MemoryMap<'a> {
    regions: SmallVec<[Region; INLINE_REGIONS]>,
    packet: Option<u64>,
    maps: Option<&'a Maps>,
    /// Regions mapped with [`MemoryMap::map_window`]: (region index, the whole slice's
    /// pointer and length, writable).
    windows: Vec<(usize, *mut u8, usize, bool)>,
    _borrows: PhantomData<&'a mut [u8]>,
}

/// Regions held in the map itself: the fixed three, and room for those a run usually
/// adds (context, packet, ...) so that building a map, part of every run's cost, does not
/// allocate. More spill to the heap.
const INLINE_REGIONS: usize = 8;

/// Regions are limited to 4 GiB, the offset part of a guest address.
const MAX_REGION_LEN: usize = 1 << 32;

impl<'a> MemoryMap<'a> {
    /// A map with the null region, the code region and `stack`.
    #[inline]
    pub fn new(stack: &'a mut Stack) -> MemoryMap<'a> {
        let stack_region = Region {
            host: stack.0.as_mut_ptr(),
            read_len: STACK_SIZE as u64,
            write_len: STACK_SIZE as u64,
            kind: Some(RegionKind::Stack),
        };
        let code_region = Region {
            kind: Some(RegionKind::Code),
            ..Region::UNMAPPED
        };
        let mut regions = SmallVec::new();
        regions.extend([Region::UNMAPPED, code_region, stack_region]);
        MemoryMap {
            regions,
            packet: None,
            maps: None,
            windows: Vec::new(),
            _borrows: PhantomData,
        }
    }

    /// A map with the null, code and stack regions, then one region per map of `maps`
    /// (map `id` at region `FIRST_MAP_REGION + id`, so its values have the addresses
    /// [`crate::MapId::value_address`] gives; maps without value storage get an unmapped
    /// entry). Regions mapped afterwards follow them.
    ///
    /// Invariant (soundness): a map region's pointer comes from the map's arena, which
    /// never moves or shrinks while the map exists, and `maps` stays borrowed for `'a`;
    /// see `maps/arena.rs`.
    #[inline]
    pub fn with_maps(stack: &'a mut Stack, maps: &'a Maps) -> MemoryMap<'a> {
        let mut map = MemoryMap::new(stack);
        for id in maps.ids() {
            let region = match maps.region(id) {
                Some((host, len, writable)) if len as u64 <= MAX_REGION_LEN as u64 => Region {
                    host,
                    read_len: len as u64,
                    write_len: if writable { len as u64 } else { 0 },
                    kind: Some(RegionKind::MapValue),
                },
                _ => Region {
                    kind: Some(RegionKind::MapValue),
                    ..Region::UNMAPPED
                },
            };
            map.regions.push(region);
        }
        map.maps = Some(maps);
        map
    }

    /// The maps given to [`MemoryMap::with_maps`]. Takes `&mut self` on purpose: map
    /// operations write map memory, so they must not overlap a slice of guest memory
    /// borrowed from this map ([`MemoryMap::slice`]); the borrow checker then ensures it.
    pub fn maps(&mut self) -> Option<&Maps> {
        self.maps
    }

    /// Maps `bytes` read-write and returns its guest address.
    ///
    /// Fails when the slice is larger than 4 GiB or the region table is full.
    pub fn map_mut(&mut self, kind: RegionKind, bytes: &'a mut [u8]) -> Option<u64> {
        let len = bytes.len();
        self.push(bytes.as_mut_ptr(), len, len, kind)
    }

    /// Maps `bytes` read-only and returns its guest address.
    pub fn map_ro(&mut self, kind: RegionKind, bytes: &'a [u8]) -> Option<u64> {
        // The pointer is only ever written through when write_len > 0, which it is not.
        self.push(bytes.as_ptr().cast_mut(), bytes.len(), 0, kind)
    }

    fn push(&mut self, host: *mut u8, read: usize, write: usize, kind: RegionKind) -> Option<u64> {
        if read > MAX_REGION_LEN || self.regions.len() as u64 >= u32::MAX as u64 {
            return None;
        }
        let index = self.regions.len() as u64;
        self.regions.push(Region {
            host,
            read_len: read as u64,
            write_len: write as u64,
            kind: Some(kind),
        });
        Some(index << 32)
    }

    /// Maps `bytes[start..end]` as a region (read-write when `writable`) whose window
    /// can later move inside `bytes` with [`MemoryMap::set_window`]: a packet whose
    /// start and end helpers move (XDP's `adjust_head`/`adjust_tail`). Offset 0 of the
    /// region is always the window's first byte. `None` when the window is not inside
    /// `bytes` or the table is full.
    pub fn map_window(
        &mut self,
        kind: RegionKind,
        bytes: &'a mut [u8],
        start: usize,
        end: usize,
        writable: bool,
    ) -> Option<u64> {
        if start > end || end > bytes.len() {
            return None;
        }
        let (base, len) = (bytes.as_mut_ptr(), bytes.len());
        // SAFETY: start <= bytes.len(), so the pointer stays inside (or one past) the
        // slice, which is borrowed for 'a.
        let host = unsafe { base.add(start) };
        let addr = self.push(
            host,
            end - start,
            if writable { end - start } else { 0 },
            kind,
        )?;
        self.windows
            .push(((addr >> 32) as usize, base, len, writable));
        Some(addr)
    }

    /// Moves the window of the region at `addr` (mapped with [`MemoryMap::map_window`])
    /// to `[start, end)` of its slice; `false` (and no change) when the region has no
    /// window or the new one is not inside the slice.
    pub fn set_window(&mut self, addr: u64, start: usize, end: usize) -> bool {
        let index = (addr >> 32) as usize;
        let Some(&(_, base, len, writable)) = self.windows.iter().find(|w| w.0 == index) else {
            return false;
        };
        if start > end || end > len {
            return false;
        }
        let region = &mut self.regions[index];
        // SAFETY: start <= len, the length of the slice at `base`, borrowed for 'a (see
        // map_window), so the pointer stays inside (or one past) it; the limits below
        // keep every access inside [start, end).
        region.host = unsafe { base.add(start) };
        region.read_len = (end - start) as u64;
        region.write_len = if writable { (end - start) as u64 } else { 0 };
        true
    }

    /// Designates the region at `addr` as the packet that legacy packet loads
    /// (`LD_ABS`/`LD_IND`) read.
    pub fn set_packet(&mut self, addr: u64) {
        self.packet = Some(addr);
    }

    /// The bytes of the legacy-load packet (empty when there is none).
    pub fn packet(&self) -> &[u8] {
        let Some(addr) = self.packet else {
            return &[];
        };
        let len = self
            .regions
            .get((addr >> 32) as usize)
            .map_or(0, |r| r.read_len);
        self.slice(addr, len).unwrap_or(&[])
    }

    /// Translates a guest access of `size` bytes at `addr`, or `None` when it is not
    /// allowed. `write` selects the write limit.
    #[inline(always)]
    pub fn host_ptr(&self, addr: u64, size: u64, write: bool) -> Option<*mut u8> {
        let region = self.regions.get((addr >> 32) as usize)?;
        let offset = addr & 0xffff_ffff;
        let limit = if write {
            region.write_len
        } else {
            region.read_len
        };
        // offset < 2^32 and size <= 2^32, so this never overflows.
        if offset + size > limit {
            return None;
        }
        // SAFETY: offset + size <= limit <= the length of the slice behind `host`, which
        // is borrowed for 'a, so the pointer stays inside that allocation.
        Some(unsafe { region.host.add(offset as usize) })
    }

    /// Loads `N` bytes at `addr`.
    #[inline(always)]
    pub fn load<const N: usize>(&self, addr: u64) -> Option<[u8; N]> {
        let p = self.host_ptr(addr, N as u64, false)?;
        // SAFETY: host_ptr checked that N bytes at p are readable; read_unaligned has no
        // alignment requirement.
        Some(unsafe { p.cast::<[u8; N]>().read_unaligned() })
    }

    /// Stores `N` bytes at `addr`; `false` when not allowed.
    #[inline(always)]
    pub fn store<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> bool {
        match self.host_ptr(addr, N as u64, true) {
            Some(p) => {
                // SAFETY: host_ptr checked that N bytes at p are writable, and the map
                // holds the only (mutable) borrow of that memory.
                unsafe { p.cast::<[u8; N]>().write_unaligned(bytes) };
                true
            }
            None => false,
        }
    }

    /// The guest bytes `addr..addr+len`, when all of them are readable.
    pub fn slice(&self, addr: u64, len: u64) -> Option<&[u8]> {
        if len == 0 {
            return Some(&[]);
        }
        let p = self.host_ptr(addr, len.min(MAX_REGION_LEN as u64 + 1), false)?;
        // SAFETY: host_ptr checked that len bytes at p are readable and stay borrowed for
        // at least as long as &self.
        Some(unsafe { std::slice::from_raw_parts(p, len as usize) })
    }

    /// The guest bytes `addr..addr+len` for writing, when all of them are writable.
    pub fn slice_mut(&mut self, addr: u64, len: u64) -> Option<&mut [u8]> {
        if len == 0 {
            return Some(&mut []);
        }
        let p = self.host_ptr(addr, len.min(MAX_REGION_LEN as u64 + 1), true)?;
        // SAFETY: host_ptr checked that len bytes at p are writable; &mut self makes this
        // the only live reference into guest memory.
        Some(unsafe { std::slice::from_raw_parts_mut(p, len as usize) })
    }

    /// The region table, for compiled code that checks accesses inline: a pointer to its
    /// first entry and the number of entries (see [`REGION_STRIDE`] and the field
    /// offsets). Entry 0 is the unmapped null region (both limits 0), entry 2 the stack
    /// ([`STACK_SIZE`] bytes, readable and writable); existing entries never change, but
    /// mapping a region may move the table, and the table is held inline in the map, so
    /// the pointer is valid only until the map is next mutated or moved.
    pub fn region_table(&self) -> (*const u8, usize) {
        (self.regions.as_ptr().cast(), self.regions.len())
    }

    /// The kind of region `addr` falls in, if it is mapped.
    pub fn region_kind(&self, addr: u64) -> Option<RegionKind> {
        self.regions.get((addr >> 32) as usize)?.kind
    }
}
