//! Helpers with the kernel's ids and semantics, for programs as people write them:
//! maps (lookup, update, delete, push/pop/peek, ring buffers, perf output), tail calls,
//! `bpf_loop`, time, random numbers, the current CPU and task, `bpf_trace_printk`, and
//! `bpf_probe_read*` against memory the embedder registers.
//!
//! ```
//! use ebpfvm_vm::kernel_helpers::{self, Kernel};
//! use ebpfvm_vm::Helpers;
//!
//! let kernel = Kernel::new();
//! kernel.with(|k| {
//!     k.time_ns = 1_000;
//!     k.seed(42);
//! });
//! let mut helpers = Helpers::new();
//! kernel_helpers::register(&mut helpers, &kernel);
//! assert!(helpers.contains(kernel_helpers::id::MAP_LOOKUP_ELEM.into()));
//! ```
//!
//! The state the helpers share with the embedder (clock, random generator, task
//! identity, captured `trace_printk` output, registered memory) is a [`Kernel`]: a
//! cloneable handle the embedder keeps to set the clock or read the trace between runs.
//! Maps come from the run's memory map ([`crate::MemoryMap::with_maps`]); the CPU is
//! the maps' current CPU.

mod env;
mod map_helpers;
mod printk;

use std::sync::{Arc, Mutex};

use crate::helpers::Helpers;

/// Helper ids (`enum bpf_func_id`).
pub mod id {
    /// `bpf_map_lookup_elem`
    pub const MAP_LOOKUP_ELEM: u32 = 1;
    /// `bpf_map_update_elem`
    pub const MAP_UPDATE_ELEM: u32 = 2;
    /// `bpf_map_delete_elem`
    pub const MAP_DELETE_ELEM: u32 = 3;
    /// `bpf_probe_read`
    pub const PROBE_READ: u32 = 4;
    /// `bpf_ktime_get_ns`
    pub const KTIME_GET_NS: u32 = 5;
    /// `bpf_trace_printk`
    pub const TRACE_PRINTK: u32 = 6;
    /// `bpf_get_prandom_u32`
    pub const GET_PRANDOM_U32: u32 = 7;
    /// `bpf_get_smp_processor_id`
    pub const GET_SMP_PROCESSOR_ID: u32 = 8;
    /// `bpf_tail_call`
    pub const TAIL_CALL: u32 = 12;
    /// `bpf_get_current_pid_tgid`
    pub const GET_CURRENT_PID_TGID: u32 = 14;
    /// `bpf_get_current_uid_gid`
    pub const GET_CURRENT_UID_GID: u32 = 15;
    /// `bpf_get_current_comm`
    pub const GET_CURRENT_COMM: u32 = 16;
    /// `bpf_perf_event_output`
    pub const PERF_EVENT_OUTPUT: u32 = 25;
    /// `bpf_probe_read_str`
    pub const PROBE_READ_STR: u32 = 45;
    /// `bpf_map_push_elem`
    pub const MAP_PUSH_ELEM: u32 = 87;
    /// `bpf_map_pop_elem`
    pub const MAP_POP_ELEM: u32 = 88;
    /// `bpf_map_peek_elem`
    pub const MAP_PEEK_ELEM: u32 = 89;
    /// `bpf_probe_read_user`
    pub const PROBE_READ_USER: u32 = 112;
    /// `bpf_probe_read_kernel`
    pub const PROBE_READ_KERNEL: u32 = 113;
    /// `bpf_probe_read_user_str`
    pub const PROBE_READ_USER_STR: u32 = 114;
    /// `bpf_probe_read_kernel_str`
    pub const PROBE_READ_KERNEL_STR: u32 = 115;
    /// `bpf_ktime_get_boot_ns`
    pub const KTIME_GET_BOOT_NS: u32 = 125;
    /// `bpf_ringbuf_output`
    pub const RINGBUF_OUTPUT: u32 = 130;
    /// `bpf_ringbuf_reserve`
    pub const RINGBUF_RESERVE: u32 = 131;
    /// `bpf_ringbuf_submit`
    pub const RINGBUF_SUBMIT: u32 = 132;
    /// `bpf_ringbuf_discard`
    pub const RINGBUF_DISCARD: u32 = 133;
    /// `bpf_ringbuf_query`
    pub const RINGBUF_QUERY: u32 = 134;
    /// `bpf_ktime_get_coarse_ns`
    pub const KTIME_GET_COARSE_NS: u32 = 160;
    /// `bpf_loop`
    pub const LOOP: u32 = 181;
}

