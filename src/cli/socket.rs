//! `--sock` and `--cgroup`: the socket a program's packet or context belongs to.
//!
//! `--sock` takes a `struct bpf_sock` file (what the context's socket pointer reaches,
//! or for `sk_skb` the socket the payload arrived on), settings for the socket helpers
//! (`cookie=N`, `uid=N`, `classid=N`), or both, comma-separated: `sock.bin,cookie=7`.
//! `--cgroup` gives the socket's cgroup: `self` (this process's, as the kernel's test
//! run charges its socket) or the ids from the root down, `1,4242`.

use std::path::PathBuf;

use ebpfvm::SocketInfo;

use super::CliError;

/// What `--sock` and `--cgroup` said.
#[derive(Debug, Default)]
pub struct SocketArgs {
    /// The `struct bpf_sock` file, if one was named.
    pub file: Option<PathBuf>,
    /// The socket helpers' answers.
    pub info: SocketInfo,
}

/// Parses `--sock` and `--cgroup`.
pub fn parse(sock: Option<&str>, cgroup: Option<&str>) -> Result<SocketArgs, CliError> {
    let mut out = SocketArgs::default();
    let mut file = Vec::new();
    for item in sock.into_iter().flat_map(|s| s.split(',')) {
        let Some((key, value)) = item.split_once('=') else {
            file.push(item);
            continue;
        };
        let bad = || CliError::Usage(format!("--sock: `{value}` is not a number for {key}"));
        let number = parse_number(value).ok_or_else(bad)?;
        match key {
            "cookie" => out.info.cookie = number,
            "uid" => out.info.uid = u32::try_from(number).map_err(|_| bad())?,
            "classid" => out.info.classid = u32::try_from(number).map_err(|_| bad())?,
            _ => {
                return Err(CliError::Usage(format!(
                    "--sock: unknown setting `{key}`; known: cookie, uid, classid"
                )))
            }
        }
    }
    if !file.is_empty() {
        out.file = Some(PathBuf::from(file.join(",")));
    }
    match cgroup {
        None => {}
        Some("self") => {
            out.info.cgroup = ebpfvm::cgroup::current_ids().map_err(|e| {
                CliError::Usage(format!("--cgroup self: this process's cgroup: {e}"))
            })?;
        }
        Some(list) => {
            out.info.cgroup = list
                .split(',')
                .map(|id| {
                    parse_number(id).ok_or_else(|| {
                        CliError::Usage(format!("--cgroup: `{id}` is not a cgroup id"))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
    }
    Ok(out)
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
