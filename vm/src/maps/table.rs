//! `Maps`: the table of maps by [`MapId`], with the CPU view per-CPU maps use, and the
//! host's operations (whole values; per-CPU maps as every CPU's value concatenated).
//! The program's operations are in `prog_ops.rs`.

use std::cell::{Cell, RefCell};
use std::fmt;

use super::array::Array;
use super::fd_array::FdArray;
use super::hash::Hash;
use super::lpm::Lpm;
use super::perf::PerfArray;
use super::queue::Queue;
use super::redirect::RedirectMap;
use super::ringbuf::RingBuf;
use super::sock::SockMap;
use super::{MapError, MapId, MapKind, MapSpec, PerfRecord, BPF_F_RDONLY_PROG, FIRST_MAP_REGION};

pub(super) enum Family {
    Array(Array),
    Hash(Hash),
    Lpm(Lpm),
    Fd(FdArray),
    Queue(Queue),
    Ring(RingBuf),
    Perf(PerfArray),
    Redirect(RedirectMap),
    Sock(SockMap),
}

struct Slot {
    spec: MapSpec,
    family: RefCell<Family>,
}

/// One entry as the host sees it: key bytes, value bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A table of maps, indexed by [`MapId`], with the CPU view per-CPU maps use.
pub struct Maps {
    entries: Vec<Slot>,
    cpus: u32,
    cpu: Cell<u32>,
}

/// A guest-visible region of a map: `(host pointer, length, writable by programs)`.
pub(crate) type MapRegion = (*mut u8, usize, bool);

impl Default for Maps {
    fn default() -> Self {
        Maps::new()
    }
}

impl fmt::Debug for Maps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maps")
            .field(
                "maps",
                &self.entries.iter().map(|e| &e.spec).collect::<Vec<_>>(),
            )
            .field("cpus", &self.cpus)
            .finish()
    }
}

impl Maps {
    /// An empty table for one CPU.
    pub fn new() -> Maps {
        Maps::with_cpus(1)
    }

    /// An empty table whose per-CPU maps have `cpus` copies (at least 1).
    pub fn with_cpus(cpus: u32) -> Maps {
        Maps {
            entries: Vec::new(),
            cpus: cpus.max(1),
            cpu: Cell::new(0),
        }
    }

    /// The number of CPUs.
    pub fn cpus(&self) -> u32 {
        self.cpus
    }

    /// The CPU programs run on (per-CPU views, `bpf_get_smp_processor_id`).
    pub fn current_cpu(&self) -> u32 {
        self.cpu.get()
    }

    /// Sets the CPU programs run on; `false` (and no change) when `cpu >= cpus`.
    pub fn set_current_cpu(&self, cpu: u32) -> bool {
        let ok = cpu < self.cpus;
        if ok {
            self.cpu.set(cpu);
        }
        ok
    }

    /// Creates a map; `EINVAL` for sizes the kernel refuses for its type.
    pub fn create(&mut self, spec: MapSpec) -> Result<MapId, MapError> {
        if self.entries.len() as u64 >= (u32::MAX as u64 - FIRST_MAP_REGION) {
            return Err(MapError::TooBig);
        }
        let cpus = self.cpus;
        let family = match spec.kind {
            MapKind::Array => Family::Array(Array::new(&spec, cpus, false)?),
            MapKind::PercpuArray => Family::Array(Array::new(&spec, cpus, true)?),
            MapKind::Hash => Family::Hash(Hash::new(&spec, cpus, false, false)?),
            MapKind::PercpuHash => Family::Hash(Hash::new(&spec, cpus, true, false)?),
            MapKind::LruHash => Family::Hash(Hash::new(&spec, cpus, false, true)?),
            MapKind::LruPercpuHash => Family::Hash(Hash::new(&spec, cpus, true, true)?),
            MapKind::HashOfMaps => {
                if spec.value_size != 4 || spec.inner.is_none() {
                    return Err(MapError::Invalid);
                }
                Family::Hash(Hash::new(&spec, cpus, false, false)?)
            }
            MapKind::LpmTrie => Family::Lpm(Lpm::new(&spec)?),
            MapKind::ProgArray => Family::Fd(FdArray::new(&spec)?),
            MapKind::ArrayOfMaps => {
                if spec.inner.is_none() {
                    return Err(MapError::Invalid);
                }
                Family::Fd(FdArray::new(&spec)?)
            }
            MapKind::Queue => Family::Queue(Queue::new(&spec, false)?),
            MapKind::Stack => Family::Queue(Queue::new(&spec, true)?),
            MapKind::RingBuf => Family::Ring(RingBuf::new(&spec)?),
            MapKind::PerfEventArray => Family::Perf(PerfArray::new(&spec)?),
            MapKind::Devmap | MapKind::DevmapHash | MapKind::Cpumap | MapKind::Xskmap => {
                Family::Redirect(RedirectMap::new(&spec, cpus)?)
            }
            MapKind::Sockmap | MapKind::Sockhash => Family::Sock(SockMap::new(&spec)?),
        };
        let id = MapId(self.entries.len() as u32);
        self.entries.push(Slot {
            spec,
            family: RefCell::new(family),
        });
        Ok(id)
    }

