//! A program loaded into the kernel, and running it with BPF_PROG_TEST_RUN.
//!
//! Map references stay as our ELF loader links them (`lddw` kinds 5 and 6: a map by
//! its index in the object) and the kernel resolves them through `fd_array`, so the
//! kernel runs byte for byte the program our engines run.
//!
//! Which types can be test-run is the kernel's answer (ENOTSUPP otherwise, reported as
//! [`KernelError::NoTestRun`]). On Linux 6.18: socket_filter, sched_cls, sched_act, xdp,
//! cgroup_skb, lwt_in, lwt_out, lwt_xmit, flow_dissector and syscall run with a packet
//! (or, for syscall, a context); raw_tracepoint with a context only; not kprobe,
//! tracepoint, perf_event, cgroup_sock, sock_ops, sk_skb, cgroup_device, sk_msg,
//! lwt_seg6local, sk_reuseport, cgroup_sysctl, raw_tracepoint_writable. Some types load
//! only with an expected attach type (cgroup_sock_addr, cgroup_sockopt, sk_lookup,
//! netfilter, lirc_mode2) or an attach target we do not give (tracing, lsm, ext,
//! struct_ops): their refusal says so.
//!
//! Syscall programs are special: no packet, the context is copied back after the run
//! (we return it as `ctx_out`), no repeat; they must be loaded sleepable, which
//! [`KernelProgram::load_raw`] does for them.

use std::ffi::CString;

use ebpfvm_elf::ProgramType;
use ebpfvm_isa::Program;

use crate::btf;
use crate::error::{classify, KernelError, ENOTSUPP};
use crate::sys::{self, Fd};

/// `BPF_F_SLEEPABLE`: syscall programs must have it.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// `ENOSPC`: an output buffer was too small.
const ENOSPC: i32 = 28;
/// Default room for a packet to grow (`bpf_xdp_adjust_tail`, `bpf_skb_change_tail`,
/// `bpf_skb_change_head`: a socket buffer may grow to 16064 bytes in a test run).
const GROWTH: usize = 16384;

/// The log of a refusal that came before the verifier ran.
const BEFORE_VERIFICATION: &str = "(no verifier log: refused before verification; programs \
     of this type may need an expected attach type or an attach target such as a BTF id)";

/// Whether this process may load programs at all: a two-instruction socket filter loads.
pub(crate) fn bpf_works() -> bool {
    const RETURN_0: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    sys::prog_load(&sys::ProgLoad {
        prog_type: ProgramType::SocketFilter.id(),
        expected_attach_type: 0,
        flags: 0,
        insns: &RETURN_0,
        license: b"GPL\0",
        name: "ebpfvm_probe",
        fd_array: &[],
        btf: None,
    })
    .is_ok()
}

/// The program type's name for messages.
pub(crate) fn type_name(prog_type: u32) -> String {
    ProgramType::from_id(prog_type).map_or_else(|| format!("#{prog_type}"), |t| t.to_string())
}

/// A program loaded into the running kernel (unloaded when dropped).
#[derive(Debug)]
pub struct KernelProgram {
    fd: Fd,
    prog_type: u32,
    name: String,
}

/// One BPF_PROG_TEST_RUN request (`Default`: nothing in, nothing read back, one run).
#[derive(Clone, Debug, Default)]
pub struct TestRun<'a> {
    /// The packet (for packet programs).
    pub data_in: &'a [u8],
    /// The context (`__sk_buff`, `xdp_md`, ... or a syscall program's memory); empty
    /// lets the kernel build a default one.
    pub ctx_in: &'a [u8],
    /// Room for the packet after the run (0: not read back).
    pub data_out_capacity: usize,
    /// Room for the context after the run (0: not read back). Ignored for syscall
    /// programs, whose context always comes back whole, and raw tracepoints, whose
    /// context does not come back.
    pub ctx_out_capacity: usize,
    /// Runs (the kernel reports the last retval and the mean duration); 0 means 1.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags (`BPF_F_TEST_RUN_ON_CPU` = 1 with [`TestRun::cpu`]).
    pub flags: u32,
    /// The CPU to run on with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
}

