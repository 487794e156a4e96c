//! Redirect maps, the targets of `bpf_redirect_map`: `DEVMAP` and `DEVMAP_HASH`
//! (network devices), `CPUMAP` (CPUs) and `XSKMAP` (AF_XDP sockets). Their rules were
//! checked against the running kernel (`tests/packet_helpers_kernel.rs`):
//!
//! - keys are 4 bytes; a devmap's value is the ifindex (4 bytes) or `struct
//!   bpf_devmap_val` (8: ifindex, program fd), a cpumap's the queue size (4) or `struct
//!   bpf_cpumap_val` (8: qsize, program fd), an xskmap's 4 bytes; `max_entries` > 0;
//!   devmaps and xskmaps take `BPF_F_NUMA_NODE`/`BPF_F_RDONLY`/`BPF_F_WRONLY` only, a
//!   cpumap `BPF_F_NUMA_NODE` only; anything else is `EINVAL`.
//! - The array kinds (devmap, cpumap, xskmap) index by the key: beyond `max_entries` an
//!   update is `E2BIG`, a delete `EINVAL`; `BPF_NOEXIST` is always `EEXIST` (every slot
//!   "exists"), `BPF_EXIST` is accepted for an empty slot, deleting an empty slot is 0.
//!   In `DEVMAP_HASH`, `BPF_NOEXIST` on an existing key is `EEXIST`, `BPF_EXIST` is
//!   ignored (a missing key is inserted), a full map is `E2BIG`, deleting a missing key
//!   `ENOENT`.
//! - A devmap entry needs a device: ifindex 0 empties an array slot and is `EINVAL` in
//!   the hash kind. This runtime has no device list, so any other ifindex is accepted
//!   (the kernel refuses one that does not exist with `EINVAL`). A cpumap entry needs a
//!   possible CPU (`ENODEV` otherwise), a queue size of at most 16384 (`EOVERFLOW`);
//!   size 0 empties the slot. Programs attached to entries (a program fd > 0) are not
//!   supported (`EOPNOTSUPP`); the stored value reads back with program id 0, as the
//!   kernel's does without a program.
//! - An xskmap entry needs an AF_XDP socket, which this runtime cannot have: host
//!   updates are refused (`EOPNOTSUPP`), so the map is always empty.
//! - Programs may look devmap entries up (read-only: the region is not writable, as the
//!   kernel marks the map `BPF_F_RDONLY_PROG`), never write them; xskmap lookups give
//!   NULL here (no sockets); the kernel verifier refuses cpumap lookups.

use std::collections::BTreeMap;

use super::slots::Slots;
use super::{MapError, MapKind, MapSpec, BPF_EXIST, BPF_NOEXIST};

/// `BPF_F_NUMA_NODE`, `BPF_F_RDONLY`, `BPF_F_WRONLY`: the devmap creation flags.
const DEV_CREATE_FLAGS: u32 = (1 << 2) | (1 << 3) | (1 << 4);
/// The largest cpumap queue.
const CPUMAP_MAX_QSIZE: u32 = 16384;

pub(crate) struct RedirectMap {
    kind: MapKind,
    value_size: usize,
    max: u32,
    cpus: u32,
    /// Key to value slot, in key order (the host's iteration order for every kind).
    index: BTreeMap<u32, u32>,
    slots: Slots,
}

fn key_u32(key: &[u8]) -> Result<u32, MapError> {
    let key: [u8; 4] = key.try_into().map_err(|_| MapError::Invalid)?;
    Ok(u32::from_le_bytes(key))
}

