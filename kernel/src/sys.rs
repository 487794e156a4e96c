//! The `bpf()` system call: the only file of this crate with `unsafe` code.
//!
//! Each command fills a zeroed `union bpf_attr` (written as bytes at the offsets of
//! `include/uapi/linux/bpf.h`) and passes pointers to buffers the kernel reads or writes.
//! Soundness rests on one rule, kept inside this file: every pointer handed to the kernel
//! comes from a slice that lives across the call, and the size the kernel will use for it
//! is that slice's length or a length checked against it here. Map buffers are checked
//! against the sizes the map was created with ([`Map`]), because the kernel copies a
//! map's whole key or value without being told a length.
//!
//! Off Linux there is no `bpf()`: every command returns `ErrorKind::Unsupported`, and the
//! crate's entry points report that the kernel backend is Linux-only before getting here.

use std::io;

/// Commands (`enum bpf_cmd`).
const MAP_CREATE: u32 = 0;
const MAP_LOOKUP_ELEM: u32 = 1;
const MAP_UPDATE_ELEM: u32 = 2;
const MAP_GET_NEXT_KEY: u32 = 4;
const PROG_LOAD: u32 = 5;
const PROG_TEST_RUN: u32 = 10;
const OBJ_GET_INFO_BY_FD: u32 = 15;
const BTF_LOAD: u32 = 18;
const MAP_LOOKUP_AND_DELETE_ELEM: u32 = 21;
const MAP_FREEZE: u32 = 22;

/// Map types whose values the syscall side sees once per possible CPU, each rounded up to
/// 8 bytes: percpu_hash, percpu_array, lru_percpu_hash, percpu_cgroup_storage.
const PER_CPU_MAP_TYPES: [u32; 4] = [5, 6, 10, 21];

/// Bytes of `union bpf_attr` we pass: larger than every field we write. The kernel
/// accepts a larger union when the bytes it does not know are zero.
const ATTR_SIZE: usize = 160;

/// A zeroed `union bpf_attr`, 8-byte aligned like the kernel's `__aligned_u64` fields.
#[repr(C, align(8))]
struct Attr([u8; ATTR_SIZE]);

impl Attr {
    fn new() -> Attr {
        Attr([0; ATTR_SIZE])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Attr {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Attr {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    /// A user pointer field; null for an empty slice, which is what the kernel expects
    /// for "not given".
    fn ptr(&mut self, off: usize, s: &[u8]) -> &mut Attr {
        let p = if s.is_empty() { 0 } else { s.as_ptr() as u64 };
        self.u64(off, p)
    }
    /// A user pointer field the kernel writes through (so it comes from `&mut`).
    fn out(&mut self, off: usize, s: &mut [u8]) -> &mut Attr {
        let p = if s.is_empty() {
            0
        } else {
            s.as_mut_ptr() as u64
        };
        self.u64(off, p)
    }
    fn get_u32(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.0[off..off + 4]);
        u32::from_ne_bytes(b)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{Attr, ATTR_SIZE};
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A file descriptor the kernel gave us; closed on drop.
    #[derive(Debug)]
    pub struct Fd(OwnedFd);

    impl Fd {
        pub fn raw(&self) -> u32 {
            self.0.as_raw_fd() as u32
        }
    }

    /// A descriptor someone else opened (aya's, duplicated), now ours to close.
    impl From<OwnedFd> for Fd {
        fn from(fd: OwnedFd) -> Fd {
            Fd(fd)
        }
    }

    /// Issues `bpf(cmd, attr, ATTR_SIZE)`; returns the non-negative result.
    ///
    /// # Safety
    /// Every pointer field of `attr` that `cmd` uses must point to memory valid for the
    /// size the kernel will read or write there, for the duration of the call.
    pub unsafe fn bpf(cmd: u32, attr: &mut Attr) -> io::Result<i64> {
        // SAFETY: `attr` is ATTR_SIZE bytes we own; the pointers inside it are the
        // caller's responsibility (see the function's contract).
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd as libc::c_long,
                attr as *mut Attr,
                ATTR_SIZE as libc::c_long,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as i64)
        }
    }

    /// Takes ownership of a descriptor `bpf()` just returned.
    pub fn adopt(raw: i64) -> Fd {
        // SAFETY: the kernel returned this descriptor for an object it created for us;
        // nothing else owns it.
        Fd(unsafe { OwnedFd::from_raw_fd(raw as i32) })
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::Attr;
    use std::io;

    /// Never made off Linux: [`bpf`] always fails.
    #[derive(Debug)]
    pub struct Fd(u32);

    impl Fd {
        pub fn raw(&self) -> u32 {
            self.0
        }
    }

    /// There is no `bpf()` here.
    ///
    /// # Safety
    /// None needed; `unsafe` only to match the Linux signature.
    pub unsafe fn bpf(_cmd: u32, _attr: &mut Attr) -> io::Result<i64> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "bpf() exists only on Linux",
        ))
    }

    pub fn adopt(raw: i64) -> Fd {
        Fd(raw as u32)
    }
}