impl<'a> TestRun<'a> {
    /// A packet run: the packet back with room to grow, the context back if given.
    pub fn packet(data_in: &'a [u8]) -> TestRun<'a> {
        TestRun {
            data_in,
            ctx_in: &[],
            data_out_capacity: data_in.len() + GROWTH,
            ctx_out_capacity: 0,
            repeat: 1,
            flags: 0,
            cpu: 0,
        }
    }

    /// A context-only run (syscall programs, raw programs loaded as syscall programs, raw
    /// tracepoints with their `u64` arguments).
    pub fn context(ctx_in: &'a [u8]) -> TestRun<'a> {
        TestRun {
            data_in: &[],
            ctx_in,
            data_out_capacity: 0,
            ctx_out_capacity: ctx_in.len(),
            repeat: 1,
            flags: 0,
            cpu: 0,
        }
    }
}

/// What a test run gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value (the kernel keeps the low 32 bits of r0).
    pub retval: u32,
    /// The packet after the run (empty when not asked for).
    pub data_out: Vec<u8>,
    /// The context after the run (empty when not asked for).
    pub ctx_out: Vec<u8>,
    /// Mean duration of one run in nanoseconds (0 for syscall programs).
    pub duration_ns: u32,
}

impl KernelProgram {
    /// Loads `program` as a program of kernel type `prog_type` (`enum bpf_prog_type`;
    /// [`ProgramType::id`] gives it). The program must not refer to maps (load those
    /// with their object: [`crate::KernelObject`]). On refusal the error carries the
    /// verifier's log.
    pub fn load_raw(
        program: &Program,
        prog_type: u32,
        expected_attach_type: Option<u32>,
        license: &str,
    ) -> Result<KernelProgram, KernelError> {
        KernelProgram::load(
            program,
            prog_type,
            expected_attach_type,
            license,
            "ebpfvm",
            &[],
        )
    }

    /// Loads with the map fds the program's `lddw` kinds 5 and 6 index.
    pub(crate) fn load(
        program: &Program,
        prog_type: u32,
        expected_attach_type: Option<u32>,
        license: &str,
        name: &str,
        fd_array: &[u32],
    ) -> Result<KernelProgram, KernelError> {
        if !cfg!(target_os = "linux") {
            return Err(KernelError::NotLinux);
        }
        let refused = |error, log| KernelError::Refused {
            program: name.to_string(),
            error,
            log,
        };
        let license = CString::new(license)
            .map_err(|_| KernelError::Unsupported("a license with a NUL byte in it".to_string()))?;
        let functions = btf::functions(program);
        let btf = if functions.len() > 1 {
            let (blob, records) = btf::for_functions(&functions);
            let fd = sys::btf_load(&blob).map_err(|(error, log)| {
                classify("BPF_BTF_LOAD", error, |error| KernelError::Btf {
                    error,
                    log,
                })
            })?;
            Some((fd, records))
        } else {
            None
        };
        let insns = program.to_bytes();
        let flags = if prog_type == ProgramType::Syscall.id() {
            BPF_F_SLEEPABLE
        } else {
            0
        };
        let load = sys::ProgLoad {
            prog_type,
            expected_attach_type: expected_attach_type.unwrap_or(0),
            flags,
            insns: &insns,
            license: license.as_bytes_with_nul(),
            name,
            fd_array,
            btf: btf.as_ref().map(|(fd, recs)| (fd, recs.as_slice())),
        };
        let fd = sys::prog_load(&load).map_err(|(error, log)| {
            if !log.is_empty() {
                return refused(error, log);
            }
            // No log: refused before verification. EPERM then means "not permitted
            // here" only if nothing can be loaded; types that need an attach target
            // (lsm, ext) also answer EPERM.
            let before = || BEFORE_VERIFICATION.to_string();
            match classify("BPF_PROG_LOAD", error, |error| refused(error, before())) {
                KernelError::Unavailable { error, .. } if bpf_works() => refused(error, before()),
                other => other,
            }
        })?;
        Ok(KernelProgram {
            fd,
            prog_type,
            name: name.to_string(),
        })
    }

