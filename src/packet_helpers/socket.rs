//! The helpers that ask about the socket a packet belongs to: `get_socket_cookie` (46),
//! `get_socket_uid` (47), `skb_cgroup_id` (79), `skb_ancestor_cgroup_id` (83),
//! `sk_cgroup_id` (128) and `sk_ancestor_cgroup_id` (129) of the socket `__sk_buff->sk`
//! points to (the only socket pointer these types get here), and `get_cgroup_classid`
//! (17). Their answers are facts about the host, not about the
//! packet, so they come from a [`SocketInfo`] the embedder sets ([`crate::Vm::set_socket`]).
//!
//! In the kernel's test run of a socket-buffer program, the buffer belongs to a dummy
//! socket created for that run (net/bpf/test_run.c), found empirically on Linux 6.18:
//! its cookie is the next value of the kernel's global cookie counter (0x1001, 0x1002,
//! ... in successive runs: it cannot be predicted, so it is the user's to set), its
//! uid 0, its cgroup the test process's (cgroup v2: the id is the cgroup directory's
//! inode number), and the `net_cls` class id of the test process is 0 where the
//! `net_cls` controller is not mounted. `tests/socket_helpers_kernel.rs` compares each
//! with the kernel, giving our engines the real cgroup of the test process.

use std::sync::{Arc, Mutex};

use crate::ctx::ProgramType;
use crate::vm::Helpers;

/// The socket behind a program's packet, as the helpers that ask about it see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    /// `bpf_get_socket_cookie`'s answer (the kernel's is a global counter).
    pub cookie: u64,
    /// `bpf_get_socket_uid`'s answer (the socket owner's uid).
    pub uid: u32,
    /// The ids of the socket's cgroup and its ancestors, from the root (level 0, id 1
    /// in cgroup v2) down to the socket's own (the last).
    pub cgroup: Vec<u64>,
    /// `bpf_get_cgroup_classid`'s answer (the `net_cls` class id).
    pub classid: u32,
}

impl Default for SocketInfo {
    /// Cookie 1, uid 0, the root cgroup (id 1), class id 0.
    fn default() -> SocketInfo {
        SocketInfo {
            cookie: 1,
            uid: 0,
            cgroup: vec![1],
            classid: 0,
        }
    }
}

/// The socket of the current runs, shared between the helpers and the [`crate::Vm`].
pub(crate) type SharedSocket = Arc<Mutex<SocketInfo>>;

fn get<T>(socket: &SharedSocket, f: impl FnOnce(&SocketInfo) -> T) -> T {
    f(&socket.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Registers the helpers of this family that `ty` may call.
pub(crate) fn register(helpers: &mut Helpers, ty: ProgramType, socket: &SharedSocket) {
    let allowed = |id: u32| crate::ctx::helpers::allowed(ty, id) == Some(true);
    // The flow dissector's test run has no socket buffer to ask.
    if ty == ProgramType::FlowDissector {
        return;
    }
    if allowed(46) {
        let s = SharedSocket::clone(socket);
        helpers.register(46, move |_, _| Ok(get(&s, |i| i.cookie)));
    }
    if allowed(47) {
        let s = SharedSocket::clone(socket);
        helpers.register(47, move |_, _| Ok(get(&s, |i| i.uid as u64)));
    }
    if allowed(79) {
        let s = SharedSocket::clone(socket);
        helpers.register(79, move |_, _| {
            Ok(get(&s, |i| i.cgroup.last().copied().unwrap_or(0)))
        });
    }
    if allowed(83) {
        let s = SharedSocket::clone(socket);
        // The level is an int: negative or deeper than the socket's cgroup gives 0.
        helpers.register(83, move |_, [_, level, ..]| {
            let level = usize::try_from(level as i32).ok();
            Ok(get(&s, |i| {
                level.and_then(|l| i.cgroup.get(l).copied()).unwrap_or(0)
            }))
        });
    }
    // The socket pointer is the packet's own socket (the verifier makes it non-NULL).
    if allowed(128) {
        let s = SharedSocket::clone(socket);
        helpers.register(128, move |_, _| {
            Ok(get(&s, |i| i.cgroup.last().copied().unwrap_or(0)))
        });
    }
    if allowed(129) {
        let s = SharedSocket::clone(socket);
        helpers.register(129, move |_, [_, level, ..]| {
            let level = usize::try_from(level as i32).ok();
            Ok(get(&s, |i| {
                level.and_then(|l| i.cgroup.get(l).copied()).unwrap_or(0)
            }))
        });
    }
    if allowed(17) {
        let s = SharedSocket::clone(socket);
        helpers.register(17, move |_, _| Ok(get(&s, |i| i.classid as u64)));
    }
}
