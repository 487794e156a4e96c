//! `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`: `max_entries` preallocated,
//! zeroed values indexed by a `u32` key; elements cannot be deleted. Values are
//! `round_up(value_size, 8)` apart, per CPU for the per-CPU kind (the host sees every
//! CPU's copy concatenated, as the kernel's syscall interface does).

use super::arena::Arena;
use super::slots::arena_len;
use super::{check_update_flags, round8, MapError, MapSpec, BPF_NOEXIST};

pub(crate) struct Array {
    arena: Arena,
    max: u32,
    value_size: usize,
    stride: usize,
    copies: usize,
}

impl Array {
    pub fn new(spec: &MapSpec, cpus: u32, percpu: bool) -> Result<Array, MapError> {
        if spec.key_size != 4 || spec.value_size == 0 || spec.max_entries == 0 {
            return Err(MapError::Invalid);
        }
        let stride = round8(spec.value_size);
        let copies = if percpu { cpus as usize } else { 1 };
        let len = arena_len(spec.max_entries as u64, (stride * copies) as u64)?;
        Ok(Array {
            arena: Arena::new(len).ok_or(MapError::NoMemory)?,
            max: spec.max_entries,
            value_size: spec.value_size as usize,
            stride,
            copies,
        })
    }

    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    fn index(&self, key: &[u8]) -> Result<u32, MapError> {
        let key: [u8; 4] = key.try_into().map_err(|_| MapError::Invalid)?;
        Ok(u32::from_le_bytes(key))
    }

    fn offset(&self, index: u32, cpu: usize) -> usize {
        (index as usize * self.copies + cpu) * self.stride
    }

    /// The host's value length: one value, or one rounded value per CPU.
    pub fn host_value_len(&self) -> usize {
        if self.copies > 1 {
            self.copies * self.stride
        } else {
            self.value_size
        }
    }

    pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        let i = self.index(key)?;
        if i >= self.max {
            return Err(MapError::NotFound);
        }
        if self.copies > 1 {
            self.arena
                .to_vec(self.offset(i, 0), self.copies * self.stride)
        } else {
            self.arena.to_vec(self.offset(i, 0), self.value_size)
        }
        .ok_or(MapError::Invalid)
    }

    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let i = self.index(key)?;
        if i >= self.max {
            return Err(MapError::TooBig);
        }
        if flags & BPF_NOEXIST != 0 {
            return Err(MapError::Exists);
        }
        if value.len() != self.host_value_len() {
            return Err(MapError::Invalid);
        }
        for cpu in 0..self.copies {
            let v =
                &value[cpu * if self.copies > 1 { self.stride } else { 0 }..][..self.value_size];
            self.arena.write(self.offset(i, cpu), v);
        }
        Ok(())
    }

    /// The program's view: the element (this CPU's copy) as an arena offset.
    pub fn value_offset(&self, key: &[u8], cpu: u32) -> Option<usize> {
        let i = self.index(key).ok()?;
        (i < self.max).then(|| self.offset(i, cpu as usize % self.copies))
    }

    /// A program's update: writes this CPU's copy only.
    pub fn prog_update(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: u32,
    ) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let i = self.index(key)?;
        if i >= self.max {
            return Err(MapError::TooBig);
        }
        if flags & BPF_NOEXIST != 0 {
            return Err(MapError::Exists);
        }
        let v = value.get(..self.value_size).ok_or(MapError::Invalid)?;
        self.arena
            .write(self.offset(i, cpu as usize % self.copies), v);
        Ok(())
    }

    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        let next = match key.map(|k| self.index(k)).transpose()? {
            // The kernel restarts from 0 for a missing or out-of-range key.
            Some(i) if i < self.max => i.checked_add(1),
            _ => Some(0),
        };
        Ok(next
            .filter(|&n| n < self.max)
            .map(|n| n.to_le_bytes().to_vec()))
    }

    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..self.max)
            .map(|i| {
                let k = i.to_le_bytes().to_vec();
                let v = self.lookup(&k).unwrap_or_default();
                (k, v)
            })
            .collect()
    }

    /// Sets element 0 (global data's initial contents).
    pub fn set_initial(&self, data: &[u8]) -> Result<(), MapError> {
        let n = data.len().min(self.value_size);
        if self.arena.write(0, &data[..n]) {
            Ok(())
        } else {
            Err(MapError::Invalid)
        }
    }
}
