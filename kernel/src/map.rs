//! Maps in the kernel: created from an object's declarations, read back as sorted
//! `(key, value)` byte pairs in the form our runtime's `Maps::entries` gives, written
//! entry by entry.
//!
//! The form, shared with the CLI's `--maps-json`: entries sorted by key; per-CPU maps
//! give one `value_size` value per possible CPU, concatenated (the kernel's 8-byte
//! padding between copies removed); queues and stacks give their values in pop order
//! with empty keys (read by popping everything and pushing it back); ring buffers and
//! perf event arrays and xskmaps give nothing; prog arrays and maps of maps give, for each filled
//! slot, the index of the program or map in the object (the kernel answers with its
//! own ids, which we translate back).

use std::collections::HashMap;

use ebpfvm_elf::{MapDecl, MapType, BPF_F_RDONLY_PROG};

use crate::error::{classify, KernelError};
use crate::sys;

/// Map types read back as id tables.
const FD_MAPS: [MapType; 3] = [
    MapType::PROG_ARRAY,
    MapType::ARRAY_OF_MAPS,
    MapType::HASH_OF_MAPS,
];
/// Map types with nothing to read back (an xskmap's sockets cannot be read from user
/// space: its lookup is `EOPNOTSUPP`).
const NO_ENTRIES: [MapType; 4] = [
    MapType::RINGBUF,
    MapType::PERF_EVENT_ARRAY,
    MapType::USER_RINGBUF,
    MapType::XSKMAP,
];

/// A map created in the kernel (freed when dropped and no program uses it).
#[derive(Debug)]
pub struct KernelMap {
    map: sys::Map,
    name: String,
}

/// A `(key, value)` pair.
pub type Entry = (Vec<u8>, Vec<u8>);

impl KernelMap {
    /// Creates the map `decl` declares, with its global data written (and `.rodata`
    /// frozen, as libbpf does). Prog-array and map-of-map slots are filled by the object.
    pub fn create(decl: &MapDecl) -> Result<KernelMap, KernelError> {
        if !cfg!(target_os = "linux") {
            return Err(KernelError::NotLinux);
        }
        let err = |what: &str| {
            let (map, what) = (decl.name.clone(), what.to_string());
            move |error| {
                classify("BPF_MAP_CREATE", error, |error| KernelError::Map {
                    map,
                    what,
                    error,
                })
            }
        };
        let inner = decl.inner.as_deref().map(KernelMap::create).transpose()?;
        let (mut key_size, mut value_size, mut max_entries) =
            (decl.key_size, decl.value_size, decl.max_entries);
        // libbpf's defaults for perf event arrays: 4-byte keys and values, one per CPU.
        if decl.map_type == MapType::PERF_EVENT_ARRAY {
            key_size = key_size.max(4);
            value_size = value_size.max(4);
            if max_entries == 0 {
                max_entries = sys::possible_cpus().map_err(err("counting CPUs"))?;
            }
        }
        let map = sys::map_create(&sys::MapCreate {
            map_type: decl.map_type.0,
            key_size,
            value_size,
            max_entries,
            flags: decl.flags,
            inner: inner.as_ref().map(|i| &i.map),
            name: &decl.name,
            map_extra: decl.map_extra,
        })
        .map_err(err("creating it"))?;
        let map = KernelMap {
            map,
            name: decl.name.clone(),
        };
        if let Some(data) = &decl.initial_data {
            let mut value = vec![0u8; map.map.value_len];
            let n = data.len().min(value.len());
            value[..n].copy_from_slice(&data[..n]);
            map.map
                .update(&0u32.to_ne_bytes(), &value, 0)
                .map_err(err("writing its initial data"))?;
            if decl.flags & BPF_F_RDONLY_PROG != 0 {
                map.map.freeze().map_err(err("freezing it"))?;
            }
        }
        Ok(map)
    }

    /// A map someone else created (aya), known to us by its name in the object.
    #[cfg(target_os = "linux")]
    pub(crate) fn adopt(name: &str, map: sys::Map) -> KernelMap {
        KernelMap {
            map,
            name: name.to_string(),
        }
    }

