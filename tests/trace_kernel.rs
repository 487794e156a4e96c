//! How far a tracepoint program may read its record, compared with the running kernel.
//!
//! The verifier lets a tracepoint program read anywhere up to 8192 bytes (it is loaded
//! before it is attached, so no record is known yet); attaching it to an event with
//! `PERF_EVENT_IOC_SET_BPF` fails with `EACCES` when its reads reach past the event's
//! last field. For real events of this machine (their formats read from tracefs), a
//! program reading up to the limit our `TracepointFormat::readable` gives must attach
//! and one reading a byte further must not; `run --tracepoint` refuses the same one.
//! Skips, saying why, without tracefs or `bpf()`/`perf_event_open` permission.

mod common;

use std::path::Path;

use common::{ebpfvm, scratch};
use ebpfvm::ctx::tracepoint::TracepointFormat;
use ebpfvm::ctx::ProgramType;
use ebpfvm_kernel::{KernelError, KernelProgram};

/// Events of several kinds: syscall entry and exit, a char array, a `__data_loc`
/// string, networking, a timer.
const EVENTS: &[&str] = &[
    "syscalls/sys_enter_openat",
    "syscalls/sys_exit_read",
    "sched/sched_switch",
    "sched/sched_process_exec",
    "net/netif_receive_skb",
    "timer/hrtimer_start",
    "irq/softirq_entry",
];

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IOW('$', 8, __u32)`.
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// A perf event on tracepoint `id`, all tasks, CPU 0; closed on drop.
struct PerfEvent(libc::c_int);

impl PerfEvent {
    fn open(id: u32) -> std::io::Result<PerfEvent> {
        // struct perf_event_attr, first version (64 bytes): type, size, config,
        // sample_period, sample_type; the rest (flags) 0.
        let mut attr = [0u64; 8];
        attr[0] = PERF_TYPE_TRACEPOINT as u64 | (64u64 << 32);
        attr[1] = id as u64;
        attr[2] = 1;
        // SAFETY: attr is the 64 bytes its size field says; the kernel only reads it.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                -1 as libc::c_int,
                0 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(PerfEvent(fd as libc::c_int))
    }

    /// Attaches `program`: `Err` carries the errno.
    fn attach(&self, program: &KernelProgram) -> std::io::Result<()> {
        // SAFETY: an ioctl on our own descriptor taking the program's fd by value.
        let r = unsafe { libc::ioctl(self.0, PERF_EVENT_IOC_SET_BPF, program.raw_fd()) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for PerfEvent {
    fn drop(&mut self) {
        // SAFETY: a descriptor this struct owns.
        unsafe { libc::close(self.0) };
    }
}

/// `r0 = *(u8 *)(r1 + off); exit`: reads the record up to `off + 1`.
fn read_byte_at(off: usize) -> ebpfvm::isa::Program {
    ebpfvm::isa::assemble(&format!("ldxb %r0, [%r1+{off}]\nexit")).unwrap()
}

fn format_of(event: &str) -> Option<TracepointFormat> {
    let path = Path::new("/sys/kernel/tracing/events")
        .join(event)
        .join("format");
    let text = std::fs::read_to_string(path).ok()?;
    Some(TracepointFormat::parse(&text).unwrap())
}

#[test]
fn attach_refuses_reads_past_the_last_field_as_the_model_does() {
    let mut compared = 0;
    for event in EVENTS {
        let Some(format) = format_of(event) else {
            eprintln!("skipped {event}: no format (tracefs not mounted?)");
            continue;
        };
        let limit = format.readable();
        assert!(limit > 8, "{event}: {limit}");
        for (extent, attaches) in [(limit, true), (limit + 1, false)] {
            let program = read_byte_at(extent - 1);
            let loaded = match KernelProgram::load_raw(
                &program,
                ProgramType::Tracepoint.id(),
                None,
                "GPL",
            ) {
                Err(e) if e.is_unavailable() => {
                    eprintln!("skipped: {e}");
                    return;
                }
                Err(KernelError::Refused { .. }) => {
                    panic!("{event}: the verifier refused a read at {}", extent - 1)
                }
                other => other.unwrap(),
            };
            let perf = match PerfEvent::open(format.id.unwrap()) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("skipped {event}: perf_event_open: {e}");
                    continue;
                }
            };
            let result = perf.attach(&loaded);
            assert_eq!(
                result.is_ok(),
                attaches,
                "{event} read to {extent}: {result:?}"
            );
            if let Err(e) = result {
                assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{event}");
            }
            // The model says the same (the CLI refuses what does not attach).
            assert_eq!(ebpfvm::ctx::context_extent(&program) <= limit, attaches);
            compared += 1;
        }
    }
    eprintln!("{compared} attachments compared");
}

#[test]
fn run_tracepoint_refuses_what_the_kernel_would_not_attach() {
    let Some(format) = format_of("sched/sched_switch") else {
        eprintln!("skipped: tracefs not mounted");
        return;
    };
    let limit = format.readable();
    for (off, ok) in [(limit - 1, true), (limit, false)] {
        let path = scratch(
            &format!("read{off}.s"),
            format!("ldxb %r0, [%r1+{off}]\nexit\n").as_bytes(),
        );
        let out = ebpfvm(&[
            "run",
            &path,
            "--type",
            "tracepoint",
            "--tracepoint",
            "sched/sched_switch",
            "--fields",
            "next_prio=7",
        ]);
        assert_eq!(out.status.success(), ok, "{out:?}");
        if !ok {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("EACCES"),
                "{out:?}"
            );
        }
    }
}
