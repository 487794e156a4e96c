//! The kernel backend against the running kernel, compared with our interpreter and JIT:
//! raw XDP, socket_filter, sched_cls and syscall programs, the example ELF objects and
//! the ELF loader's test objects with their maps read back after every run, prog arrays
//! and per-CPU maps, verifier refusals with their log, and the kernel's limits.
//!
//! Every test skips, printing why, when `bpf()` is not permitted here (not root).

use ebpfvm::{Engine, Select, Vm};
use ebpfvm_kernel::{KernelError, KernelObject, KernelProgram, ProgramType, TestRun};

/// The value, or `None` after printing why the test skips (no `bpf()` here).
fn or_skip<T>(r: Result<T, KernelError>) -> Option<T> {
    match r {
        Err(e) if e.is_unavailable() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("{e}"),
        Ok(v) => Some(v),
    }
}

fn asm(text: &str) -> ebpfvm::Program {
    ebpfvm::isa::assemble(text).expect("assembles")
}

const ENGINES: [Engine; 2] = [Engine::Interpreter, Engine::Jit];

/// Our engines on a raw program: (r0, memory after), the same from both.
fn ours(program: &ebpfvm::Program, memory: &[u8]) -> (u64, Vec<u8>) {
    let results: Vec<(u64, Vec<u8>)> = ENGINES
        .iter()
        .map(|&engine| {
            let mut vm = Vm::new(program.clone()).expect("loads");
            vm.set_engine(engine).expect("compiles");
            let mut mem = memory.to_vec();
            let r0 = vm.run(&mut mem).result.expect("no trap");
            (r0, mem)
        })
        .collect();
    assert_eq!(results[0], results[1], "interpreter vs JIT");
    results[0].clone()
}

/// Both our engines on program `program` of an ELF object.
fn elf_vms(bytes: &[u8], program: &str, cpus: u32) -> Vec<Vm> {
    ENGINES
        .iter()
        .map(|&engine| {
            let mut vm = Vm::from_elf(bytes, Select::Program(program), cpus).expect("loads");
            vm.set_engine(engine).expect("compiles");
            vm
        })
        .collect()
}

/// A test packet: Ethernet, IPv4, UDP, payload.
fn packet() -> Vec<u8> {
    let mut p = vec![
        0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00, // Ethernet, IPv4
        0x45, 0, 0, 32, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
        0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, // UDP 12345 -> 53
    ];
    p.extend_from_slice(b"ebpfvm!!");
    p
}

/// Reads the packet with legacy loads (absolute and indirect) and mixes the words.
const LEGACY_LOADS: &str = "
    mov %r6, %r1
    ldabsw 0
    mov %r7, %r0
    ldabsh 10
    lsh %r7, 3
    xor %r7, %r0
    mov %r8, 4
    ldindb %r8, 2
    add %r7, %r0
    ldindw %r8, 20
    xor %r0, %r7
    exit";

#[test]
fn socket_filter_legacy_loads_match_the_interpreter() {
    let program = asm(LEGACY_LOADS);
    let Some(k) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::SocketFilter.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    let p = packet();
    let run = k.test_run(&TestRun::packet(&p)).expect("runs");
    // A socket filter's packet starts after the Ethernet header (the kernel has pulled it).
    let (r0, _) = ours(&program, &p[14..]);
    assert_eq!(run.retval, r0 as u32);
    // The packet comes back unchanged after its Ethernet header, which the kernel's test
    // run returns zeroed for types that do not see layer 2.
    assert_eq!(run.data_out[14..], p[14..]);
}

#[test]
fn sched_cls_legacy_loads_match_the_interpreter() {
    let program = asm(LEGACY_LOADS);
    let Some(k) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::SchedCls.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    let p = packet();
    let run = k.test_run(&TestRun::packet(&p)).expect("runs");
    // A classifier sees the packet from its Ethernet header.
    let (r0, _) = ours(&program, &p);
    assert_eq!(run.retval, r0 as u32);
    assert_eq!(run.data_out, p);
}

