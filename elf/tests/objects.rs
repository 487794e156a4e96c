//! Objects built by clang from `programs/*.c` (rebuilt by `programs/build.sh`): programs,
//! types, maps, global data, linking, and the refusals.

use ebpfvm_elf::{ElfError, InitialValue, MapOrigin, MapType, Object, ProgramType};
use ebpfvm_isa::{CallTarget, Imm64, Insn};

fn object(name: &str) -> Object {
    let path = format!("{}/tests/programs/obj/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Object::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse_err(name: &str) -> ElfError {
    let path = format!("{}/tests/programs/obj/{name}", env!("CARGO_MANIFEST_DIR"));
    Object::parse(&std::fs::read(path).unwrap()).unwrap_err()
}

const BTF_VARIANTS: &[&str] = &[
    "btf_maps.o",
    "btf_maps_v1.o",
    "btf_maps_v2.o",
    "btf_maps_v3.o",
    "btf_maps_v4.o",
];

#[test]
fn programs_by_function_with_types() {
    for variant in BTF_VARIANTS {
        let obj = object(variant);
        let mut names: Vec<(&str, &str, Option<ProgramType>)> = obj
            .programs
            .iter()
            .map(|p| (p.name.as_str(), p.section.as_str(), p.prog_type))
            .collect();
        names.sort_by_key(|n| n.0);
        assert_eq!(
            names,
            [
                ("first", "xdp", Some(ProgramType::Xdp)),
                ("probe", "kprobe/do_sys_open", Some(ProgramType::Kprobe)),
                ("second", "xdp", Some(ProgramType::Xdp)),
                ("tail_a", "xdp", Some(ProgramType::Xdp)),
                ("tail_b", "tc", Some(ProgramType::SchedCls)),
            ],
            "{variant}"
        );
        assert_eq!(obj.programs_in_section("xdp").count(), 3);
        assert_eq!(obj.license.as_deref(), Some("Dual MIT/GPL"));
    }
}

#[test]
fn btf_maps_and_global_data() {
    for variant in BTF_VARIANTS {
        let obj = object(variant);
        let m = |name: &str| {
            &obj.maps[obj
                .map_index(name)
                .unwrap_or_else(|| panic!("{variant}: no map {name}"))]
        };
        let counters = m("counters");
        assert_eq!(
            (
                counters.map_type,
                counters.key_size,
                counters.value_size,
                counters.max_entries
            ),
            (MapType::ARRAY, 4, 8, 8)
        );
        assert_eq!(counters.origin, MapOrigin::Btf);
        let flows = m("flows");
        assert_eq!(
            (
                flows.map_type,
                flows.key_size,
                flows.value_size,
                flows.max_entries
            ),
            (MapType::LRU_HASH, 16, 4, 128)
        );
        let events = m("events");
        assert_eq!(
            (events.map_type, events.max_entries),
            (MapType::RINGBUF, 4096)
        );
        let outer = m("outer");
        assert_eq!(
            (
                outer.map_type,
                outer.key_size,
                outer.value_size,
                outer.max_entries
            ),
            (MapType::ARRAY_OF_MAPS, 4, 4, 4)
        );
        let inner = outer.inner.as_deref().expect("inner template");
        assert_eq!(
            (
                inner.map_type,
                inner.key_size,
                inner.value_size,
                inner.max_entries
            ),
            (MapType::ARRAY, 4, 4, 2)
        );
        assert_eq!(
            outer.initial_values,
            [(1, InitialValue::Map(obj.map_index("inner_a").unwrap()))]
        );
        let jumps = m("jumps");
        assert_eq!(jumps.map_type, MapType::PROG_ARRAY);
        assert_eq!(
            jumps.initial_values,
            [
                (0, InitialValue::Program("tail_a".into())),
                (2, InitialValue::Program("tail_b".into()))
            ]
        );
        let data = m(".data");
        assert_eq!(
            (
                data.map_type,
                data.key_size,
                data.value_size,
                data.max_entries
            ),
            (MapType::ARRAY, 4, 8, 1)
        );
        assert_eq!(data.initial_data.as_deref(), Some(&5u64.to_le_bytes()[..]));
        assert_eq!(data.origin, MapOrigin::GlobalData);
        let rodata = m(".rodata");
        assert_eq!(
            rodata.initial_data.as_deref(),
            Some(&3u32.to_le_bytes()[..])
        );
        assert_ne!(rodata.flags & ebpfvm_elf::BPF_F_RDONLY_PROG, 0);
        let bss = m(".bss");
        assert_eq!((bss.value_size, bss.initial_data.is_none()), (8, true));
    }
}

#[test]
fn legacy_maps_section() {
    for variant in ["legacy_maps.o", "legacy_maps_g.o", "legacy_maps_clang19.o"] {
        let obj = object(variant);
        assert_eq!(obj.maps.len(), 2, "{variant}");
        let counts = &obj.maps[0];
        assert_eq!(counts.name, "counts");
        assert_eq!(
            (
                counts.map_type,
                counts.key_size,
                counts.value_size,
                counts.max_entries
            ),
            (MapType::ARRAY, 4, 8, 4)
        );
        assert_eq!(counts.origin, MapOrigin::Legacy);
        let seen = &obj.maps[1];
        assert_eq!(
            (seen.name.as_str(), seen.map_type, seen.flags),
            ("seen", MapType::HASH, 1)
        );
        let p = obj.program("count_packets").unwrap();
        assert_eq!(p.prog_type, Some(ProgramType::SocketFilter));
        let maps: Vec<u32> = p
            .program
            .insns()
            .iter()
            .filter_map(|i| match i {
                Insn::LoadImm64 {
                    imm: Imm64::MapIdx(m),
                    ..
                } => Some(*m),
                _ => None,
            })
            .collect();
        assert_eq!(maps, [0, 1]);
        assert_eq!(obj.license.as_deref(), Some("GPL"));
    }
}

/// The function at a call or code-address target starts like the function itself.
#[test]
fn subprograms_are_linked_after_the_program() {
    for variant in BTF_VARIANTS {
        let obj = object(variant);
        let first = &obj.program("first").unwrap().program;
        let insns = first.insns();
        let mut calls = Vec::new();
        let mut code = Vec::new();
        let mut values = Vec::new();
        for (pc, insn) in insns.iter().enumerate() {
            match *insn {
                Insn::Call(CallTarget::Local(off)) => {
                    calls.push((pc as i64 + 1 + off as i64) as usize)
                }
                Insn::LoadImm64 {
                    imm: Imm64::CodeAddr(off),
                    ..
                } => code.push((pc as i64 + 1 + off as i64) as usize),
                Insn::LoadImm64 {
                    imm: Imm64::MapIdxValue { index, offset },
                    ..
                } => values.push((obj.maps[index as usize].name.clone(), offset)),
                _ => {}
            }
        }
        assert_eq!(calls.len(), 2, "{variant}: add and global_helper");
        assert_eq!(code.len(), 1, "{variant}: the bpf_loop callback");
        for t in calls.iter().chain(&code) {
            assert!(*t > 0 && *t < insns.len(), "{variant}: target {t}");
            assert_ne!(insns[*t], Insn::Imm64Tail);
        }
        // total (.data+0), hits (.bss+0), local_hits (.bss+4, in `first` and in `add`)
        values.sort();
        values.dedup();
        let want = [(".bss", 0), (".bss", 4), (".data", 0)].map(|(n, o)| (n.to_string(), o));
        assert_eq!(values, want, "{variant}");
        // tail_b calls `add` too: the same subprogram linked into a second program.
        let tail_b = &obj.program("tail_b").unwrap().program;
        assert!(tail_b
            .insns()
            .iter()
            .any(|i| matches!(i, Insn::Call(CallTarget::Local(_)))));
    }
}

#[test]
fn unsupported_features_are_refused_by_name() {
    match parse_err("core.o") {
        ElfError::CoRe { section, count } => assert_eq!((section.as_str(), count), ("kprobe/x", 1)),
        e => panic!("{e}"),
    }
    let e = parse_err("kfunc.o");
    assert!(
        matches!(&e, ElfError::Kfunc { name, .. } if name == "bpf_some_kfunc"),
        "{e}"
    );
    assert!(e.to_string().contains("kfunc"));
    assert_eq!(parse_err("btf_maps_be.o"), ElfError::BigEndian);
    let e = parse_err("btf_maps_nog.o").to_string();
    assert!(
        e.contains("BTF-defined maps need") && e.contains("-g"),
        "{e}"
    );
}

#[test]
fn non_bpf_and_non_relocatable_objects_are_refused() {
    let mut bytes = std::fs::read(format!(
        "{}/tests/programs/obj/legacy_maps.o",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(Object::parse(b"hello"), Err(ElfError::NotElf));
    assert!(matches!(
        Object::parse(b"\x7fELF\x02\x01"),
        Err(ElfError::BadHeader(_))
    ));
    bytes[18] = 62; // EM_X86_64
    assert_eq!(Object::parse(&bytes), Err(ElfError::NotBpf { machine: 62 }));
    bytes[18] = 247;
    bytes[16] = 2; // ET_EXEC
    assert!(matches!(
        Object::parse(&bytes),
        Err(ElfError::NotRelocatable { .. })
    ));
    bytes[16] = 1;
    bytes[4] = 1;
    assert_eq!(Object::parse(&bytes), Err(ElfError::Class32));
}

/// Every prefix and many single-byte corruptions of real objects give a value (an
/// object or an error), never a panic.
#[test]
fn malformed_objects_never_panic() {
    for name in ["legacy_maps.o", "btf_maps.o", "core.o"] {
        let bytes = std::fs::read(format!(
            "{}/tests/programs/obj/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        for len in (0..bytes.len()).step_by(7) {
            let _ = Object::parse(&bytes[..len]);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut b = bytes.clone();
            let at = (state % b.len() as u64) as usize;
            b[at] = (state >> 32) as u8;
            let _ = Object::parse(&b);
        }
    }
}

#[test]
fn section_names_follow_libbpf() {
    let t = ProgramType::from_section;
    assert_eq!(t("xdp"), Some(ProgramType::Xdp));
    assert_eq!(t("xdp/devmap"), Some(ProgramType::Xdp));
    assert_eq!(t("socket"), Some(ProgramType::SocketFilter));
    assert_eq!(t("tc"), Some(ProgramType::SchedCls));
    assert_eq!(t("tc/ingress"), Some(ProgramType::SchedCls));
    assert_eq!(t("classifier"), Some(ProgramType::SchedCls));
    assert_eq!(t("action"), Some(ProgramType::SchedAct));
    assert_eq!(t("kprobe/do_sys_open"), Some(ProgramType::Kprobe));
    assert_eq!(t("kretprobe/x"), Some(ProgramType::Kprobe));
    assert_eq!(
        t("tracepoint/syscalls/sys_enter_open"),
        Some(ProgramType::Tracepoint)
    );
    assert_eq!(
        t("raw_tracepoint/sched_switch"),
        Some(ProgramType::RawTracepoint)
    );
    assert_eq!(t("raw_tp.w/x"), Some(ProgramType::RawTracepointWritable));
    assert_eq!(t("perf_event"), Some(ProgramType::PerfEvent));
    assert_eq!(t("cgroup_skb/ingress"), Some(ProgramType::CgroupSkb));
    assert_eq!(t("cgroup_skb/egress"), Some(ProgramType::CgroupSkb));
    assert_eq!(t("cgroup/sock"), Some(ProgramType::CgroupSock));
    assert_eq!(t("sockops"), Some(ProgramType::SockOps));
    assert_eq!(t("sk_skb/stream_parser"), Some(ProgramType::SkSkb));
    assert_eq!(t("sk_msg"), Some(ProgramType::SkMsg));
    assert_eq!(t("lwt_in"), Some(ProgramType::LwtIn));
    assert_eq!(t("lwt_xmit"), Some(ProgramType::LwtXmit));
    assert_eq!(t("flow_dissector"), Some(ProgramType::FlowDissector));
    assert_eq!(t("xdpfoo"), None);
    assert_eq!(t("kprobex"), None);
    assert_eq!(
        "sched_cls".parse::<ProgramType>(),
        Ok(ProgramType::SchedCls)
    );
    assert!("nope".parse::<ProgramType>().is_err());
    for ty in ProgramType::ALL {
        assert_eq!(ty.name().parse::<ProgramType>(), Ok(*ty));
        assert_eq!(ProgramType::from_id(ty.id()), Some(*ty));
    }
}
