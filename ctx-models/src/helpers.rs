//! Helper functions: their names (the kernel's `enum bpf_func_id`, from linux/bpf.h)
//! and which program types may call which, as the kernel's `*_func_proto` functions
//! decide. The allow-lists (but lirc_mode2's, from the source) were read from the
//! running kernel (6.18, loading a call to every helper id for every type, with a GPL
//! licence and CAP_BPF/CAP_SYS_ADMIN/CAP_PERFMON) and are re-checked against it by
//! `tests/ctx_kernel.rs`.

use crate::{AttachType, ProgramType};

/// `bpf_<name>` of every helper id, by id (0 is `unspec`).
pub const NAMES: &[&str] = &[
    "unspec",
    "map_lookup_elem",
    "map_update_elem",
    "map_delete_elem",
    "probe_read",
    "ktime_get_ns",
    "trace_printk",
    "get_prandom_u32",
    "get_smp_processor_id",
    "skb_store_bytes",
    "l3_csum_replace",
    "l4_csum_replace",
    "tail_call",
    "clone_redirect",
    "get_current_pid_tgid",
    "get_current_uid_gid",
    "get_current_comm",
    "get_cgroup_classid",
    "skb_vlan_push",
    "skb_vlan_pop",
    "skb_get_tunnel_key",
    "skb_set_tunnel_key",
    "perf_event_read",
    "redirect",
    "get_route_realm",
    "perf_event_output",
    "skb_load_bytes",
    "get_stackid",
    "csum_diff",
    "skb_get_tunnel_opt",
    "skb_set_tunnel_opt",
    "skb_change_proto",
    "skb_change_type",
    "skb_under_cgroup",
    "get_hash_recalc",
    "get_current_task",
    "probe_write_user",
    "current_task_under_cgroup",
    "skb_change_tail",
    "skb_pull_data",
    "csum_update",
    "set_hash_invalid",
    "get_numa_node_id",
    "skb_change_head",
    "xdp_adjust_head",
    "probe_read_str",
    "get_socket_cookie",
    "get_socket_uid",
    "set_hash",
    "setsockopt",
    "skb_adjust_room",
    "redirect_map",
    "sk_redirect_map",
    "sock_map_update",
    "xdp_adjust_meta",
    "perf_event_read_value",
    "perf_prog_read_value",
    "getsockopt",
    "override_return",
    "sock_ops_cb_flags_set",
    "msg_redirect_map",
    "msg_apply_bytes",
    "msg_cork_bytes",
    "msg_pull_data",
    "bind",
    "xdp_adjust_tail",
    "skb_get_xfrm_state",
    "get_stack",
    "skb_load_bytes_relative",
    "fib_lookup",
    "sock_hash_update",
    "msg_redirect_hash",
    "sk_redirect_hash",
    "lwt_push_encap",
    "lwt_seg6_store_bytes",
    "lwt_seg6_adjust_srh",
    "lwt_seg6_action",
    "rc_repeat",
    "rc_keydown",
    "skb_cgroup_id",
    "get_current_cgroup_id",
    "get_local_storage",
    "sk_select_reuseport",
    "skb_ancestor_cgroup_id",
    "sk_lookup_tcp",
    "sk_lookup_udp",
    "sk_release",
    "map_push_elem",
    "map_pop_elem",
    "map_peek_elem",
    "msg_push_data",
    "msg_pop_data",
    "rc_pointer_rel",
    "spin_lock",
    "spin_unlock",
    "sk_fullsock",
    "tcp_sock",
    "skb_ecn_set_ce",
    "get_listener_sock",
    "skc_lookup_tcp",
    "tcp_check_syncookie",
    "sysctl_get_name",
    "sysctl_get_current_value",
    "sysctl_get_new_value",
    "sysctl_set_new_value",
    "strtol",
    "strtoul",
    "sk_storage_get",
    "sk_storage_delete",
    "send_signal",
    "tcp_gen_syncookie",
    "skb_output",
    "probe_read_user",
    "probe_read_kernel",
    "probe_read_user_str",
    "probe_read_kernel_str",
    "tcp_send_ack",
    "send_signal_thread",
    "jiffies64",
    "read_branch_records",
    "get_ns_current_pid_tgid",
    "xdp_output",
    "get_netns_cookie",
    "get_current_ancestor_cgroup_id",
    "sk_assign",
    "ktime_get_boot_ns",
    "seq_printf",
    "seq_write",
    "sk_cgroup_id",
    "sk_ancestor_cgroup_id",
    "ringbuf_output",
    "ringbuf_reserve",
    "ringbuf_submit",
    "ringbuf_discard",
    "ringbuf_query",
    "csum_level",
    "skc_to_tcp6_sock",
    "skc_to_tcp_sock",
    "skc_to_tcp_timewait_sock",
    "skc_to_tcp_request_sock",
    "skc_to_udp6_sock",
    "get_task_stack",
    "load_hdr_opt",
    "store_hdr_opt",
    "reserve_hdr_opt",
    "inode_storage_get",
    "inode_storage_delete",
    "d_path",
    "copy_from_user",
    "snprintf_btf",
    "seq_printf_btf",
    "skb_cgroup_classid",
    "redirect_neigh",
    "per_cpu_ptr",
    "this_cpu_ptr",
    "redirect_peer",
    "task_storage_get",
    "task_storage_delete",
    "get_current_task_btf",
    "bprm_opts_set",
    "ktime_get_coarse_ns",
    "ima_inode_hash",
    "sock_from_file",
    "check_mtu",
    "for_each_map_elem",
    "snprintf",
    "sys_bpf",
    "btf_find_by_name_kind",
    "sys_close",
    "timer_init",
    "timer_set_callback",
    "timer_start",
    "timer_cancel",
    "get_func_ip",
    "get_attach_cookie",
    "task_pt_regs",
    "get_branch_snapshot",
    "trace_vprintk",
    "skc_to_unix_sock",
    "kallsyms_lookup_name",
    "find_vma",
    "loop",
    "strncmp",
    "get_func_arg",
    "get_func_ret",
    "get_func_arg_cnt",
    "get_retval",
    "set_retval",
    "xdp_get_buff_len",
    "xdp_load_bytes",
    "xdp_store_bytes",
    "copy_from_user_task",
    "skb_set_tstamp",
    "ima_file_hash",
    "kptr_xchg",
    "map_lookup_percpu_elem",
    "skc_to_mptcp_sock",
    "dynptr_from_mem",
    "ringbuf_reserve_dynptr",
    "ringbuf_submit_dynptr",
    "ringbuf_discard_dynptr",
    "dynptr_read",
    "dynptr_write",
    "dynptr_data",
    "tcp_raw_gen_syncookie_ipv4",
    "tcp_raw_gen_syncookie_ipv6",
    "tcp_raw_check_syncookie_ipv4",
    "tcp_raw_check_syncookie_ipv6",
    "ktime_get_tai_ns",
    "user_ringbuf_drain",
    "cgrp_storage_get",
    "cgrp_storage_delete",
];