    /// The map's name in its object.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn fd(&self) -> &sys::Fd {
        &self.map.fd
    }

    pub(crate) fn map_type(&self) -> MapType {
        MapType(self.map.map_type)
    }

    fn error(&self, what: &str, error: std::io::Error) -> KernelError {
        classify("map access", error, |error| KernelError::Map {
            map: self.name.clone(),
            what: what.to_string(),
            error,
        })
    }

    fn per_cpu(&self) -> bool {
        self.map.value_len != self.map.value_size
    }

    /// Writes one entry (`BPF_MAP_UPDATE_ELEM` with `flags`: `BPF_ANY` = 0, ...). A
    /// per-CPU value is `value_size` bytes per possible CPU, concatenated; a queue or
    /// stack takes an empty key (a push).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), KernelError> {
        let value = if self.per_cpu() {
            self.pad(value)
                .map_err(|e| self.error("writing an entry", e))?
        } else {
            value.to_vec()
        };
        self.map
            .update(key, &value, flags)
            .map_err(|e| self.error("writing an entry", e))
    }

    /// Every entry, sorted by key; `programs` and `maps` translate kernel ids to the
    /// object's indexes for prog arrays and maps of maps.
    pub(crate) fn entries(
        &self,
        programs: &HashMap<u32, u32>,
        maps: &HashMap<u32, u32>,
    ) -> Result<Vec<Entry>, KernelError> {
        let kind = self.map_type();
        if NO_ENTRIES.contains(&kind) {
            return Ok(Vec::new());
        }
        if kind == MapType::QUEUE || kind == MapType::STACK {
            return self.drain_and_restore();
        }
        let read = |e| self.error("reading it", e);
        let mut out = Vec::new();
        let mut key = Vec::new();
        let mut next = vec![0u8; self.map.key_size];
        while self.map.next_key(&key, &mut next).map_err(read)? {
            key.clone_from(&next);
            let mut value = vec![0u8; self.map.value_len];
            // A slot of a prog array or map of maps with nothing in it reads as ENOENT.
            if !self.map.lookup(&key, &mut value).map_err(read)? {
                continue;
            }
            // The kernel makes fd maps' values 4 bytes (an id); anything else is left alone.
            if let (true, Ok(id)) = (FD_MAPS.contains(&kind), <[u8; 4]>::try_from(&value[..])) {
                let ids = if kind == MapType::PROG_ARRAY {
                    programs
                } else {
                    maps
                };
                let id = u32::from_ne_bytes(id);
                // An id not from this object (put there by someone else) stays as it is.
                value = ids.get(&id).copied().unwrap_or(id).to_le_bytes().to_vec();
            } else if self.per_cpu() {
                value = self.unpad(&value);
            }
            out.push((key.clone(), value));
        }
        out.sort();
        Ok(out)
    }

    /// A queue's or stack's values in pop order, put back as they were.
    fn drain_and_restore(&self) -> Result<Vec<Entry>, KernelError> {
        let mut values = Vec::new();
        loop {
            let mut value = vec![0u8; self.map.value_len];
            if !self
                .map
                .pop(&mut value)
                .map_err(|e| self.error("reading it", e))?
            {
                break;
            }
            values.push(value);
        }
        // A queue refills in pop order; a stack in reverse, so the top ends on top.
        let refill: Vec<&Vec<u8>> = if self.map_type() == MapType::STACK {
            values.iter().rev().collect()
        } else {
            values.iter().collect()
        };
        for v in refill {
            self.map
                .update(&[], v, 0)
                .map_err(|e| self.error("restoring it after reading", e))?;
        }
        Ok(values.into_iter().map(|v| (Vec::new(), v)).collect())
    }

    /// The kernel's per-CPU layout (each copy rounded up to 8 bytes) to ours.
    fn unpad(&self, value: &[u8]) -> Vec<u8> {
        let stride = self.map.value_size.div_ceil(8) * 8;
        value
            .chunks(stride.max(1))
            .flat_map(|c| &c[..self.map.value_size.min(c.len())])
            .copied()
            .collect()
    }

    /// Ours to the kernel's per-CPU layout.
    fn pad(&self, value: &[u8]) -> std::io::Result<Vec<u8>> {
        let size = self.map.value_size;
        let stride = size.div_ceil(8) * 8;
        let cpus = self.map.value_len / stride.max(1);
        if value.len() != size * cpus {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "a per-CPU value is {size} bytes for each of {cpus} CPUs, not {} bytes",
                    value.len()
                ),
            ));
        }
        let mut out = vec![0u8; self.map.value_len];
        for (cpu, chunk) in value.chunks(size.max(1)).enumerate() {
            out[cpu * stride..cpu * stride + chunk.len()].copy_from_slice(chunk);
        }
        Ok(out)
    }
}
