//! The `lirc_mode2` helpers: in the kernel they hand what an IR decoder found to the
//! remote-control core (`rc_keydown`, `rc_repeat`) or the input layer
//! (`input_report_rel` for `rc_pointer_rel`) and return 0. Here each call is recorded,
//! in order, as an [`RcCall`] the embedder reads after the run with
//! [`crate::Vm::take_rc_calls`], as a redirect is recorded for packet programs.

use std::sync::{Arc, Mutex};

use crate::vm::Helpers;

/// One call a `lirc_mode2` program made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RcCall {
    /// `bpf_rc_repeat`: the last key is still held.
    Repeat,
    /// `bpf_rc_keydown(ctx, protocol, scancode, toggle)` (the kernel passes `protocol`
    /// and `toggle` as u32, `toggle != 0` as a bool).
    Keydown {
        /// `enum rc_proto`.
        protocol: u32,
        /// The decoded scancode.
        scancode: u64,
        /// Whether the toggle bit was set.
        toggle: bool,
    },
    /// `bpf_rc_pointer_rel(ctx, rel_x, rel_y)`: a relative pointer movement.
    PointerRel {
        /// `REL_X`.
        x: i32,
        /// `REL_Y`.
        y: i32,
    },
}

/// The calls of the current run.
pub(crate) type RcCalls = Arc<Mutex<Vec<RcCall>>>;

/// Registers helpers 77 (`rc_repeat`), 78 (`rc_keydown`) and 92 (`rc_pointer_rel`),
/// recording into `calls`.
pub(crate) fn register(helpers: &mut Helpers, calls: &RcCalls) {
    let record = |calls: &RcCalls, call: RcCall| {
        calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
        Ok(0)
    };
    let c = Arc::clone(calls);
    helpers.register(77, move |_, _| record(&c, RcCall::Repeat));
    let c = Arc::clone(calls);
    helpers.register(78, move |_, [_, protocol, scancode, toggle, _]| {
        let call = RcCall::Keydown {
            protocol: protocol as u32,
            scancode,
            toggle: toggle as u32 != 0,
        };
        record(&c, call)
    });
    let c = Arc::clone(calls);
    helpers.register(92, move |_, [_, x, y, ..]| {
        record(
            &c,
            RcCall::PointerRel {
                x: x as i32,
                y: y as i32,
            },
        )
    });
}
