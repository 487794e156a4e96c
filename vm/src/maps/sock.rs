//! Socket maps, the targets of `bpf_sk_redirect_map`/`bpf_sk_redirect_hash`:
//! `SOCKMAP` (an array indexed by a 4-byte key) and `SOCKHASH` (any key size). In the
//! kernel an entry is a TCP or UDP socket the host inserts by file descriptor, and the
//! host reads back its cookie; this runtime has no sockets, so an entry *is* a socket
//! cookie: the host writes it as the value (4 or 8 bytes, as the map's `value_size`)
//! and reads it back. Creation rules (net/core/sock_map.c, compared with the running
//! kernel by `tests/sk_skb.rs`):
//!
//! - `max_entries` > 0, the value 4 or 8 bytes, flags `BPF_F_NUMA_NODE`,
//!   `BPF_F_RDONLY`, `BPF_F_WRONLY` only (not both), else `EINVAL`; a sockmap's key is 4 bytes
//!   (else `EINVAL`), a sockhash's 1 to 512 (0 is `EINVAL`, more `E2BIG`).
//! - Updates (compared with real TCP sockets; deletes are from the source): flags above
//!   `BPF_EXIST` are `EINVAL`; a sockmap index past `max_entries` is `E2BIG`;
//!   `BPF_NOEXIST` on an entry is `EEXIST`, `BPF_EXIST` on a missing one `ENOENT`; a
//!   full sockhash is `E2BIG`. Deleting an empty sockmap slot is `EINVAL`, a missing
//!   sockhash key `ENOENT`. The host's lookup needs 8-byte values (`ENOSPC` else).
//! - Programs reach entries through the redirect helpers only; `bpf_map_lookup_elem`
//!   and `bpf_map_update_elem` on these maps (a socket pointer in the kernel) are not
//!   supported here (the helpers say so).

use std::collections::BTreeMap;

use super::{MapError, MapKind, MapSpec, BPF_EXIST, BPF_NOEXIST};

/// `BPF_F_NUMA_NODE`, `BPF_F_RDONLY`, `BPF_F_WRONLY`: the creation flags allowed.
const CREATE_FLAGS: u32 = (1 << 2) | (1 << 3) | (1 << 4);
/// `BPF_F_RDONLY | BPF_F_WRONLY`: one or the other (both is `EINVAL`).
const RDONLY_WRONLY: u32 = (1 << 3) | (1 << 4);
/// The largest sockhash key (`MAX_BPF_STACK`).
const MAX_KEY: u32 = 512;

pub(crate) struct SockMap {
    hash: bool,
    key_size: usize,
    value_size: usize,
    max: u32,
    /// Key bytes to socket cookie, in key byte order.
    entries: BTreeMap<Vec<u8>, u64>,
}

impl SockMap {
    pub fn new(spec: &MapSpec) -> Result<SockMap, MapError> {
        let hash = spec.kind == MapKind::Sockhash;
        let key_ok = if hash {
            spec.key_size != 0
        } else {
            spec.key_size == 4
        };
        if spec.max_entries == 0
            || !key_ok
            || !matches!(spec.value_size, 4 | 8)
            || spec.flags & !CREATE_FLAGS != 0
            || spec.flags & RDONLY_WRONLY == RDONLY_WRONLY
        {
            return Err(MapError::Invalid);
        }
        if spec.key_size > MAX_KEY {
            return Err(MapError::TooBig);
        }
        Ok(SockMap {
            hash,
            key_size: spec.key_size as usize,
            value_size: spec.value_size as usize,
            max: spec.max_entries,
            entries: BTreeMap::new(),
        })
    }

    fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        if key.len() != self.key_size {
            return Err(MapError::Invalid);
        }
        Ok(())
    }

    /// A sockmap key's index.
    fn index(key: &[u8]) -> u32 {
        u32::from_le_bytes(key.try_into().unwrap_or([0xff; 4]))
    }

    /// The cookie of the socket at `key`, for the redirect helpers.
    pub fn cookie(&self, key: &[u8]) -> Option<u64> {
        self.entries.get(key).copied()
    }

    /// The host's lookup: the cookie, as the kernel's (8-byte values only).
    pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.check_key(key)?;
        if self.value_size != 8 {
            return Err(MapError::NoSpace);
        }
        let cookie = self.cookie(key).ok_or(MapError::NotFound)?;
        Ok(cookie.to_le_bytes().to_vec())
    }

    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.check_key(key)?;
        if flags > BPF_EXIST || value.len() != self.value_size {
            return Err(MapError::Invalid);
        }
        if !self.hash && SockMap::index(key) >= self.max {
            return Err(MapError::TooBig);
        }
        let present = self.entries.contains_key(key);
        match flags {
            BPF_NOEXIST if present => return Err(MapError::Exists),
            BPF_EXIST if !present => return Err(MapError::NotFound),
            _ => {}
        }
        if self.hash && !present && self.entries.len() >= self.max as usize {
            return Err(MapError::TooBig);
        }
        let mut cookie = [0u8; 8];
        cookie[..value.len()].copy_from_slice(value);
        self.entries
            .insert(key.to_vec(), u64::from_le_bytes(cookie));
        Ok(())
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        self.check_key(key)?;
        match self.entries.remove(key) {
            Some(_) => Ok(()),
            None if self.hash => Err(MapError::NotFound),
            None => Err(MapError::Invalid),
        }
    }

    /// The next key: every index in turn for a sockmap (empty slots included, as the
    /// kernel's), the next present key for a sockhash.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        if self.hash {
            let next = match key {
                None => self.entries.keys().next(),
                Some(k) => self
                    .entries
                    .range::<[u8], _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                    .next()
                    .map(|(k, _)| k),
            };
            return Ok(next.cloned());
        }
        let next = match key.map(SockMap::index) {
            Some(i) if i < self.max => i.checked_add(1).filter(|&n| n < self.max),
            _ => Some(0),
        };
        Ok(next.map(|i| i.to_le_bytes().to_vec()))
    }

    /// The entries, sorted by key bytes, each value the cookie in `value_size` bytes.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.entries
            .iter()
            .map(|(k, c)| (k.clone(), c.to_le_bytes()[..self.value_size].to_vec()))
            .collect()
    }
}