/// The helper's name without the `bpf_` prefix, if `id` names one.
pub fn name(id: u32) -> Option<&'static str> {
    NAMES.get(id as usize).copied().filter(|_| id != 0)
}

/// Whether a program of type `ty` may call helper `id`; `None` when the allow-list of
/// the type is not modelled yet.
pub fn allowed(ty: ProgramType, id: u32) -> Option<bool> {
    use ProgramType as P;
    let list: &[u16] = match ty {
        P::Xdp => XDP,
        P::SchedCls | P::SchedAct => TC,
        P::SocketFilter => SOCKET_FILTER,
        P::CgroupSkb => CGROUP_SKB,
        P::LwtIn => LWT_IN,
        P::LwtOut => LWT_OUT,
        P::LwtXmit => LWT_XMIT,
        P::LwtSeg6local => LWT_SEG6LOCAL,
        P::FlowDissector => FLOW_DISSECTOR,
        P::SkSkb => SK_SKB,
        P::SkLookup => SK_LOOKUP,
        P::CgroupSock => CGROUP_SOCK,
        P::CgroupSockAddr => CGROUP_SOCK_ADDR,
        P::SockOps => SOCK_OPS,
        P::SkMsg => SK_MSG,
        P::SkReuseport => SK_REUSEPORT,
        P::CgroupDevice => CGROUP_DEVICE,
        P::CgroupSysctl => CGROUP_SYSCTL,
        P::CgroupSockopt => CGROUP_SOCKOPT,
        P::LircMode2 => LIRC_MODE2,
        _ => return None,
    };
    Some(u16::try_from(id).is_ok_and(|id| list.binary_search(&id).is_ok()))
}

