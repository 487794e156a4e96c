//! The hash family: `HASH`, `PERCPU_HASH`, `LRU_HASH`, `LRU_PERCPU_HASH` and
//! `HASH_OF_MAPS` (whose 4-byte values are map ids).
//!
//! Kernel semantics: `BPF_NOEXIST` on an existing key is `EEXIST`, `BPF_EXIST` on a
//! missing one `ENOENT`; inserting into a full map is `E2BIG`, except for the LRU kinds,
//! which evict the least recently used entry (lookups and updates by the program count
//! as uses; the host's do not). The kernel's LRU is approximate (per-CPU lists); this
//! one is exact, which is what a program can rely on in the kernel when the map is not
//! under pressure. An update of an existing key writes the value in place.
//! Values live in preallocated slots; a deleted entry's slot is reused by the next
//! insertion, as in the kernel's preallocated maps.

use std::collections::{BTreeMap, HashMap};

use super::slots::Slots;
use super::{check_update_flags, round8, MapError, MapSpec, BPF_EXIST, BPF_NOEXIST};

struct Elem {
    slot: u32,
    tick: u64,
}

pub(crate) struct Hash {
    slots: Slots,
    key_size: usize,
    value_size: usize,
    stride: usize,
    copies: usize,
    max: u32,
    lru: bool,
    index: HashMap<Vec<u8>, Elem>,
    /// LRU order: last use tick -> key.
    order: BTreeMap<u64, Vec<u8>>,
    tick: u64,
}

impl Hash {
    pub fn new(spec: &MapSpec, cpus: u32, percpu: bool, lru: bool) -> Result<Hash, MapError> {
        if spec.key_size == 0 || spec.value_size == 0 || spec.max_entries == 0 {
            return Err(MapError::Invalid);
        }
        let stride = round8(spec.value_size);
        let copies = if percpu { cpus as usize } else { 1 };
        Ok(Hash {
            slots: Slots::new(spec.max_entries, stride * copies)?,
            key_size: spec.key_size as usize,
            value_size: spec.value_size as usize,
            stride,
            copies,
            max: spec.max_entries,
            lru,
            index: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
        })
    }

    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    pub fn host_value_len(&self) -> usize {
        if self.copies > 1 {
            self.copies * self.stride
        } else {
            self.value_size
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        if key.len() == self.key_size {
            Ok(())
        } else {
            Err(MapError::Invalid)
        }
    }

    fn touch(&mut self, key: &[u8]) {
        if !self.lru {
            return;
        }
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.index.get_mut(key) {
            self.order.remove(&e.tick);
            e.tick = tick;
            self.order.insert(tick, key.to_vec());
        }
    }

    pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.check_key(key)?;
        let e = self.index.get(key).ok_or(MapError::NotFound)?;
        let mut v = self.slots.get(e.slot);
        v.truncate(self.host_value_len());
        Ok(v)
    }

    /// The program's lookup: this CPU's value as an arena offset (a use, for LRU).
    pub fn value_offset(&mut self, key: &[u8], cpu: u32) -> Option<usize> {
        let slot = self.index.get(key)?.slot;
        self.touch(key);
        Some(self.slots.offset(slot) + (cpu as usize % self.copies) * self.stride)
    }

    /// Finds or makes the entry for `key` under `flags`; returns its slot and whether
    /// it is new.
    fn entry(&mut self, key: &[u8], flags: u64) -> Result<(u32, bool), MapError> {
        check_update_flags(flags)?;
        self.check_key(key)?;
        if let Some(e) = self.index.get(key) {
            if flags & BPF_NOEXIST != 0 {
                return Err(MapError::Exists);
            }
            return Ok((e.slot, false));
        }
        if flags & BPF_EXIST != 0 {
            return Err(MapError::NotFound);
        }
        if self.index.len() >= self.max as usize {
            if !self.lru {
                return Err(MapError::TooBig);
            }
            let oldest = self.order.pop_first().map(|(_, k)| k);
            if let Some(e) = oldest.and_then(|k| self.index.remove(&k)) {
                self.slots.release(e.slot);
            }
        }
        let slot = self.slots.alloc().ok_or(MapError::TooBig)?;
        self.tick += 1;
        let tick = self.tick;
        self.index.insert(key.to_vec(), Elem { slot, tick });
        if self.lru {
            self.order.insert(tick, key.to_vec());
        }
        Ok((slot, true))
    }

    /// The host's update: one value, or every CPU's (rounded) value concatenated.
    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if value.len() != self.host_value_len() {
            return Err(MapError::Invalid);
        }
        let (slot, _) = self.entry(key, flags)?;
        for cpu in 0..self.copies {
            let v =
                &value[cpu * if self.copies > 1 { self.stride } else { 0 }..][..self.value_size];
            self.slots.put(slot, cpu * self.stride, v);
        }
        Ok(())
    }

    /// A program's update: this CPU's copy (a new per-CPU entry starts zeroed elsewhere).
    pub fn prog_update(
        &mut self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: u32,
    ) -> Result<(), MapError> {
        let v = value
            .get(..self.value_size)
            .ok_or(MapError::Invalid)?
            .to_vec();
        let (slot, _) = self.entry(key, flags)?;
        self.touch(key);
        self.slots
            .put(slot, (cpu as usize % self.copies) * self.stride, &v);
        Ok(())
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        self.check_key(key)?;
        let e = self.index.remove(key).ok_or(MapError::NotFound)?;
        if self.lru {
            self.order.remove(&e.tick);
        }
        self.slots.release(e.slot);
        Ok(())
    }

    pub fn sorted_keys(&self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self.index.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Keys in byte order: the first after `key` (the first of all when `key` is `None`
    /// or missing, as in the kernel).
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        let keys = self.sorted_keys();
        Ok(match key.filter(|k| self.index.contains_key(*k)) {
            Some(k) => keys.into_iter().find(|c| c.as_slice() > k),
            None => keys.into_iter().next(),
        })
    }

    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.sorted_keys()
            .into_iter()
            .map(|k| {
                let v = self.lookup(&k).unwrap_or_default();
                (k, v)
            })
            .collect()
    }
}