pub(crate) use imp::Fd;
use imp::{adopt, bpf};

/// The number of possible CPUs, as the kernel counts per-CPU map values.
pub(crate) fn possible_cpus() -> io::Result<u32> {
    cpu_count(&std::fs::read_to_string(
        "/sys/devices/system/cpu/possible",
    )?)
}

/// The number of CPUs in a kernel CPU list (`0-3,8,10-11`).
fn cpu_count(text: &str) -> io::Result<u32> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("cpu list `{text}`"));
    let mut count = 0u32;
    for part in text.trim().split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: u32 = lo.parse().map_err(|_| bad())?;
        let hi: u32 = hi.parse().map_err(|_| bad())?;
        count += hi.checked_sub(lo).ok_or_else(bad)? + 1;
    }
    Ok(count)
}

/// A map we created, with the buffer sizes its commands need.
#[derive(Debug)]
pub(crate) struct Map {
    pub fd: Fd,
    pub map_type: u32,
    pub key_size: usize,
    pub value_size: usize,
    /// Bytes of a value as the syscall side sees it: `value_size`, or for per-CPU maps
    /// one 8-byte-rounded copy per possible CPU.
    pub value_len: usize,
}

/// What `BPF_MAP_CREATE` needs.
pub(crate) struct MapCreate<'a> {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub inner: Option<&'a Map>,
    pub name: &'a str,
    pub map_extra: u64,
}

/// A kernel object name: at most 15 bytes of `[A-Za-z0-9_.]`, NUL-terminated.
fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, c) in out.iter_mut().zip(name.bytes().take(15)) {
        *o = if c.is_ascii_alphanumeric() || c == b'.' {
            c
        } else {
            b'_'
        };
    }
    out
}

pub(crate) fn map_create(m: &MapCreate<'_>) -> io::Result<Map> {
    let mut attr = Attr::new();
    attr.u32(0, m.map_type)
        .u32(4, m.key_size)
        .u32(8, m.value_size)
        .u32(12, m.max_entries)
        .u32(16, m.flags)
        .u32(20, m.inner.map_or(0, |i| i.fd.raw()))
        .u64(64, m.map_extra);
    attr.0[28..44].copy_from_slice(&object_name(m.name));
    // SAFETY: MAP_CREATE reads no pointers.
    let fd = adopt(unsafe { bpf(MAP_CREATE, &mut attr)? });
    Map::adopt(fd, m.map_type, m.key_size, m.value_size)
}

fn size_error(what: &str, got: usize, want: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} of {got} bytes, the map's is {want}"),
    )
}

impl Map {
    /// A map created elsewhere (by aya), with the sizes the kernel reports for it.
    pub fn adopt(fd: Fd, map_type: u32, key_size: u32, value_size: u32) -> io::Result<Map> {
        let value_len = if PER_CPU_MAP_TYPES.contains(&map_type) {
            (value_size as usize).div_ceil(8) * 8 * possible_cpus()? as usize
        } else {
            value_size as usize
        };
        Ok(Map {
            fd,
            map_type,
            key_size: key_size as usize,
            value_size: value_size as usize,
            value_len,
        })
    }