/// [`allowed`] at attach point `at`, where the kernel's `*_func_proto` looks at the
/// expected attach type too: `bpf_bind` only at `connect4`/`connect6`;
/// `bpf_get_retval`/`bpf_set_retval` not at the hooks that cannot fail (`recvmsg`,
/// `getpeername`, `getsockname`); `bpf_setsockopt`/`bpf_getsockopt` at `setsockopt`.
pub fn allowed_at(ty: ProgramType, at: Option<AttachType>, id: u32) -> Option<bool> {
    use AttachType as A;
    let at = at.filter(|a| a.prog_type() == ty);
    match (at, id) {
        (Some(a), 64) if ty == ProgramType::CgroupSockAddr => {
            Some(matches!(a, A::Connect4 | A::Connect6))
        }
        (Some(a), 186 | 187) if ty == ProgramType::CgroupSockAddr => Some(!matches!(
            a,
            A::Recvmsg4
                | A::Recvmsg6
                | A::RecvmsgUnix
                | A::Getpeername4
                | A::Getpeername6
                | A::GetpeernameUnix
                | A::Getsockname4
                | A::Getsockname6
                | A::GetsocknameUnix
        )),
        (Some(A::Setsockopt), 49 | 57) => Some(true),
        _ => allowed(ty, id),
    }
}

#[rustfmt::skip]
const XDP: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 23, 25, 28, 35, 37, 42, 44, 51, 54, 55, 65,
    69, 80, 84, 85, 86, 87, 88, 89, 93, 94, 99, 100, 105, 106, 109, 110, 112, 113, 114, 115,
    117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148,
    149, 153, 154, 156, 157, 158, 160, 163, 164, 165, 169, 170, 171, 172, 175, 176, 177,
    178, 180, 181, 182, 188, 189, 190, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202,
    203, 204, 205, 206, 207, 208, 209, 210, 211,
];

#[rustfmt::skip]
const TC: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 28, 29, 30, 31, 32, 33, 34, 35, 37, 38, 39, 40, 41, 42, 43, 46, 47, 48, 50, 55, 66,
    68, 69, 79, 80, 83, 84, 85, 86, 87, 88, 89, 93, 94, 95, 96, 97, 98, 99, 100, 105, 106,
    107, 108, 109, 110, 112, 113, 114, 115, 117, 118, 120, 122, 123, 124, 125, 130, 131,
    132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 148, 149, 151, 152, 153, 154, 155,
    156, 157, 158, 160, 163, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181,
    182, 191, 192, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207,
    208, 209, 210, 211,
];

#[rustfmt::skip]
const SOCKET_FILTER: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 26, 35, 37, 42, 46, 47, 55, 68, 80, 87,
    88, 89, 93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 130,
    131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158,
    160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195,
    196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const CGROUP_SKB: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 26, 35, 37, 42, 46, 47, 55, 68, 79, 80,
    81, 83, 84, 85, 86, 87, 88, 89, 93, 94, 95, 96, 97, 98, 99, 105, 106, 107, 108, 109,
    112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 128, 129, 130, 131, 132, 133, 134,
    136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169,
    170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195, 196, 197, 198, 199,
    200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const LWT_IN: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 24, 25, 26, 28, 33, 34, 35, 37, 39, 42, 55,
    73, 80, 87, 88, 89, 93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125,
    130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157,
    158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194,
    195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const LWT_OUT: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 24, 25, 26, 28, 33, 34, 35, 37, 39, 42, 55,
    80, 87, 88, 89, 93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130,
    131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158,
    160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195,
    196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const LWT_XMIT: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 25, 26, 28,
    29, 30, 33, 34, 35, 37, 38, 39, 40, 41, 42, 43, 55, 73, 80, 87, 88, 89, 93, 94, 105,
    106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 135,
    136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169,
    170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195, 196, 197, 198, 199,
    200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const FLOW_DISSECTOR: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 26, 35, 37, 42, 55, 80, 87, 88, 89, 93, 94,
    105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134,
    136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169,
    170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195, 196, 197, 198, 199,
    200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const SK_SKB: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 9, 12, 14, 15, 16, 17, 22, 25, 26, 35, 37, 38, 39, 42, 43, 46, 47,
    50, 52, 55, 72, 80, 84, 85, 86, 87, 88, 89, 93, 94, 99, 105, 106, 109, 112, 113, 114,
    115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141,
    148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177,
    178, 180, 181, 182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209,
    210, 211,
];