fn word(value: &[u8], at: usize) -> u32 {
    value
        .get(at..at + 4)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

impl RedirectMap {
    pub fn new(spec: &MapSpec, cpus: u32) -> Result<RedirectMap, MapError> {
        let values_ok = match spec.kind {
            MapKind::Xskmap => spec.value_size == 4,
            _ => matches!(spec.value_size, 4 | 8),
        };
        let allowed_flags = match spec.kind {
            MapKind::Cpumap => 1 << 2,
            _ => DEV_CREATE_FLAGS,
        };
        if spec.key_size != 4
            || !values_ok
            || spec.max_entries == 0
            || spec.flags & !allowed_flags != 0
        {
            return Err(MapError::Invalid);
        }
        Ok(RedirectMap {
            kind: spec.kind,
            value_size: spec.value_size as usize,
            max: spec.max_entries,
            cpus,
            index: BTreeMap::new(),
            slots: Slots::new(spec.max_entries, spec.value_size as usize)?,
        })
    }

    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    fn is_array(&self) -> bool {
        self.kind != MapKind::DevmapHash
    }

    pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        if self.kind == MapKind::Xskmap {
            // The kernel's syscall lookup of an xskmap is not supported.
            return Err(MapError::NotSupported);
        }
        let slot = self.index.get(&key_u32(key)?).ok_or(MapError::NotFound)?;
        Ok(self.slots.get(*slot))
    }

    /// The program's lookup: the value's arena offset (devmaps only).
    pub fn value_offset(&self, key: &[u8]) -> Option<usize> {
        if !matches!(self.kind, MapKind::Devmap | MapKind::DevmapHash) {
            return None;
        }
        let slot = self.index.get(&key_u32(key).ok()?)?;
        Some(self.slots.offset(*slot))
    }

    /// Whether `key` (the helper's 64-bit key, truncated to 32 bits as the kernel does)
    /// names an entry: what `bpf_redirect_map` looks up.
    pub fn contains(&self, key: u32) -> bool {
        self.index.contains_key(&key)
    }

    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        let k = key_u32(key)?;
        if flags > BPF_EXIST || value.len() != self.value_size {
            return Err(MapError::Invalid);
        }
        if self.is_array() {
            if k >= self.max {
                return Err(MapError::TooBig);
            }
            if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
        }
        // The first word: ifindex or queue size; the second, if any, a program fd.
        let (first, prog_fd) = (word(value, 0), word(value, 4) as i32);
        if prog_fd > 0 {
            return Err(MapError::NotSupported);
        }
        let empty = match self.kind {
            MapKind::Xskmap => return Err(MapError::NotSupported),
            MapKind::Cpumap if first > CPUMAP_MAX_QSIZE => return Err(MapError::Overflow),
            MapKind::Cpumap if k >= self.cpus => return Err(MapError::NoDevice),
            MapKind::DevmapHash if first == 0 => return Err(MapError::Invalid),
            _ => first == 0,
        };
        if empty {
            self.remove(k);
            return Ok(());
        }
        let slot = match self.index.get(&k) {
            Some(_) if flags == BPF_NOEXIST => return Err(MapError::Exists),
            Some(&slot) => slot,
            None => {
                let slot = self.slots.alloc().ok_or(MapError::TooBig)?;
                self.index.insert(k, slot);
                slot
            }
        };
        // Stored as the kernel stores it: the first word, and program id 0.
        let mut stored = vec![0u8; self.value_size];
        stored[..4].copy_from_slice(&first.to_le_bytes());
        self.slots.put(slot, 0, &stored);
        Ok(())
    }

    fn remove(&mut self, key: u32) -> bool {
        match self.index.remove(&key) {
            Some(slot) => {
                self.slots.release(slot);
                true
            }
            None => false,
        }
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        let k = key_u32(key)?;
        if self.is_array() {
            if k >= self.max {
                return Err(MapError::Invalid);
            }
            self.remove(k);
            return Ok(());
        }
        if self.remove(k) {
            Ok(())
        } else {
            Err(MapError::NotFound)
        }
    }

    /// The next key: every index in turn for the array kinds, the next present key for
    /// the hash kind.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        let after = key.map(key_u32).transpose()?;
        let next = if self.is_array() {
            match after {
                Some(k) if k < self.max => k.checked_add(1).filter(|&n| n < self.max),
                _ => Some(0),
            }
        } else {
            let from = after.and_then(|k| k.checked_add(1)).unwrap_or(0);
            match after {
                Some(u32::MAX) => None,
                _ => self.index.range(from..).next().map(|(&k, _)| k),
            }
        };
        Ok(next.map(|k| k.to_le_bytes().to_vec()))
    }

    /// The entries, sorted by key bytes.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<_> = self
            .index
            .iter()
            .map(|(k, &slot)| (k.to_le_bytes().to_vec(), self.slots.get(slot)))
            .collect();
        out.sort();
        out
    }
}
