//! sk_msg's own helpers (`msg_apply_bytes`, `msg_cork_bytes`, `msg_pull_data`,
//! `msg_push_data`, `msg_pop_data`, `msg_redirect_map`, `msg_redirect_hash`). The kernel
//! cannot test-run `sk_msg`, so these are modelled, not compared: each case's expected
//! return value, message, `size` and `data`..`data_end` were worked out by hand from
//! net/core/filter.c's `bpf_msg_*` for a message that is one scatterlist element.
//! The interpreter and the JIT must agree on everything.

use ebpfvm::ctx::{PointerContext, ProgramType};
use ebpfvm::elf::{MapDecl, MapOrigin, MapType, Object, ProgramSpec};
use ebpfvm::{Engine, Redirect, Select, Vm};

const EINVAL: u32 = -22i32 as u32;

/// One helper call: its id and r2..r4.
type Step = (u32, [u64; 3]);

/// Calls `steps` in order; returns the last result (u32) << 32, `data_end - data` << 8
/// and the byte at `data` (0 for an empty span).
fn program(steps: &[Step]) -> String {
    let mut asm = String::from("mov %r6, %r1\nmov %r7, 0\n");
    for (id, [a, b, c]) in steps {
        asm += &format!(
            "lddw %r2, {a:#x}\nlddw %r3, {b:#x}\nlddw %r4, {c:#x}\nmov %r1, %r6\ncall {id}\n\
             mov %r7, %r0\n"
        );
    }
    asm += "mov %r0, %r7\nlsh %r0, 32\n\
            ldxdw %r2, [%r6+0]\nldxdw %r3, [%r6+8]\nmov %r4, %r3\nsub %r4, %r2\n\
            lsh %r4, 8\nor %r0, %r4\n\
            mov %r4, %r2\nadd %r4, 1\njgt %r4, %r3, +2\nldxb %r5, [%r2+0]\nor %r0, %r5\nexit\n";
    asm
}

fn object(asm: &str, maps: Vec<MapDecl>) -> Object {
    Object {
        license: Some("GPL".into()),
        programs: vec![ProgramSpec {
            name: "prog".into(),
            section: "sk_msg".into(),
            prog_type: ProgramType::from_section("sk_msg"),
            program: ebpfvm::isa::assemble(asm).unwrap(),
        }],
        maps,
    }
}

/// What a run shows: r0, the message after it, `size` after it, the recorded byte
/// counts and the redirect.
type Seen = (
    u64,
    Vec<u8>,
    u32,
    (Option<u32>, Option<u32>),
    Option<Redirect>,
);

/// Runs the object's program over `msg` (its `size` given as its length) on both
/// engines, after `fill` sets up its maps.
fn run_both(object: &Object, msg: &[u8], fill: impl Fn(&Vm)) -> Seen {
    let results: Vec<Seen> = [Engine::Interpreter, Engine::Jit]
        .into_iter()
        .map(|engine| {
            let mut vm = Vm::from_object_typed(object, Select::Program("prog"), 1, None).unwrap();
            vm.set_engine(engine).unwrap();
            fill(&vm);
            let mut md = vec![0u8; 80];
            md[68..72].copy_from_slice(&(msg.len() as u32).to_le_bytes());
            let mut ctx = PointerContext::sk_msg(&md, msg, None).unwrap();
            let r0 = vm.run_pointers(&mut ctx).result.unwrap();
            let out = ctx.ctx_out();
            assert_eq!(out.len(), 80);
            let size = u32::from_le_bytes(out[68..72].try_into().unwrap());
            (
                r0,
                ctx.data().to_vec(),
                size,
                ctx.msg_bytes(),
                vm.last_redirect(),
            )
        })
        .collect();
    assert_eq!(results[0], results[1], "interpreter vs JIT");
    results.into_iter().next().unwrap()
}

fn r0(result: u32, span: u64, byte: u8) -> u64 {
    (result as u64) << 32 | span << 8 | byte as u64
}

