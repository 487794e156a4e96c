//! `lirc_mode2` programs: infrared decoders run by the kernel's remote-control core
//! (drivers/media/rc/bpf-lirc.c) once per raw IR sample. r1 points to the sample, one
//! `u32` (`lirc_mode2_is_valid_access`: a 4-byte read at offset 0, nothing else, no
//! writes); its top byte says what it is (`LIRC_MODE2_PULSE`, `_SPACE`, ... from
//! uapi `linux/lirc.h`), the low 24 bits its value (microseconds, or Hz for a
//! frequency). The program reports what it decoded through `bpf_rc_keydown`,
//! `bpf_rc_repeat` and `bpf_rc_pointer_rel`; the context is its own backing model.
//! The kernel here is built without `CONFIG_BPF_LIRC_MODE2` (no `CONFIG_RC_CORE`), so
//! none of this is compared with it.

use crate::access::{AccessError, AccessKind, Conversion};

/// Bytes of the context: one `u32` sample.
pub const SIZE: usize = 4;

/// `lirc_mode2_is_valid_access`: only `*(u32 *)ctx`, read.
pub fn check(off: i64, size: u32, kind: AccessKind) -> Result<Conversion, AccessError> {
    if off == 0 && size == 4 && matches!(kind, AccessKind::Read { .. }) {
        Ok(Conversion::Plain)
    } else {
        Err(AccessError::Invalid { off, size })
    }
}

/// The sample kinds of uapi `linux/lirc.h` (`LIRC_MODE2_*`, the top byte).
const KINDS: &[(&str, u32)] = &[
    ("space", 0x0000_0000),
    ("pulse", 0x0100_0000),
    ("frequency", 0x0200_0000),
    ("timeout", 0x0300_0000),
    ("overflow", 0x0400_0000),
];

/// `LIRC_VALUE_MASK`: the value bits of a sample.
pub const VALUE_MASK: u32 = 0x00ff_ffff;

/// A sample that cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("sample `{given}`: {message}")]
pub struct SampleError {
    /// The text given.
    pub given: String,
    /// What is wrong.
    pub message: String,
}

/// A sample from `pulse:560` (kind and value, the value at most 24 bits) or a raw
/// 32-bit number (`0x01000230`).
pub fn sample(text: &str) -> Result<u32, SampleError> {
    let given = text.trim();
    let err = |message: String| SampleError {
        given: given.to_string(),
        message,
    };
    let (kind, value) = match given.split_once(':') {
        Some((kind, value)) => {
            let bits = KINDS
                .iter()
                .find(|(name, _)| *name == kind.trim())
                .map(|&(_, bits)| bits)
                .ok_or_else(|| {
                    let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
                    err(format!("unknown kind; known: {}", names.join(" ")))
                })?;
            (Some(bits), value.trim())
        }
        None => (None, given),
    };
    let number = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => value.parse(),
    }
    .map_err(|_| err("not a 32-bit number".into()))?;
    match kind {
        Some(_) if number > VALUE_MASK => {
            Err(err(format!("{number} does not fit the 24 value bits")))
        }
        Some(bits) => Ok(bits | number),
        None => Ok(number),
    }
}
