//! `bpf_trace_printk`'s format: the kernel accepts at most three conversions among
//! `%d %i %u %x %X %c %s %p %px %%` with `l`/`ll` length modifiers (`%s` and `%p`
//! variants read their argument as a pointer); anything else is `-EINVAL`. Without a
//! length modifier the argument is a 32-bit int, as the kernel passes it.

/// Formats `fmt` (up to its NUL) with `args`; `read_str` reads a `%s` argument.
pub(super) fn format(
    fmt: &[u8],
    args: [u64; 3],
    read_str: &dyn Fn(u64) -> Option<Vec<u8>>,
) -> Result<String, ()> {
    let end = fmt.iter().position(|&b| b == 0).unwrap_or(fmt.len());
    let fmt = &fmt[..end];
    let mut out = String::new();
    let mut next = args.into_iter();
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c as char);
            continue;
        }
        if fmt.get(i) == Some(&b'%') {
            out.push('%');
            i += 1;
            continue;
        }
        // Flags, width and precision are passed through to the number formatting only
        // as far as zero padding and width go.
        let mut zero = false;
        let mut width = 0usize;
        while let Some(&b) = fmt.get(i) {
            match b {
                b'0' if width == 0 => zero = true,
                b'0'..=b'9' => width = width * 10 + (b - b'0') as usize,
                b'-' | b'+' | b' ' | b'#' => {}
                _ => break,
            }
            i += 1;
        }
        let mut long = 0;
        while fmt.get(i) == Some(&b'l') {
            long += 1;
            i += 1;
        }
        if long > 2 {
            return Err(());
        }
        let conv = *fmt.get(i).ok_or(())?;
        i += 1;
        let arg = next.next().ok_or(())?;
        let wide = long > 0;
        let text = match conv {
            b'd' | b'i' if wide => (arg as i64).to_string(),
            b'd' | b'i' => (arg as i32).to_string(),
            b'u' if wide => arg.to_string(),
            b'u' => (arg as u32).to_string(),
            b'x' if wide => format!("{arg:x}"),
            b'x' => format!("{:x}", arg as u32),
            b'X' if wide => format!("{arg:X}"),
            b'X' => format!("{:X}", arg as u32),
            b'c' => ((arg as u8) as char).to_string(),
            b's' => String::from_utf8_lossy(&read_str(arg).unwrap_or_default()).into_owned(),
            b'p' => {
                // %p, %px (and the kernel's other %p extensions, printed raw).
                while fmt.get(i).is_some_and(u8::is_ascii_alphanumeric) {
                    i += 1;
                }
                format!("0x{arg:x}")
            }
            _ => return Err(()),
        };
        if text.len() < width {
            let pad = if zero && conv != b's' { '0' } else { ' ' };
            out.extend(std::iter::repeat(pad).take(width - text.len()));
        }
        out.push_str(&text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::format;

    fn f(fmt: &str, args: [u64; 3]) -> Result<String, ()> {
        format(fmt.as_bytes(), args, &|_| Some(b"str".to_vec()))
    }

    #[test]
    fn conversions() {
        assert_eq!(f("a %d b\0junk", [(-5i64) as u64, 0, 0]).unwrap(), "a -5 b");
        assert_eq!(
            f("%u %lu", [u64::MAX, u64::MAX, 0]).unwrap(),
            "4294967295 18446744073709551615"
        );
        assert_eq!(
            f("%x %llx %05d", [255, 1 << 40, 42]).unwrap(),
            "ff 10000000000 00042"
        );
        assert_eq!(f("%s=%c%%", [1, b'z' as u64, 0]).unwrap(), "str=z%");
        assert_eq!(f("%px", [0xab, 0, 0]).unwrap(), "0xab");
        assert!(f("%d %d %d %d", [0; 3]).is_err());
        assert!(f("%q", [0; 3]).is_err());
        assert!(f("%", [0; 3]).is_err());
    }
}
