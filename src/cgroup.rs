//! The cgroup v2 ids of this process's cgroup and its ancestors, for the socket helpers
//! ([`crate::SocketInfo::cgroup`]): the kernel's test run charges its dummy socket to
//! the test process's cgroup, so giving our engines these ids makes
//! `bpf_skb_cgroup_id` and `bpf_skb_ancestor_cgroup_id` comparable with the kernel.
//!
//! A cgroup v2 id is the inode number of its directory in the cgroup2 filesystem (the
//! root's is 1). The process's cgroup is the `0::PATH` line of `/proc/self/cgroup`; the
//! filesystem is found in `/proc/self/mountinfo`.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The ids of this process's cgroup v2 and its ancestors, the root first.
pub fn current_ids() -> io::Result<Vec<u64>> {
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| not_found("no cgroup v2 line (0::) in /proc/self/cgroup"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    let root = cgroup2_mount(&mounts).ok_or_else(|| not_found("no cgroup2 filesystem mounted"))?;
    ids_along(&root, path)
}

/// The ids of `root` (a cgroup2 mount point) and of each directory down `path`.
pub fn ids_along(root: &Path, path: &str) -> io::Result<Vec<u64>> {
    let mut dir = root.to_path_buf();
    let mut ids = vec![std::fs::metadata(&dir)?.ino()];
    for part in path.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        ids.push(std::fs::metadata(&dir)?.ino());
    }
    Ok(ids)
}

/// The mount point of the first cgroup2 filesystem in a `mountinfo` text.
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (fields, rest) = line.split_once(" - ")?;
        let fstype = rest.split_whitespace().next()?;
        let mount_point = fields.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}

fn not_found(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, what)
}