    /// A program someone else loaded (aya), of kernel type `prog_type`.
    #[cfg(target_os = "linux")]
    pub(crate) fn adopt(fd: Fd, prog_type: u32, name: &str) -> KernelProgram {
        KernelProgram {
            fd,
            prog_type,
            name: name.to_string(),
        }
    }

    /// The kernel program type it was loaded as.
    pub fn prog_type(&self) -> u32 {
        self.prog_type
    }

    /// Its name (the object's function name, or `ebpfvm` for raw programs).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn fd(&self) -> &Fd {
        &self.fd
    }

    /// Its file descriptor, to attach it (e.g. `PERF_EVENT_IOC_SET_BPF`); valid while
    /// `self` lives.
    pub fn raw_fd(&self) -> u32 {
        self.fd.raw()
    }

    /// Runs the program with BPF_PROG_TEST_RUN.
    pub fn test_run(&self, run: &TestRun<'_>) -> Result<TestRunResult, KernelError> {
        // Syscall and raw tracepoint programs take a context and nothing else: the kernel
        // refuses a packet, output buffers and a repeat count for them (and flags for
        // syscall programs, whose context it copies back into the input).
        let syscall = self.prog_type == ProgramType::Syscall.id();
        let context_only = syscall || self.prog_type == ProgramType::RawTracepoint.id();
        if context_only && (!run.data_in.is_empty() || run.repeat > 1 || syscall && run.flags != 0)
        {
            return Err(KernelError::Unsupported(format!(
                "{} programs take only a context and run once{}",
                type_name(self.prog_type),
                if syscall { ", on the calling CPU" } else { "" }
            )));
        }
        let mut ctx = run.ctx_in.to_vec();
        let (data_out_len, ctx_out_len) = if context_only {
            (0, 0)
        } else {
            (run.data_out_capacity, run.ctx_out_capacity)
        };
        let mut data_out = vec![0u8; data_out_len];
        let mut ctx_out = vec![0u8; ctx_out_len];
        let mut io = sys::TestRunIo {
            data_in: run.data_in,
            data_out: &mut data_out,
            ctx_in: &mut ctx,
            ctx_out: &mut ctx_out,
            repeat: if context_only { 0 } else { run.repeat.max(1) },
            flags: run.flags,
            cpu: run.cpu,
        };
        let report = sys::prog_test_run(&self.fd, &mut io).map_err(|error| {
            classify("BPF_PROG_TEST_RUN", error, |error| {
                match error.raw_os_error() {
                    Some(ENOTSUPP) => KernelError::NoTestRun {
                        prog_type: type_name(self.prog_type),
                        error,
                    },
                    Some(ENOSPC) => KernelError::TestRun(format!(
                        "the output is larger than the room given (packet {} bytes, \
                         context {} bytes): {error}",
                        data_out_len, ctx_out_len
                    )),
                    _ => KernelError::TestRun(format!(
                        "{error} (for {} programs: check the packet and context sizes \
                         and flags this type accepts)",
                        type_name(self.prog_type)
                    )),
                }
            })
        })?;
        data_out.truncate(report.data_size_out as usize);
        let ctx_out = if syscall {
            ctx
        } else {
            ctx_out.truncate(report.ctx_size_out as usize);
            ctx_out
        };
        Ok(TestRunResult {
            retval: report.retval,
            data_out,
            ctx_out,
            duration_ns: report.duration_ns,
        })
    }
}
