//! A minimal `bpf()` oracle for tests: load a program of any type into the running
//! kernel and run it once with BPF_PROG_TEST_RUN (packet in and out, optionally a
//! context in and out). (The user-facing kernel backend will be the aya layer of the
//! `kernel` crate; this keeps the tests independent of it.)
//!
//! Several test crates include this module and each uses part of it.
#![allow(dead_code)]

use std::ffi::CString;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_PROG_TYPE_XDP: u32 = 6;

/// Why the kernel did not run a program.
#[derive(Debug)]
pub enum KernelError {
    /// `bpf()` is not available here (no permission, no syscall): tests skip.
    Unavailable(String),
    /// The kernel verifier refused the program; its log.
    Refused(String),
    /// Test run failed.
    Run(String),
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelError::Unavailable(why) => write!(f, "bpf() unavailable: {why}"),
            KernelError::Refused(log) => write!(f, "refused by the kernel verifier: {log}"),
            KernelError::Run(why) => write!(f, "test run failed: {why}"),
        }
    }
}

fn bpf(cmd: libc::c_long, attr: &mut [u64; 20]) -> libc::c_long {
    // SAFETY: attr is a zeroed, 160-byte buffer laid out as `union bpf_attr` for `cmd`;
    // the kernel reads at most the size we pass and writes only within it.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr),
        )
    }
}

fn put_u32(attr: &mut [u64; 20], byte_offset: usize, v: u32) {
    let word = &mut attr[byte_offset / 8];
    let shift = (byte_offset % 8) * 8;
    *word = (*word & !(0xffff_ffffu64 << shift)) | ((v as u64) << shift);
}

fn get_u32(attr: &[u64; 20], byte_offset: usize) -> u32 {
    (attr[byte_offset / 8] >> ((byte_offset % 8) * 8)) as u32
}

/// A loaded program; closed on drop.
pub struct XdpProgram {
    fd: i32,
}

/// A loaded program of any type (the name is historical: it started with XDP only).
pub type KernelProgram = XdpProgram;

impl Drop for XdpProgram {
    fn drop(&mut self) {
        // SAFETY: fd is a descriptor this struct owns.
        unsafe { libc::close(self.fd) };
    }
}

impl XdpProgram {
    /// Loads bytecode as an XDP program (license GPL, verifier log on refusal).
    pub fn load(bytecode: &[u8]) -> Result<XdpProgram, KernelError> {
        XdpProgram::load_type(BPF_PROG_TYPE_XDP, bytecode)
    }

    /// Loads bytecode as a program of type `prog_type` (`enum bpf_prog_type`), with
    /// expected attach type 0.
    pub fn load_type(prog_type: u32, bytecode: &[u8]) -> Result<XdpProgram, KernelError> {
        XdpProgram::load_attach(prog_type, 0, bytecode)
    }

