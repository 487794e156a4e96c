//! Tracepoint records from their `format` file: the kernel describes every tracepoint's
//! record in tracefs (`/sys/kernel/tracing/events/CATEGORY/NAME/format`), one line per
//! field:
//!
//! ```text
//! name: sys_enter_openat
//! ID: 782
//! format:
//!     field:unsigned short common_type;    offset:0;    size:2;    signed:0;
//!     ...
//!     field:int dfd;    offset:16;    size:8;    signed:0;
//!     field:__data_loc char[] filename;    offset:8;    size:4;    signed:0;
//! print fmt: "..."
//! ```
//!
//! [`TracepointFormat::parse`] reads it (a malformed line is an error naming its line
//! number) and [`TracepointFormat::record`] lays out a record from named values as the
//! kernel's `TRACE_EVENT` code does: scalars little-endian at their offsets, `char`
//! arrays as NUL-padded text, array elements by index (`args[1]=5`), and `__data_loc`
//! fields pointing (`len << 16 | offset`) at their text, appended after the fixed part
//! with its NUL as `__assign_str` copies it. The `common_*` header defaults to what the
//! kernel writes for a task with interrupts and preemption enabled: `common_type` = the
//! event's ID, the others 0 (no task is modelled, so `common_pid` is 0 unless given).

use std::fmt;

/// One `field:` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The C type as written, without the array suffix (`const char *`, `char`,
    /// `__data_loc char[]` keeps its `[]`).
    pub ty: String,
    /// The field's name.
    pub name: String,
    /// Offset in the record.
    pub offset: usize,
    /// Bytes (all elements of an array).
    pub size: usize,
    /// Whether the kernel marks it signed.
    pub signed: bool,
    /// Elements, for a fixed array (`char prev_comm[16]`); `Some(0)` for a flexible
    /// array (`unsigned long args[]`, size 0), whose elements no record here holds.
    pub array_len: Option<usize>,
    /// A `__data_loc` field: a u32 `len << 16 | offset` of data after the fixed part
    /// (`__rel_loc` too, whose offset counts from the end of the field).
    pub data_loc: bool,
}

impl Field {
    /// Bytes of one element (the whole field when it is not an array).
    pub fn element_size(&self) -> usize {
        match self.array_len {
            Some(n) if n > 0 => self.size / n,
            _ => self.size,
        }
    }

    /// Whether values are text: a `char` array or a `__data_loc` string.
    pub fn is_text(&self) -> bool {
        self.data_loc || (self.array_len.is_some() && self.ty.trim_end().ends_with("char"))
    }
}

/// A parsed `format` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointFormat {
    /// The event's name (`name:` line).
    pub name: String,
    /// The event's ID (`ID:` line): the value of `common_type`.
    pub id: Option<u32>,
    /// Every field, the `common_*` header first, in file order.
    pub fields: Vec<Field>,
}

