//! What the loader refuses, and where: each case is raw slots (or bytes), the features
//! the loader has, and the exact error kind and pc expected.

use ebpfvm_isa::{Features, IsaVersion, LoadErrorKind as K, Program, RawInsn};

fn raw(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn {
        opcode,
        dst,
        src,
        off,
        imm,
    }
}

const EXIT: RawInsn = RawInsn {
    opcode: 0x95,
    dst: 0,
    src: 0,
    off: 0,
    imm: 0,
};

fn v3() -> Features {
    Features {
        version: IsaVersion::V3,
        ..Features::default()
    }
}

/// `slots` is refused under `features` at `pc` for `kind`, and the same as bytes.
fn check_refused(slots: &[RawInsn], features: Features, pc: usize, kind: K) {
    let e = Program::from_raw(slots, &features).expect_err("accepted");
    assert_eq!((e.pc, &e.kind), (pc, &kind), "{slots:?}");
    let bytes: Vec<u8> = slots.iter().flat_map(|s| s.to_bytes()).collect();
    assert_eq!(Program::from_bytes(&bytes, &features), Err(e));
}

/// `slots` is accepted with every feature on (so a refusal above is the feature's).
fn check_accepted(slots: &[RawInsn]) {
    if let Err(e) = Program::from_raw(slots, &Features::default()) {
        panic!("{slots:?}: {e}");
    }
}

#[test]
fn malformed_instructions() {
    let cases: Vec<(Vec<RawInsn>, usize, K)> = vec![
        (vec![raw(0xff, 0, 0, 0, 0), EXIT], 0, K::UnknownOpcode(0xff)),
        (vec![raw(0x00, 0, 0, 0, 0), EXIT], 0, K::UnknownOpcode(0x00)),
        (
            vec![raw(0xb7, 0, 0, 0, 0), raw(0x8f, 0, 0, 0, 0), EXIT],
            1,
            K::UnknownOpcode(0x8f),
        ),
        (
            vec![raw(0x0f, 0, 11, 0, 0), EXIT],
            0,
            K::BadRegister {
                field: "src",
                reg: 11,
            },
        ),
        (
            vec![raw(0x07, 15, 0, 0, 0), EXIT],
            0,
            K::BadRegister {
                field: "dst",
                reg: 15,
            },
        ),
        (vec![raw(0xb7, 10, 0, 0, 1), EXIT], 0, K::WritesFramePointer),
        (
            vec![raw(0x18, 10, 0, 0, 1), raw(0, 0, 0, 0, 0), EXIT],
            0,
            K::WritesFramePointer,
        ),
        (vec![raw(0x79, 10, 1, 0, 0), EXIT], 0, K::WritesFramePointer),
        // lock fetch add writes the old value into src: r10 there is a write to r10.
        (vec![raw(0xdb, 1, 10, 0, 1), EXIT], 0, K::WritesFramePointer),
        (
            vec![raw(0x07, 0, 1, 0, 1), EXIT],
            0,
            K::NonZeroField {
                field: "src",
                value: 1,
            },
        ),
        (
            vec![raw(0x95, 0, 0, 0, 1)],
            0,
            K::NonZeroField {
                field: "imm",
                value: 1,
            },
        ),
        (
            vec![raw(0xd4, 0, 0, 0, 8), EXIT],
            0,
            K::BadField {
                insn: "byte swap",
                field: "imm",
                value: 8,
            },
        ),
        (
            vec![raw(0xdb, 1, 2, 0, 0x02), EXIT],
            0,
            K::BadField {
                insn: "atomic",
                field: "imm",
                value: 2,
            },
        ),
        (
            // movsx from 32 bits only exists in 64-bit form.
            vec![raw(0xbc, 0, 1, 32, 0), EXIT],
            0,
            K::BadField {
                insn: "arithmetic",
                field: "off",
                value: 32,
            },
        ),
        (
            vec![raw(0x85, 0, 3, 0, 1), EXIT],
            0,
            K::BadField {
                insn: "call",
                field: "src",
                value: 3,
            },
        ),
    ];
    for (slots, pc, kind) in cases {
        check_refused(&slots, Features::default(), pc, kind);
    }
}

#[test]
fn lddw_slots() {
    let lddw = raw(0x18, 0, 0, 0, 1);
    // The last slot: no second half.
    check_refused(&[lddw], Features::default(), 0, K::MissingImm64Tail);
    check_refused(&[EXIT, lddw], Features::default(), 1, K::MissingImm64Tail);
    // A second slot that is an instruction, or has registers or an offset.
    check_refused(&[lddw, EXIT], Features::default(), 0, K::BadImm64Tail);
    check_refused(
        &[lddw, raw(0, 1, 0, 0, 0), EXIT],
        Features::default(),
        0,
        K::BadImm64Tail,
    );
    check_refused(
        &[lddw, raw(0, 0, 0, 1, 0), EXIT],
        Features::default(),
        0,
        K::BadImm64Tail,
    );
    // Map fd loads keep the second immediate zero.
    check_refused(
        &[raw(0x18, 0, 1, 0, 3), raw(0, 0, 0, 0, 1), EXIT],
        Features::default(),
        0,
        K::NonZeroField {
            field: "imm (second slot)",
            value: 1,
        },
    );
    check_refused(
        &[raw(0x18, 0, 7, 0, 3), raw(0, 0, 0, 0, 0), EXIT],
        Features::default(),
        0,
        K::BadField {
            insn: "lddw",
            field: "src",
            value: 7,
        },
    );
}

