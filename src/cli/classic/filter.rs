//! `--filter EXPR` for `run` and `disasm`: a tcpdump filter expression compiled by
//! libpcap (opened at run time, as `tcpdump -d` compiles it: optimised, netmask
//! unknown) into the classic program that runs in place of PROGRAM.

use std::path::Path;

use clap::Args;
use ebpfvm_classic::SockFilter;

use crate::cli::CliError;

/// The `--filter` flags `run` and `disasm` share.
#[derive(Args, Debug)]
pub struct FilterArgs {
    /// A tcpdump filter expression (pcap-filter(7)), e.g. 'tcp port 80', compiled by
    /// libpcap as `tcpdump -d` compiles it, in place of PROGRAM: `run` runs it as a
    /// classic socket filter, `disasm` prints it as `tcpdump -d` does. Needs libpcap at
    /// run time (libpcap.so.0.8, .so.1 or .so).
    #[arg(long, value_name = "EXPR", conflicts_with_all = ["program", "classic"])]
    pub filter: Option<String>,
    /// With --filter: the link type to compile for, by libpcap's name (EN10MB,
    /// LINUX_SLL, RAW, ...) or DLT number. Default: the capture's with `run --pcap` (its
    /// first interface's for pcapng), else EN10MB.
    #[arg(
        long,
        value_name = "DLT",
        requires = "filter",
        conflicts_with = "program"
    )]
    pub linktype: Option<String>,
    /// With --filter: the snapshot length, what the filter returns to keep a whole
    /// packet. Default: 262144, as tcpdump.
    #[arg(long, value_name = "N", requires = "filter", conflicts_with = "program",
          value_parser = clap::value_parser!(i32).range(1..))]
    pub snaplen: Option<i32>,
}

/// The name errors about the compiled program carry in place of a file name.
pub const SOURCE: &str = "--filter";

/// Without PROGRAM, `--filter` must be there (clap checks it; this says so too).
fn missing() -> CliError {
    CliError::Usage("give a PROGRAM or --filter EXPR".into())
}

/// The program `--filter` compiles. `capture` is the `--pcap` file, whose link type
/// is the default.
#[cfg(feature = "pcap-filter")]
pub fn compile(args: &FilterArgs, capture: Option<&Path>) -> Result<Vec<SockFilter>, CliError> {
    use ebpfvm_classic::libpcap::{
        dlt_for_linktype, CompileOptions, LibPcap, DEFAULT_SNAPLEN, DLT_EN10MB,
    };

    let expr = args.filter.as_ref().ok_or_else(missing)?;
    let pcap = LibPcap::load().map_err(|e| CliError::NotSupported(format!("--filter: {e}")))?;
    let linktype = match (&args.linktype, capture) {
        (Some(name), _) => pcap
            .linktype(name)
            .map_err(|e| CliError::Usage(format!("--linktype: {e}")))?,
        (None, Some(path)) => super::pcap::linktype(path)?.map_or(DLT_EN10MB, dlt_for_linktype),
        (None, None) => DLT_EN10MB,
    };
    let options = CompileOptions {
        linktype,
        snaplen: args.snaplen.unwrap_or(DEFAULT_SNAPLEN),
        ..CompileOptions::default()
    };
    pcap.compile(expr, &options)
        .map_err(|e| CliError::Usage(format!("{SOURCE} {expr:?}: {e}")))
}

/// Without the `pcap-filter` feature `--filter` is refused by name.
#[cfg(not(feature = "pcap-filter"))]
pub fn compile(args: &FilterArgs, _capture: Option<&Path>) -> Result<Vec<SockFilter>, CliError> {
    match args.filter {
        None => Err(missing()),
        Some(_) => Err(CliError::NotSupported(
            "--filter needs the `pcap-filter` cargo feature, which this ebpfvm was built without"
                .into(),
        )),
    }
}
