//! Just enough BTF (the kernel's `btf.rst`, uapi `linux/btf.h`) to read BTF-defined
//! maps: the type table of `.BTF`, type sizes, struct members, and the `.maps` data
//! section's variables; plus the `.BTF.ext` header, to find CO-RE relocation records.
//!
//! Every read is bounds-checked and errors carry the byte offset in the section; type
//! chains are followed a bounded number of steps, so cycles cannot hang the parser.

use crate::error::ElfError;

const MAGIC: u16 = 0xeb9f;
/// How many modifier/typedef links are followed before a chain counts as a cycle.
const MAX_CHAIN: usize = 32;

/// The kinds of BTF type (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

/// A struct or union member.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub name: String,
    pub type_id: u32,
    /// Bit offset from the start of the struct.
    pub bit_offset: u32,
}

/// One entry of a data section (`DATASEC`): a variable's type id.
#[derive(Clone, Debug)]
pub(crate) struct SecVar {
    pub type_id: u32,
}

/// One BTF type.
#[derive(Clone, Debug)]
pub(crate) struct Type {
    pub kind: Kind,
    pub name: String,
    /// `size` for sized kinds, the referenced type for the others.
    pub size_or_type: u32,
    /// ARRAY: element type and count.
    pub array: Option<(u32, u32)>,
    /// STRUCT/UNION members.
    pub members: Vec<Member>,
    /// DATASEC entries.
    pub vars: Vec<SecVar>,
    /// Where the type starts in `.BTF`, for errors.
    pub offset: usize,
}

/// The type table of a `.BTF` section. Type id `n` is `types[n - 1]`; id 0 is void.
#[derive(Debug)]
pub(crate) struct Btf {
    types: Vec<Type>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    base: usize,
}

impl Reader<'_> {
    fn u32(&self, at: usize) -> Result<u32, ElfError> {
        let end = at.checked_add(4);
        match end.and_then(|end| self.bytes.get(at..end)) {
            Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            None => Err(btf_error(self.base + at, "truncated")),
        }
    }
}

fn btf_error(offset: usize, reason: impl Into<String>) -> ElfError {
    ElfError::Btf {
        offset,
        reason: reason.into(),
    }
}

/// The header fields shared by `.BTF` and `.BTF.ext`: checks the magic, little-endian
/// order and version, and returns the header length.
fn header(bytes: &[u8], what: &str) -> Result<usize, ElfError> {
    if bytes.len() < 8 {
        return Err(btf_error(0, format!("{what} header is truncated")));
    }
    let magic = u16::from_le_bytes([bytes[0], bytes[1]]);
    if magic == MAGIC.swap_bytes() {
        return Err(ElfError::BigEndian);
    }
    if magic != MAGIC {
        return Err(btf_error(0, format!("bad {what} magic {magic:#06x}")));
    }
    if bytes[2] != 1 {
        return Err(btf_error(
            2,
            format!("unsupported {what} version {}", bytes[2]),
        ));
    }
    let hdr_len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    if hdr_len > bytes.len() {
        return Err(btf_error(
            4,
            format!("{what} header length {hdr_len} exceeds the section"),
        ));
    }
    Ok(hdr_len)
}

/// The `[off, off + len)` part after the header, checked against the section.
fn subrange(
    bytes: &[u8],
    hdr_len: usize,
    off: u32,
    len: u32,
    what: &str,
) -> Result<(usize, usize), ElfError> {
    let start = hdr_len.checked_add(off as usize);
    let end = start.and_then(|s| s.checked_add(len as usize));
    match (start, end) {
        (Some(s), Some(e)) if e <= bytes.len() => Ok((s, e)),
        _ => Err(btf_error(
            hdr_len,
            format!("{what} ({off}+{len}) lies outside the section"),
        )),
    }
}