/// What the helpers share with the embedder. Fields are public: set them through
/// [`Kernel::with`].
#[derive(Clone, Debug)]
pub struct KernelState {
    /// `bpf_ktime_get_ns` (and `_coarse_ns`); the embedder moves it.
    pub time_ns: u64,
    /// `bpf_ktime_get_boot_ns` is `time_ns + boot_offset_ns` (time spent suspended).
    pub boot_offset_ns: u64,
    /// `bpf_get_current_pid_tgid`: the thread id (pid).
    pub pid: u32,
    /// `bpf_get_current_pid_tgid`: the process id (tgid).
    pub tgid: u32,
    /// `bpf_get_current_uid_gid`: uid.
    pub uid: u32,
    /// `bpf_get_current_uid_gid`: gid.
    pub gid: u32,
    /// `bpf_get_current_comm`: the task name, NUL-padded.
    pub comm: [u8; 16],
    /// Lines `bpf_trace_printk` produced, in order.
    pub trace: Vec<String>,
    /// Memory `bpf_probe_read*` may read besides guest memory: `(address, bytes)`.
    pub memory: Vec<(u64, Vec<u8>)>,
    rng: u64,
}

impl Default for KernelState {
    fn default() -> Self {
        let mut comm = [0u8; 16];
        comm[..6].copy_from_slice(b"ebpfvm");
        KernelState {
            time_ns: 0,
            boot_offset_ns: 0,
            pid: 1,
            tgid: 1,
            uid: 0,
            gid: 0,
            comm,
            trace: Vec::new(),
            memory: Vec::new(),
            rng: 0x853c_49e6_748f_ea9b,
        }
    }
}

impl KernelState {
    /// Restarts `bpf_get_prandom_u32`'s sequence from `seed`.
    pub fn seed(&mut self, seed: u64) {
        self.rng = seed;
    }

    /// The next pseudo-random number (SplitMix64, high half).
    pub fn next_random(&mut self) -> u32 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 32) as u32
    }

    /// Sets the task name (truncated to 15 bytes and NUL-padded, as the kernel keeps it).
    pub fn set_comm(&mut self, name: &str) {
        self.comm = [0; 16];
        let n = name.len().min(15);
        self.comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    }

    /// Makes `bytes` readable by `bpf_probe_read*` at `addr`.
    pub fn register_memory(&mut self, addr: u64, bytes: Vec<u8>) {
        self.memory.push((addr, bytes));
    }
}

/// A shared handle to the [`KernelState`] the helpers use.
#[derive(Clone, Debug, Default)]
pub struct Kernel(Arc<Mutex<KernelState>>);

impl Kernel {
    /// A default state: clock 0, pid/tgid 1, uid/gid 0, comm "ebpfvm", a fixed seed.
    pub fn new() -> Kernel {
        Kernel::default()
    }

    /// Runs `f` with the state locked (a poisoned lock is recovered: the state is plain
    /// data).
    pub fn with<T>(&self, f: impl FnOnce(&mut KernelState) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Takes the captured `bpf_trace_printk` lines.
    pub fn take_trace(&self) -> Vec<String> {
        self.with(|k| std::mem::take(&mut k.trace))
    }
}

/// Registers every helper of this module in `helpers`, sharing `kernel`.
pub fn register(helpers: &mut Helpers, kernel: &Kernel) {
    map_helpers::register(helpers);
    env::register(helpers, kernel);
}