#[test]
fn xdp_writes_the_packet_through_data_and_data_end() {
    // Swaps the two MAC addresses' first bytes when the packet has Ethernet and IPv4
    // headers (34 bytes) and returns XDP_TX (3); XDP_DROP (1) for a shorter packet.
    let program = asm("
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 34
        mov %r0, 1
        jgt %r4, %r3, +5
        ldxb %r5, [%r2+0]
        ldxb %r6, [%r2+6]
        stxb [%r2+0], %r6
        stxb [%r2+6], %r5
        mov %r0, 3
        exit");
    let Some(k) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::Xdp.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    let mut p = packet();
    p[0] = 0xaa;
    p[6] = 0xbb;
    let run = k.test_run(&TestRun::packet(&p)).expect("runs");
    assert_eq!(run.retval, 3);
    let mut want = p.clone();
    want.swap(0, 6);
    assert_eq!(run.data_out, want);
    // (The kernel refuses packets shorter than an Ethernet header.)
    let short = k.test_run(&TestRun::packet(&p[..20])).expect("runs");
    assert_eq!(short.retval, 1);
}

#[test]
fn raw_programs_run_as_syscall_programs_with_memory_as_context() {
    // Constant offsets from r1 only: the kernel refuses arithmetic on a context pointer.
    let program = asm("
        ldxdw %r2, [%r1+0]
        ldxw %r3, [%r1+8]
        mul %r2, %r3
        stxdw [%r1+16], %r2
        stw [%r1+12], -7
        ldxb %r0, [%r1+9]
        add %r0, %r2
        exit");
    let Some(k) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::Syscall.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    let mut mem = vec![0u8; 24];
    mem[..8].copy_from_slice(&0x1234_5678_9abc_u64.to_le_bytes());
    mem[8..12].copy_from_slice(&0x0102_0304u32.to_le_bytes());
    let run = k.test_run(&TestRun::context(&mem)).expect("runs");
    let (r0, after) = ours(&program, &mem);
    assert_eq!(run.retval, r0 as u32);
    assert_eq!(run.ctx_out, after);
}

#[test]
fn a_refusal_carries_the_verifier_log() {
    let program = asm("mov %r0, %r5\nexit");
    let err = match KernelProgram::load_raw(&program, ProgramType::Xdp.id(), None, "GPL") {
        Err(e) if e.is_unavailable() => return eprintln!("skipped: {e}"),
        Err(e) => e,
        Ok(_) => panic!("the kernel accepted a read of an uninitialised register"),
    };
    let KernelError::Refused { log, .. } = &err else {
        panic!("not a refusal: {err}");
    };
    assert!(log.contains("R5 !read_ok"), "log: {log}");
    assert!(err.to_string().contains("R5 !read_ok"));
}

#[test]
fn types_without_test_run_say_so() {
    let program = asm("mov %r0, 0\nexit");
    let Some(k) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::Kprobe.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    match k.test_run(&TestRun::context(&[0u8; 8])) {
        Err(KernelError::NoTestRun { prog_type, .. }) => assert_eq!(prog_type, "kprobe"),
        other => panic!("expected NoTestRun, got {other:?}"),
    }
}

#[test]
fn types_that_need_an_attach_target_are_refused_not_unavailable() {
    // lsm answers EPERM without an attach BTF id, even to root: that is a refusal of this
    // program, not "bpf() is not permitted here".
    let program = asm("mov %r0, 0\nexit");
    let Some(_) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::SocketFilter.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    match KernelProgram::load_raw(&program, ProgramType::Lsm.id(), None, "GPL") {
        Err(KernelError::Refused { log, .. }) => assert!(log.contains("attach"), "log: {log}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Runs `program` of the example object on both sides with each context in turn and
/// compares return values, contexts after, and every map after each run.
fn compare_example(file: &str, program: &str, contexts: &[Vec<u8>]) {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).expect("example object");
    let Some(kernel) = or_skip(KernelObject::load(&bytes, Some(program), None, None)) else {
        return;
    };
    let cpus = ebpfvm_kernel::possible_cpus().expect("cpu count");
    let mut vms = elf_vms(&bytes, program, cpus);
    for ctx in contexts {
        let run = kernel
            .program()
            .test_run(&TestRun::context(ctx))
            .expect("runs");
        let theirs = kernel.map_entries().expect("maps read back");
        for (vm, engine) in vms.iter_mut().zip(ENGINES) {
            let mut mem = ctx.clone();
            let r0 = vm.run(&mut mem).result.expect("no trap");
            assert_eq!(
                run.retval, r0 as u32,
                "{file} {engine:?}: retval for {ctx:02x?}"
            );
            assert_eq!(run.ctx_out, mem, "{file} {engine:?}: context after");
            assert_eq!(
                theirs,
                vm.map_entries(),
                "{file} {engine:?}: maps after {ctx:02x?}"
            );
        }
    }
    let maps = kernel.map_entries().expect("maps read back");
    assert!(
        maps.iter().any(|(_, entries)| !entries.is_empty()),
        "{file}: nothing was compared"
    );
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn example_counter_matches_the_interpreter() {
    let request = |n: u32, values: &[u32]| {
        let mut all = [0u32; 17];
        all[0] = n;
        all[1..=values.len()].copy_from_slice(values);
        words(&all)
    };
    compare_example(
        "counter.o",
        "count",
        &[
            request(3, &[1, 20, 1]),
            request(16, &[5; 16]),
            request(0, &[]),
            request(20, &[7, 11, 99, 7]),
        ],
    );
}

#[test]
fn example_events_match_the_interpreter() {
    // The ring buffer's records hold the real pid and time; the return value (bytes
    // waiting in the ring buffer) and the queue of recent values compare exactly.
    let runs: Vec<Vec<u8>> = (1..=6u64)
        .map(|v| (v * 1000).to_le_bytes().to_vec())
        .collect();
    compare_example("events.o", "emit", &runs);
}

#[test]
fn example_tail_calls_are_refused_as_sleepable_syscall_programs() {
    // The kernel lets sleepable programs (which syscall programs must be) use only
    // array, hash, ring buffer and local storage maps: no prog array, so no tail calls.
    // What is compared here is the kernel verifier's verdict and its reason.
    let path = format!("{}/../examples/tail_calls.o", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).expect("example object");
    match KernelObject::load(&bytes, Some("dispatch"), None, None) {
        Err(e) if e.is_unavailable() => eprintln!("skipped: {e}"),
        Err(KernelError::Refused { program, log, .. }) => {
            assert_eq!(program, "dispatch");
            assert!(
                log.contains("Sleepable programs can only use"),
                "log: {log}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// An object built in code: an XDP entry that tail-calls, through a prog array filled
/// by `.values`, a target that counts its runs in a per-CPU array.
fn tail_call_object() -> ebpfvm::elf::Object {
    use ebpfvm::elf::{InitialValue, MapDecl, MapOrigin, MapType, Object, ProgramSpec};
    let map = |name: &str, map_type, value_size| MapDecl {
        name: name.to_string(),
        map_type,
        key_size: 4,
        value_size,
        max_entries: 2,
        flags: 0,
        initial_data: None,
        inner: None,
        initial_values: Vec::new(),
        origin: MapOrigin::Btf,
        map_extra: 0,
    };
    let mut jump = map("jump", MapType::PROG_ARRAY, 4);
    jump.initial_values = vec![(1, InitialValue::Program("target".to_string()))];
    let program = |name: &str, text: &str| ProgramSpec {
        name: name.to_string(),
        section: "xdp".to_string(),
        prog_type: Some(ProgramType::Xdp),
        program: asm(text),
    };
    Object {
        license: Some("GPL".to_string()),
        programs: vec![
            program(
                "entry",
                "lddw %r2, map_idx 0
                 mov %r3, 1
                 call 12
                 mov %r0, 7
                 exit",
            ),
            program(
                "target",
                "stw [%r10-4], 1
                 mov %r2, %r10
                 add %r2, -4
                 lddw %r1, map_idx 1
                 call 1
                 jeq %r0, 0, +3
                 ldxdw %r1, [%r0+0]
                 add %r1, 1
                 stxdw [%r0+0], %r1
                 mov %r0, 42
                 exit",
            ),
        ],
        maps: vec![jump, map("hits", MapType::PERCPU_ARRAY, 8)],
    }
}

#[test]
fn prog_arrays_are_filled_and_per_cpu_maps_read_back() {
    let object = tail_call_object();
    let Some(kernel) = or_skip(KernelObject::from_object(
        &object,
        Some("entry"),
        None,
        None,
    )) else {
        return;
    };
    let cpus = ebpfvm_kernel::possible_cpus().expect("cpu count") as usize;
    // Write an initial per-CPU value: 100 on every CPU.
    let hits = kernel.map("hits").expect("map");
    let initial: Vec<u8> = (0..cpus).flat_map(|_| 100u64.to_le_bytes()).collect();
    hits.update(&1u32.to_le_bytes(), &initial, 0)
        .expect("writes");
    let mut vm = Vm::from_object(&object, Select::Program("entry"), cpus as u32).expect("loads");
    for _ in 0..3 {
        let run = kernel
            .program()
            .test_run(&TestRun::packet(&packet()))
            .expect("runs");
        let r0 = vm.run(&mut packet()).result.expect("no trap");
        assert_eq!(run.retval, 42, "the tail call reached the target");
        assert_eq!(run.retval, r0 as u32);
    }
    let theirs = kernel.map_entries().expect("maps read back");
    let ours = vm.map_entries();
    // The prog array reads back as object program indexes, as ours does.
    assert_eq!(theirs[0], ours[0]);
    assert_eq!(
        theirs[0].1,
        vec![(1u32.to_le_bytes().to_vec(), 1u32.to_le_bytes().to_vec())]
    );
    // The per-CPU array: one 8-byte value per CPU; which CPU ran is the kernel's choice,
    // so compare the sums.
    let (name, entries) = &theirs[1];
    assert_eq!(name, "hits");
    let sum = |v: &[u8]| -> u64 {
        v.chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .sum()
    };
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].1.len(), 8 * cpus);
    assert_eq!(sum(&entries[1].1), 100 * cpus as u64 + 3);
    assert_eq!(sum(&ours[1].1[1].1), 3);
}

/// Loads a raw program as a syscall program: the refusal's log, or `None` (skip).
fn syscall_refusal(text: &str) -> Option<String> {
    match KernelProgram::load_raw(&asm(text), ProgramType::Syscall.id(), None, "GPL") {
        Err(e) if e.is_unavailable() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(KernelError::Refused { log, .. }) => Some(log),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn raw_programs_as_syscall_programs_have_no_length_and_no_context_arithmetic() {
    // What a raw program may not do in the kernel: read r2 (our engines put the
    // memory's length there; the kernel passes only the context) ...
    if let Some(log) = syscall_refusal("mov %r0, %r2\nexit") {
        assert!(log.contains("R2 !read_ok"), "log: {log}");
    }
    // ... or move the context pointer before dereferencing it ...
    if let Some(log) = syscall_refusal("add %r1, 8\nldxdw %r0, [%r1+0]\nexit") {
        assert!(log.contains("modified ctx ptr"), "log: {log}");
    }
    // ... or use legacy packet loads, which only socket buffer types have.
    if let Some(log) = syscall_refusal("ldabsw 0\nexit") {
        assert!(
            log.contains("not allowed for this program type"),
            "log: {log}"
        );
    }
}

#[test]
fn syscall_contexts_are_limited_to_64k() {
    let Some(k) = or_skip(KernelProgram::load_raw(
        &asm("mov %r0, 0\nexit"),
        ProgramType::Syscall.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    let fits = k
        .test_run(&TestRun::context(&vec![7u8; 65535]))
        .expect("runs");
    assert_eq!(fits.ctx_out.len(), 65535);
    match k.test_run(&TestRun::context(&vec![0u8; 65536])) {
        Err(KernelError::TestRun(why)) => assert!(why.contains("Invalid argument"), "{why}"),
        other => panic!("expected a refusal of the size, got {other:?}"),
    }
}

#[test]
fn xdp_context_comes_back_with_the_packet() {
    // Returns the packet's length through data_end - data; the kernel reports the
    // `xdp_md` after the run (data_end is the packet's length).
    let program = asm("
        ldxw %r2, [%r1+0]
        ldxw %r0, [%r1+4]
        sub %r0, %r2
        exit");
    let Some(k) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::Xdp.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    let p = packet();
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
    // egress_ifindex; the kernel wants data_end to be the packet's length.
    let mut ctx = [0u8; 24];
    ctx[4..8].copy_from_slice(&(p.len() as u32).to_ne_bytes());
    let mut run = TestRun::packet(&p);
    run.ctx_in = &ctx;
    run.ctx_out_capacity = ctx.len();
    let out = k.test_run(&run).expect("runs");
    assert_eq!(out.retval as usize, p.len());
    assert_eq!(out.ctx_out.len(), 24);
    assert_eq!(out.ctx_out[4..8], (p.len() as u32).to_ne_bytes());
}

/// Like [`compare_example`] for a packet program of an object in `elf/tests/programs`
/// that does not read its context: our engines run it over the packet as memory.
fn compare_packet_program(file: &str, program: &str, runs: usize) {
    let path = format!(
        "{}/../elf/tests/programs/obj/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("test object");
    let Some(kernel) = or_skip(KernelObject::load(&bytes, Some(program), None, None)) else {
        return;
    };
    let cpus = ebpfvm_kernel::possible_cpus().expect("cpu count");
    let mut vms = elf_vms(&bytes, program, cpus);
    for _ in 0..runs {
        let p = packet();
        let run = kernel
            .program()
            .test_run(&TestRun::packet(&p))
            .expect("runs");
        let theirs = kernel.map_entries().expect("maps read back");
        for (vm, engine) in vms.iter_mut().zip(ENGINES) {
            let r0 = vm.run(&mut p.clone()).result.expect("no trap");
            assert_eq!(run.retval, r0 as u32, "{file} {program} {engine:?}: retval");
            assert_eq!(
                theirs,
                vm.map_entries(),
                "{file} {program} {engine:?}: maps"
            );
        }
    }
}

#[test]
fn legacy_maps_in_a_socket_filter_match_the_interpreter() {
    compare_packet_program("legacy_maps.o", "count_packets", 3);
}

#[test]
fn btf_maps_global_data_maps_of_maps_and_prog_arrays_match_the_interpreter() {
    // `first`: global data, a global function, bpf_loop; the prog array's targets (one
    // from a `tc` section) load as XDP programs, and the map of maps is filled.
    compare_packet_program("btf_maps.o", "first", 3);
    // `second`: a tail call to `tail_a`, which finds slot 0 of the map of maps empty.
    compare_packet_program("btf_maps.o", "second", 2);
}

#[test]
fn raw_tracepoints_run_with_their_arguments_as_context() {
    let program = asm("ldxdw %r0, [%r1+8]\nldxdw %r2, [%r1+0]\nadd %r0, %r2\nexit");
    let Some(k) = or_skip(KernelProgram::load_raw(
        &program,
        ProgramType::RawTracepoint.id(),
        None,
        "GPL",
    )) else {
        return;
    };
    let args = words(&[5, 0, 37, 0]);
    let run = k.test_run(&TestRun::context(&args)).expect("runs");
    assert_eq!(run.retval, 42);
    let (r0, _) = ours(&program, &args);
    assert_eq!(run.retval, r0 as u32);
}