    /// [`XdpProgram::load_type`] with an expected attach type (`enum bpf_attach_type`),
    /// which several types need to load at all (`cgroup_sock_addr`, `sk_lookup`, ...).
    pub fn load_attach(
        prog_type: u32,
        attach_type: u32,
        bytecode: &[u8],
    ) -> Result<XdpProgram, KernelError> {
        let license = CString::new("GPL").expect("no NUL");
        let mut log = vec![0u8; 1 << 20];
        let mut attr = [0u64; 20];
        put_u32(&mut attr, 0, prog_type);
        put_u32(&mut attr, 4, (bytecode.len() / 8) as u32);
        attr[1] = bytecode.as_ptr() as u64;
        attr[2] = license.as_ptr() as u64;
        put_u32(&mut attr, 24, 1); // log_level
        put_u32(&mut attr, 28, log.len() as u32);
        attr[4] = log.as_mut_ptr() as u64;
        put_u32(&mut attr, 68, attach_type); // expected_attach_type
        let fd = bpf(BPF_PROG_LOAD, &mut attr);
        if fd >= 0 {
            return Ok(XdpProgram { fd: fd as i32 });
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EPERM) | Some(libc::ENOSYS) => Err(KernelError::Unavailable(format!(
                "bpf(BPF_PROG_LOAD): {err}"
            ))),
            _ => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                Err(KernelError::Refused(format!(
                    "{err}\n{}",
                    String::from_utf8_lossy(&log[..end])
                )))
            }
        }
    }

    /// Runs once with only a context (raw tracepoints: their arguments); returns retval.
    pub fn run_args(&self, ctx: &[u8]) -> Result<u32, KernelError> {
        let mut attr = [0u64; 20];
        put_u32(&mut attr, 0, self.fd as u32);
        put_u32(&mut attr, 40, ctx.len() as u32); // ctx_size_in
        attr[6] = if ctx.is_empty() {
            0
        } else {
            ctx.as_ptr() as u64
        }; // ctx_in
        if bpf(BPF_PROG_TEST_RUN, &mut attr) != 0 {
            let err = std::io::Error::last_os_error();
            return Err(KernelError::Run(format!("bpf(BPF_PROG_TEST_RUN): {err}")));
        }
        Ok(get_u32(&attr, 4))
    }

    /// Runs once with only a context, which comes back (sk_lookup); returns (retval,
    /// context after the run).
    pub fn run_ctx_only(&self, ctx: &[u8]) -> Result<(u32, Vec<u8>), KernelError> {
        let mut ctx_out = vec![0u8; 256];
        let mut attr = [0u64; 20];
        put_u32(&mut attr, 0, self.fd as u32);
        put_u32(&mut attr, 32, 1); // repeat
        put_u32(&mut attr, 40, ctx.len() as u32); // ctx_size_in
        put_u32(&mut attr, 44, ctx_out.len() as u32); // ctx_size_out
        attr[6] = if ctx.is_empty() {
            0
        } else {
            ctx.as_ptr() as u64
        }; // ctx_in
        attr[7] = ctx_out.as_mut_ptr() as u64; // ctx_out
        if bpf(BPF_PROG_TEST_RUN, &mut attr) != 0 {
            let err = std::io::Error::last_os_error();
            return Err(KernelError::Run(format!("bpf(BPF_PROG_TEST_RUN): {err}")));
        }
        ctx_out.truncate((get_u32(&attr, 44) as usize).min(256));
        Ok((get_u32(&attr, 4), ctx_out))
    }

    /// Runs once over `packet`; returns (retval, packet after the run).
    pub fn run(&self, packet: &[u8]) -> Result<(u32, Vec<u8>), KernelError> {
        self.run_ctx(packet, None)
            .map(|(retval, out, _)| (retval, out))
    }

    /// Runs once over `packet` with context `ctx_in`; returns (retval, packet after the
    /// run, context after the run as the kernel returns it).
    pub fn run_ctx(
        &self,
        packet: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<(u32, Vec<u8>, Vec<u8>), KernelError> {
        // Room for the resizing helpers, which grow a socket buffer to 16064 bytes.
        let mut out = vec![0u8; packet.len() + 16384];
        let mut ctx_out = vec![0u8; if ctx_in.is_some() { 256 } else { 0 }];
        let mut attr = [0u64; 20];
        put_u32(&mut attr, 0, self.fd as u32);
        put_u32(&mut attr, 8, packet.len() as u32); // data_size_in
        put_u32(&mut attr, 12, out.len() as u32); // data_size_out
        attr[2] = packet.as_ptr() as u64; // data_in
        attr[3] = out.as_mut_ptr() as u64; // data_out
        put_u32(&mut attr, 32, 1); // repeat
        if let Some(ctx) = ctx_in {
            put_u32(&mut attr, 40, ctx.len() as u32); // ctx_size_in
            put_u32(&mut attr, 44, ctx_out.len() as u32); // ctx_size_out
            attr[6] = ctx.as_ptr() as u64; // ctx_in
            attr[7] = ctx_out.as_mut_ptr() as u64; // ctx_out
        }
        if bpf(BPF_PROG_TEST_RUN, &mut attr) != 0 {
            let err = std::io::Error::last_os_error();
            return Err(KernelError::Run(format!("bpf(BPF_PROG_TEST_RUN): {err}")));
        }
        let retval = get_u32(&attr, 4);
        let size_out = (get_u32(&attr, 12) as usize).min(out.len());
        out.truncate(size_out);
        let ctx_size_out = (get_u32(&attr, 44) as usize).min(ctx_out.len());
        ctx_out.truncate(ctx_size_out);
        Ok((retval, out, ctx_out))
    }
}
