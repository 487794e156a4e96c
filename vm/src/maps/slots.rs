//! `Slots`: fixed-size value slots in one arena, with a free list, for the keyed maps
//! (hash family, LPM trie). A freed slot keeps its bytes until it is reused, so a stale
//! guest pointer stays inside the map's memory.

use super::arena::Arena;
use super::MapError;

/// `capacity` slots of `slot_len` bytes.
pub(crate) struct Slots {
    arena: Arena,
    slot_len: usize,
    capacity: u32,
    next: u32,
    free: Vec<u32>,
}

/// The largest arena a map may have: one region of the memory map (4 GiB).
pub(crate) const MAX_ARENA: u64 = 1 << 32;

/// `count * len` bytes as an arena size, when it fits a region.
pub(crate) fn arena_len(count: u64, len: u64) -> Result<usize, MapError> {
    let total = count.checked_mul(len).ok_or(MapError::TooBig)?;
    if total > MAX_ARENA {
        return Err(MapError::TooBig);
    }
    usize::try_from(total).map_err(|_| MapError::TooBig)
}

impl Slots {
    pub fn new(capacity: u32, slot_len: usize) -> Result<Slots, MapError> {
        let len = arena_len(capacity as u64, slot_len as u64)?;
        Ok(Slots {
            arena: Arena::new(len).ok_or(MapError::NoMemory)?,
            slot_len,
            capacity,
            next: 0,
            free: Vec::new(),
        })
    }

    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// Byte offset of slot `slot` in the arena.
    pub fn offset(&self, slot: u32) -> usize {
        slot as usize * self.slot_len
    }

    /// A zeroed free slot, or `None` when all are in use.
    pub fn alloc(&mut self) -> Option<u32> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None if self.next < self.capacity => {
                self.next += 1;
                self.next - 1
            }
            None => return None,
        };
        self.arena.fill(self.offset(slot), self.slot_len, 0);
        Some(slot)
    }

    /// Returns `slot` to the free list; its bytes stay until it is reused.
    pub fn release(&mut self, slot: u32) {
        self.free.push(slot);
    }

    /// The whole slot's bytes.
    pub fn get(&self, slot: u32) -> Vec<u8> {
        self.arena
            .to_vec(self.offset(slot), self.slot_len)
            .unwrap_or_default()
    }

    /// Writes `data` at `within` bytes into `slot` (bounded by the arena).
    pub fn put(&self, slot: u32, within: usize, data: &[u8]) -> bool {
        within + data.len() <= self.slot_len && self.arena.write(self.offset(slot) + within, data)
    }
}