#[rustfmt::skip]
const SK_LOOKUP: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 55, 80, 86, 87, 88, 89, 93,
    94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 124, 125, 130, 131, 132,
    133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164,
    165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195, 196, 197,
    198, 199, 200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const CGROUP_SOCK: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 46, 55, 80, 81, 87, 88, 89,
    93, 94, 105, 106, 107, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 130, 131,
    132, 133, 134, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171,
    172, 175, 176, 177, 180, 181, 182, 186, 187, 191, 194, 195, 197, 198, 199, 200, 201,
    202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const CGROUP_SOCK_ADDR: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 46, 49, 55, 57, 64, 80, 81,
    84, 85, 86, 87, 88, 89, 93, 94, 99, 105, 106, 107, 108, 109, 112, 113, 114, 115, 117,
    118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148,
    149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178,
    180, 181, 182, 186, 187, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208,
    209, 210, 211,
];

#[rustfmt::skip]
const SOCK_OPS: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 46, 49, 53, 55, 57, 59, 70,
    80, 81, 87, 88, 89, 93, 94, 96, 105, 106, 107, 108, 109, 112, 113, 114, 115, 117, 118,
    120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 142, 143,
    144, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176,
    177, 178, 180, 181, 182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208,
    209, 210, 211,
];

#[rustfmt::skip]
const SK_MSG: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 55, 60, 61, 62, 63, 71, 80,
    87, 88, 89, 90, 91, 93, 94, 105, 106, 107, 108, 109, 112, 113, 114, 115, 117, 118, 120,
    122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153,
    154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181,
    182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const SK_REUSEPORT: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 26, 35, 37, 42, 46, 55, 68, 80, 82, 87, 88,
    89, 93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132,
    133, 134, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172,
    175, 176, 177, 180, 181, 182, 191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208,
    209, 210, 211,
];

#[rustfmt::skip]
const CGROUP_DEVICE: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 55, 80, 81, 87, 88, 89, 93,
    94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134,
    141, 148, 149, 153, 154, 156, 157, 158, 164, 165, 169, 170, 171, 172, 175, 176, 177,
    180, 181, 182, 186, 187, 191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209,
    210, 211,
];

#[rustfmt::skip]
const CGROUP_SYSCTL: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 55, 80, 81, 87, 88, 89, 93,
    94, 101, 102, 103, 104, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130,
    131, 132, 133, 134, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170,
    171, 172, 175, 176, 177, 180, 181, 182, 186, 187, 191, 194, 195, 197, 198, 199, 200,
    201, 202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const CGROUP_SOCKOPT: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 35, 37, 42, 55, 80, 81, 87, 88, 89, 93,
    94, 96, 105, 106, 107, 108, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 130,
    131, 132, 133, 134, 141, 148, 149, 153, 154, 156, 157, 158, 164, 165, 169, 170, 171,
    172, 175, 176, 177, 180, 181, 182, 186, 187, 191, 194, 195, 197, 198, 199, 200, 201,
    202, 203, 208, 209, 210, 211,
];

#[rustfmt::skip]
const LWT_SEG6LOCAL: &[u16] = &[
    1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 24, 25, 26, 28, 33, 34, 35, 37, 39, 42, 55,
    74, 75, 76, 80, 87, 88, 89, 93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120,
    123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154,
    156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182,
    191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211,
];

/// `lirc_mode2_func_proto` (drivers/media/rc/bpf-lirc.c; read from the source, since
/// this kernel has no lirc_mode2): the three `rc_*` helpers, map operations, time,
/// random numbers, tail calls and (with CAP_PERFMON) `trace_printk`.
const LIRC_MODE2: &[u16] = &[1, 2, 3, 5, 6, 7, 12, 77, 78, 87, 88, 89, 92, 125];