    /// The number of maps.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no maps.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every map id, in order.
    pub fn ids(&self) -> impl Iterator<Item = MapId> {
        (0..self.entries.len() as u32).map(MapId)
    }

    /// The map named `name` (the first, if several share it).
    pub fn find(&self, name: &str) -> Option<MapId> {
        self.entries
            .iter()
            .position(|e| e.spec.name == name)
            .map(|i| MapId(i as u32))
    }

    /// A map's definition.
    pub fn spec(&self, id: MapId) -> Option<&MapSpec> {
        self.entries.get(id.0 as usize).map(|e| &e.spec)
    }

    pub(super) fn with<T>(
        &self,
        id: MapId,
        f: impl FnOnce(&MapSpec, &mut Family) -> Result<T, MapError>,
    ) -> Result<T, MapError> {
        let e = self.entries.get(id.0 as usize).ok_or(MapError::NoSuchMap)?;
        let mut family = e.family.try_borrow_mut().map_err(|_| MapError::Busy)?;
        f(&e.spec, &mut family)
    }

    /// The guest-visible storage of map `id`, for the memory map.
    pub(crate) fn region(&self, id: MapId) -> Option<MapRegion> {
        let e = self.entries.get(id.0 as usize)?;
        let family = e.family.try_borrow().ok()?;
        let writable = e.spec.flags & BPF_F_RDONLY_PROG == 0;
        let arena = match &*family {
            Family::Array(a) => a.arena(),
            Family::Hash(h) => h.slots().arena(),
            Family::Lpm(l) => l.slots().arena(),
            Family::Ring(r) => r.arena(),
            // Programs read devmap entries, never write them (the kernel makes the map
            // BPF_F_RDONLY_PROG).
            Family::Redirect(r) => {
                return Some((r.slots().arena().as_ptr(), r.slots().arena().len(), false))
            }
            Family::Fd(_) | Family::Queue(_) | Family::Perf(_) | Family::Sock(_) => return None,
        };
        Some((arena.as_ptr(), arena.len(), writable))
    }

    fn check_map_id(&self, value: &[u8]) -> Result<(), MapError> {
        let id: [u8; 4] = value.try_into().map_err(|_| MapError::Invalid)?;
        if (u32::from_le_bytes(id) as usize) < self.entries.len() {
            Ok(())
        } else {
            Err(MapError::NoSuchMap)
        }
    }

    /// The value of `key` (a queue's or stack's next value, ignoring the key).
    pub fn lookup(&self, id: MapId, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.with(id, |_, f| match f {
            Family::Array(a) => a.lookup(key),
            Family::Hash(h) => h.lookup(key),
            Family::Lpm(l) => l.lookup(key),
            Family::Fd(a) => a.lookup(key),
            Family::Queue(q) => q.peek(),
            Family::Redirect(r) => r.lookup(key),
            Family::Sock(s) => s.lookup(key),
            Family::Ring(_) | Family::Perf(_) => Err(MapError::NotSupported),
        })
    }

    /// Creates or replaces `key` under `flags` (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`);
    /// pushes for queues and stacks. Prog arrays take program ids, maps of maps map ids.
    pub fn update(&self, id: MapId, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        let kind = self.spec(id).ok_or(MapError::NoSuchMap)?.kind;
        if matches!(kind, MapKind::ArrayOfMaps | MapKind::HashOfMaps) {
            self.check_map_id(value)?;
        }
        self.with(id, |_, f| match f {
            Family::Array(a) => a.update(key, value, flags),
            Family::Hash(h) => h.update(key, value, flags),
            Family::Lpm(l) => l.update(key, value, flags),
            Family::Fd(a) => a.update(key, value, flags),
            Family::Queue(q) => q.push(value, flags),
            Family::Redirect(r) => r.update(key, value, flags),
            Family::Sock(s) => s.update(key, value, flags),
            Family::Ring(_) | Family::Perf(_) => Err(MapError::NotSupported),
        })
    }