impl Btf {
    /// Parses a `.BTF` section.
    pub fn parse(bytes: &[u8]) -> Result<Btf, ElfError> {
        let hdr_len = header(bytes, "BTF")?;
        if hdr_len < 24 {
            return Err(btf_error(
                4,
                format!("BTF header length {hdr_len} is below 24"),
            ));
        }
        let r = Reader { bytes, base: 0 };
        let (type_off, type_len) = (r.u32(8)?, r.u32(12)?);
        let (str_off, str_len) = (r.u32(16)?, r.u32(20)?);
        let (ts, te) = subrange(bytes, hdr_len, type_off, type_len, "type section")?;
        let (ss, se) = subrange(bytes, hdr_len, str_off, str_len, "string section")?;
        let strings = &bytes[ss..se];
        let name = |off: u32, at: usize| -> Result<String, ElfError> {
            let tail = strings.get(off as usize..).ok_or_else(|| {
                btf_error(at, format!("name offset {off} outside the string section"))
            })?;
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
        };
        let r = Reader {
            bytes: &bytes[ts..te],
            base: ts,
        };
        let mut types = Vec::new();
        let mut at = 0usize;
        while at < te - ts {
            let offset = ts + at;
            let (name_off, info, size_or_type) = (r.u32(at)?, r.u32(at + 4)?, r.u32(at + 8)?);
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind_flag = info >> 31 != 0;
            let kind = match (info >> 24) & 0x1f {
                1 => Kind::Int,
                2 => Kind::Ptr,
                3 => Kind::Array,
                4 => Kind::Struct,
                5 => Kind::Union,
                6 => Kind::Enum,
                7 => Kind::Fwd,
                8 => Kind::Typedef,
                9 => Kind::Volatile,
                10 => Kind::Const,
                11 => Kind::Restrict,
                12 => Kind::Func,
                13 => Kind::FuncProto,
                14 => Kind::Var,
                15 => Kind::Datasec,
                16 => Kind::Float,
                17 => Kind::DeclTag,
                18 => Kind::TypeTag,
                19 => Kind::Enum64,
                k => return Err(btf_error(offset, format!("unknown BTF kind {k}"))),
            };
            let mut ty = Type {
                kind,
                name: name(name_off, offset)?,
                size_or_type,
                array: None,
                members: Vec::new(),
                vars: Vec::new(),
                offset,
            };
            match kind {
                Kind::Int | Kind::Var | Kind::DeclTag => at += 4,
                Kind::Array => {
                    ty.array = Some((r.u32(at)?, r.u32(at + 8)?));
                    at += 12;
                }
                Kind::Struct | Kind::Union => {
                    for i in 0..vlen {
                        let m = at + i * 12;
                        let raw_offset = r.u32(m + 8)?;
                        ty.members.push(Member {
                            name: name(r.u32(m)?, ts + m)?,
                            type_id: r.u32(m + 4)?,
                            bit_offset: if kind_flag {
                                raw_offset & 0xff_ffff
                            } else {
                                raw_offset
                            },
                        });
                    }
                    at += vlen * 12;
                }
                Kind::Enum | Kind::FuncProto => at += vlen * 8,
                Kind::Enum64 => at += vlen * 12,
                Kind::Datasec => {
                    for i in 0..vlen {
                        ty.vars.push(SecVar {
                            type_id: r.u32(at + i * 12)?,
                        });
                    }
                    at += vlen * 12;
                }
                _ => {}
            }
            if at > te - ts {
                return Err(btf_error(
                    offset,
                    format!("{kind:?} type runs past the type section"),
                ));
            }
            types.push(ty);
        }
        Ok(Btf { types })
    }

    /// The type with id `id` (`None` for void and out-of-range ids).
    pub fn get(&self, id: u32) -> Option<&Type> {
        self.types.get((id as usize).checked_sub(1)?)
    }

    fn get_or_err(&self, id: u32, at: usize) -> Result<&Type, ElfError> {
        self.get(id)
            .ok_or_else(|| btf_error(at, format!("reference to missing type id {id}")))
    }

