//! The map helpers, `bpf_tail_call` and `bpf_loop`. Map arguments are handles
//! ([`crate::MapId::handle`]); keys and values are copied out of guest memory before
//! the map is touched. Failures the kernel reports to the program come back as
//! `-errno`; arguments the kernel's verifier would have refused (a non-map in a map
//! argument, a run without maps) are faults.

use crate::helpers::{HelperContext, HelperError, Helpers};
use crate::maps::{MapError, MapId, MapSpec, Maps};

use super::id;

/// `bpf_loop`'s limit on iterations (`BPF_MAX_LOOPS`).
pub const MAX_LOOPS: u64 = 1 << 23;

fn fault(message: impl Into<String>) -> HelperError {
    HelperError::Fault(message.into())
}

/// The map a handle names, with its spec.
fn map_arg(maps: &Maps, handle: u64) -> Result<(MapId, MapSpec), HelperError> {
    let id =
        MapId::from_handle(handle).ok_or_else(|| fault(format!("{handle:#x} is not a map")))?;
    let spec = maps
        .spec(id)
        .cloned()
        .ok_or_else(|| fault(format!("no map {}", id.0)))?;
    Ok((id, spec))
}

fn no_maps() -> HelperError {
    fault("this run has no maps (the memory map was not made with MemoryMap::with_maps)")
}

/// Reads `len` guest bytes at `addr` into a vector.
fn copy_in(ctx: &HelperContext<'_, '_>, addr: u64, len: u32) -> Result<Vec<u8>, HelperError> {
    Ok(ctx.read(addr, len as u64)?.to_vec())
}

fn retval(r: Result<(), MapError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_retval(),
    }
}

/// Looks up the map of `handle` and runs `f` with it.
fn with_map<T>(
    ctx: &mut HelperContext<'_, '_>,
    handle: u64,
    f: impl FnOnce(&Maps, MapId) -> T,
) -> Result<T, HelperError> {
    let maps = ctx.maps().ok_or_else(no_maps)?;
    let (id, _) = map_arg(maps, handle)?;
    Ok(f(maps, id))
}

/// The spec of the map of `handle`.
fn spec_of(ctx: &mut HelperContext<'_, '_>, handle: u64) -> Result<MapSpec, HelperError> {
    let maps = ctx.maps().ok_or_else(no_maps)?;
    Ok(map_arg(maps, handle)?.1)
}

/// Socket maps hold sockets, which programs see as socket pointers: not modelled.
fn no_socket_pointers(spec: &MapSpec, helper: &str) -> Result<(), HelperError> {
    if spec.kind.is_sock() {
        return Err(fault(format!(
            "{helper} on {} map `{}` (a socket pointer) is not supported yet",
            spec.kind.name(),
            spec.name
        )));
    }
    Ok(())
}

pub(super) fn register(h: &mut Helpers) {
    h.register(id::MAP_LOOKUP_ELEM, |ctx, a| {
        let spec = spec_of(ctx, a[0])?;
        no_socket_pointers(&spec, "bpf_map_lookup_elem")?;
        let key = copy_in(ctx, a[1], spec.key_size)?;
        with_map(ctx, a[0], |m, id| m.prog_lookup(id, &key))
    });
    h.register(id::MAP_UPDATE_ELEM, |ctx, a| {
        let spec = spec_of(ctx, a[0])?;
        no_socket_pointers(&spec, "bpf_map_update_elem")?;
        let key = copy_in(ctx, a[1], spec.key_size)?;
        let value = copy_in(ctx, a[2], spec.value_size)?;
        with_map(ctx, a[0], |m, id| {
            retval(m.prog_update(id, &key, &value, a[3]))
        })
    });
    h.register(id::MAP_DELETE_ELEM, |ctx, a| {
        let spec = spec_of(ctx, a[0])?;
        let key = copy_in(ctx, a[1], spec.key_size)?;
        with_map(ctx, a[0], |m, id| retval(m.prog_delete(id, &key)))
    });
    h.register(id::MAP_PUSH_ELEM, |ctx, a| {
        let spec = spec_of(ctx, a[0])?;
        let value = copy_in(ctx, a[1], spec.value_size)?;
        with_map(ctx, a[0], |m, id| {
            retval(m.prog_update(id, &[], &value, a[2]))
        })
    });
    for (helper, peek) in [(id::MAP_POP_ELEM, false), (id::MAP_PEEK_ELEM, true)] {
        h.register(helper, move |ctx, a| {
            let got = with_map(ctx, a[0], |m, id| m.prog_pop(id, peek))?;
            match got {
                Ok(v) => {
                    ctx.write(a[1], &v)?;
                    Ok(0)
                }
                Err(e) => Ok(e.to_retval()),
            }
        });
    }
    h.register(id::RINGBUF_OUTPUT, |ctx, a| {
        let data = copy_in(
            ctx,
            a[1],
            u32::try_from(a[2]).map_err(|_| fault("ringbuf record too large"))?,
        )?;
        with_map(ctx, a[0], |m, id| retval(m.ringbuf_output(id, &data, a[3])))
    });
    h.register(id::RINGBUF_RESERVE, |ctx, a| {
        with_map(ctx, a[0], |m, id| m.ringbuf_reserve(id, a[1], a[2]))
    });
    for (helper, discard) in [(id::RINGBUF_SUBMIT, false), (id::RINGBUF_DISCARD, true)] {
        h.register(helper, move |ctx, a| {
            let maps = ctx.maps().ok_or_else(no_maps)?;
            maps.ringbuf_commit(a[0], discard)
                .map(|()| 0)
                .map_err(|_| fault(format!("{:#x} is not a reserved ring buffer record", a[0])))
        });
    }
    h.register(id::RINGBUF_QUERY, |ctx, a| {
        with_map(ctx, a[0], |m, id| m.ringbuf_query(id, a[1]))
    });
    h.register(id::PERF_EVENT_OUTPUT, |ctx, a| {
        let data = copy_in(
            ctx,
            a[3],
            u32::try_from(a[4]).map_err(|_| fault("perf record too large"))?,
        )?;
        with_map(ctx, a[1], |m, id| retval(m.perf_output(id, a[2], &data)))
    });
    h.register(id::TAIL_CALL, |ctx, a| {
        let target = with_map(ctx, a[1], |m, id| m.tail_call_target(id, a[2] as u32))?;
        match target {
            // The kernel reads the index as a u32 (`u32 index = r3`).
            Some(program) => Err(HelperError::TailCall(program)),
            _ => Ok(MapError::NotFound.to_retval()),
        }
    });
    h.register(id::LOOP, |_ctx, a| {
        let (count, callback, ctx, flags) = (a[0] as u32 as u64, a[1], a[2], a[3]);
        if flags != 0 {
            return Ok(MapError::Invalid.to_retval());
        }
        if count > MAX_LOOPS {
            return Ok(MapError::TooBig.to_retval());
        }
        if count == 0 {
            return Ok(0);
        }
        Err(HelperError::Loop {
            callback,
            ctx,
            count,
        })
    });
}