/// A malformed format file or a record that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A line of the file cannot be understood.
    #[error("format line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has no `field:` line.
    #[error("format file has no fields")]
    NoFields,
    /// A value given for the record does not fit.
    #[error("field `{field}`: {message}")]
    Value {
        /// The field (as given).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Largest record the kernel's perf buffer holds (`PERF_MAX_TRACE_SIZE`).
pub const MAX_RECORD: usize = 8192;

impl TracepointFormat {
    /// Parses a format file.
    pub fn parse(text: &str) -> Result<TracepointFormat, FormatError> {
        let mut format = TracepointFormat {
            name: String::new(),
            id: None,
            fields: Vec::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let err = |message: String| FormatError::Line {
                line: i + 1,
                message,
            };
            if let Some(name) = line.strip_prefix("name:") {
                format.name = name.trim().to_string();
            } else if let Some(id) = line.strip_prefix("ID:") {
                let id = id.trim();
                format.id = Some(
                    id.parse()
                        .map_err(|_| err(format!("ID `{id}` is not a number")))?,
                );
            } else if line.starts_with("field:") {
                let field = parse_field(line).map_err(err)?;
                if format.fields.iter().any(|f| f.name == field.name) {
                    return Err(err(format!("field `{}` appears twice", field.name)));
                }
                format.fields.push(field);
            } else if line.starts_with("print fmt:") {
                // The rest of the file is the printing format, not layout.
                break;
            } else if !(line.is_empty() || line == "format:") {
                return Err(err(format!("unexpected line `{}`", clip(line))));
            }
        }
        if format.fields.is_empty() {
            return Err(FormatError::NoFields);
        }
        Ok(format)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Bytes of the fixed part: the last field's end, rounded up to the alignment of
    /// the widest scalar (as `sizeof` the kernel's `trace_event_raw_*` struct, which
    /// is where `__data_loc` data starts).
    pub fn size(&self) -> usize {
        let end = self.fields.iter().map(|f| f.offset + f.size).max();
        let align = self
            .fields
            .iter()
            .map(|f| f.element_size().clamp(1, 8))
            .filter(|a| a.is_power_of_two())
            .max()
            .unwrap_or(1);
        end.unwrap_or(0).div_ceil(align) * align
    }

    /// How far into the record a program may read: the end of the event's last field
    /// (in file order, not counting the `common_*` header), as the kernel's
    /// `trace_event_get_offsets` gives it. Attaching a program whose context reads
    /// reach further (its `max_ctx_offset`) fails with `EACCES`
    /// (`perf_event_set_bpf_prog`); the verifier itself allows any read up to
    /// [`MAX_RECORD`], since a tracepoint program is loaded before it is attached. A
    /// `__data_loc` string is past this end: programs reach it through helpers.
    pub fn readable(&self) -> usize {
        let own = self
            .fields
            .iter()
            .rev()
            .find(|f| !f.name.starts_with("common_"));
        own.or(self.fields.last()).map_or(0, |f| f.offset + f.size)
    }

    /// A record with `values` (`(name, value)`: a number, `-1`/`0x10` style, for scalars
    /// and array elements `name[i]`; text for `char` arrays and `__data_loc` strings);
    /// unnamed fields are 0 and `common_type` is the ID unless given.
    pub fn record(&self, values: &[(&str, &str)]) -> Result<Vec<u8>, FormatError> {
        let mut bytes = vec![0u8; self.size()];
        if let (Some(id), Some(f)) = (self.id, self.field("common_type")) {
            put(&mut bytes, f.offset, f.size, id as u64);
        }
        let mut tail: Vec<u8> = Vec::new();
        for &(given, value) in values {
            let bad = |message: String| FormatError::Value {
                field: given.to_string(),
                message,
            };
            let (name, index) = split_index(given).map_err(bad)?;
            let field = self.field(name).ok_or_else(|| {
                bad(format!(
                    "no such field in `{}`; known: {}",
                    self.name,
                    self.fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            })?;
            match index {
                Some(i) => {
                    let n = field.array_len.ok_or_else(|| bad("not an array".into()))?;
                    if i >= n {
                        return Err(bad(format!("index {i} outside its {n} elements")));
                    }
                    let size = field.element_size();
                    let v = number(value, size).map_err(bad)?;
                    put(&mut bytes, field.offset + i * size, size, v);
                }
                None if field.data_loc => {
                    let start = bytes.len() + tail.len();
                    tail.extend(value.as_bytes());
                    tail.push(0);
                    let len = value.len() + 1;
                    if start + len > MAX_RECORD || field.size != 4 {
                        return Err(bad(format!(
                            "the record would exceed {MAX_RECORD} bytes (or the field is not 4 bytes)"
                        )));
                    }
                    let at = if field.ty.starts_with("__rel_loc") {
                        start - (field.offset + 4)
                    } else {
                        start
                    };
                    put(
                        &mut bytes,
                        field.offset,
                        4,
                        ((len as u64) << 16) | at as u64,
                    );
                }
                None if field.is_text() => {
                    if value.len() > field.size {
                        return Err(bad(format!(
                            "`{}` is longer than its {} bytes",
                            clip(value),
                            field.size
                        )));
                    }
                    let at = field.offset;
                    bytes[at..at + field.size].fill(0);
                    bytes[at..at + value.len()].copy_from_slice(value.as_bytes());
                }
                None => {
                    if field.array_len == Some(0) {
                        return Err(bad("a flexible array: its elements are not modelled".into()));
                    }
                    if field.size > 8 || field.array_len.is_some() {
                        return Err(bad(format!(
                            "{} bytes: give its elements as `{name}[i]=v`",
                            field.size
                        )));
                    }
                    let v = number(value, field.size).map_err(bad)?;
                    put(&mut bytes, field.offset, field.size, v);
                }
            }
        }
        bytes.extend(tail);
        Ok(bytes)
    }
}

/// `name[3]` -> (`name`, Some(3)).
fn split_index(given: &str) -> Result<(&str, Option<usize>), String> {
    let given = given.trim();
    let Some(open) = given.find('[') else {
        return Ok((given, None));
    };
    let index = given[open + 1..]
        .strip_suffix(']')
        .and_then(|i| i.trim().parse().ok())
        .ok_or_else(|| "expected `name[index]`".to_string())?;
    Ok((&given[..open], Some(index)))
}

/// Writes the low `size` bytes of `value` little-endian at `at` (in range: checked by
/// the parser, which keeps every field inside [`MAX_RECORD`], and `size()`).
fn put(bytes: &mut [u8], at: usize, size: usize, value: u64) {
    let size = size.min(8);
    bytes[at..at + size].copy_from_slice(&value.to_le_bytes()[..size]);
}

/// A decimal or `0x` hexadecimal number, maybe negative, that fits `size` bytes signed
/// or unsigned.
fn number(text: &str, size: usize) -> Result<u64, String> {
    let t = text.trim();
    let (negative, digits) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse(),
    }
    .map_err(|_| format!("`{}` is not a number", clip(t)))?;
    if size == 0 {
        return Err("a field of 0 bytes holds no value".into());
    }
    let bits = (size.min(8) * 8) as u32;
    let fits = if negative {
        bits == 64 && magnitude <= 1 << 63 || bits < 64 && magnitude <= 1u64 << (bits - 1)
    } else {
        bits == 64 || magnitude >> bits == 0
    };
    if !fits {
        return Err(format!("`{}` does not fit {size} bytes", clip(t)));
    }
    Ok(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// `field:TYPE NAME[N]; offset:O; size:S; signed:0|1;`
fn parse_field(line: &str) -> Result<Field, String> {
    let parts: Vec<&str> = line
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let [decl, offset, size, rest @ ..] = parts.as_slice() else {
        return Err("expected `field:TYPE NAME; offset:N; size:N; signed:N;`".into());
    };
    let decl = decl.strip_prefix("field:").unwrap_or(decl).trim();
    let offset = key_number(offset, "offset")?;
    let size = key_number(size, "size")?;
    let signed = match rest.first() {
        Some(s) => key_number(s, "signed")? != 0,
        None => false,
    };
    if rest.len() > 1 {
        return Err(format!("unexpected `{}`", clip(rest[1])));
    }
    if offset
        .checked_add(size)
        .map_or(true, |end| end > MAX_RECORD)
    {
        return Err(format!(
            "offset {offset} + size {size} is beyond the {MAX_RECORD}-byte record limit"
        ));
    }
    // The name is the last identifier of the declaration, maybe with `[N]` after it.
    let (decl, array_len) = match decl.strip_suffix(']') {
        // A flexible array (`unsigned long args[]`, size 0): no elements of its own.
        Some(d) if d.ends_with('[') => (&d[..d.len() - 1], Some(0)),
        Some(d) => {
            let open = d.rfind('[').ok_or("unbalanced `]`")?;
            let n = d[open + 1..].trim();
            let n: usize = n
                .parse()
                .map_err(|_| format!("array length `{}` is not a number", clip(n)))?;
            if n == 0 || size % n != 0 {
                return Err(format!("{size} bytes do not split into {n} elements"));
            }
            (&d[..open], Some(n))
        }
        None => (decl, None),
    };
    // After the last character that cannot be in a name (maybe not ASCII: step over
    // all of its bytes).
    let split = decl
        .char_indices()
        .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let (ty, name) = (decl[..split].trim(), &decl[split..]);
    if name.is_empty() || ty.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{}` is not `TYPE NAME`", clip(decl)));
    }
    let data_loc = ty.starts_with("__data_loc") || ty.starts_with("__rel_loc");
    if data_loc && size != 4 {
        return Err(format!("__data_loc field `{name}` is {size} bytes, not 4"));
    }
    Ok(Field {
        ty: ty.to_string(),
        name: name.to_string(),
        offset,
        size,
        signed,
        array_len,
        data_loc,
    })
}

/// `key:N`.
fn key_number(part: &str, key: &str) -> Result<usize, String> {
    let value = part
        .strip_prefix(key)
        .and_then(|r| r.trim_start().strip_prefix(':'))
        .ok_or_else(|| format!("expected `{key}:N`, found `{}`", clip(part)))?
        .trim();
    value
        .parse()
        .map_err(|_| format!("{key} `{}` is not a number", clip(value)))
}

/// At most 40 characters of `s`, for messages.
fn clip(s: &str) -> Clipped<'_> {
    Clipped(s)
}

struct Clipped<'a>(&'a str);

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(40) {
            Some((i, _)) => write!(f, "{}...", &self.0[..i]),
            None => f.write_str(self.0),
        }
    }
}
