//! The program's side of [`Maps`]: what the kernel helpers call. Values are this CPU's
//! copy, and pointers are guest addresses ([`MapId::value_address`]) or map handles.

use super::table::Family;
use super::{MapError, MapId, MapKind, Maps, BPF_F_RDONLY_PROG};

impl Maps {
    /// `bpf_map_lookup_elem`: the guest address of the value (this CPU's copy), an inner
    /// map's handle for maps of maps, or 0.
    pub fn prog_lookup(&self, id: MapId, key: &[u8]) -> u64 {
        let cpu = self.current_cpu();
        let kind = match self.spec(id) {
            Some(s) => s.kind,
            None => return 0,
        };
        let found = self.with(id, |_, f| {
            Ok(match f {
                Family::Array(a) => a.value_offset(key, cpu).map(|o| id.value_address(o as u32)),
                Family::Hash(h) if kind == MapKind::HashOfMaps => {
                    h.lookup(key).ok().and_then(|v| {
                        Some(MapId(u32::from_le_bytes(v.get(..4)?.try_into().ok()?)).handle())
                    })
                }
                Family::Hash(h) => h.value_offset(key, cpu).map(|o| id.value_address(o as u32)),
                Family::Lpm(l) => l.value_offset(key).map(|o| id.value_address(o as u32)),
                Family::Redirect(r) => r.value_offset(key).map(|o| id.value_address(o as u32)),
                Family::Fd(a) if kind == MapKind::ArrayOfMaps => {
                    a.get(key).ok().map(|m| MapId(m).handle())
                }
                _ => None,
            })
        });
        found.ok().flatten().unwrap_or(0)
    }

    /// `bpf_map_update_elem` from a program: this CPU's copy of per-CPU values.
    pub fn prog_update(
        &self,
        id: MapId,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> Result<(), MapError> {
        let cpu = self.current_cpu();
        self.with(id, |spec, f| {
            if spec.flags & BPF_F_RDONLY_PROG != 0 {
                return Err(MapError::NotPermitted);
            }
            match f {
                Family::Array(a) => a.prog_update(key, value, flags, cpu),
                Family::Hash(h) if spec.kind != MapKind::HashOfMaps => {
                    h.prog_update(key, value, flags, cpu)
                }
                Family::Lpm(l) => l.update(key, value, flags),
                Family::Queue(q) => q.push(value, flags),
                // The kernel verifier refuses writes to redirect maps from programs.
                Family::Redirect(_) => Err(MapError::NotPermitted),
                _ => Err(MapError::NotSupported),
            }
        })
    }

    /// `bpf_map_delete_elem` from a program.
    pub fn prog_delete(&self, id: MapId, key: &[u8]) -> Result<(), MapError> {
        match self.spec(id).map(|s| s.kind) {
            // The kernel verifier refuses writes to redirect maps from programs.
            Some(k) if k.is_redirect() => Err(MapError::NotPermitted),
            Some(MapKind::ProgArray | MapKind::ArrayOfMaps | MapKind::HashOfMaps) => {
                Err(MapError::NotSupported)
            }
            Some(_) => self.delete(id, key),
            None => Err(MapError::NoSuchMap),
        }
    }

    /// `bpf_map_pop_elem` / `bpf_map_peek_elem`.
    pub fn prog_pop(&self, id: MapId, peek: bool) -> Result<Vec<u8>, MapError> {
        self.with(id, |_, f| match f {
            Family::Queue(q) if peek => q.peek(),
            Family::Queue(q) => q.pop(),
            _ => Err(MapError::NotSupported),
        })
    }

    /// `bpf_ringbuf_reserve`: the guest address of `size` reserved bytes, or 0.
    pub fn ringbuf_reserve(&self, id: MapId, size: u64, flags: u64) -> u64 {
        let at = self.with(id, |_, f| match f {
            Family::Ring(r) => Ok(r.reserve(size, flags)),
            _ => Err(MapError::Invalid),
        });
        match at {
            Ok(Some(off)) => id.value_address(off as u32),
            _ => 0,
        }
    }

    /// `bpf_ringbuf_submit` / `bpf_ringbuf_discard` of the record at guest address `addr`.
    pub fn ringbuf_commit(&self, addr: u64, discard: bool) -> Result<(), MapError> {
        let id = MapId::from_value_address(addr).ok_or(MapError::Invalid)?;
        self.with(id, |_, f| match f {
            Family::Ring(r) => r.commit((addr & 0xffff_ffff) as usize, discard),
            _ => Err(MapError::Invalid),
        })
    }

    /// `bpf_ringbuf_output`.
    pub fn ringbuf_output(&self, id: MapId, data: &[u8], flags: u64) -> Result<(), MapError> {
        self.with(id, |_, f| match f {
            Family::Ring(r) => r.output(data, flags),
            _ => Err(MapError::Invalid),
        })
    }

    /// `bpf_ringbuf_query`.
    pub fn ringbuf_query(&self, id: MapId, flags: u64) -> u64 {
        self.with(id, |_, f| match f {
            Family::Ring(r) => Ok(r.query(flags)),
            _ => Err(MapError::Invalid),
        })
        .unwrap_or(0)
    }

    /// `bpf_perf_event_output`: captures `data` at the index the flags give.
    pub fn perf_output(&self, id: MapId, flags: u64, data: &[u8]) -> Result<(), MapError> {
        let cpu = self.current_cpu();
        self.with(id, |_, f| match f {
            Family::Perf(p) => p.output(flags, data, cpu),
            _ => Err(MapError::Invalid),
        })
    }

    /// `bpf_redirect_map`'s lookup: whether redirect map `id` has an entry for `key`;
    /// `None` when `id` is not a redirect map.
    pub fn redirect_target(&self, id: MapId, key: u32) -> Option<bool> {
        self.with(id, |_, f| match f {
            Family::Redirect(r) => Ok(r.contains(key)),
            _ => Err(MapError::Invalid),
        })
        .ok()
    }

    /// `bpf_sk_redirect_map`/`bpf_sk_redirect_hash`'s lookup: the socket cookie at `key`
    /// of socket map `id` (`Ok(None)`: no entry); `Err` when `id` is not a socket map.
    pub fn sock_target(&self, id: MapId, key: &[u8]) -> Result<Option<u64>, MapError> {
        self.with(id, |_, f| match f {
            Family::Sock(s) => Ok(s.cookie(key)),
            _ => Err(MapError::Invalid),
        })
    }

    /// The program id in slot `index` of prog array `id`, for `bpf_tail_call`.
    pub fn tail_call_target(&self, id: MapId, index: u32) -> Option<u32> {
        if self.spec(id)?.kind != MapKind::ProgArray {
            return None;
        }
        self.with(id, |_, f| match f {
            Family::Fd(a) => a.get(&index.to_le_bytes()),
            _ => Err(MapError::Invalid),
        })
        .ok()
    }
}