#[test]
fn pull_push_and_pop_change_the_message_as_the_source_says() {
    const PULL: u32 = 63;
    const PUSH: u32 = 90;
    const POP: u32 = 91;
    let msg = b"abcdefghij";
    let z = |n: usize| vec![0u8; n];
    let cat = |parts: &[&[u8]]| parts.concat();
    // (steps, r0, message after)
    let cases: Vec<(Vec<Step>, u64, Vec<u8>)> = vec![
        // pull: data..data_end over [start, end); the message unchanged.
        (vec![(PULL, [0, 4, 0])], r0(0, 4, b'a'), msg.to_vec()),
        (vec![(PULL, [2, 5, 0])], r0(0, 3, b'c'), msg.to_vec()),
        (vec![(PULL, [9, 10, 0])], r0(0, 1, b'j'), msg.to_vec()),
        (vec![(PULL, [3, 3, 0])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        (vec![(PULL, [0, 11, 0])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        (
            vec![(PULL, [10, 12, 0])],
            r0(EINVAL, 10, b'a'),
            msg.to_vec(),
        ),
        (vec![(PULL, [0, 4, 1])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        // push: a new first element, or the element split around the new bytes;
        // data..data_end over the first element.
        (vec![(PUSH, [0, 3, 0])], r0(0, 3, 0), cat(&[&z(3), msg])),
        (
            vec![(PUSH, [4, 2, 0])],
            r0(0, 4, b'a'),
            cat(&[b"abcd", &z(2), b"efghij"]),
        ),
        // At the very end: a new last element, [10, 2].
        (
            vec![(PUSH, [10, 2, 0])],
            r0(0, 10, b'a'),
            cat(&[msg, &z(2)]),
        ),
        (vec![(PUSH, [11, 1, 0])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        (vec![(PUSH, [1, 0, 0])], r0(0, 10, b'a'), msg.to_vec()),
        (vec![(PUSH, [1, 1, 2])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        // A pull across the elements a push made merges them: [4, 2, 6] -> [12].
        (
            vec![(PUSH, [4, 2, 0]), (PULL, [3, 7, 0])],
            r0(0, 4, b'd'),
            cat(&[b"abcd", &z(2), b"efghij"]),
        ),
        // Within the first element no merge: [4, 2, 6], data over [1, 3).
        (
            vec![(PUSH, [4, 2, 0]), (PULL, [1, 3, 0])],
            r0(0, 2, b'b'),
            cat(&[b"abcd", &z(2), b"efghij"]),
        ),
        // pop: inside the element it splits it [2, 5]; from its start trims it.
        (vec![(POP, [2, 3, 0])], r0(0, 2, b'a'), b"abfghij".to_vec()),
        (vec![(POP, [0, 3, 0])], r0(0, 7, b'd'), b"defghij".to_vec()),
        (vec![(POP, [0, 10, 0])], r0(0, 0, 0), Vec::new()),
        (vec![(POP, [7, 3, 0])], r0(0, 7, b'a'), b"abcdefg".to_vec()),
        (vec![(POP, [5, 6, 0])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        (vec![(POP, [10, 0, 0])], r0(0, 10, b'a'), msg.to_vec()),
        (vec![(POP, [10, 1, 0])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        (vec![(POP, [1, 1, 1])], r0(EINVAL, 10, b'a'), msg.to_vec()),
        (
            vec![(POP, [0xffff_ffff, 2, 0])],
            r0(EINVAL, 10, b'a'),
            msg.to_vec(),
        ),
        // Across elements: [4, 2, 6] less [3, 7) is [3, 5].
        (
            vec![(PUSH, [4, 2, 0]), (POP, [3, 4, 0])],
            r0(0, 3, b'a'),
            b"abcfghij".to_vec(),
        ),
        // Pushed at the end, then popped across both: [10, 2] less [8, 12) is [8].
        (
            vec![(PUSH, [10, 2, 0]), (POP, [8, 4, 0])],
            r0(0, 8, b'a'),
            b"abcdefgh".to_vec(),
        ),
        // Whole elements go: [3, 10] less [0, 3) is [10].
        (
            vec![(PUSH, [0, 3, 0]), (POP, [0, 3, 0])],
            r0(0, 10, b'a'),
            msg.to_vec(),
        ),
    ];
    for (steps, want, message) in cases {
        let seen = run_both(&object(&program(&steps), vec![]), msg, |_| {});
        let size = message.len() as u32;
        assert_eq!(
            (seen.0, &seen.1, seen.2),
            (want, &message, size),
            "{steps:x?}"
        );
    }
}

#[test]
fn the_ring_fills_and_pushes_copy_into_an_element() {
    // 16 pushes at the front fill the 17-slot ring ([1] x 16 + [10]); a 17th push at the
    // front has no slot, so the first element grows: [2, 1 x 15, 10].
    let mut steps: Vec<Step> = (0..16).map(|_| (90, [0, 1, 0])).collect();
    let seen = run_both(&object(&program(&steps), vec![]), b"abcdefghij", |_| {});
    assert_eq!(seen.0, r0(0, 1, 0));
    steps.push((90, [0, 1, 0]));
    let seen = run_both(&object(&program(&steps), vec![]), b"abcdefghij", |_| {});
    assert_eq!(seen.0, r0(0, 2, 0));
    assert_eq!(seen.1.len(), 27);
    assert_eq!(seen.2, 27);
    // With one slot left, a push inside an element copies too: 15 pushes leave
    // [1 x 15, 10] (16 used); a push at offset 17 (inside the 10) grows that element
    // and data still spans the first.
    let mut steps: Vec<Step> = (0..15).map(|_| (90, [0, 1, 0])).collect();
    steps.push((90, [17, 1, 0]));
    steps.push((63, [15, 26, 0]));
    let seen = run_both(&object(&program(&steps), vec![]), b"abcdefghij", |_| {});
    // The last element is [ab, 0, cdefghij] = 11 bytes, so the pull stays inside it.
    assert_eq!(seen.0, r0(0, 11, b'a'));
}

#[test]
fn apply_and_cork_bytes_are_recorded() {
    let steps = [(61, [100, 0, 0]), (62, [0x1_0000_0200, 0, 0])];
    let seen = run_both(&object(&program(&steps), vec![]), b"hi", |_| {});
    assert_eq!(seen.0 >> 32, 0);
    assert_eq!(seen.3, (Some(100), Some(0x200)));
    let seen = run_both(&object(&program(&[]), vec![]), b"hi", |_| {});
    assert_eq!(seen.3, (None, None));
    assert_eq!(seen.4, None);
}

fn socket_map(name: &str, map_type: u32, key_size: u32) -> MapDecl {
    MapDecl {
        name: name.into(),
        map_type: MapType(map_type),
        key_size,
        value_size: 8,
        max_entries: 4,
        flags: 0,
        initial_data: None,
        inner: None,
        initial_values: vec![],
        origin: MapOrigin::Btf,
        map_extra: 0,
    }
}

#[test]
fn msg_redirects_record_the_socket() {
    let maps = vec![socket_map("ports", 15, 4), socket_map("peers", 18, 8)];
    let fill = |vm: &Vm| {
        let ports = vm.maps().find("ports").unwrap();
        vm.maps()
            .update(ports, &1u32.to_le_bytes(), &77u64.to_le_bytes(), 0)
            .unwrap();
        let peers = vm.maps().find("peers").unwrap();
        vm.maps()
            .update(peers, &5u64.to_le_bytes(), &88u64.to_le_bytes(), 0)
            .unwrap();
    };
    let by_map = |key: u32, flags: u64| {
        format!("lddw %r2, map_idx 0\nmov %r3, {key}\nlddw %r4, {flags:#x}\ncall 60\nexit")
    };
    let target = |map: &str, key: Vec<u8>, cookie, flags| Redirect::Socket {
        map: map.into(),
        key,
        cookie,
        flags,
    };
    for (key, flags, want) in [
        (
            1,
            1,
            (1, Some(target("ports", 1u32.to_le_bytes().to_vec(), 77, 1))),
        ),
        (
            1,
            0,
            (1, Some(target("ports", 1u32.to_le_bytes().to_vec(), 77, 0))),
        ),
        (2, 0, (0, None)),
        (1, 2, (0, None)),
    ] {
        let seen = run_both(&object(&by_map(key, flags), maps.clone()), b"m", fill);
        assert_eq!((seen.0, seen.4), want, "key {key} flags {flags}");
    }
    let by_hash = |key: u64| {
        format!(
            "stdw [%r10-8], {key}\nlddw %r2, map_idx 1\nmov %r3, %r10\nadd %r3, -8\n\
             mov %r4, 0\ncall 71\nexit"
        )
    };
    let seen = run_both(&object(&by_hash(5), maps.clone()), b"m", fill);
    assert_eq!(
        (seen.0, seen.4),
        (1, Some(target("peers", 5u64.to_le_bytes().to_vec(), 88, 0)))
    );
    let seen = run_both(&object(&by_hash(6), maps), b"m", fill);
    assert_eq!((seen.0, seen.4), (0, None));
}

#[test]
fn an_empty_message_takes_a_push() {
    let seen = run_both(&object(&program(&[(90, [0, 3, 0])]), vec![]), b"", |_| {});
    assert_eq!((seen.0, seen.1, seen.2), (r0(0, 3, 0), vec![0; 3], 3));
    let seen = run_both(&object(&program(&[(90, [1, 3, 0])]), vec![]), b"", |_| {});
    assert_eq!(seen.0, r0(EINVAL, 0, 0));
    let seen = run_both(&object(&program(&[(91, [0, 1, 0])]), vec![]), b"", |_| {});
    assert_eq!(seen.0, r0(EINVAL, 0, 0));
}

/// The kernel verifier accepts the programs above that need no map (it loads `sk_msg`
/// though it cannot run it), and ours loads them too. Skips, saying why, without
/// `bpf()`.
#[cfg(feature = "kernel")]
#[test]
fn the_kernel_verifier_accepts_the_helper_calls() {
    use ebpfvm_kernel::{KernelError, KernelProgram};
    let steps: [&[Step]; 6] = [
        &[(63, [0, 4, 0])],
        &[(90, [4, 2, 0])],
        &[(91, [2, 3, 0])],
        &[(61, [100, 0, 0]), (62, [200, 0, 0])],
        &[(90, [0, 3, 0]), (63, [1, 3, 0]), (91, [0, 1, 0])],
        &[],
    ];
    for steps in steps {
        let program = ebpfvm::isa::assemble(&program(steps)).unwrap();
        match KernelProgram::load_raw(&program, ProgramType::SkMsg.id(), None, "GPL") {
            Err(e @ (KernelError::Unavailable { .. } | KernelError::NotLinux)) => {
                eprintln!("skipping: {e}");
                return;
            }
            Err(e) => panic!("{steps:x?}: {e}"),
            Ok(_) => {}
        }
        Vm::with_type(program, ProgramType::SkMsg).unwrap();
    }
}
