//! The smallest BTF the kernel accepts for a program's functions.
//!
//! The kernel wants `func_info` (one record per function: its first instruction and a
//! BTF `FUNC` type) before it lets a program take the address of a function, as
//! `bpf_loop` and the other callback helpers need (`lddw` kind 4, "missing btf
//! func_info" otherwise). Rather than load the object's own BTF, which needs libbpf's
//! fix-ups of section sizes and variable offsets, we describe each function as
//! `int f(void)`: the verifier checks static functions' arguments from the registers, not
//! from BTF, and callbacks must be static. The entry function is global, as clang
//! makes it.
//!
//! The kernel's functions are the entry and every target of a local call or a function
//! address, which is how [`functions`] finds them.

use ebpfvm_isa::Program;

const MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const INT_SIGNED: u32 = 1 << 24;
const LINKAGE_STATIC: u32 = 0;
const LINKAGE_GLOBAL: u32 = 1;

/// The first pc of every function of `program`, sorted (the entry, 0, first).
pub(crate) fn functions(program: &Program) -> Vec<u32> {
    let mut starts: Vec<u32> = program
        .insns()
        .iter()
        .enumerate()
        .filter(|(_, insn)| {
            matches!(
                insn,
                ebpfvm_isa::Insn::Call(ebpfvm_isa::CallTarget::Local(_))
                    | ebpfvm_isa::Insn::LoadImm64 {
                        imm: ebpfvm_isa::Imm64::CodeAddr(_),
                        ..
                    }
            )
        })
        .filter_map(|(pc, insn)| insn.branch_target(pc))
        .filter_map(|t| u32::try_from(t).ok())
        .chain([0])
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// BTF describing `functions` as `int f(void)` (the first global, the rest static), and
/// the `func_info` records `(insn_off, type_id)` that name them.
pub(crate) fn for_functions(functions: &[u32]) -> (Vec<u8>, Vec<[u32; 2]>) {
    let mut strings = b"\0int\0".to_vec();
    let mut types: Vec<u32> = vec![
        // [1] int: name, info, size, encoding.
        1,
        KIND_INT << 24,
        4,
        INT_SIGNED | 32,
        // [2] int (void): no name, no parameters, returns [1].
        0,
        KIND_FUNC_PROTO << 24,
        1,
    ];
    let mut records = Vec::with_capacity(functions.len());
    for (i, &start) in functions.iter().enumerate() {
        let name_off = strings.len() as u32;
        strings.extend_from_slice(format!("f{start}\0").as_bytes());
        let linkage = if i == 0 {
            LINKAGE_GLOBAL
        } else {
            LINKAGE_STATIC
        };
        types.extend_from_slice(&[name_off, KIND_FUNC << 24 | linkage, 2]);
        records.push([start, 3 + i as u32]);
    }
    let type_len = (types.len() * 4) as u32;
    let mut blob = Vec::new();
    blob.extend_from_slice(&MAGIC.to_ne_bytes());
    blob.extend_from_slice(&[1, 0]); // version, flags
    for v in [24, 0, type_len, type_len, strings.len() as u32] {
        blob.extend_from_slice(&v.to_ne_bytes()); // hdr_len, type_off/len, str_off/len
    }
    for t in types {
        blob.extend_from_slice(&t.to_ne_bytes());
    }
    blob.extend_from_slice(&strings);
    (blob, records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_the_entry_and_every_call_or_address_target() {
        let program = ebpfvm_isa::assemble(
            "call local f
             lddw %r2, code_addr g
             exit
             f:
             mov %r0, 1
             exit
             g:
             mov %r0, 2
             exit",
        )
        .unwrap();
        assert_eq!(functions(&program), [0, 4, 6]);
        let straight = ebpfvm_isa::assemble("mov %r0, 0\nexit").unwrap();
        assert_eq!(functions(&straight), [0]);
    }

    #[test]
    fn the_blob_has_a_header_types_and_strings() {
        let (blob, records) = for_functions(&[0, 4]);
        assert_eq!(records, [[0, 3], [4, 4]]);
        let word = |i: usize| u32::from_ne_bytes(blob[i..i + 4].try_into().unwrap());
        assert_eq!(u16::from_ne_bytes([blob[0], blob[1]]), MAGIC);
        let (hdr, type_len, str_off, str_len) = (word(4), word(12), word(16), word(20));
        assert_eq!(hdr, 24);
        // int (4 words), proto (3), two funcs (3 each).
        assert_eq!(type_len, 4 * (4 + 3 + 3 + 3));
        assert_eq!(str_off, type_len);
        assert_eq!(blob.len() as u32, hdr + type_len + str_len);
        assert!(blob.ends_with(b"\0int\0f0\0f4\0"));
    }
}
