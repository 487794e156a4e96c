//! libpcap, loaded at run time: its filter compiler (`pcap_compile` on a dead handle,
//! what `tcpdump -d` uses), its interpreter (`bpf_filter`) and its disassembler
//! (`bpf_image`), for `ebpfvm run --filter`, the differential tests and the benches.
//!
//! Nothing links against libpcap: [`LibPcap::load`] opens it with `dlopen` and says
//! why when it cannot.
//!
//! ```no_run
//! use ebpfvm_classic::libpcap::{CompileOptions, LibPcap};
//! let pcap = LibPcap::load()?;
//! let program = pcap.compile("tcp port 80", &CompileOptions::default())?;
//! assert_eq!(program.len(), 20); // what `tcpdump -d -y EN10MB 'tcp port 80'` prints
//! # Ok::<(), ebpfvm_classic::libpcap::PcapError>(())
//! ```

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::Mutex;

use crate::check::{check_classic, CheckError};
use crate::dl::{DlError, Library};
use crate::insn::SockFilter;

/// `DLT_EN10MB`: Ethernet, the link type `tcpdump -d` compiles for by default.
pub const DLT_EN10MB: i32 = 1;
/// tcpdump's default snapshot length, which compiled filters return to accept.
pub const DEFAULT_SNAPLEN: i32 = 262_144;
/// `PCAP_NETMASK_UNKNOWN`: `ip broadcast` then does not compile.
pub const NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// The `DLT_` value `pcap_open_dead` takes for a capture file's `LINKTYPE_` value.
/// They are equal except for four types whose DLT numbers were never portable
/// (tcpdump.org's link-layer header types registry); the DLT numbers here are Linux's.
pub fn dlt_for_linktype(linktype: u32) -> i32 {
    match linktype {
        100 => 11, // ATM_RFC1483
        101 => 12, // RAW: raw IPv4 or IPv6
        102 => 15, // SLIP_BSDOS
        103 => 16, // PPP_BSDOS
        other => i32::try_from(other).unwrap_or(-1),
    }
}

/// Why libpcap could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// libpcap is not installed, or is too old.
    #[error("libpcap is not available ({0}); install it (e.g. apt-get install libpcap0.8)")]
    Load(#[from] DlError),
    /// `pcap_compile` refused the expression: libpcap's own message.
    #[error("{0}")]
    Compile(String),
    /// A link type name libpcap does not know.
    #[error("unknown link type `{0}` (give a DLT name such as EN10MB, or a number)")]
    LinkType(String),
}

/// `struct bpf_insn`: the same layout as [`SockFilter`], but libpcap's type.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct BpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

impl From<SockFilter> for BpfInsn {
    fn from(f: SockFilter) -> BpfInsn {
        BpfInsn {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        }
    }
}

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    len: c_uint,
    insns: *mut BpfInsn,
}

type FilterFn = unsafe extern "C" fn(*const BpfInsn, *const u8, c_uint, c_uint) -> c_uint;
type ImageFn = unsafe extern "C" fn(*const BpfInsn, c_int) -> *mut c_char;
type OpenDeadFn = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type CompileFn =
    unsafe extern "C" fn(*mut c_void, *mut BpfProgram, *const c_char, c_int, u32) -> c_int;
type FreeCodeFn = unsafe extern "C" fn(*mut BpfProgram);
type CloseFn = unsafe extern "C" fn(*mut c_void);
type GetErrFn = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type NameToValFn = unsafe extern "C" fn(*const c_char) -> c_int;

/// libpcap's functions, resolved once.
#[derive(Debug)]
pub struct LibPcap {
    library: Library,
    filter: FilterFn,
    image: ImageFn,
    open_dead: OpenDeadFn,
    compile: CompileFn,
    freecode: FreeCodeFn,
    close: CloseFn,
    geterr: GetErrFn,
    name_to_val: NameToValFn,
}

/// `bpf_image` writes a static buffer and old versions of `pcap_compile` keep global
/// parser state: one caller at a time for both.
static LOCK: Mutex<()> = Mutex::new(());

/// How [`LibPcap::compile`] compiles, as `pcap_open_dead` and `pcap_compile` take it.
#[derive(Clone, Copy, Debug)]
pub struct CompileOptions {
    /// The link type (a `DLT_` value), [`DLT_EN10MB`] by default.
    pub linktype: i32,
    /// What an accepting filter returns, [`DEFAULT_SNAPLEN`] by default.
    pub snaplen: i32,
    /// libpcap's optimiser, on by default (as in tcpdump).
    pub optimize: bool,
    /// The IPv4 netmask for `ip broadcast`, [`NETMASK_UNKNOWN`] by default.
    pub netmask: u32,
}

impl Default for CompileOptions {
    fn default() -> CompileOptions {
        CompileOptions {
            linktype: DLT_EN10MB,
            snaplen: DEFAULT_SNAPLEN,
            optimize: true,
            netmask: NETMASK_UNKNOWN,
        }
    }
}

