//! `PROG_ARRAY` and `ARRAY_OF_MAPS`: arrays whose slots hold a program id or a map id
//! (the kernel's file descriptors) or nothing. The host writes 4-byte ids; only
//! `BPF_ANY` is accepted, and deleting an empty slot is `ENOENT`, as in the kernel.

use super::{MapError, MapSpec, BPF_ANY};

pub(crate) struct FdArray {
    slots: Vec<Option<u32>>,
}

impl FdArray {
    pub fn new(spec: &MapSpec) -> Result<FdArray, MapError> {
        if spec.key_size != 4 || spec.value_size != 4 || spec.max_entries == 0 {
            return Err(MapError::Invalid);
        }
        // One Option<u32> per slot; refuse absurd sizes rather than abort on allocation.
        if spec.max_entries > 1 << 24 {
            return Err(MapError::TooBig);
        }
        Ok(FdArray {
            slots: vec![None; spec.max_entries as usize],
        })
    }

    fn index(key: &[u8]) -> Result<usize, MapError> {
        let key: [u8; 4] = key.try_into().map_err(|_| MapError::Invalid)?;
        Ok(u32::from_le_bytes(key) as usize)
    }

    /// The id in slot `key`.
    pub fn get(&self, key: &[u8]) -> Result<u32, MapError> {
        let i = Self::index(key)?;
        self.slots
            .get(i)
            .copied()
            .flatten()
            .ok_or(MapError::NotFound)
    }

    pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        Ok(self.get(key)?.to_le_bytes().to_vec())
    }

    /// Stores the id in `value` (already checked by the caller to name a program or map).
    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags != BPF_ANY {
            return Err(MapError::Invalid);
        }
        let id: [u8; 4] = value.try_into().map_err(|_| MapError::Invalid)?;
        let i = Self::index(key)?;
        let slot = self.slots.get_mut(i).ok_or(MapError::TooBig)?;
        *slot = Some(u32::from_le_bytes(id));
        Ok(())
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        let i = Self::index(key)?;
        let slot = self.slots.get_mut(i).ok_or(MapError::TooBig)?;
        slot.take().map(|_| ()).ok_or(MapError::NotFound)
    }

    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        let len = self.slots.len();
        let next = match key.map(Self::index).transpose()? {
            Some(i) if i < len => i + 1,
            _ => 0,
        };
        Ok((next < len).then(|| (next as u32).to_le_bytes().to_vec()))
    }

    /// The filled slots.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.map(|id| ((i as u32).to_le_bytes().to_vec(), id.to_le_bytes().to_vec()))
            })
            .collect();
        out.sort();
        out
    }
}
