//! `ebpfvm run --type tracepoint|perf_event`: the record a tracing program reads.
//!
//! A tracepoint record comes from `--ctx FILE` (raw bytes) or is built from its tracefs
//! `format` (`--tracepoint CATEGORY/NAME` reads it from tracefs, `--format FILE` from a
//! file) and `--fields 'dfd=-100,flags=2'`. With a format the program may read up to
//! the end of the event's last field, the limit the kernel applies when the program is
//! attached (further reads are refused here as the attach would fail, `EACCES`).
//! A `bpf_perf_event_data` comes from `--ctx FILE`, or from `--regs` (the x86_64
//! `pt_regs`), `--sample-period N` and `--addr A`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ebpfvm::ctx::access::{PERF_EVENT_DATA_SIZE, TRACEPOINT_MAX};
use ebpfvm::ctx::regs::{pt_regs, Arch};
use ebpfvm::ctx::tracepoint::TracepointFormat;
use ebpfvm::ctx::ProgramType;
use ebpfvm::Vm;

use super::{read_file, CliError};

/// Where tracefs is mounted, newest first.
const TRACEFS: &[&str] = &["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// What `run` passes on for a tracepoint or perf_event program.
pub struct RecordRun<'a> {
    pub ty: ProgramType,
    pub ctx: Option<&'a Path>,
    pub tracepoint: Option<&'a str>,
    pub format: Option<&'a Path>,
    pub fields: Option<&'a str>,
    pub regs: Option<&'a str>,
    pub sample_period: Option<u64>,
    pub addr: Option<u64>,
    /// One past the last context byte the program reads.
    pub extent: usize,
    pub json: bool,
}

pub fn run(vm: &mut Vm, args: RecordRun<'_>) -> Result<ExitCode, CliError> {
    let mut bytes = match args.ty {
        ProgramType::PerfEvent => perf_event_data(&args)?,
        _ => tracepoint_record(&args)?,
    };
    let outcome = vm.run_context(&mut bytes);
    super::regs::print_outcome(&outcome, args.json)
}

/// The tracepoint record, zero-padded to what the program reads (the kernel's buffer
/// holds whatever earlier events left there; zeros here).
fn tracepoint_record(args: &RecordRun<'_>) -> Result<Vec<u8>, CliError> {
    if args.fields.is_some() && args.tracepoint.is_none() && args.format.is_none() {
        return Err(CliError::Usage(
            "--fields needs the record's layout: give --tracepoint or --format".into(),
        ));
    }
    if args.sample_period.is_some() || args.addr.is_some() {
        return Err(CliError::Usage(
            "--sample-period and --addr are for `perf_event` programs".into(),
        ));
    }
    let mut bytes = match (args.ctx, format_text(args)?) {
        (Some(path), None) => read_file(&path.to_path_buf())?,
        (None, Some((source, text))) => {
            let format = TracepointFormat::parse(&text).map_err(|e| CliError::Load {
                path: source.clone(),
                message: e.to_string(),
            })?;
            let readable = format.readable();
            if args.extent > readable {
                return Err(CliError::Usage(format!(
                    "the program reads the record up to byte {}, past the end of `{}`'s fields \
                     at {readable}: the kernel would refuse to attach it (EACCES)",
                    args.extent, format.name
                )));
            }
            let values = field_values(args.fields.unwrap_or(""))?;
            format
                .record(&values)
                .map_err(|e| CliError::Usage(format!("--fields: {e}")))?
        }
        (None, None) => {
            return Err(CliError::Usage(
                "a `tracepoint` program needs its record: give --ctx FILE, or --tracepoint \
                 CATEGORY/NAME (or --format FILE) with --fields"
                    .into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(CliError::Usage(
                "--ctx gives the whole record: not with --tracepoint/--format".into(),
            ))
        }
    };
    let size = args.extent.max(bytes.len());
    if size > TRACEPOINT_MAX {
        return Err(CliError::Usage(format!(
            "the record is {size} bytes, more than the kernel's {TRACEPOINT_MAX}"
        )));
    }
    bytes.resize(size, 0);
    Ok(bytes)
}

/// The format file's path and text, from `--format` or tracefs.
fn format_text(args: &RecordRun<'_>) -> Result<Option<(PathBuf, String)>, CliError> {
    let path = match (args.format, args.tracepoint) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(name)) => {
            let valid = name.split_once('/').is_some_and(|(c, n)| {
                [c, n].iter().all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
                })
            });
            if !valid {
                return Err(CliError::Usage(format!(
                    "--tracepoint `{name}`: expected CATEGORY/NAME, e.g. syscalls/sys_enter_openat"
                )));
            }
            let found = TRACEFS
                .iter()
                .map(|root| Path::new(root).join("events").join(name).join("format"))
                .find(|p| p.exists());
            found.ok_or_else(|| {
                CliError::Usage(format!(
                    "--tracepoint {name}: no format under {} (is tracefs mounted? \
                     `mount -t tracefs nodev /sys/kernel/tracing`); or give --format FILE",
                    TRACEFS.join(" or ")
                ))
            })?
        }
        (None, None) => return Ok(None),
    };
    let bytes = read_file(&path)?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::Load {
        path: path.clone(),
        message: "a format file is text; this is not UTF-8".into(),
    })?;
    Ok(Some((path, text)))
}

/// `a=1,b[2]=0x10,comm=bash` as (name, value) pairs.
fn field_values(list: &str) -> Result<Vec<(&str, &str)>, CliError> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(n, v)| (n.trim(), v))
                .ok_or_else(|| CliError::Usage(format!("--fields: `{item}` is not NAME=VALUE")))
        })
        .collect()
}

/// `bpf_perf_event_data`: `--ctx` as given (zero-padded), or `pt_regs` from `--regs`
/// followed by `sample_period` and `addr`.
fn perf_event_data(args: &RecordRun<'_>) -> Result<Vec<u8>, CliError> {
    let sampled = args.regs.is_some() || args.sample_period.is_some() || args.addr.is_some();
    if args.tracepoint.is_some() || args.format.is_some() || args.fields.is_some() {
        return Err(CliError::Usage(
            "--tracepoint, --format and --fields are for `tracepoint` programs".into(),
        ));
    }
    let mut bytes = match (args.ctx, sampled) {
        (Some(_), true) => {
            return Err(CliError::Usage(
                "--ctx gives the whole bpf_perf_event_data: not with --regs, --sample-period \
                 or --addr"
                    .into(),
            ))
        }
        (Some(path), false) => read_file(&path.to_path_buf())?,
        (None, _) => {
            let mut bytes = pt_regs(Arch::X86_64, args.regs.unwrap_or(""))
                .map_err(|e| CliError::Usage(e.to_string()))?;
            bytes.extend(args.sample_period.unwrap_or(0).to_le_bytes());
            bytes.extend(args.addr.unwrap_or(0).to_le_bytes());
            bytes
        }
    };
    if bytes.len() > PERF_EVENT_DATA_SIZE {
        return Err(CliError::Usage(format!(
            "--ctx: {} bytes, more than the {PERF_EVENT_DATA_SIZE} of a bpf_perf_event_data",
            bytes.len()
        )));
    }
    bytes.resize(PERF_EVENT_DATA_SIZE, 0);
    Ok(bytes)
}
