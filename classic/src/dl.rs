//! Shared libraries opened at run time (`dlopen`), so that ebpfvm builds without
//! libpcap or libseccomp and uses them when they are installed.
//!
//! A [`Library`] is never closed: the function pointers taken from it stay valid for
//! the rest of the process, which is what lets [`Library::symbol`] hand out plain
//! `extern "C" fn` values.

use std::ffi::{c_void, CStr, CString};

/// Why a library or one of its functions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DlError {
    /// None of the names could be opened.
    #[error("cannot open {tried}: {reason}")]
    NotFound {
        /// The names tried, comma-separated.
        tried: String,
        /// `dlerror`'s text for the last name tried.
        reason: String,
    },
    /// The library has no such exported function (too old a version).
    #[error("{library} has no `{symbol}` (too old a version?)")]
    MissingSymbol {
        /// The file name that was opened.
        library: &'static str,
        /// The function looked for.
        symbol: String,
    },
}

/// An opened shared library.
#[derive(Debug)]
pub struct Library {
    handle: *mut c_void,
    name: &'static str,
}

// SAFETY: a dlopen handle is a process-wide token; dlsym may be called on it from any
// thread, and it is never closed.
unsafe impl Send for Library {}
// SAFETY: as above: `symbol` only reads through the handle.
unsafe impl Sync for Library {}

/// `dlerror`'s message, or a generic one.
fn last_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl*
    // call on this thread; it is copied at once.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        "not found".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated (see above).
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Library {
    /// Opens the first of `names` that loads (sonames first, the development symlink
    /// last, as distributions install them).
    pub fn open(names: &[&'static str]) -> Result<Library, DlError> {
        let mut reason = String::from("no names given");
        for &name in names {
            let Ok(cname) = CString::new(name) else {
                continue;
            };
            // SAFETY: a valid C string; the library's initialisers are those of a
            // system library, run once.
            let handle = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_NOW) };
            if !handle.is_null() {
                return Ok(Library { handle, name });
            }
            reason = last_error();
        }
        Err(DlError::NotFound {
            tried: names.join(", "),
            reason,
        })
    }

    /// The file name this library was opened by.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The exported function `symbol`, as the function pointer type `F`.
    ///
    /// # Safety
    ///
    /// `F` must be an `unsafe extern "C" fn` type with exactly the C signature the
    /// library gives `symbol`.
    pub unsafe fn symbol<F: Copy>(&self, symbol: &str) -> Result<F, DlError> {
        let missing = || DlError::MissingSymbol {
            library: self.name,
            symbol: symbol.to_string(),
        };
        let csym = CString::new(symbol).map_err(|_| missing())?;
        // SAFETY: a live handle (never closed) and a valid C string.
        let ptr = unsafe { libc::dlsym(self.handle, csym.as_ptr()) };
        if ptr.is_null() || std::mem::size_of::<F>() != std::mem::size_of::<*mut c_void>() {
            return Err(missing());
        }
        // SAFETY: F is a function pointer of the symbol's signature (the caller's
        // promise) and has a pointer's size (checked); the code it points to stays
        // mapped because the library is never closed.
        Ok(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&ptr) })
    }
}