    /// Follows typedefs, modifiers and type tags to the underlying type.
    pub fn resolve(&self, id: u32) -> Result<(u32, &Type), ElfError> {
        let mut id = id;
        for _ in 0..MAX_CHAIN {
            let ty = self.get_or_err(id, 0)?;
            match ty.kind {
                Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                    id = ty.size_or_type;
                }
                _ => return Ok((id, ty)),
            }
        }
        Err(btf_error(
            0,
            format!("type chain from id {id} is too long (a cycle?)"),
        ))
    }

    /// The size in bytes of type `id`.
    pub fn size_of(&self, id: u32) -> Result<u64, ElfError> {
        self.size_at_depth(id, 0)
    }

    fn size_at_depth(&self, id: u32, depth: usize) -> Result<u64, ElfError> {
        if depth > MAX_CHAIN {
            return Err(btf_error(
                0,
                format!("type {id} nests too deeply (a cycle?)"),
            ));
        }
        let (_, ty) = self.resolve(id)?;
        Ok(match ty.kind {
            Kind::Int
            | Kind::Struct
            | Kind::Union
            | Kind::Enum
            | Kind::Enum64
            | Kind::Float
            | Kind::Datasec => ty.size_or_type as u64,
            Kind::Ptr => 8,
            Kind::Array => {
                let (elem, n) = ty.array.unwrap_or((0, 0));
                self.size_at_depth(elem, depth + 1)?
                    .saturating_mul(n as u64)
            }
            Kind::Var => self.size_at_depth(ty.size_or_type, depth + 1)?,
            k => return Err(btf_error(ty.offset, format!("a {k:?} has no size"))),
        })
    }

    /// The `DATASEC` named `name`, if the object has one.
    pub fn datasec(&self, name: &str) -> Option<&Type> {
        self.types
            .iter()
            .find(|t| t.kind == Kind::Datasec && t.name == name)
    }
}

/// The CO-RE relocation records of a `.BTF.ext` section: `(section name offset, count)`
/// per program section that has any. `btf` gives the names.
pub(crate) fn core_relocations(
    ext: &[u8],
    btf_strings: &dyn Fn(u32) -> String,
) -> Result<Vec<(String, u32)>, ElfError> {
    let hdr_len = header(ext, "BTF.ext")?;
    // The CO-RE fields (core_relo_off, core_relo_len) follow the 24-byte base header.
    if hdr_len < 32 {
        return Ok(Vec::new());
    }
    let r = Reader {
        bytes: ext,
        base: 0,
    };
    let (off, len) = (r.u32(24)?, r.u32(28)?);
    if len == 0 {
        return Ok(Vec::new());
    }
    let (start, end) = subrange(ext, hdr_len, off, len, "core relocation section")?;
    let r = Reader {
        bytes: &ext[start..end],
        base: start,
    };
    let record_size = r.u32(0)? as usize;
    if record_size == 0 {
        return Err(btf_error(start, "core relocation record size is 0"));
    }
    let mut found = Vec::new();
    let mut at = 4usize;
    while at < end - start {
        let (name_off, count) = (r.u32(at)?, r.u32(at + 4)?);
        if count > 0 {
            found.push((btf_strings(name_off), count));
        }
        at = (count as usize)
            .checked_mul(record_size)
            .and_then(|n| n.checked_add(at + 8))
            .ok_or_else(|| btf_error(start + at, "core relocation records overflow"))?;
    }
    Ok(found)
}

impl Btf {
    /// The string at `off` in the string section, as the `.BTF.ext` records name
    /// sections. Re-reads the header: only used on the error path.
    pub fn string_at(bytes: &[u8], off: u32) -> String {
        let get = || -> Option<String> {
            let hdr_len = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
            let str_off = u32::from_le_bytes(bytes.get(16..20)?.try_into().ok()?) as usize;
            let str_len = u32::from_le_bytes(bytes.get(20..24)?.try_into().ok()?) as usize;
            let start = hdr_len.checked_add(str_off)?;
            let strings = bytes.get(start..start.checked_add(str_len)?)?;
            let tail = strings.get(off as usize..)?;
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            Some(String::from_utf8_lossy(&tail[..end]).into_owned())
        };
        get().unwrap_or_else(|| format!("<string {off}>"))
    }
}
