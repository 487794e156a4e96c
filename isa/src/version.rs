//! ISA versions and optional features, as one value with a predicate per feature.
//!
//! The conformance groups of RFC 9669 map onto the `-mcpu` versions clang knows: v1 is
//! the base set, v2 adds `jlt/jle/jslt/jsle`, v3 adds the JMP32 class and the fetching
//! atomics, v4 adds signed division/modulo, `movsx`, `ldsx`, `bswap` and `gotol`.

/// An eBPF ISA version (clang's `-mcpu=v1..v4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IsaVersion {
    /// The base instruction set.
    V1,
    /// Adds the `lt`/`le` jump conditions.
    V2,
    /// Adds the JMP32 class and the fetching atomics.
    V3,
    /// Adds sdiv/smod, movsx, ldsx, bswap and gotol.
    V4,
}

/// What a loader accepts: an ISA version plus features outside the versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Features {
    /// The highest ISA version accepted.
    pub version: IsaVersion,
    /// Whether `callx` (call through a register) is accepted.
    pub callx: bool,
    /// Whether legacy packet loads (`LD_ABS`/`LD_IND`) are accepted.
    pub legacy_packet_loads: bool,
}

impl Default for Features {
    /// Everything: v4, `callx`, legacy packet loads.
    fn default() -> Self {
        Features {
            version: IsaVersion::V4,
            callx: true,
            legacy_packet_loads: true,
        }
    }
}

impl Features {
    /// `jlt`, `jle`, `jslt`, `jsle` (v2).
    pub fn lt_le_jumps(&self) -> bool {
        self.version >= IsaVersion::V2
    }
    /// The JMP32 class (v3).
    pub fn jmp32(&self) -> bool {
        self.version >= IsaVersion::V3
    }
    /// Atomic `or`/`and`/`xor` and the fetch forms, `xchg`, `cmpxchg` (v3).
    pub fn extended_atomics(&self) -> bool {
        self.version >= IsaVersion::V3
    }
    /// `sdiv`, `smod` (v4).
    pub fn signed_division(&self) -> bool {
        self.version >= IsaVersion::V4
    }
    /// `movsx` (v4).
    pub fn movsx(&self) -> bool {
        self.version >= IsaVersion::V4
    }
    /// `ldsx` (v4).
    pub fn ldsx(&self) -> bool {
        self.version >= IsaVersion::V4
    }
    /// `bswap16/32/64` (v4).
    pub fn bswap(&self) -> bool {
        self.version >= IsaVersion::V4
    }
    /// `gotol` (v4).
    pub fn gotol(&self) -> bool {
        self.version >= IsaVersion::V4
    }
}
