//! Syscall names for x86_64 and aarch64 and `AUDIT_ARCH_*` names, from the generated
//! tables (`gen_tables.py` beside this file reads the installed uapi headers).

use super::tables::{AARCH64, AUDIT_ARCHES, X86_64};

/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

/// Other spellings users and libseccomp use for architectures.
const ALIASES: &[(&str, &str)] = &[
    ("x86", "i386"),
    ("i686", "i386"),
    ("amd64", "x86_64"),
    ("arm64", "aarch64"),
    ("ppc64el", "ppc64le"),
];

/// The `AUDIT_ARCH` value of an architecture name (`x86_64`, `aarch64`, `i386`, `arm`,
/// `riscv64`, ... as in `linux/audit.h` in lower case), or of a number (decimal or
/// `0x` hex).
pub fn arch_by_name(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map_or(lower.as_str(), |(_, c)| c);
    if let Some((_, v)) = AUDIT_ARCHES.iter().find(|(n, _)| *n == canonical) {
        return Some(*v);
    }
    crate::parse::parse_number(name).and_then(|n| u32::try_from(n).ok())
}

/// The name of an `AUDIT_ARCH` value, if it has one.
pub fn arch_name(arch: u32) -> Option<&'static str> {
    AUDIT_ARCHES
        .iter()
        .find(|(_, v)| *v == arch)
        .map(|(n, _)| *n)
}

fn table(arch: u32) -> Option<&'static [(&'static str, u32)]> {
    match arch {
        AUDIT_ARCH_X86_64 => Some(X86_64),
        AUDIT_ARCH_AARCH64 => Some(AARCH64),
        _ => None,
    }
}

/// The number of syscall `name` on `arch` (x86_64 and aarch64 have tables).
pub fn syscall_number(arch: u32, name: &str) -> Option<u32> {
    table(arch)?
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, nr)| *nr)
}

/// The name of syscall `nr` on `arch`.
pub fn syscall_name(arch: u32, nr: u32) -> Option<&'static str> {
    table(arch)?
        .iter()
        .find(|(_, n)| *n == nr)
        .map(|(name, _)| *name)
}

/// The architecture the host runs, as an `AUDIT_ARCH` value (x86_64 elsewhere).
pub fn host_arch() -> u32 {
    if cfg!(target_arch = "aarch64") {
        AUDIT_ARCH_AARCH64
    } else {
        AUDIT_ARCH_X86_64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names() {
        assert_eq!(arch_by_name("x86_64"), Some(0xc000_003e));
        assert_eq!(arch_by_name("aarch64"), Some(0xc000_00b7));
        assert_eq!(arch_by_name("arm64"), Some(0xc000_00b7));
        assert_eq!(arch_by_name("i386"), Some(0x4000_0003));
        assert_eq!(arch_by_name("x86"), Some(0x4000_0003));
        assert_eq!(arch_by_name("arm"), Some(0x4000_0028));
        assert_eq!(arch_by_name("riscv64"), Some(0xc000_00f3));
        assert_eq!(arch_by_name("ppc64le"), Some(0xc000_0015));
        assert_eq!(arch_by_name("s390x"), Some(0x8000_0016));
        assert_eq!(arch_by_name("0xc000003e"), Some(AUDIT_ARCH_X86_64));
        assert_eq!(arch_by_name("3221225534"), Some(AUDIT_ARCH_X86_64));
        assert_eq!(arch_by_name("vax"), None);
        assert_eq!(arch_name(AUDIT_ARCH_AARCH64), Some("aarch64"));
    }

    #[test]
    fn syscall_tables() {
        let x = AUDIT_ARCH_X86_64;
        let a = AUDIT_ARCH_AARCH64;
        for (name, nx, na) in [
            ("read", 0, 63),
            ("write", 1, 64),
            ("openat", 257, 56),
            ("exit_group", 231, 94),
            ("getpid", 39, 172),
            ("mmap", 9, 222),
            ("fcntl", 72, 25),
            ("clone3", 435, 435),
        ] {
            assert_eq!(syscall_number(x, name), Some(nx), "{name}");
            assert_eq!(syscall_number(a, name), Some(na), "{name}");
        }
        assert_eq!(syscall_number(x, "open"), Some(2));
        assert_eq!(syscall_number(a, "open"), None, "aarch64 has only openat");
        assert_eq!(syscall_name(x, 60), Some("exit"));
        assert_eq!(syscall_name(a, 93), Some("exit"));
        assert_eq!(syscall_number(0x4000_0003, "read"), None);
        // Every name maps back to its number.
        for (arch, t) in [(x, X86_64), (a, AARCH64)] {
            assert!(t.len() > 300);
            for (name, nr) in t {
                assert_eq!(syscall_number(arch, name), Some(*nr));
            }
        }
    }
}
