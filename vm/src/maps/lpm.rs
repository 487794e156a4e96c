//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix match. A key is `u32 prefixlen` (host order)
//! followed by `key_size - 4` data bytes compared most significant bit first. Lookups
//! find the stored prefix of greatest length (up to the key's `prefixlen`) whose bits
//! match; updates and deletes name an exact (prefix, length). The kernel demands
//! `BPF_F_NO_PREALLOC` and answers a full trie with `ENOSPC`.

use std::collections::{BTreeMap, HashMap};

use super::slots::Slots;
use super::{check_update_flags, MapError, MapSpec, BPF_EXIST, BPF_F_NO_PREALLOC, BPF_NOEXIST};

struct Node {
    slot: u32,
    /// The key as last given (the kernel keeps the caller's bytes).
    key: Vec<u8>,
}

pub(crate) struct Lpm {
    slots: Slots,
    key_size: usize,
    value_size: usize,
    max: u32,
    /// prefix length -> masked data -> node.
    nodes: BTreeMap<u32, HashMap<Vec<u8>, Node>>,
    count: u32,
}

/// The first `bits` bits of `data`, the rest zeroed.
fn masked(data: &[u8], bits: u32) -> Vec<u8> {
    let mut out = data.to_vec();
    let full = (bits / 8) as usize;
    for (i, b) in out.iter_mut().enumerate() {
        if i == full {
            *b &= !(0xffu8.checked_shr(bits % 8).unwrap_or(0));
        } else if i > full {
            *b = 0;
        }
    }
    out
}

impl Lpm {
    pub fn new(spec: &MapSpec) -> Result<Lpm, MapError> {
        if spec.key_size < 5
            || spec.key_size > 4 + 256
            || spec.value_size == 0
            || spec.max_entries == 0
        {
            return Err(MapError::Invalid);
        }
        if spec.flags & BPF_F_NO_PREALLOC == 0 {
            return Err(MapError::Invalid);
        }
        Ok(Lpm {
            slots: Slots::new(spec.max_entries, super::round8(spec.value_size))?,
            key_size: spec.key_size as usize,
            value_size: spec.value_size as usize,
            max: spec.max_entries,
            nodes: BTreeMap::new(),
            count: 0,
        })
    }

    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    fn max_bits(&self) -> u32 {
        (self.key_size as u32 - 4) * 8
    }

    /// `(prefixlen, data)` of a key of the right size.
    fn split<'k>(&self, key: &'k [u8]) -> Result<(u32, &'k [u8]), MapError> {
        if key.len() != self.key_size {
            return Err(MapError::Invalid);
        }
        let plen = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
        Ok((plen, &key[4..]))
    }

    fn exact(&self, key: &[u8]) -> Result<Option<&Node>, MapError> {
        let (plen, data) = self.split(key)?;
        if plen > self.max_bits() {
            return Err(MapError::Invalid);
        }
        Ok(self
            .nodes
            .get(&plen)
            .and_then(|m| m.get(&masked(data, plen))))
    }

    /// The longest stored prefix matching the key's first `prefixlen` bits.
    fn longest(&self, key: &[u8]) -> Option<&Node> {
        let (plen, data) = self.split(key).ok()?;
        let plen = plen.min(self.max_bits());
        self.nodes
            .range(..=plen)
            .rev()
            .find_map(|(&bits, m)| m.get(&masked(data, bits)))
    }

    pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        let node = self.longest(key).ok_or(MapError::NotFound)?;
        let mut v = self.slots.get(node.slot);
        v.truncate(self.value_size);
        Ok(v)
    }

    pub fn value_offset(&self, key: &[u8]) -> Option<usize> {
        self.longest(key).map(|n| self.slots.offset(n.slot))
    }

    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let value = value.get(..self.value_size).ok_or(MapError::Invalid)?;
        let existing = self.exact(key)?.map(|n| n.slot);
        let (plen, data) = self.split(key)?;
        let slot = match existing {
            Some(_) if flags & BPF_NOEXIST != 0 => return Err(MapError::Exists),
            Some(slot) => slot,
            None if flags & BPF_EXIST != 0 => return Err(MapError::NotFound),
            None if self.count >= self.max => return Err(MapError::NoSpace),
            None => {
                self.count += 1;
                self.slots.alloc().ok_or(MapError::NoSpace)?
            }
        };
        self.slots.put(slot, 0, value);
        self.nodes.entry(plen).or_default().insert(
            masked(data, plen),
            Node {
                slot,
                key: key.to_vec(),
            },
        );
        Ok(())
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        if self.exact(key)?.is_none() {
            return Err(MapError::NotFound);
        }
        let (plen, data) = self.split(key)?;
        let level = self.nodes.get_mut(&plen).ok_or(MapError::NotFound)?;
        let node = level
            .remove(&masked(data, plen))
            .ok_or(MapError::NotFound)?;
        if level.is_empty() {
            self.nodes.remove(&plen);
        }
        self.slots.release(node.slot);
        self.count -= 1;
        Ok(())
    }

    pub fn sorted_keys(&self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self
            .nodes
            .values()
            .flat_map(|m| m.values().map(|n| n.key.clone()))
            .collect();
        keys.sort();
        keys
    }

    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        let keys = self.sorted_keys();
        Ok(match key {
            Some(k) if keys.iter().any(|c| c == k) => keys.into_iter().find(|c| c.as_slice() > k),
            _ => keys.into_iter().next(),
        })
    }

    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = self
            .nodes
            .values()
            .flat_map(|m| m.values())
            .map(|n| {
                let mut v = self.slots.get(n.slot);
                v.truncate(self.value_size);
                (n.key.clone(), v)
            })
            .collect();
        out.sort();
        out
    }
}
