//! The environment helpers: clock, random numbers, CPU, current task, `trace_printk`,
//! and `probe_read*` (registered memory first, then readable guest memory; a failed
//! read zeroes the destination and returns `-EFAULT`, as in the kernel).

use crate::helpers::{HelperContext, HelperError, Helpers};

use super::{id, printk, Kernel, KernelState};

const EFAULT: u64 = (-14i64) as u64;
const EINVAL: u64 = (-22i64) as u64;

/// `len` bytes at `addr` from registered memory or readable guest memory.
fn read_any(ctx: &HelperContext<'_, '_>, k: &KernelState, addr: u64, len: u64) -> Option<Vec<u8>> {
    for (base, bytes) in &k.memory {
        let Some(off) = addr.checked_sub(*base) else {
            continue;
        };
        let end = off.checked_add(len)?;
        if end <= bytes.len() as u64 {
            return Some(bytes[off as usize..end as usize].to_vec());
        }
    }
    ctx.read(addr, len).ok().map(<[u8]>::to_vec)
}

/// Up to `max` bytes of the NUL-terminated string at `addr` (without the NUL), reading
/// byte by byte as the kernel's `strncpy_from_*_nofault` does; `None` when the first
/// byte cannot be read.
fn read_str(ctx: &HelperContext<'_, '_>, k: &KernelState, addr: u64, max: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..max {
        let b = read_any(ctx, k, addr.checked_add(i)?, 1)?[0];
        if b == 0 {
            break;
        }
        out.push(b);
    }
    Some(out)
}

fn probe_read(
    ctx: &mut HelperContext<'_, '_>,
    kernel: &Kernel,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let (dst, size, src) = (a[0], a[1], a[2]);
    let got = kernel.with(|k| read_any(ctx, k, src, size));
    match got {
        Some(bytes) => {
            ctx.write(dst, &bytes)?;
            Ok(0)
        }
        None => {
            ctx.write(
                dst,
                &vec![0; usize::try_from(size).unwrap_or(0).min(1 << 20)],
            )?;
            Ok(EFAULT)
        }
    }
}

fn probe_read_str(
    ctx: &mut HelperContext<'_, '_>,
    kernel: &Kernel,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let (dst, size, src) = (a[0], a[1], a[2]);
    if size == 0 {
        return Ok(0);
    }
    let got = kernel.with(|k| read_str(ctx, k, src, size - 1));
    match got {
        Some(mut s) => {
            s.push(0);
            ctx.write(dst, &s)?;
            Ok(s.len() as u64)
        }
        None => {
            ctx.write(
                dst,
                &vec![0; usize::try_from(size).unwrap_or(0).min(1 << 20)],
            )?;
            Ok(EFAULT)
        }
    }
}

pub(super) fn register(h: &mut Helpers, kernel: &Kernel) {
    let k = kernel.clone();
    h.register(id::KTIME_GET_NS, move |_, _| Ok(k.with(|k| k.time_ns)));
    let k = kernel.clone();
    h.register(id::KTIME_GET_COARSE_NS, move |_, _| {
        Ok(k.with(|k| k.time_ns))
    });
    let k = kernel.clone();
    h.register(id::KTIME_GET_BOOT_NS, move |_, _| {
        Ok(k.with(|k| k.time_ns.wrapping_add(k.boot_offset_ns)))
    });
    let k = kernel.clone();
    h.register(id::GET_PRANDOM_U32, move |_, _| {
        Ok(k.with(|k| k.next_random()) as u64)
    });
    h.register(id::GET_SMP_PROCESSOR_ID, |ctx, _| {
        Ok(ctx.maps().map_or(0, |m| m.current_cpu()) as u64)
    });
    let k = kernel.clone();
    h.register(id::GET_CURRENT_PID_TGID, move |_, _| {
        Ok(k.with(|k| (k.tgid as u64) << 32 | k.pid as u64))
    });
    let k = kernel.clone();
    h.register(id::GET_CURRENT_UID_GID, move |_, _| {
        Ok(k.with(|k| (k.gid as u64) << 32 | k.uid as u64))
    });
    let k = kernel.clone();
    h.register(id::GET_CURRENT_COMM, move |ctx, a| {
        let (buf, size) = (a[0], a[1]);
        if size == 0 {
            return Ok(EINVAL);
        }
        let comm = k.with(|k| k.comm);
        let mut out = vec![0u8; usize::try_from(size).unwrap_or(0).min(1 << 20)];
        let n = (out.len() - 1).min(15);
        out[..n].copy_from_slice(&comm[..n]);
        ctx.write(buf, &out)?;
        Ok(0)
    });
    let k = kernel.clone();
    h.register(id::TRACE_PRINTK, move |ctx, a| {
        let (fmt, size) = (a[0], a[1]);
        let text = ctx.read(fmt, size)?.to_vec();
        let line = k.with(|k| {
            printk::format(&text, [a[2], a[3], a[4]], &|addr| {
                read_str(ctx, k, addr, 256)
            })
        });
        match line {
            Ok(line) => {
                let n = line.len() as u64;
                k.with(|k| k.trace.push(line));
                Ok(n)
            }
            Err(()) => Ok(EINVAL),
        }
    });
    for helper in [id::PROBE_READ, id::PROBE_READ_USER, id::PROBE_READ_KERNEL] {
        let k = kernel.clone();
        h.register(helper, move |ctx, a| probe_read(ctx, &k, a));
    }
    for helper in [
        id::PROBE_READ_STR,
        id::PROBE_READ_USER_STR,
        id::PROBE_READ_KERNEL_STR,
    ] {
        let k = kernel.clone();
        h.register(helper, move |ctx, a| probe_read_str(ctx, &k, a));
    }
}