/// A program `bpf_filter` may run: the kernel's checker accepted it, so every jump
/// lands inside it, it ends in a return, and scratch indexes are below 16 (libpcap's
/// interpreter checks none of these). Every opcode the checker accepts is one libpcap's
/// interpreter knows (`MOD` and `XOR` since libpcap 1.6; older versions abort on them).
#[derive(Clone, Debug)]
pub struct PcapProgram(Vec<BpfInsn>);

impl PcapProgram {
    /// Checks `program` with the kernel's classic rules.
    pub fn new(program: &[SockFilter]) -> Result<PcapProgram, CheckError> {
        check_classic(program)?;
        Ok(PcapProgram(program.iter().map(|&f| f.into()).collect()))
    }
}

impl LibPcap {
    /// Opens libpcap (`libpcap.so.0.8` as Debian names it, `libpcap.so.1`, then the
    /// development link) and resolves the functions ebpfvm uses.
    pub fn load() -> Result<LibPcap, PcapError> {
        let library = Library::open(&["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"])?;
        // SAFETY: each type is the C signature of the function it names
        // (pcap/pcap.h, pcap/bpf.h).
        unsafe {
            Ok(LibPcap {
                filter: library.symbol("bpf_filter")?,
                image: library.symbol("bpf_image")?,
                open_dead: library.symbol("pcap_open_dead")?,
                compile: library.symbol("pcap_compile")?,
                freecode: library.symbol("pcap_freecode")?,
                close: library.symbol("pcap_close")?,
                geterr: library.symbol("pcap_geterr")?,
                name_to_val: library.symbol("pcap_datalink_name_to_val")?,
                library,
            })
        }
    }

    /// The library file that was opened.
    pub fn library(&self) -> &'static str {
        self.library.name()
    }

    /// Compiles a filter expression (tcpdump's syntax, `pcap-filter(7)`). Refusals
    /// carry libpcap's own message (`pcap_geterr`).
    pub fn compile(
        &self,
        expr: &str,
        options: &CompileOptions,
    ) -> Result<Vec<SockFilter>, PcapError> {
        let cexpr = CString::new(expr)
            .map_err(|_| PcapError::Compile("the expression contains a NUL byte".into()))?;
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the dead handle is valid until pcap_close, which every path reaches;
        // pcap_compile fills `program` only when it returns 0, and the instructions are
        // copied out before pcap_freecode releases them.
        unsafe {
            let handle = (self.open_dead)(options.linktype, options.snaplen);
            if handle.is_null() {
                return Err(PcapError::Compile(format!(
                    "pcap_open_dead({}, {}) failed",
                    options.linktype, options.snaplen
                )));
            }
            let mut program = BpfProgram {
                len: 0,
                insns: std::ptr::null_mut(),
            };
            let rc = (self.compile)(
                handle,
                &mut program,
                cexpr.as_ptr(),
                options.optimize as c_int,
                options.netmask,
            );
            let result = if rc != 0 {
                Err(PcapError::Compile(
                    CStr::from_ptr((self.geterr)(handle))
                        .to_string_lossy()
                        .into_owned(),
                ))
            } else {
                let insns = if program.insns.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(program.insns, program.len as usize)
                };
                let out = insns
                    .iter()
                    .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
                    .collect();
                (self.freecode)(&mut program);
                Ok(out)
            };
            (self.close)(handle);
            result
        }
    }

    /// A link type by number or by libpcap's name (`EN10MB`, `LINUX_SLL`, `RAW`; case
    /// and a `DLT_` prefix do not matter).
    pub fn linktype(&self, name: &str) -> Result<i32, PcapError> {
        if let Ok(n) = name.parse::<i32>() {
            return Ok(n);
        }
        let bare = match name.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case("dlt_") => &name[4..],
            _ => name,
        };
        let cname = CString::new(bare).map_err(|_| PcapError::LinkType(name.into()))?;
        // SAFETY: a valid C string; the function only reads it.
        match unsafe { (self.name_to_val)(cname.as_ptr()) } {
            -1 => Err(PcapError::LinkType(name.into())),
            n => Ok(n),
        }
    }

    /// libpcap's interpreter: what `program` returns for `packet`, whose length on the
    /// wire was `wire_len` (the captured bytes are `packet`).
    pub fn filter(&self, program: &PcapProgram, packet: &[u8], wire_len: u32) -> u32 {
        let buflen = c_uint::try_from(packet.len()).unwrap_or(c_uint::MAX);
        // SAFETY: the checker accepted the program (see PcapProgram), and bpf_filter
        // reads at most `buflen` bytes of `packet`.
        unsafe { (self.filter)(program.0.as_ptr(), packet.as_ptr(), wire_len, buflen) }
    }

    /// `bpf_image`: the `tcpdump -d` line of one instruction at `pc`.
    pub fn image(&self, f: SockFilter, pc: usize) -> String {
        let insn = BpfInsn::from(f);
        let pc = c_int::try_from(pc).unwrap_or(c_int::MAX);
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: bpf_image reads one instruction and returns a NUL-terminated static
        // buffer, copied while the lock is held.
        unsafe { CStr::from_ptr((self.image)(&insn, pc)) }
            .to_string_lossy()
            .into_owned()
    }
}