#[test]
fn control_flow() {
    let ja = |off| raw(0x05, 0, 0, off, 0);
    let cases: Vec<(Vec<RawInsn>, usize, K)> = vec![
        (
            vec![ja(5), EXIT],
            0,
            K::TargetOutOfRange { target: 6, len: 2 },
        ),
        (
            vec![EXIT, ja(-3)],
            1,
            K::TargetOutOfRange { target: -1, len: 2 },
        ),
        (
            vec![ja(1), EXIT],
            0,
            K::TargetOutOfRange { target: 2, len: 2 },
        ),
        (
            vec![
                raw(0x15, 1, 0, 1, 0),
                raw(0x18, 0, 0, 0, 0),
                raw(0, 0, 0, 0, 0),
                EXIT,
            ],
            0,
            K::TargetInImm64 { target: 2 },
        ),
        (
            vec![raw(0x18, 0, 0, 0, 0), raw(0, 0, 0, 0, 0), ja(-2)],
            2,
            K::TargetInImm64 { target: 1 },
        ),
        (
            vec![raw(0x85, 0, 1, 0, 5), EXIT],
            0,
            K::TargetOutOfRange { target: 6, len: 2 },
        ),
        (
            vec![raw(0x18, 0, 4, 0, 7), raw(0, 0, 0, 0, 0), EXIT],
            0,
            K::TargetOutOfRange { target: 8, len: 3 },
        ),
        (
            vec![raw(0x06, 0, 0, 0, -2), EXIT],
            0,
            K::TargetOutOfRange { target: -1, len: 2 },
        ),
        (vec![raw(0xb7, 0, 0, 0, 1)], 0, K::FallsOffEnd),
        (vec![EXIT, raw(0x85, 0, 0, 0, 1)], 1, K::FallsOffEnd),
        (vec![EXIT, raw(0x15, 0, 0, -2, 0)], 1, K::FallsOffEnd),
        (vec![], 0, K::Empty),
    ];
    for (slots, pc, kind) in cases {
        check_refused(&slots, Features::default(), pc, kind);
    }
    // The last instruction may be `ja` (an endless loop), not only `exit`.
    check_accepted(&[ja(-1)]);
    check_accepted(&[raw(0x06, 0, 0, 0, -1)]);
}

#[test]
fn truncated_bytes() {
    let mut bytes = EXIT.to_bytes().to_vec();
    bytes.push(0);
    let e = Program::from_bytes(&bytes, &Features::default()).expect_err("accepted");
    assert_eq!((e.pc, e.kind), (1, K::Truncated { len: 9 }));
    let e = Program::from_bytes(&[], &Features::default()).expect_err("accepted");
    assert_eq!((e.pc, e.kind), (0, K::Empty));
}

#[test]
fn v4_instructions_need_v4() {
    let gotol = K::Unsupported {
        feature: "gotol",
        needs: "ISA v4",
    };
    let sdiv = K::Unsupported {
        feature: "sdiv/smod",
        needs: "ISA v4",
    };
    let movsx = K::Unsupported {
        feature: "movsx",
        needs: "ISA v4",
    };
    let ldsx = K::Unsupported {
        feature: "ldsx",
        needs: "ISA v4",
    };
    let bswap = K::Unsupported {
        feature: "bswap",
        needs: "ISA v4",
    };
    let cases: Vec<(RawInsn, K)> = vec![
        (raw(0x06, 0, 0, 0, 0), gotol),
        (raw(0x37, 1, 0, 1, 3), sdiv.clone()),
        (raw(0x9c, 1, 2, 1, 0), sdiv),
        (raw(0xbf, 1, 2, 8, 0), movsx.clone()),
        (raw(0xbc, 1, 2, 16, 0), movsx),
        (raw(0x91, 1, 2, 0, 0), ldsx.clone()),
        (raw(0x81, 1, 2, 0, 0), ldsx),
        (raw(0xd7, 1, 0, 0, 16), bswap),
    ];
    for (slot, kind) in cases {
        check_accepted(&[slot, EXIT]);
        check_refused(&[slot, EXIT], v3(), 0, kind);
    }
}

#[test]
fn older_versions_refuse_newer_instructions() {
    let v = |version| Features {
        version,
        ..Features::default()
    };
    let jmp32 = K::Unsupported {
        feature: "the JMP32 class",
        needs: "ISA v3",
    };
    let atomics = K::Unsupported {
        feature: "this atomic operation",
        needs: "ISA v3",
    };
    let lt = K::Unsupported {
        feature: "jlt/jle/jslt/jsle",
        needs: "ISA v2",
    };
    check_refused(&[raw(0x16, 1, 0, 0, 0), EXIT], v(IsaVersion::V2), 0, jmp32);
    check_refused(
        &[raw(0xdb, 1, 2, 0, 0x01), EXIT],
        v(IsaVersion::V2),
        0,
        atomics,
    );
    check_refused(&[raw(0xa5, 1, 0, 0, 0), EXIT], v(IsaVersion::V1), 0, lt);
    // Plain atomic add is v1.
    assert!(Program::from_raw(&[raw(0xdb, 1, 2, 0, 0), EXIT], &v(IsaVersion::V1)).is_ok());
}

#[test]
fn optional_features() {
    let callx = raw(0x8d, 2, 0, 0, 0);
    check_accepted(&[callx, EXIT]);
    let no_callx = Features {
        callx: false,
        ..Features::default()
    };
    check_refused(
        &[callx, EXIT],
        no_callx,
        0,
        K::Unsupported {
            feature: "callx",
            needs: "the callx feature",
        },
    );
    let ldabs = raw(0x30, 0, 0, 0, 1);
    check_accepted(&[ldabs, EXIT]);
    let no_legacy = Features {
        legacy_packet_loads: false,
        ..Features::default()
    };
    check_refused(
        &[ldabs, EXIT],
        no_legacy,
        0,
        K::Unsupported {
            feature: "legacy packet loads (LD_ABS/LD_IND)",
            needs: "the legacy packet loads feature",
        },
    );
}
