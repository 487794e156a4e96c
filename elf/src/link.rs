//! Linking one program: its function, the functions it calls or takes the address of
//! (from `.text` or its own section, transitively, each once), and relocations turned
//! into typed `lddw` kinds (`MapIdx`, `MapIdxValue`, `CodeAddr`) and call offsets.
//!
//! Targets follow libbpf's arithmetic: a `call` relocated against symbol S goes to
//! instruction `S.value / 8 + imm + 1` of S's section (a section symbol plus an offset
//! in `imm`, or a function symbol with `imm = -1`); an unrelocated pseudo call stays in
//! its section (`pc + imm + 1`); an `lddw` relocated against code is the function at byte
//! `S.value + imm`.

use std::collections::{HashMap, VecDeque};

use ebpfvm_isa::{decode_slot, encode_into, CallTarget, Features, Imm64, Insn, Program, RawInsn};

use crate::error::ElfError;
use crate::maps::{is_global_data, FoundMaps};
use crate::reader::{ElfFile, Reloc, R_BPF_64_32, R_BPF_64_64};

/// A function: instructions `start..end` of an executable section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Func {
    pub section: usize,
    pub start: usize,
    pub end: usize,
}

/// The executable sections as instruction slots, their functions and relocations.
pub(crate) struct Code<'e, 'a> {
    elf: &'e ElfFile<'a>,
    maps: &'e FoundMaps,
    /// Slots of each executable section (empty for the others).
    slots: Vec<Vec<RawInsn>>,
    /// Function starts of each section, sorted: `(start, end, symbol)`.
    funcs: Vec<Vec<(usize, usize, usize)>>,
    /// Relocations of each executable section by slot.
    relocs: Vec<HashMap<usize, Reloc>>,
}

