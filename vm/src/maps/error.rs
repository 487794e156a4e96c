//! Map errors as typed values, each with the errno the kernel returns for it (helpers
//! give programs `-errno`).

use thiserror::Error;

/// Why a map operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum MapError {
    /// `ENOENT`: no such key (or `BPF_EXIST` for a missing key, or an empty queue).
    #[error("no such entry (ENOENT)")]
    NotFound,
    /// `EEXIST`: `BPF_NOEXIST` for a key that exists.
    #[error("entry exists (EEXIST)")]
    Exists,
    /// `E2BIG`: the map is full, or an index is beyond `max_entries`.
    #[error("map is full or index out of range (E2BIG)")]
    TooBig,
    /// `ENOSPC`: an LPM trie is full.
    #[error("no space left in the map (ENOSPC)")]
    NoSpace,
    /// `EINVAL`: bad flags, key or value size, or a bad map definition.
    #[error("invalid argument (EINVAL)")]
    Invalid,
    /// `EPERM`: the program may not write this map (`BPF_F_RDONLY_PROG`).
    #[error("operation not permitted (EPERM)")]
    NotPermitted,
    /// `EOPNOTSUPP`: the map type does not have this operation.
    #[error("operation not supported by this map type (EOPNOTSUPP)")]
    NotSupported,
    /// `ENOMEM`: the map's storage could not be allocated.
    #[error("out of memory (ENOMEM)")]
    NoMemory,
    /// `EBADF`: no map with this id or handle.
    #[error("no such map (EBADF)")]
    NoSuchMap,
    /// `EAGAIN`: a ring buffer has no room for the record.
    #[error("no room in the ring buffer (EAGAIN)")]
    Again,
    /// `EBUSY`: the map is in use by the operation calling this one.
    #[error("map busy (EBUSY)")]
    Busy,
    /// `EOVERFLOW`: a cpumap queue size above 16384.
    #[error("value too large (EOVERFLOW)")]
    Overflow,
    /// `ENODEV`: a cpumap entry for a CPU that is not possible.
    #[error("no such device (ENODEV)")]
    NoDevice,
}

impl MapError {
    /// The kernel's errno for this error (positive).
    pub const fn errno(self) -> i32 {
        match self {
            MapError::NotFound => 2,
            MapError::Exists => 17,
            MapError::TooBig => 7,
            MapError::NoSpace => 28,
            MapError::Invalid => 22,
            MapError::NotPermitted => 1,
            MapError::NotSupported => 95,
            MapError::NoMemory => 12,
            MapError::NoSuchMap => 9,
            MapError::Again => 11,
            MapError::Busy => 16,
            MapError::Overflow => 75,
            MapError::NoDevice => 19,
        }
    }

    /// What a helper returns to the program: `-errno` as a 64-bit register value.
    pub const fn to_retval(self) -> u64 {
        -(self.errno() as i64) as u64
    }
}
