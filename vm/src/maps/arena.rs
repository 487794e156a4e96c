//! `Arena`: the fixed heap storage behind map values that programs reach by pointer.
//!
//! # SAFETY-CRITICAL
//! This is the only unsafe code of the maps. An arena is one zeroed heap allocation made
//! when its map is created and freed when the map is dropped; it never grows, shrinks or
//! moves. That is what makes guest pointers to map values sound:
//!
//! - `MemoryMap::with_maps` records each arena's [`Arena::as_ptr`] and [`Arena::len`] as a
//!   region, while it borrows the `Maps` for its whole lifetime `'a`: the maps (and so
//!   their arenas) outlive every access made through that region.
//! - A value deleted during a run only returns its slot to the map's free list; its bytes
//!   stay allocated, so a stale guest pointer reads or writes memory of the same map
//!   (the kernel's preallocated maps behave the same), never freed memory.
//! - The bytes are only ever accessed through raw pointers ([`Arena::read`],
//!   [`Arena::write`], [`Arena::fill`], and the engines through the region). No Rust
//!   reference to arena bytes is created here, so writes by the program and by map
//!   operations never invalidate a live reference. The one reference that can exist is
//!   `MemoryMap::slice`'s, which borrows the memory map; the maps are reachable during a
//!   run only through `MemoryMap::maps`, which takes `&mut self`, so the two cannot
//!   overlap.
//! - Offsets are checked against the length in every method: an out-of-range request
//!   is refused (`false`/`None`), never clamped or trusted.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

/// A fixed-size, zero-initialised, 8-byte-aligned heap allocation.
pub(crate) struct Arena {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: an Arena exclusively owns its allocation (like a Box<[u8]>); nothing ties it to
// the thread that created it. It is not Sync: maps mutate it through shared references.
unsafe impl Send for Arena {}

impl Arena {
    /// A zeroed arena of `len` bytes, or `None` when it cannot be allocated.
    pub fn new(len: usize) -> Option<Arena> {
        if len == 0 {
            return Some(Arena {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        let layout = Layout::from_size_align(len, 8).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        Some(Arena {
            ptr: NonNull::new(ptr)?,
            len,
        })
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The first byte, for the memory map's region (valid for `len` bytes while the
    /// arena lives; dangling but never dereferenced when `len` is 0).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn range_ok(&self, offset: usize, len: usize) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len)
    }

    /// Copies `out.len()` bytes at `offset` into `out`; `false` when out of range.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        if !self.range_ok(offset, out.len()) {
            return false;
        }
        if out.is_empty() {
            return true;
        }
        // SAFETY: offset + out.len() <= len, inside the live allocation; `out` is a
        // separate Rust buffer (it cannot point into the arena: no references to arena
        // bytes are ever handed out), so the ranges do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        true
    }

    /// Copies `data` to `offset`; `false` when out of range.
    pub fn write(&self, offset: usize, data: &[u8]) -> bool {
        if !self.range_ok(offset, data.len()) {
            return false;
        }
        if data.is_empty() {
            return true;
        }
        // SAFETY: as in `read`; writing through a shared `&self` is sound because the
        // bytes are only reached through raw pointers (see the module comment).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len())
        };
        true
    }

    /// Sets `len` bytes at `offset` to `byte`; `false` when out of range.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> bool {
        if !self.range_ok(offset, len) {
            return false;
        }
        if len > 0 {
            // SAFETY: in range, as in `write`.
            unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(offset), byte, len) };
        }
        true
    }

    /// `len` bytes at `offset` as a new vector (`None` when out of range).
    pub fn to_vec(&self, offset: usize, len: usize) -> Option<Vec<u8>> {
        let mut v = vec![0; len];
        self.read(offset, &mut v).then_some(v)
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: allocated in `new` with exactly this layout (it was valid then).
            unsafe {
                dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.len, 8),
                )
            };
        }
    }
}
