//! libseccomp through `dlopen`: builds policies from rules and exports their BPF
//! (`seccomp_export_bpf`), so tests can compare our evaluation with the actions the
//! rules define. `Err` when the library is missing.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;

use ebpfvm_classic::dl::{DlError, Library};

/// A comparison of one argument (`struct scmp_arg_cmp`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ArgCmp {
    pub arg: c_uint,
    pub op: c_uint,
    pub a: u64,
    pub b: u64,
}

/// `SCMP_CMP_*`.
pub const NE: u32 = 1;
pub const LT: u32 = 2;
pub const LE: u32 = 3;
pub const EQ: u32 = 4;
pub const GE: u32 = 5;
pub const GT: u32 = 6;
pub const MASKED_EQ: u32 = 7;

impl ArgCmp {
    /// Whether the comparison holds for `args` (64-bit unsigned, as libseccomp compares
    /// on 64-bit architectures).
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let v = args[self.arg as usize];
        match self.op {
            NE => v != self.a,
            LT => v < self.a,
            LE => v <= self.a,
            EQ => v == self.a,
            GE => v >= self.a,
            GT => v > self.a,
            MASKED_EQ => v & self.a == self.b,
            _ => false,
        }
    }
}

type InitFn = unsafe extern "C" fn(u32) -> *mut c_void;
type ArchAddFn = unsafe extern "C" fn(*mut c_void, u32) -> c_int;
type RuleAddFn = unsafe extern "C" fn(*mut c_void, u32, c_int, c_uint, *const ArgCmp) -> c_int;
type ExportFn = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
type ReleaseFn = unsafe extern "C" fn(*mut c_void);
type ResolveFn = unsafe extern "C" fn(u32, *const c_char) -> c_int;

pub struct LibSeccomp {
    init: InitFn,
    arch_add: ArchAddFn,
    rule_add: RuleAddFn,
    export: ExportFn,
    release: ReleaseFn,
    resolve: ResolveFn,
}

impl LibSeccomp {
    pub fn load() -> Result<LibSeccomp, String> {
        let lib = Library::open(&["libseccomp.so.2", "libseccomp.so"]).map_err(|e| {
            format!("libseccomp is not available ({e}); apt-get install libseccomp-dev")
        })?;
        // SAFETY: libseccomp's exported functions with these signatures (seccomp.h); the
        // library is never closed.
        let load = || unsafe {
            Ok::<_, DlError>(LibSeccomp {
                init: lib.symbol("seccomp_init")?,
                arch_add: lib.symbol("seccomp_arch_add")?,
                rule_add: lib.symbol("seccomp_rule_add_array")?,
                export: lib.symbol("seccomp_export_bpf")?,
                release: lib.symbol("seccomp_release")?,
                resolve: lib.symbol("seccomp_syscall_resolve_name_arch")?,
            })
        };
        load().map_err(|e| e.to_string())
    }

    /// The syscall number of `name` on `arch` (an AUDIT_ARCH value), if it has one.
    pub fn resolve(&self, arch: u32, name: &str) -> Option<i32> {
        let c = CString::new(name).ok()?;
        // SAFETY: a valid C string.
        let nr = unsafe { (self.resolve)(arch, c.as_ptr()) };
        (nr >= 0).then_some(nr)
    }

    /// Exports the filter for `default` action, the extra `arches` (the native one is
    /// always there) and `rules` (action, syscall name, comparisons). Raw bytes, as
    /// `seccomp_export_bpf` writes them.
    pub fn export(
        &self,
        default: u32,
        arches: &[u32],
        rules: &[(u32, &str, Vec<ArgCmp>)],
    ) -> Result<Vec<u8>, String> {
        // SAFETY: the context is valid from init to release; every pointer passed
        // lives across its call.
        unsafe {
            let ctx = (self.init)(default);
            if ctx.is_null() {
                return Err("seccomp_init failed".into());
            }
            let result = (|| {
                for &arch in arches {
                    let rc = (self.arch_add)(ctx, arch);
                    if rc != 0 && rc != -libc::EEXIST {
                        return Err(format!("seccomp_arch_add({arch:#x}): {rc}"));
                    }
                }
                for (action, name, cmps) in rules {
                    let c = CString::new(*name).unwrap();
                    let nr = (self.resolve)(0, c.as_ptr());
                    let rc = (self.rule_add)(ctx, *action, nr, cmps.len() as c_uint, cmps.as_ptr());
                    if rc != 0 {
                        return Err(format!("seccomp_rule_add({action:#x}, {name}, {cmps:?}) with default {default:#x}: {rc}"));
                    }
                }
                let mut file = tempfile()?;
                let rc = (self.export)(ctx, file.as_raw_fd());
                if rc != 0 {
                    return Err(format!("seccomp_export_bpf: {rc}"));
                }
                let mut bytes = Vec::new();
                file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
                file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
                Ok(bytes)
            })();
            (self.release)(ctx);
            result
        }
    }
}

fn tempfile() -> Result<std::fs::File, String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "ebpfvm-seccomp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}