impl<'e, 'a> Code<'e, 'a> {
    pub fn new(elf: &'e ElfFile<'a>, maps: &'e FoundMaps) -> Result<Code<'e, 'a>, ElfError> {
        let n = elf.sections.len();
        let (mut slots, mut funcs, mut relocs) = (
            vec![Vec::new(); n],
            vec![Vec::new(); n],
            vec![HashMap::new(); n],
        );
        for (i, s) in elf.sections.iter().enumerate() {
            if !s.executable || s.nobits {
                continue;
            }
            if s.data.len() % 8 != 0 {
                return Err(ElfError::malformed(
                    format!("section `{}`", s.name),
                    format!(
                        "{} bytes is not a whole number of 8-byte instructions",
                        s.data.len()
                    ),
                ));
            }
            slots[i] = s
                .data
                .chunks_exact(8)
                .map(|c| RawInsn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            let len = slots[i].len();
            let mut fs: Vec<(usize, u64, usize)> = Vec::new();
            for (si, sym) in elf.symbols.iter().enumerate() {
                if sym.section != Some(i) || !sym.is_function {
                    continue;
                }
                if sym.value % 8 != 0 || sym.value / 8 >= len as u64 {
                    return Err(ElfError::malformed(
                        format!("symbol `{}`", sym.name),
                        format!(
                            "function at byte {:#x} is not an instruction of `{}`",
                            sym.value, s.name
                        ),
                    ));
                }
                fs.push(((sym.value / 8) as usize, sym.size, si));
            }
            fs.sort_by_key(|f| f.0);
            fs.dedup_by_key(|f| f.0);
            for (k, &(start, size, sym)) in fs.iter().enumerate() {
                let next = fs.get(k + 1).map_or(len, |f| f.0);
                let end = if size > 0 && size % 8 == 0 {
                    (start as u64 + size / 8).min(len as u64) as usize
                } else {
                    next
                };
                funcs[i].push((start, end.max(start + 1), sym));
            }
            for r in &elf.relocs[i] {
                if r.offset % 8 != 0 || r.offset / 8 >= len as u64 {
                    return Err(ElfError::Relocation {
                        section: s.name.clone(),
                        offset: r.offset,
                        reason: "not at an instruction of the section".into(),
                    });
                }
                relocs[i].insert((r.offset / 8) as usize, *r);
            }
        }
        Ok(Code {
            elf,
            maps,
            slots,
            funcs,
            relocs,
        })
    }

    /// The programs: `(name, section, function)` for every global function of every
    /// executable section except `.text`; a section without function symbols is one
    /// program named after the section.
    pub fn entry_points(&self) -> Vec<(String, usize, Func)> {
        let mut out = Vec::new();
        for (i, s) in self.elf.sections.iter().enumerate() {
            if self.slots[i].is_empty() || s.name == ".text" || s.name.starts_with(".text.") {
                continue;
            }
            if self.funcs[i].is_empty() {
                let end = self.slots[i].len();
                out.push((
                    s.name.clone(),
                    i,
                    Func {
                        section: i,
                        start: 0,
                        end,
                    },
                ));
                continue;
            }
            for &(start, end, sym) in &self.funcs[i] {
                let sym = &self.elf.symbols[sym];
                if sym.is_global {
                    out.push((
                        sym.name.clone(),
                        i,
                        Func {
                            section: i,
                            start,
                            end,
                        },
                    ));
                }
            }
        }
        out
    }

    /// The function containing slot `at` of `section` (or the code from `at` to the next
    /// function when no symbol covers it).
    fn func_at(&self, section: usize, at: usize) -> Option<Func> {
        let len = self.slots.get(section)?.len();
        if at >= len {
            return None;
        }
        let fs = &self.funcs[section];
        if let Some(&(start, end, _)) = fs.iter().find(|&&(s, e, _)| s <= at && at < e) {
            return Some(Func {
                section,
                start,
                end,
            });
        }
        let end = fs
            .iter()
            .map(|f| f.0)
            .filter(|&s| s > at)
            .min()
            .unwrap_or(len);
        Some(Func {
            section,
            start: at,
            end,
        })
    }

    fn reloc_error(&self, section: usize, slot: usize, reason: impl Into<String>) -> ElfError {
        ElfError::Relocation {
            section: self.elf.sections[section].name.clone(),
            offset: slot as u64 * 8,
            reason: reason.into(),
        }
    }

    /// Links the program whose entry function is `entry` into a validated `Program`.
    pub fn link(&self, name: &str, entry: Func) -> Result<Program, ElfError> {
        let mut out: Vec<RawInsn> = Vec::new();
        let mut placed: HashMap<Func, usize> = HashMap::new();
        let mut queue = VecDeque::new();
        let mut place =
            |f: Func, out: &mut Vec<RawInsn>, queue: &mut VecDeque<(Func, usize)>| -> usize {
                if let Some(&base) = placed.get(&f) {
                    return base;
                }
                let base = out.len();
                out.extend_from_slice(&self.slots[f.section][f.start..f.end]);
                placed.insert(f, base);
                queue.push_back((f, base));
                base
            };
        place(entry, &mut out, &mut queue);
        let features = Features::default();
        while let Some((f, base)) = queue.pop_front() {
            let mut slot = f.start;
            while slot < f.end {
                let pc = base + (slot - f.start);
                let raw = self.slots[f.section][slot];
                let next = self.slots[f.section].get(slot + 1).copied();
                let reloc = self.relocs[f.section].get(&slot);
                // Undecodable slots are left for Program validation to report with a pc.
                let Ok(insn) = decode_slot(raw, next, &features) else {
                    if let Some(r) = reloc {
                        return Err(self.reloc_error(
                            f.section,
                            slot,
                            format!("type {} on an invalid instruction", r.kind),
                        ));
                    }
                    slot += 1;
                    continue;
                };
                let width = insn.slots();
                if slot + width > f.end {
                    // An lddw cut by the function's end: Program validation reports it.
                    break;
                }
                let patched = match (insn, reloc) {
                    (Insn::Call(CallTarget::Local(imm)), r) => {
                        let (section, target) = match r {
                            Some(r) => self.call_target(f.section, slot, r, imm)?,
                            None => (f.section, slot as i64 + imm as i64 + 1),
                        };
                        let to = self.resolve(
                            section, target, f.section, slot, &mut out, &mut queue, &mut place,
                        )?;
                        Some(Insn::Call(CallTarget::Local(rel(to, pc))))
                    }
                    (Insn::Call(_), Some(r)) => {
                        let sym = &self.elf.symbols[r.symbol];
                        if sym.section.is_none() {
                            return Err(self.kfunc(f.section, slot, r));
                        }
                        return Err(self.reloc_error(
                            f.section,
                            slot,
                            "relocation on a helper call",
                        ));
                    }
                    (Insn::LoadImm64 { dst, imm }, Some(r)) => {
                        let lo =
                            match imm {
                                Imm64::Value(v) => v as u32,
                                _ => return Err(self.reloc_error(
                                    f.section,
                                    slot,
                                    "relocation on an lddw that already names a map or function",
                                )),
                            };
                        let imm = match self.lddw_target(f.section, slot, r, lo)? {
                            Target::Code(section, byte) => {
                                if byte % 8 != 0 {
                                    return Err(self.reloc_error(
                                        f.section,
                                        slot,
                                        format!("function address {byte:#x} is not an instruction"),
                                    ));
                                }
                                let to = self.resolve(
                                    section,
                                    byte as i64 / 8,
                                    f.section,
                                    slot,
                                    &mut out,
                                    &mut queue,
                                    &mut place,
                                )?;
                                Imm64::CodeAddr(rel(to, pc))
                            }
                            Target::Map(index) => Imm64::MapIdx(index),
                            Target::Value(index, offset) => Imm64::MapIdxValue { index, offset },
                        };
                        Some(Insn::LoadImm64 { dst, imm })
                    }
                    (_, Some(r)) => {
                        return Err(self.reloc_error(
                            f.section,
                            slot,
                            format!("unexpected relocation type {} on this instruction", r.kind),
                        ))
                    }
                    _ => None,
                };
                if let Some(new) = patched {
                    let mut enc = Vec::with_capacity(2);
                    encode_into(&new, &mut enc);
                    out[pc..pc + enc.len()].copy_from_slice(&enc);
                }
                slot += width;
            }
        }
        Program::from_raw(&out, &features).map_err(|error| ElfError::Program {
            program: name.to_string(),
            error,
        })
    }

    /// The output pc of slot `target` of `section`, placing its function if needed.
    #[expect(
        clippy::too_many_arguments,
        reason = "the linking state is threaded through explicitly"
    )]
    fn resolve(
        &self,
        section: usize,
        target: i64,
        from_section: usize,
        from_slot: usize,
        out: &mut Vec<RawInsn>,
        queue: &mut VecDeque<(Func, usize)>,
        place: &mut impl FnMut(Func, &mut Vec<RawInsn>, &mut VecDeque<(Func, usize)>) -> usize,
    ) -> Result<usize, ElfError> {
        let func = usize::try_from(target)
            .ok()
            .and_then(|t| self.func_at(section, t))
            .ok_or_else(|| {
                self.reloc_error(
                    from_section,
                    from_slot,
                    format!(
                        "target instruction {target} is outside section `{}`",
                        self.elf.sections[section].name
                    ),
                )
            })?;
        let base = place(func, out, queue);
        Ok(base + (target as usize - func.start))
    }

    /// Section and slot a relocated pseudo call goes to.
    fn call_target(
        &self,
        section: usize,
        slot: usize,
        r: &Reloc,
        imm: i32,
    ) -> Result<(usize, i64), ElfError> {
        let sym = &self.elf.symbols[r.symbol];
        if r.kind != R_BPF_64_32 {
            return Err(self.reloc_error(
                section,
                slot,
                format!("call relocated with type {}, expected R_BPF_64_32", r.kind),
            ));
        }
        match sym.section {
            None => Err(self.kfunc(section, slot, r)),
            Some(s) if !self.slots[s].is_empty() => {
                Ok((s, (sym.value / 8) as i64 + imm as i64 + 1))
            }
            Some(s) => Err(self.reloc_error(
                section,
                slot,
                format!(
                    "call to `{}` in non-code section `{}`",
                    self.elf.symbol_name(r.symbol),
                    self.elf.sections[s].name
                ),
            )),
        }
    }

    fn kfunc(&self, section: usize, slot: usize, r: &Reloc) -> ElfError {
        ElfError::Kfunc {
            name: self.elf.symbol_name(r.symbol),
            section: self.elf.sections[section].name.clone(),
            offset: slot as u64 * 8,
        }
    }

    /// What a relocated `lddw` refers to; `lo` is its first slot's immediate (an offset
    /// for section symbols).
    fn lddw_target(
        &self,
        section: usize,
        slot: usize,
        r: &Reloc,
        lo: u32,
    ) -> Result<Target, ElfError> {
        if r.kind != R_BPF_64_64 {
            return Err(self.reloc_error(
                section,
                slot,
                format!("lddw relocated with type {}, expected R_BPF_64_64", r.kind),
            ));
        }
        let sym = &self.elf.symbols[r.symbol];
        let Some(s) = sym.section else {
            return Err(ElfError::Extern {
                name: self.elf.symbol_name(r.symbol),
                section: self.elf.sections[section].name.clone(),
                offset: slot as u64 * 8,
            });
        };
        let offset = sym.value.wrapping_add(lo as u64);
        if !self.slots[s].is_empty() {
            return Ok(Target::Code(s, offset));
        }
        let sec_name = &self.elf.sections[s].name;
        let index_of = |want: u64| {
            self.maps
                .places
                .iter()
                .position(|&(ms, off)| ms == s && off == want)
        };
        if sec_name == "maps" || sec_name == ".maps" {
            let index = index_of(offset).ok_or_else(|| {
                self.reloc_error(
                    section,
                    slot,
                    format!("no map starts at byte {offset:#x} of `{sec_name}`"),
                )
            })?;
            return Ok(Target::Map(index as u32));
        }
        if is_global_data(sec_name) {
            let index = index_of(0)
                .ok_or_else(|| self.reloc_error(section, slot, format!("`{sec_name}` is empty")))?;
            let offset = u32::try_from(offset)
                .ok()
                .filter(|&o| (o as u64) < self.elf.sections[s].size)
                .ok_or_else(|| {
                    self.reloc_error(
                        section,
                        slot,
                        format!("offset {offset:#x} is outside `{sec_name}`"),
                    )
                })?;
            return Ok(Target::Value(index as u32, offset));
        }
        Err(self.reloc_error(
            section,
            slot,
            format!("reference to `{}` in section `{sec_name}`, which is neither code, a map nor global data", self.elf.symbol_name(r.symbol)),
        ))
    }
}

enum Target {
    Code(usize, u64),
    Map(u32),
    Value(u32, u32),
}

/// The offset from the slot after `from` to `to`.
fn rel(to: usize, from: usize) -> i32 {
    (to as i64 - from as i64 - 1) as i32
}
