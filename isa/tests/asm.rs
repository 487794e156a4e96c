//! Assembler and disassembler unit tests, as tables.
//!
//! Expected encodings are written by hand from RFC 9669 (opcode, dst, src, off, imm),
//! not produced by the encoder, so they check the assembler and the encoder together.

use ebpfvm_isa::{assemble, assemble_raw, disassemble, disassemble_llvm, Insn, RawInsn};

fn raw(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn {
        opcode,
        dst,
        src,
        off,
        imm,
    }
}

/// `text` assembles (without program validation) to exactly `slots`.
fn check_encoding(text: &str, slots: &[RawInsn]) {
    let got = assemble_raw(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
    assert_eq!(got, slots, "`{text}`");
}

/// `llvm` and `conformance` are the same instructions.
fn check_same(llvm: &str, conformance: &str) {
    let a = assemble_raw(llvm).unwrap_or_else(|e| panic!("`{llvm}`: {e}"));
    let b = assemble_raw(conformance).unwrap_or_else(|e| panic!("`{conformance}`: {e}"));
    assert_eq!(a, b, "`{llvm}` vs `{conformance}`");
}

/// `text` is refused on `line` with a message containing `message`.
fn check_error(text: &str, line: usize, message: &str) {
    match assemble(text) {
        Ok(p) => panic!("`{text}` assembled to {p:?}"),
        Err(e) => assert!(
            e.line == line && e.message.contains(message),
            "`{text}`: got `{e}`, want line {line}: ...{message}..."
        ),
    }
}

/// `text` assembles to a program whose disassembly is `listing`, and `listing`
/// (pcs stripped) assembles back to the same program.
fn check_disasm(text: &str, listing: &str) {
    let program = assemble(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
    assert_eq!(disassemble(&program), listing, "`{text}`");
    assert_eq!(assemble(&strip_pcs(listing)).as_ref(), Ok(&program));
}

/// Like [`check_disasm`] for the LLVM dialect.
fn check_disasm_llvm(text: &str, listing: &str) {
    let program = assemble(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
    assert_eq!(disassemble_llvm(&program), listing, "`{text}`");
    assert_eq!(assemble(&strip_pcs(listing)).as_ref(), Ok(&program));
}

fn strip_pcs(listing: &str) -> String {
    listing
        .lines()
        .map(|l| l.split_once(": ").map_or(l, |(_, text)| text))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn alu_encodings() {
    let cases: &[(&str, RawInsn)] = &[
        ("add %r1, 2", raw(0x07, 1, 0, 0, 2)),
        ("add64 %r1, 2", raw(0x07, 1, 0, 0, 2)),
        ("add32 %r1, %r2", raw(0x0c, 1, 2, 0, 0)),
        ("sub %r1, -1", raw(0x17, 1, 0, 0, -1)),
        ("sub32 %r9, %r10", raw(0x1c, 9, 10, 0, 0)),
        ("mul32 %r1, 3", raw(0x24, 1, 0, 0, 3)),
        ("div %r1, %r2", raw(0x3f, 1, 2, 0, 0)),
        ("sdiv %r1, 3", raw(0x37, 1, 0, 1, 3)),
        ("sdiv32 %r1, %r2", raw(0x3c, 1, 2, 1, 0)),
        ("or %r0, 0xffffffff", raw(0x47, 0, 0, 0, -1)),
        ("and32 %r0, 0x80000000", raw(0x54, 0, 0, 0, i32::MIN)),
        ("lsh %r0, 63", raw(0x67, 0, 0, 0, 63)),
        ("rsh32 %r0, %r1", raw(0x7c, 0, 1, 0, 0)),
        ("neg %r3", raw(0x87, 3, 0, 0, 0)),
        ("neg32 %r3", raw(0x84, 3, 0, 0, 0)),
        ("mod %r1, 7", raw(0x97, 1, 0, 0, 7)),
        ("smod32 %r1, %r2", raw(0x9c, 1, 2, 1, 0)),
        ("smod %r1, -7", raw(0x97, 1, 0, 1, -7)),
        ("xor %r1, %r2", raw(0xaf, 1, 2, 0, 0)),
        ("mov %r0, -0x10", raw(0xb7, 0, 0, 0, -16)),
        ("mov %r0, -2147483648", raw(0xb7, 0, 0, 0, i32::MIN)),
        ("mov32 %r0, %r1", raw(0xbc, 0, 1, 0, 0)),
        ("movsx832 %r0, %r1", raw(0xbc, 0, 1, 8, 0)),
        ("movsx1632 %r0, %r1", raw(0xbc, 0, 1, 16, 0)),
        ("movsx864 %r0, %r1", raw(0xbf, 0, 1, 8, 0)),
        ("movsx1664 %r0, %r1", raw(0xbf, 0, 1, 16, 0)),
        ("movsx3264 %r0, %r1", raw(0xbf, 0, 1, 32, 0)),
        ("arsh %r1, 3", raw(0xc7, 1, 0, 0, 3)),
        ("arsh32 %r1, %r2", raw(0xcc, 1, 2, 0, 0)),
        ("le16 %r1", raw(0xd4, 1, 0, 0, 16)),
        ("le32 %r1", raw(0xd4, 1, 0, 0, 32)),
        ("le64 %r1", raw(0xd4, 1, 0, 0, 64)),
        ("be16 %r1", raw(0xdc, 1, 0, 0, 16)),
        ("be32 %r1", raw(0xdc, 1, 0, 0, 32)),
        ("be64 %r1", raw(0xdc, 1, 0, 0, 64)),
        ("swap16 %r1", raw(0xd7, 1, 0, 0, 16)),
        ("bswap32 %r1", raw(0xd7, 1, 0, 0, 32)),
        ("bswap64 %r1", raw(0xd7, 1, 0, 0, 64)),
        ("mov r1, r2", raw(0xbf, 1, 2, 0, 0)),
        (
            "  MOV   %r1 %r2  # spaces instead of a comma",
            raw(0xbf, 1, 2, 0, 0),
        ),
    ];
    for (text, slot) in cases {
        check_encoding(text, &[*slot]);
    }
}

#[test]
fn memory_encodings() {
    let cases: &[(&str, RawInsn)] = &[
        ("ldxb %r0, [%r1+2]", raw(0x71, 0, 1, 2, 0)),
        ("ldxh %r0, [%r1-2]", raw(0x69, 0, 1, -2, 0)),
        ("ldxw %r0, [%r1]", raw(0x61, 0, 1, 0, 0)),
        ("ldxdw %r0, [%r10-8]", raw(0x79, 0, 10, -8, 0)),
        ("ldxdw %r0, [%r1+0x10]", raw(0x79, 0, 1, 16, 0)),
        ("ldxdw %r0, [%r1 - 32768]", raw(0x79, 0, 1, i16::MIN, 0)),
        ("ldxsb %r0, [%r1+1]", raw(0x91, 0, 1, 1, 0)),
        ("ldxsh %r0, [%r1+1]", raw(0x89, 0, 1, 1, 0)),
        ("ldxsw %r0, [%r1+1]", raw(0x81, 0, 1, 1, 0)),
        ("stb [%r1+2], 0x11", raw(0x72, 1, 0, 2, 0x11)),
        ("sth [%r1], 5", raw(0x6a, 1, 0, 0, 5)),
        ("stw [%r1], 5", raw(0x62, 1, 0, 0, 5)),
        ("stdw [%r10-8], -1", raw(0x7a, 10, 0, -8, -1)),
        ("stxb [%r1+2], %r3", raw(0x73, 1, 3, 2, 0)),
        ("stxh [%r1+2], %r3", raw(0x6b, 1, 3, 2, 0)),
        ("stxw [%r1+2], %r3", raw(0x63, 1, 3, 2, 0)),
        ("stxdw [%r1+2], %r3", raw(0x7b, 1, 3, 2, 0)),
        ("lock add [%r10-8], %r1", raw(0xdb, 10, 1, -8, 0x00)),
        ("lock add32 [%r10-8], %r1", raw(0xc3, 10, 1, -8, 0x00)),
        ("lock or [%r1], %r2", raw(0xdb, 1, 2, 0, 0x40)),
        ("lock and32 [%r1], %r2", raw(0xc3, 1, 2, 0, 0x50)),
        ("lock xor [%r1], %r2", raw(0xdb, 1, 2, 0, 0xa0)),
        ("lock fetch add [%r1], %r2", raw(0xdb, 1, 2, 0, 0x01)),
        ("lock fetch or32 [%r1], %r2", raw(0xc3, 1, 2, 0, 0x41)),
        ("lock fetch and [%r1], %r2", raw(0xdb, 1, 2, 0, 0x51)),
        ("lock fetch xor [%r1], %r2", raw(0xdb, 1, 2, 0, 0xa1)),
        ("lock xchg [%r1], %r2", raw(0xdb, 1, 2, 0, 0xe1)),
        ("lock xchg32 [%r1], %r2", raw(0xc3, 1, 2, 0, 0xe1)),
        ("lock cmpxchg [%r1], %r2", raw(0xdb, 1, 2, 0, 0xf1)),
        ("lock cmpxchg32 [%r1], %r2", raw(0xc3, 1, 2, 0, 0xf1)),
        ("ldabsb 3", raw(0x30, 0, 0, 0, 3)),
        ("ldabsh 3", raw(0x28, 0, 0, 0, 3)),
        ("ldabsw 3", raw(0x20, 0, 0, 0, 3)),
        ("ldindb %r1, 3", raw(0x50, 0, 1, 0, 3)),
        ("ldindh %r1, 3", raw(0x48, 0, 1, 0, 3)),
        ("ldindw %r1, -3", raw(0x40, 0, 1, 0, -3)),
    ];
    for (text, slot) in cases {
        check_encoding(text, &[*slot]);
    }
}

#[test]
fn jump_and_call_encodings() {
    let cases: &[(&str, RawInsn)] = &[
        ("ja +1", raw(0x05, 0, 0, 1, 0)),
        ("ja -2", raw(0x05, 0, 0, -2, 0)),
        ("ja 0x10", raw(0x05, 0, 0, 16, 0)),
        ("ja -32768", raw(0x05, 0, 0, i16::MIN, 0)),
        ("ja32 +70000", raw(0x06, 0, 0, 0, 70000)),
        ("jeq %r1, 5, +3", raw(0x15, 1, 0, 3, 5)),
        ("jeq %r1, %r2, -1", raw(0x1d, 1, 2, -1, 0)),
        ("jgt %r1, 5, +3", raw(0x25, 1, 0, 3, 5)),
        ("jgt %r1, %r2, +3", raw(0x2d, 1, 2, 3, 0)),
        ("jge %r1, 5, +3", raw(0x35, 1, 0, 3, 5)),
        ("jset %r1, 5, +3", raw(0x45, 1, 0, 3, 5)),
        ("jne %r1, 5, +3", raw(0x55, 1, 0, 3, 5)),
        ("jsgt %r1, 5, +3", raw(0x65, 1, 0, 3, 5)),
        ("jsge %r1, 5, +3", raw(0x75, 1, 0, 3, 5)),
        ("jlt %r1, 5, +3", raw(0xa5, 1, 0, 3, 5)),
        ("jle %r1, 5, +3", raw(0xb5, 1, 0, 3, 5)),
        ("jslt %r1, 5, +3", raw(0xc5, 1, 0, 3, 5)),
        ("jsle %r1, 5, +3", raw(0xd5, 1, 0, 3, 5)),
        ("jeq32 %r1, 5, +3", raw(0x16, 1, 0, 3, 5)),
        ("jsle32 %r1, %r2, +0", raw(0xde, 1, 2, 0, 0)),
        ("jne32 %r10, 0x80000000, +1", raw(0x56, 10, 0, 1, i32::MIN)),
        ("call 5", raw(0x85, 0, 0, 0, 5)),
        ("call -1", raw(0x85, 0, 0, 0, -1)),
        ("call local +3", raw(0x85, 0, 1, 0, 3)),
        ("call kfunc 7", raw(0x85, 0, 2, 0, 7)),
        ("call %r2", raw(0x8d, 2, 0, 0, 0)),
        ("callx %r2", raw(0x8d, 2, 0, 0, 0)),
        ("exit", raw(0x95, 0, 0, 0, 0)),
    ];
    for (text, slot) in cases {
        check_encoding(text, &[*slot]);
    }
}

#[test]
fn lddw_encodings() {
    let cases: &[(&str, u8, i32, i32)] = &[
        ("lddw %r1, 0x1122334455667788", 0, 0x55667788, 0x11223344),
        ("lddw %r1, -1", 0, -1, -1),
        ("lddw %r1, 0xFFFFFFFFFFFFFFFF", 0, -1, -1),
        ("lddw %r1, 2147483648", 0, i32::MIN, 0),
        ("lddw %r1, -9223372036854775808", 0, 0, i32::MIN),
        ("lddw %r1, map_fd 3", 1, 3, 0),
        ("lddw %r1, map_value 3+16", 2, 3, 16),
        ("lddw %r1, map_value -1 + 0xffffffff", 2, -1, -1),
        ("lddw %r1, map_value 3", 2, 3, 0),
        ("lddw %r1, var_addr 7", 3, 7, 0),
        ("lddw %r1, code_addr +5", 4, 5, 0),
        ("lddw %r1, code_addr -3", 4, -3, 0),
        ("lddw %r1, map_idx 2", 5, 2, 0),
        ("lddw %r1, map_idx_value 2+8", 6, 2, 8),
    ];
    for &(text, src, lo, hi) in cases {
        check_encoding(text, &[raw(0x18, 1, src, 0, lo), raw(0, 0, 0, 0, hi)]);
    }
}

#[test]
fn labels() {
    let cases: &[(&str, &[RawInsn])] = &[
        // `exit` names the first exit when the program does not define it.
        (
            "jeq %r1, 0, exit\nmov %r0, 1\nexit\nexit",
            &[
                raw(0x15, 1, 0, 1, 0),
                raw(0xb7, 0, 0, 0, 1),
                raw(0x95, 0, 0, 0, 0),
                raw(0x95, 0, 0, 0, 0),
            ],
        ),
        // ...and it may be behind the jump.
        (
            "exit\nja exit",
            &[raw(0x95, 0, 0, 0, 0), raw(0x05, 0, 0, -2, 0)],
        ),
        // A program's own `exit:` label wins.
        (
            "ja exit\nexit\nexit:\nexit",
            &[
                raw(0x05, 0, 0, 1, 0),
                raw(0x95, 0, 0, 0, 0),
                raw(0x95, 0, 0, 0, 0),
            ],
        ),
        // Backwards, over an lddw (two slots), and on the instruction's own line.
        (
            "top: lddw %r0, 1\n  ja top",
            &[
                raw(0x18, 0, 0, 0, 1),
                raw(0, 0, 0, 0, 0),
                raw(0x05, 0, 0, -3, 0),
            ],
        ),
        (
            "call local f\nexit\nf:\nexit",
            &[
                raw(0x85, 0, 1, 0, 1),
                raw(0x95, 0, 0, 0, 0),
                raw(0x95, 0, 0, 0, 0),
            ],
        ),
        (
            "lddw %r1, code_addr f\nexit\nf:\nexit",
            &[
                raw(0x18, 1, 4, 0, 2),
                raw(0, 0, 0, 0, 0),
                raw(0x95, 0, 0, 0, 0),
                raw(0x95, 0, 0, 0, 0),
            ],
        ),
        (
            "ja32 .L_end\n.L_end:\nexit",
            &[raw(0x06, 0, 0, 0, 0), raw(0x95, 0, 0, 0, 0)],
        ),
    ];
    for (text, slots) in cases {
        check_encoding(text, slots);
    }
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("mov %r0, 1\nfoo %r0\nexit", 2, "unknown mnemonic `foo`"),
        ("mov %r0\nexit", 1, "`mov` takes 2 operands, found 1"),
        ("exit %r0", 1, "`exit` takes 0 operands"),
        ("jeq %r1, 2\nexit", 1, "`jeq` takes 3 operands"),
        ("\n\nmov %r11, 1\nexit", 3, "invalid register `%r11`"),
        ("mov r11, 1\nexit", 1, "invalid register `r11`"),
        ("mov %rx, 1\nexit", 1, "invalid register `%rx`"),
        ("ldxw %r0, [%r12+0]\nexit", 1, "invalid register `%r12`"),
        ("mov 1, 1\nexit", 1, "expected a register, found `1`"),
        ("mov %r0, zz\nexit", 1, "invalid immediate `zz`"),
        ("mov %r0, 0x\nexit", 1, "invalid immediate `0x`"),
        ("mov32 %r0, 2147483648\nexit", 1, "does not fit in 32 bits"),
        ("mov32 %r0, 0x100000000\nexit", 1, "does not fit in 32 bits"),
        ("mov32 %r0, -0x80000001\nexit", 1, "does not fit in 32 bits"),
        (
            "mov %r0, 99999999999999999999999999999999999999999\nexit",
            1,
            "invalid immediate",
        ),
        (
            "lddw %r0, 0x10000000000000000\nexit",
            1,
            "does not fit in 64 bits",
        ),
        (
            "ldxw %r0, [%r1+32768]\nexit",
            1,
            "offset `32768` does not fit in 16 bits",
        ),
        ("ldxw %r0, [%r1-32769]\nexit", 1, "does not fit in 16 bits"),
        ("ldxw %r0, [%r1+8\nexit", 1, "unclosed `[`"),
        ("stxw [%r1], 5\nexit", 1, "expected a register, found `5`"),
        ("ja nowhere\nexit", 1, "undefined label `nowhere`"),
        ("ja exit", 1, "undefined label `exit`"),
        ("a:\na:\nexit", 2, "duplicate label `a`"),
        ("1a:\nexit", 1, "invalid label `1a`"),
        ("0: exit", 1, "strip the `pc:` prefixes"),
        (
            "ja +32768\nexit",
            1,
            "jump offset 32768 does not fit in 16 bits",
        ),
        ("jeq %r0, 0, -32769\nexit", 1, "does not fit in 16 bits"),
        ("ja32 +0x80000000\nexit", 1, "does not fit in 32 bits"),
        ("ja @\nexit", 1, "invalid jump target `@`"),
        ("lock\nexit", 1, "`lock` needs an operation"),
        ("lock fetch\nexit", 1, "`lock` needs an operation"),
        (
            "lock or [%r10-8]\nexit",
            1,
            "`lock or` takes 2 operands, found 1",
        ),
        (
            "lock sub [%r10-8], %r1\nexit",
            1,
            "unknown atomic operation `sub`",
        ),
        ("movsx832 %r0, 5\nexit", 1, "takes a register source"),
        ("movsx3232 %r0, %r1\nexit", 1, "unknown mnemonic"),
        ("ldxsdw %r0, [%r1]\nexit", 1, "unknown mnemonic"),
        ("ldabsdw 1\nexit", 1, "unknown mnemonic"),
        ("jeq64 %r0, 0, +0\nexit", 1, "unknown mnemonic"),
        ("call foo 1\nexit", 1, "unknown call form"),
        ("lddw %r0, map_value x+1\nexit", 1, "invalid immediate `x`"),
        // Refused by program validation, still on the right line.
        ("mov %r0, 0\nmov %r10, 1\nexit", 2, "r10 is read-only"),
        ("mov %r0, 0\nja +5\nexit", 2, "outside the program"),
        ("ja +1\nlddw %r0, 1\nexit", 1, "second slot of an lddw"),
        ("mov %r0, 0\n\nmov %r0, 1  # no exit", 3, "fall off the end"),
        ("", 1, "empty"),
        ("# only a comment\n\n", 2, "empty"),
        ("label:", 1, "empty"),
    ];
    for &(text, line, message) in cases {
        check_error(text, line, message);
    }
}

#[test]
fn error_display() {
    let e = assemble("exit\nmov %r11, 1").unwrap_err();
    assert_eq!(e.to_string(), "line 2: invalid register `%r11`");
}

#[test]
fn assemble_raw_skips_program_validation() {
    check_encoding("mov %r10, 1", &[raw(0xb7, 10, 0, 0, 1)]);
    check_encoding("ja +100", &[raw(0x05, 0, 0, 100, 0)]);
    check_encoding("", &[]);
    assert!(assemble_raw("mov %r11, 1").is_err());
}

#[test]
fn llvm_dialect() {
    let cases: &[(&str, &str)] = &[
        ("r0 = 1", "mov %r0, 1"),
        ("r0 = -1", "mov %r0, -1"),
        ("r0 = r1", "mov %r0, %r1"),
        ("w0 = w1", "mov32 %r0, %r1"),
        ("w0 = 0xffffffff", "mov32 %r0, -1"),
        ("r0 += r1", "add %r0, %r1"),
        ("r0+=r1", "add %r0, %r1"),
        ("w0 -= 3", "sub32 %r0, 3"),
        ("r0 *= 3", "mul %r0, 3"),
        ("r0 /= r1", "div %r0, %r1"),
        ("r0 s/= r1", "sdiv %r0, %r1"),
        ("w0 %= 3", "mod32 %r0, 3"),
        ("w0 s%= 3", "smod32 %r0, 3"),
        ("r0 |= 3", "or %r0, 3"),
        ("r0 &= 3", "and %r0, 3"),
        ("r0 ^= 3", "xor %r0, 3"),
        ("r0 <<= 3", "lsh %r0, 3"),
        ("r0 >>= 3", "rsh %r0, 3"),
        ("r0 s>>= 3", "arsh %r0, 3"),
        ("w0 s>>= w1", "arsh32 %r0, %r1"),
        ("r0 = -r0", "neg %r0"),
        ("w3 = -w3", "neg32 %r3"),
        ("r0 = (s8)r1", "movsx864 %r0, %r1"),
        ("r0 = (s32)r1", "movsx3264 %r0, %r1"),
        ("w0 = (s16)w1", "movsx1632 %r0, %r1"),
        ("r1 = be16 r1", "be16 %r1"),
        ("r1 = le64 r1", "le64 %r1"),
        ("r1 = bswap32 r1", "bswap32 %r1"),
        ("r0 = 0x1234 ll", "lddw %r0, 0x1234"),
        ("r0 = -1 ll", "lddw %r0, -1"),
        ("r1 = map_value 3+16 ll", "lddw %r1, map_value 3+16"),
        ("r1 = code_addr -1 ll", "lddw %r1, code_addr -1"),
        ("r0 = *(u8 *)(r1 + 2)", "ldxb %r0, [%r1+2]"),
        ("r0 = *(u16*)(r1-2)", "ldxh %r0, [%r1-2]"),
        ("w0 = *(u32 *)(r1 + 0)", "ldxw %r0, [%r1]"),
        ("r0 = *(u64 *)(r10 - 8)", "ldxdw %r0, [%r10-8]"),
        ("r0 = *(s8 *)(r1 + 1)", "ldxsb %r0, [%r1+1]"),
        ("r0 = *(s32 *)(r1 + 1)", "ldxsw %r0, [%r1+1]"),
        ("*(u32 *)(r10 - 8) = r1", "stxw [%r10-8], %r1"),
        ("*(u32 *)(r10 - 8) = w1", "stxw [%r10-8], %r1"),
        ("*(u8 *)(r10 - 8) = 5", "stb [%r10-8], 5"),
        ("*(u64 *)(r10 - 8) = -1", "stdw [%r10-8], -1"),
        ("lock *(u64 *)(r10 - 8) += r1", "lock add [%r10-8], %r1"),
        ("lock *(u32 *)(r10 - 8) |= w1", "lock or32 [%r10-8], %r1"),
        ("lock *(u64 *)(r1 + 0) &= r2", "lock and [%r1], %r2"),
        ("lock *(u64 *)(r1 + 0) ^= r2", "lock xor [%r1], %r2"),
        (
            "r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)",
            "lock fetch add [%r10-8], %r1",
        ),
        (
            "w1 = atomic_fetch_xor((u32 *)(r10 - 8), w1)",
            "lock fetch xor32 [%r10-8], %r1",
        ),
        ("r1 = xchg_64(r10 - 8, r1)", "lock xchg [%r10-8], %r1"),
        ("w1 = xchg32_32(r10 - 8, w1)", "lock xchg32 [%r10-8], %r1"),
        (
            "r0 = cmpxchg_64(r10 - 8, r0, r1)",
            "lock cmpxchg [%r10-8], %r1",
        ),
        (
            "w0 = cmpxchg32_32(r10 - 8, w0, w1)",
            "lock cmpxchg32 [%r10-8], %r1",
        ),
        ("r0 = *(u8 *)skb[5]", "ldabsb 5"),
        ("r0 = *(u32 *)skb[r1 + 4]", "ldindw %r1, 4"),
        (
            "r0 = *(u16 *)skb[r1 - 0x80000000]",
            "ldindh %r1, -2147483648",
        ),
        ("r0 = *(u16 *)skb[r1]", "ldindh %r1, 0"),
        ("if r1 > 5 goto +3", "jgt %r1, 5, +3"),
        ("if r1 > 0x5 goto +3 <L7>", "jgt %r1, 5, +3"),
        ("if w1 s>= w2 goto -1", "jsge32 %r1, %r2, -1"),
        ("if r1 == r2 goto +0", "jeq %r1, %r2, +0"),
        ("if r1 != -0x1 goto +0", "jne %r1, -1, +0"),
        ("if r1 & 8 goto +0", "jset %r1, 8, +0"),
        ("if r1 < 8 goto +0", "jlt %r1, 8, +0"),
        ("if r1 <= 8 goto +0", "jle %r1, 8, +0"),
        ("if r1 >= 8 goto +0", "jge %r1, 8, +0"),
        ("if r1 s< 8 goto +0", "jslt %r1, 8, +0"),
        ("if r1 s<= 8 goto +0", "jsle %r1, 8, +0"),
        ("if r1 s> 8 goto +0", "jsgt %r1, 8, +0"),
        ("goto +2", "ja +2"),
        ("goto -1 <L0>", "ja -1"),
        ("gotol +70000", "ja32 +70000"),
        ("call 5", "call 5"),
        ("call pc+3", "call local +3"),
        ("call pc-3", "call local -3"),
        ("callx r2", "call %r2"),
        ("call kfunc 9", "call kfunc 9"),
        ("exit", "exit"),
        // Both dialects in one program, labels shared.
        (
            "r0 = 0\nif r0 == 0 goto out\nmov %r0, 1\nout:\nexit",
            "mov %r0, 0\njeq %r0, 0, +1\nmov %r0, 1\nexit",
        ),
    ];
    for (llvm, conformance) in cases {
        check_same(llvm, conformance);
    }
}

#[test]
fn llvm_dialect_errors() {
    let cases: &[(&str, usize, &str)] = &[
        ("w0 += r1\nexit", 1, "mixing `r` and `w`"),
        ("if r1 > w2 goto +0\nexit", 1, "mixing `r` and `w`"),
        ("r11 = 1\nexit", 1, "invalid register `r11`"),
        ("r0 = *(u128 *)(r1 + 0)\nexit", 1, "unknown access type"),
        ("r0 = *(u8 *)(w1 + 0)\nexit", 1, "64-bit register"),
        ("r0 = -r1\nexit", 1, "negation"),
        ("r1 = be16 r2\nexit", 1, "in place"),
        ("r1 = xchg_64(r10 - 8, r2)\nexit", 1, "source register"),
        ("r1 = cmpxchg_64(r10 - 8, r0, r2)\nexit", 1, "r0"),
        ("if r1 ~ 2 goto +0\nexit", 1, "expected a comparison"),
        ("if r1 > 2 +0\nexit", 1, "expected `goto`"),
        ("r0 = 1 2\nexit", 1, "unexpected `2`"),
        ("*(s8 *)(r1 + 0) = 1\nexit", 1, "unsigned"),
        ("lock *(u8 *)(r1 + 0) += r1\nexit", 1, "u32 or u64"),
        ("lock *(u64 *)(r1 + 0) -= r1\nexit", 1, "expected `+=`"),
        ("r1 = *(u8 *)skb[5]\nexit", 1, "write r0"),
        ("w0 = 1 ll\nexit", 1, "needs an `r` register"),
        (
            "r0 = *(u8 *)(r1 + 40000)\nexit",
            1,
            "does not fit in 16 bits",
        ),
        ("goto +1 <L2\nexit", 1, "unclosed `<`"),
        (
            "if r1 > 5 goto nowhere\nexit",
            1,
            "undefined label `nowhere`",
        ),
    ];
    for &(text, line, message) in cases {
        check_error(text, line, message);
    }
}

#[test]
fn disassembly() {
    check_disasm(
        "mov %r0, 0x10\nlddw %r1, 0xffffffffffffffff\njeq %r1, -1, +1\nja -1\nexit",
        "0: mov %r0, 16\n1: lddw %r1, 0xffffffffffffffff\n3: jeq %r1, -1, +1\n4: ja -1\n5: exit\n",
    );
    check_disasm(
        "ldxdw %r0, [%r10-8]\nstxw [%r1+4], %r2\nsth [%r1], 0x1234\nlock fetch add32 [%r10-4], %r3\nexit",
        "0: ldxdw %r0, [%r10-8]\n1: stxw [%r1+4], %r2\n2: sth [%r1], 4660\n3: lock fetch add32 [%r10-4], %r3\n4: exit\n",
    );
    check_disasm(
        "lddw %r1, map_value 3+16\nlddw %r2, code_addr f\ncall local f\nf: exit",
        "0: lddw %r1, map_value 3+16\n2: lddw %r2, code_addr +2\n4: call local +0\n5: exit\n",
    );
    check_disasm(
        "movsx1632 %r0, %r1\nbswap16 %r0\nswap32 %r0\nneg32 %r0\nldabsb 1\nldindw %r2, -4\ncall %r2\nja32 +0\nexit",
        "0: movsx1632 %r0, %r1\n1: bswap16 %r0\n2: bswap32 %r0\n3: neg32 %r0\n4: ldabsb 1\n5: ldindw %r2, -4\n6: call %r2\n7: ja32 +0\n8: exit\n",
    );
}

#[test]
fn llvm_disassembly() {
    check_disasm_llvm(
        "mov %r0, 1\nadd32 %r0, %r1\njgt %r1, 5, +1\nja -3\nexit",
        "0: r0 = 1\n1: w0 += w1\n2: if r1 > 0x5 goto +1 <L4>\n3: goto -3 <L1>\n4: exit\n",
    );
    check_disasm_llvm(
        "ldxh %r0, [%r1+2]\nstxdw [%r10-8], %r0\nstb [%r10-1], -1\nlock xchg32 [%r10-8], %r1\nlock cmpxchg [%r10-8], %r2\nlock fetch or [%r10-8], %r3\nlock add [%r10-8], %r3\nexit",
        "0: r0 = *(u16 *)(r1 + 2)\n1: *(u64 *)(r10 - 8) = r0\n2: *(u8 *)(r10 - 1) = -1\n3: w1 = xchg32_32(r10 - 8, w1)\n4: r0 = cmpxchg_64(r10 - 8, r0, r2)\n5: r3 = atomic_fetch_or((u64 *)(r10 - 8), r3)\n6: lock *(u64 *)(r10 - 8) += r3\n7: exit\n",
    );
    check_disasm_llvm(
        "lddw %r1, 0x1122334455667788\nmovsx832 %r0, %r1\nbe16 %r0\nneg %r0\nldindh %r1, -2\njslt32 %r1, -2, +1\ncall local -8\nexit",
        "0: r1 = 0x1122334455667788 ll\n2: w0 = (s8)w1\n3: r0 = be16 r0\n4: r0 = -r0\n5: r0 = *(u16 *)skb[r1 - 0x2]\n6: if w1 s< -0x2 goto +1 <L8>\n7: call pc-8\n8: exit\n",
    );
}

/// `Display` prints every slot, and the second slot of `lddw` as a comment, so the
/// whole program printed slot by slot still assembles to itself.
#[test]
fn display_of_every_slot_reassembles() {
    let program = assemble("lddw %r0, 5\nexit").unwrap();
    let text: Vec<String> = program.insns().iter().map(Insn::to_string).collect();
    assert_eq!(text, ["lddw %r0, 0x5", "# (second slot of lddw)", "exit"]);
    assert_eq!(assemble(&text.join("\n")), Ok(program));
}

mod no_panics {
    //! The assembler returns an error, never panics, on any text: random characters,
    //! soups of the dialects' own tokens, and valid listings with bytes changed.
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    const TOKENS: &[&str] = &[
        "mov",
        "mov32",
        "lddw",
        "ldxw",
        "stxdw",
        "stb",
        "lock",
        "fetch",
        "add",
        "xchg",
        "cmpxchg32",
        "ja",
        "ja32",
        "jeq",
        "jsle32",
        "call",
        "local",
        "kfunc",
        "exit",
        "movsx832",
        "be16",
        "neg",
        "ldabsb",
        "ldindw",
        "map_value",
        "code_addr",
        "%r0",
        "%r10",
        "%r11",
        "r1",
        "w2",
        "0x",
        "0xffffffff",
        "-0x80000000",
        "2147483648",
        "-1",
        "+",
        "-",
        "+3",
        "-32769",
        "[%r1+8]",
        "[%r10-",
        "[",
        "]",
        "(",
        ")",
        "*",
        "*(u64 *)",
        "(r10 - 8)",
        "(s8)",
        "=",
        "+=",
        "s>>=",
        "==",
        "s<=",
        "&",
        "if",
        "goto",
        "gotol",
        "<L3>",
        "<",
        ">",
        "ll",
        "skb[",
        "atomic_fetch_add(",
        "xchg_64(",
        "pc",
        "pc+1",
        "callx",
        ",",
        ":",
        "a:",
        "exit:",
        "#",
        "//",
        " ",
        "\n",
        "\t",
        "é",
        "\u{0}",
    ];

    fn soup() -> impl Strategy<Value = String> {
        prop::collection::vec(select(TOKENS), 0..24).prop_map(|t| t.join(" "))
    }

    fn mutated_listing() -> impl Strategy<Value = String> {
        let listing = "mov %r0, 1\nlddw %r1, map_value 3+16\nldxdw %r2, [%r10-8]\n\
                       lock fetch add32 [%r10-4], %r3\njeq32 %r1, -1, +1\n\
                       r0 = *(u16 *)skb[r1 - 0x2]\nw1 = xchg32_32(r10 - 8, w1)\n\
                       if w1 s< -0x2 goto +1 <L8>\ncall local -2\nexit";
        (
            prop::collection::vec((0usize..400, any::<u8>()), 1..6),
            Just(listing.as_bytes().to_vec()),
        )
            .prop_map(|(edits, mut bytes)| {
                for (at, byte) in edits {
                    let at = at % bytes.len().max(1);
                    match byte % 3 {
                        0 => bytes[at] = byte,
                        1 => {
                            bytes.remove(at);
                        }
                        _ => bytes
                            .insert(at, b" ,+-[]()*=<>:#%rwx0123456789"[usize::from(byte) % 28]),
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn random_text(text in "[ -~\\n\\t]{0,80}") {
            let _ = assemble(&text);
            let _ = assemble_raw(&text);
        }

        #[test]
        fn token_soup(text in soup()) {
            let _ = assemble(&text);
        }

        #[test]
        fn mutated_listings(text in mutated_listing()) {
            if let Ok(program) = assemble(&text) {
                // Whatever it makes, disassembly reads back.
                prop_assert_eq!(assemble(&strip_pcs(&disassemble(&program))), Ok(program));
            }
        }
    }
}