    /// Deletes `key`; `EINVAL` for arrays, whose elements always exist.
    pub fn delete(&self, id: MapId, key: &[u8]) -> Result<(), MapError> {
        self.with(id, |_, f| match f {
            Family::Array(_) => Err(MapError::Invalid),
            Family::Hash(h) => h.delete(key),
            Family::Lpm(l) => l.delete(key),
            Family::Fd(a) => a.delete(key),
            Family::Redirect(r) => r.delete(key),
            Family::Sock(s) => s.delete(key),
            Family::Queue(_) | Family::Ring(_) | Family::Perf(_) => Err(MapError::NotSupported),
        })
    }

    /// Looks up and deletes `key`; pops queues and stacks.
    pub fn lookup_and_delete(&self, id: MapId, key: &[u8]) -> Result<Vec<u8>, MapError> {
        let value = self.with(id, |_, f| match f {
            Family::Queue(q) => q.pop().map(Some),
            _ => Ok(None),
        })?;
        match value {
            Some(v) => Ok(v),
            None => {
                let v = self.lookup(id, key)?;
                self.delete(id, key)?;
                Ok(v)
            }
        }
    }

    /// The key after `key` (the first key for `None`), `None` at the end. Keys come in
    /// byte order for hash maps and tries, index order for arrays.
    pub fn next_key(&self, id: MapId, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        self.with(id, |_, f| match f {
            Family::Array(a) => a.next_key(key),
            Family::Hash(h) => h.next_key(key),
            Family::Lpm(l) => l.next_key(key),
            Family::Fd(a) => a.next_key(key),
            Family::Redirect(r) => r.next_key(key),
            Family::Sock(s) => s.next_key(key),
            Family::Queue(_) | Family::Ring(_) | Family::Perf(_) => Err(MapError::NotSupported),
        })
    }

    /// Every entry, sorted by key bytes (queues and stacks: pop order with empty keys;
    /// ring buffers and perf event arrays: none, see their own accessors).
    pub fn entries(&self, id: MapId) -> Result<Vec<Entry>, MapError> {
        self.with(id, |_, f| {
            Ok(match f {
                Family::Array(a) => {
                    let mut v = a.entries();
                    v.sort();
                    v
                }
                Family::Hash(h) => h.entries(),
                Family::Lpm(l) => l.entries(),
                Family::Fd(a) => a.entries(),
                Family::Queue(q) => q.entries(),
                Family::Redirect(r) => r.entries(),
                Family::Sock(s) => s.entries(),
                Family::Ring(_) | Family::Perf(_) => Vec::new(),
            })
        })
    }

    /// Writes the initial contents of element 0 of an array (global data), ignoring
    /// `BPF_F_RDONLY_PROG` as the kernel's loader does before freezing.
    pub fn set_initial_data(&self, id: MapId, data: &[u8]) -> Result<(), MapError> {
        self.with(id, |_, f| match f {
            Family::Array(a) => a.set_initial(data),
            _ => Err(MapError::Invalid),
        })
    }

    /// The submitted ring-buffer records not yet consumed, in order.
    pub fn ringbuf_pending(&self, id: MapId) -> Result<Vec<Vec<u8>>, MapError> {
        self.with(id, |_, f| match f {
            Family::Ring(r) => Ok(r.pending()),
            _ => Err(MapError::Invalid),
        })
    }

    /// Consumes the ring buffer's records (up to the first still reserved).
    pub fn ringbuf_consume(&self, id: MapId) -> Result<Vec<Vec<u8>>, MapError> {
        self.with(id, |_, f| match f {
            Family::Ring(r) => Ok(r.consume()),
            _ => Err(MapError::Invalid),
        })
    }

    /// The records `bpf_perf_event_output` captured, in order.
    pub fn perf_records(&self, id: MapId) -> Result<Vec<PerfRecord>, MapError> {
        self.with(id, |_, f| match f {
            Family::Perf(p) => Ok(p.records().to_vec()),
            _ => Err(MapError::Invalid),
        })
    }

    /// Takes the captured perf records, leaving none.
    pub fn take_perf_records(&self, id: MapId) -> Result<Vec<PerfRecord>, MapError> {
        self.with(id, |_, f| match f {
            Family::Perf(p) => Ok(p.take()),
            _ => Err(MapError::Invalid),
        })
    }
}