    /// Checks a key buffer: the map's key size (the kernel reads exactly that many bytes);
    /// an empty key (null) for maps without keys (queues, stacks) or "first key".
    fn check_key(&self, key: &[u8]) -> io::Result<()> {
        if key.is_empty() || key.len() == self.key_size {
            Ok(())
        } else {
            Err(size_error("key", key.len(), self.key_size))
        }
    }

    fn check_value(&self, value: &[u8]) -> io::Result<()> {
        if value.len() == self.value_len {
            Ok(())
        } else {
            Err(size_error("value", value.len(), self.value_len))
        }
    }

    /// `BPF_MAP_UPDATE_ELEM` (`key` empty for queues and stacks: a push).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
        self.check_key(key)?;
        self.check_value(value)?;
        let mut attr = Attr::new();
        attr.u32(0, self.fd.raw())
            .ptr(8, key)
            .ptr(16, value)
            .u64(24, flags);
        // SAFETY: key and value were checked above against the sizes the kernel reads.
        unsafe { bpf(MAP_UPDATE_ELEM, &mut attr) }.map(|_| ())
    }

    /// `BPF_MAP_LOOKUP_ELEM` into `value`; `Ok(false)` when there is no such key.
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        self.check_key(key)?;
        self.check_value(value)?;
        let mut attr = Attr::new();
        attr.u32(0, self.fd.raw()).ptr(8, key).out(16, value);
        // SAFETY: key and value were checked above against the sizes the kernel reads
        // and writes.
        not_found_is_false(unsafe { bpf(MAP_LOOKUP_ELEM, &mut attr) })
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` without a key: a queue's or stack's pop.
    pub fn pop(&self, value: &mut [u8]) -> io::Result<bool> {
        self.check_value(value)?;
        let mut attr = Attr::new();
        attr.u32(0, self.fd.raw()).out(16, value);
        // SAFETY: value was checked above against the size the kernel writes.
        not_found_is_false(unsafe { bpf(MAP_LOOKUP_AND_DELETE_ELEM, &mut attr) })
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first for an empty `key`) into
    /// `next`; `Ok(false)` at the end.
    pub fn next_key(&self, key: &[u8], next: &mut [u8]) -> io::Result<bool> {
        self.check_key(key)?;
        if next.len() != self.key_size || next.is_empty() {
            return Err(size_error("key", next.len(), self.key_size));
        }
        let mut attr = Attr::new();
        attr.u32(0, self.fd.raw()).ptr(8, key).out(16, next);
        // SAFETY: key and next were checked above against the key size the kernel uses.
        not_found_is_false(unsafe { bpf(MAP_GET_NEXT_KEY, &mut attr) })
    }

    /// `BPF_MAP_FREEZE`: no more writes from the syscall side (`.rodata`).
    pub fn freeze(&self) -> io::Result<()> {
        let mut attr = Attr::new();
        attr.u32(0, self.fd.raw());
        // SAFETY: MAP_FREEZE reads no pointers.
        unsafe { bpf(MAP_FREEZE, &mut attr) }.map(|_| ())
    }
}

fn not_found_is_false(r: io::Result<i64>) -> io::Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `ENOENT`, the same number on every Linux architecture.
const ENOENT: i32 = 2;

/// The kernel's id of a program or map (`bpf_prog_info.id`/`bpf_map_info.id`, both the
/// second `u32`): what the syscall side reads from prog arrays and maps of maps.
pub(crate) fn object_id(fd: &Fd) -> io::Result<u32> {
    Ok(object_info(fd)?[1])
}

/// The first six `u32`s of `bpf_prog_info` (type, id, ...) or `bpf_map_info` (type, id,
/// key_size, value_size, max_entries, map_flags) of `fd`.
pub(crate) fn object_info(fd: &Fd) -> io::Result<[u32; 6]> {
    let mut info = [0u8; 24];
    let mut attr = Attr::new();
    attr.u32(0, fd.raw())
        .u32(4, info.len() as u32)
        .out(8, &mut info);
    // SAFETY: the kernel writes at most info_len (24) bytes to info.
    unsafe { bpf(OBJ_GET_INFO_BY_FD, &mut attr)? };
    let mut words = [0u32; 6];
    for (w, b) in words.iter_mut().zip(info.chunks_exact(4)) {
        *w = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(words)
}

/// What `BPF_PROG_LOAD` needs.
pub(crate) struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub flags: u32,
    pub insns: &'a [u8],
    /// NUL-terminated.
    pub license: &'a [u8],
    pub name: &'a str,
    /// Map fds by index (`lddw` kinds 5 and 6).
    pub fd_array: &'a [u32],
    /// BTF with `func_info` records `(insn_off, type_id)`.
    pub btf: Option<(&'a Fd, &'a [[u32; 2]])>,
}

/// Loads a program; on refusal returns the error with the verifier's log (the load is
/// retried with a log so that successful loads do not pay for one).
pub(crate) fn prog_load(p: &ProgLoad<'_>) -> Result<Fd, (io::Error, String)> {
    if p.license.last() != Some(&0) || p.insns.len() % 8 != 0 {
        let e = io::Error::new(io::ErrorKind::InvalidInput, "bad license or program size");
        return Err((e, String::new()));
    }
    let func_info: Vec<u8> = p
        .btf
        .map_or(&[][..], |(_, recs)| recs)
        .iter()
        .flatten()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let fd_array: Vec<u8> = p.fd_array.iter().flat_map(|v| v.to_ne_bytes()).collect();
    if let Some(idx) = map_indexes(p.insns).find(|&i| i as usize >= p.fd_array.len()) {
        let e = io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the program names map index {idx}, but only {} maps were given",
                p.fd_array.len()
            ),
        );
        return Err((e, String::new()));
    }
    let attempt = |log: &mut [u8]| {
        let mut attr = Attr::new();
        attr.u32(0, p.prog_type)
            .u32(4, (p.insns.len() / 8) as u32)
            .ptr(8, p.insns)
            .ptr(16, p.license)
            .u32(24, if log.is_empty() { 0 } else { 1 })
            .u32(28, log.len() as u32)
            .out(32, log)
            .u32(44, p.flags)
            .u32(68, p.expected_attach_type)
            .ptr(120, &fd_array);
        attr.0[48..64].copy_from_slice(&object_name(p.name));
        if let Some((btf, recs)) = p.btf {
            attr.u32(72, btf.raw())
                .u32(76, 8)
                .ptr(80, &func_info)
                .u32(88, recs.len() as u32);
        }
        // SAFETY: insns (insn_cnt * 8 bytes), the NUL-terminated license, the log
        // (log_size bytes) and func_info (cnt * 8 bytes) live across the call; the kernel
        // reads fd_array only at the indexes the program's `lddw`s name, all checked
        // above to be inside it.
        unsafe { bpf(PROG_LOAD, &mut attr) }
    };
    match attempt(&mut []) {
        Ok(fd) => Ok(adopt(fd)),
        Err(_) => {
            let mut log = vec![0u8; 16 << 20];
            match attempt(&mut log) {
                Ok(fd) => Ok(adopt(fd)),
                Err(e) => Err((e, c_text(&log))),
            }
        }
    }
}

/// The map indexes `lddw` kinds 5 (`MapIdx`) and 6 (`MapIdxValue`) name, which the
/// kernel looks up in `fd_array`.
fn map_indexes(insns: &[u8]) -> impl Iterator<Item = u32> + '_ {
    insns
        .chunks_exact(8)
        .filter(|i| i[0] == 0x18 && matches!(i[1] >> 4, 5 | 6))
        .map(|i| u32::from_le_bytes([i[4], i[5], i[6], i[7]]))
}

/// Loads a BTF blob; on refusal the error with the kernel's BTF log.
pub(crate) fn btf_load(btf: &[u8]) -> Result<Fd, (io::Error, String)> {
    let mut log = vec![0u8; 1 << 16];
    let mut attr = Attr::new();
    attr.ptr(0, btf)
        .out(8, &mut log)
        .u32(16, btf.len() as u32)
        .u32(20, log.len() as u32)
        .u32(24, 1);
    // SAFETY: btf (btf_size bytes) and log (btf_log_size bytes) live across the call.
    match unsafe { bpf(BTF_LOAD, &mut attr) } {
        Ok(fd) => Ok(adopt(fd)),
        Err(e) => Err((e, c_text(&log))),
    }
}

/// The text before the first NUL.
fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end])
        .trim_end()
        .to_string()
}

/// `BPF_PROG_TEST_RUN` buffers: inputs, and outputs sized to their capacity (empty =
/// not asked for). `ctx_in` is mutable because syscall programs' context is copied back
/// into it.
pub(crate) struct TestRunIo<'a> {
    pub data_in: &'a [u8],
    pub data_out: &'a mut [u8],
    pub ctx_in: &'a mut [u8],
    pub ctx_out: &'a mut [u8],
    pub repeat: u32,
    pub flags: u32,
    pub cpu: u32,
}

/// What the kernel reports: retval, duration and the output sizes it wanted to write.
pub(crate) struct TestRunReport {
    pub retval: u32,
    pub duration_ns: u32,
    pub data_size_out: u32,
    pub ctx_size_out: u32,
}

pub(crate) fn prog_test_run(prog: &Fd, io: &mut TestRunIo<'_>) -> io::Result<TestRunReport> {
    let mut attr = Attr::new();
    attr.u32(0, prog.raw())
        .u32(8, io.data_in.len() as u32)
        .u32(12, io.data_out.len() as u32)
        .ptr(16, io.data_in)
        .out(24, io.data_out)
        .u32(32, io.repeat)
        .u32(40, io.ctx_in.len() as u32)
        .u32(44, io.ctx_out.len() as u32)
        .out(48, io.ctx_in)
        .out(56, io.ctx_out)
        .u32(64, io.flags)
        .u32(68, io.cpu);
    // SAFETY: each buffer lives across the call and its size field is its length: the
    // kernel reads data_in/ctx_in and writes at most data_size_out/ctx_size_out bytes
    // to data_out/ctx_out (syscall programs write ctx_size_in bytes back to ctx_in).
    unsafe { bpf(PROG_TEST_RUN, &mut attr)? };
    Ok(TestRunReport {
        retval: attr.get_u32(4),
        data_size_out: attr.get_u32(12),
        duration_ns: attr.get_u32(36),
        ctx_size_out: attr.get_u32(44),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_every_cpu() {
        assert_eq!(cpu_count("0\n").unwrap(), 1);
        assert_eq!(cpu_count("0-1\n").unwrap(), 2);
        assert_eq!(cpu_count("0-3,8,10-11").unwrap(), 7);
        assert!(cpu_count("3-1").is_err());
        assert!(cpu_count("x").is_err());
    }

    #[test]
    fn object_names_are_truncated_and_sanitised() {
        assert_eq!(&object_name(".rodata.str1.1")[..15], b".rodata.str1.1\0");
        assert_eq!(
            &object_name("a-very-long-map-name")[..16],
            b"a_very_long_map\0"
        );
    }

    #[test]
    fn map_indexes_are_found_in_lddw_kinds_5_and_6() {
        let program = ebpfvm_isa::assemble(
            "lddw %r1, map_idx 3\nlddw %r2, map_idx_value 7+8\nlddw %r3, 5\nexit",
        )
        .unwrap();
        let found: Vec<u32> = map_indexes(&program.to_bytes()).collect();
        assert_eq!(found, [3, 7]);
    }
}
