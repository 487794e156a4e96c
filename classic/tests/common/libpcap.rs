//! libpcap through `dlopen`: its interpreter (`bpf_filter`), disassembler (`bpf_image`)
//! and compiler (`pcap_compile` on a dead handle). `None` when the library is missing.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::Mutex;

use ebpfvm_classic::SockFilter;

/// `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

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

pub struct LibPcap {
    filter: FilterFn,
    image: ImageFn,
    open_dead: OpenDeadFn,
    compile: CompileFn,
    freecode: FreeCodeFn,
    close: CloseFn,
    geterr: GetErrFn,
}

/// `bpf_image` returns a static buffer and `pcap_compile` keeps global state in old
/// versions: one caller at a time.
static LOCK: Mutex<()> = Mutex::new(());

fn to_insns(program: &[SockFilter]) -> Vec<BpfInsn> {
    program
        .iter()
        .map(|f| BpfInsn {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        })
        .collect()
}

impl LibPcap {
    /// Loads libpcap, or says why not.
    pub fn load() -> Result<LibPcap, String> {
        for name in ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"] {
            let cname = CString::new(name).unwrap();
            // SAFETY: dlopen with a valid C string; the handle is never closed, so the
            // symbols stay valid for the process's lifetime.
            let handle = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_NOW) };
            if handle.is_null() {
                continue;
            }
            let sym = |s: &str| {
                let c = CString::new(s).unwrap();
                // SAFETY: a valid handle and C string.
                let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
                if p.is_null() {
                    Err(format!("{name} has no {s}"))
                } else {
                    Ok(p)
                }
            };
            // SAFETY: the symbols are libpcap's exported functions with these C
            // signatures (pcap/pcap.h, pcap/bpf.h).
            unsafe {
                return Ok(LibPcap {
                    filter: std::mem::transmute::<*mut c_void, FilterFn>(sym("bpf_filter")?),
                    image: std::mem::transmute::<*mut c_void, ImageFn>(sym("bpf_image")?),
                    open_dead: std::mem::transmute::<*mut c_void, OpenDeadFn>(sym(
                        "pcap_open_dead",
                    )?),
                    compile: std::mem::transmute::<*mut c_void, CompileFn>(sym("pcap_compile")?),
                    freecode: std::mem::transmute::<*mut c_void, FreeCodeFn>(sym("pcap_freecode")?),
                    close: std::mem::transmute::<*mut c_void, CloseFn>(sym("pcap_close")?),
                    geterr: std::mem::transmute::<*mut c_void, GetErrFn>(sym("pcap_geterr")?),
                });
            }
        }
        Err("libpcap is not installed (apt-get install libpcap-dev)".into())
    }

    /// libpcap's interpreter on a whole packet (wire length = captured length).
    /// `program` must end in a return (libpcap trusts the length it cannot see).
    pub fn run(&self, program: &[SockFilter], packet: &[u8]) -> u32 {
        let insns = to_insns(program);
        let len = packet.len() as c_uint;
        // SAFETY: insns is a valid program that ends in a return and only jumps forward
        // inside itself (the kernel checker accepted it); packet is len bytes.
        unsafe { (self.filter)(insns.as_ptr(), packet.as_ptr(), len, len) }
    }

    /// `bpf_image`: the `tcpdump -d` line of one instruction.
    pub fn image(&self, f: SockFilter, pc: usize) -> String {
        let insn = to_insns(&[f]);
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: insn points to one instruction; the returned static string is copied
        // while the lock is held.
        unsafe { CStr::from_ptr((self.image)(insn.as_ptr(), pc as c_int)) }
            .to_string_lossy()
            .into_owned()
    }

    /// Compiles a filter expression for `linktype` (1 = Ethernet).
    pub fn compile(
        &self,
        expr: &str,
        linktype: i32,
        optimize: bool,
    ) -> Result<Vec<SockFilter>, String> {
        let cexpr = CString::new(expr).map_err(|e| e.to_string())?;
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: a dead handle is valid until pcap_close; the program is freed with
        // pcap_freecode after copying its instructions.
        unsafe {
            let p = (self.open_dead)(linktype, 262_144);
            if p.is_null() {
                return Err("pcap_open_dead failed".into());
            }
            let mut prog = BpfProgram {
                len: 0,
                insns: std::ptr::null_mut(),
            };
            let rc = (self.compile)(p, &mut prog, cexpr.as_ptr(), optimize as c_int, 0xffff_ff00);
            let result = if rc != 0 {
                Err(CStr::from_ptr((self.geterr)(p))
                    .to_string_lossy()
                    .into_owned())
            } else {
                let insns = std::slice::from_raw_parts(prog.insns, prog.len as usize);
                let out = insns
                    .iter()
                    .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
                    .collect();
                (self.freecode)(&mut prog);
                Ok(out)
            };
            (self.close)(p);
            result
        }
    }
}
