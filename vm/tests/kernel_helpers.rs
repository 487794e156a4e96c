//! The kernel helpers through both engines: programs in assembly use maps through
//! `lddw` map references, tail calls, `bpf_loop`, ring buffers, and the environment
//! helpers, and the host checks maps and captured output afterwards.
//!
//! Every test runs once on the interpreter and once on the JIT (`both`), each with
//! fresh maps; besides the test's own checks, the two runs must record the same
//! outcomes (result, trap, instruction count) for every program run and leave the same
//! map contents.

use ebpfvm_isa::{assemble, Program};
use ebpfvm_jit::JitProgram;
use ebpfvm_vm::kernel_helpers::{self, Kernel};
use ebpfvm_vm::maps::{BPF_ANY, BPF_F_RDONLY_PROG};
use ebpfvm_vm::{
    Helpers, Interpreter, MapId, MapKind, MapSpec, Maps, MemoryMap, Outcome, RegionKind, Stack,
    TrapKind, MAX_TAIL_CALLS,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Interp,
    Jit,
}

struct Env {
    engine: Engine,
    maps: Maps,
    helpers: Helpers,
    kernel: Kernel,
    stack: Stack,
    /// Every run's outcome, in order.
    log: Vec<Outcome>,
}

/// Runs `test` on each engine; the outcomes of their runs and the maps afterwards
/// must be equal.
fn both(test: fn(&mut Env)) {
    let mut records = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let mut env = Env::new(engine);
        test(&mut env);
        let maps: Vec<_> = env.maps.ids().map(|id| env.maps.entries(id)).collect();
        records.push((env.log, maps));
    }
    assert_eq!(records[0].0, records[1].0, "outcomes: interpreter, JIT");
    assert_eq!(records[0].1, records[1].1, "maps: interpreter, JIT");
}

impl Env {
    fn new(engine: Engine) -> Env {
        let kernel = Kernel::new();
        let mut helpers = Helpers::new();
        kernel_helpers::register(&mut helpers, &kernel);
        Env {
            engine,
            maps: Maps::with_cpus(2),
            helpers,
            kernel,
            stack: Stack::new(),
            log: Vec::new(),
        }
    }

    /// Prepares `program` for this env's engine (with the map table, or without).
    fn lower(&self, program: &Program, with_maps: bool) -> Result<(), String> {
        match (self.engine, with_maps) {
            (Engine::Interp, false) => Interpreter::new(program)
                .map(drop)
                .map_err(|e| e.to_string()),
            (Engine::Interp, true) => Interpreter::with_maps(program, &self.maps)
                .map(drop)
                .map_err(|e| e.to_string()),
            (Engine::Jit, false) => JitProgram::compile(program)
                .map(drop)
                .map_err(|e| e.to_string()),
            (Engine::Jit, true) => JitProgram::with_maps(program, &self.maps)
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    }

    fn map(&mut self, kind: MapKind, key: u32, value: u32, max: u32) -> MapId {
        self.maps
            .create(MapSpec::new("m", kind, key, value, max))
            .unwrap()
    }

    fn compile(&self, asm: &str) -> Program {
        let program = assemble(asm).unwrap_or_else(|e| panic!("{e}\n{asm}"));
        self.lower(&program, true).unwrap();
        program
    }

    /// Runs the first program with all of them as the tail-call table; r1 = `mem`.
    fn run_all(&mut self, programs: &[Program], mem: &mut [u8]) -> Outcome {
        self.stack.clear();
        let mut memory = MemoryMap::with_maps(&mut self.stack, &self.maps);
        let addr = memory.map_mut(RegionKind::Memory, mem).unwrap();
        let args = [addr, 0, 0, 0, 0];
        let budget = Some(1_000_000);
        let outcome = match self.engine {
            Engine::Interp => {
                let table: Vec<_> = programs
                    .iter()
                    .map(|p| Interpreter::with_maps(p, &self.maps).unwrap())
                    .collect();
                table[0].run_linked(args, &mut memory, &mut self.helpers, budget, &table)
            }
            Engine::Jit => {
                let table: Vec<_> = programs
                    .iter()
                    .map(|p| JitProgram::with_maps(p, &self.maps).unwrap())
                    .collect();
                table[0].run_linked(args, &mut memory, &mut self.helpers, budget, &table)
            }
        };
        self.log.push(outcome.clone());
        outcome
    }

    fn run(&mut self, asm: &str) -> Outcome {
        let p = self.compile(asm);
        self.run_all(&[p], &mut [0; 16])
    }

    fn ok(&mut self, asm: &str) -> u64 {
        let out = self.run(asm);
        out.result.unwrap_or_else(|t| panic!("{t}\n{asm}"))
    }
}

/// The tests, each on both engines (see [`both`]).
mod both_engines {
    #[test]
    fn lookup_returns_a_pointer_the_program_writes() {
        super::both(super::lookup_returns_a_pointer_the_program_writes);
    }
    #[test]
    fn update_and_delete_return_kernel_errnos() {
        super::both(super::update_and_delete_return_kernel_errnos);
    }
    #[test]
    fn a_deleted_value_stays_valid_memory_until_the_run_ends() {
        super::both(super::a_deleted_value_stays_valid_memory_until_the_run_ends);
    }
    #[test]
    fn global_data_through_map_values() {
        super::both(super::global_data_through_map_values);
    }
    #[test]
    fn lowering_checks_map_references() {
        super::both(super::lowering_checks_map_references);
    }
    #[test]
    fn tail_calls_jump_and_stop_after_33() {
        super::both(super::tail_calls_jump_and_stop_after_33);
    }
    #[test]
    fn tail_call_from_a_subprogram_returns_to_its_caller() {
        super::both(super::tail_call_from_a_subprogram_returns_to_its_caller);
    }
    #[test]
    fn bpf_loop_calls_back() {
        super::both(super::bpf_loop_calls_back);
    }
    #[test]
    fn ring_buffer_from_a_program() {
        super::both(super::ring_buffer_from_a_program);
    }
    #[test]
    fn queue_push_pop_peek() {
        super::both(super::queue_push_pop_peek);
    }
    #[test]
    fn perf_event_output_is_captured() {
        super::both(super::perf_event_output_is_captured);
    }
    #[test]
    fn environment_helpers() {
        super::both(super::environment_helpers);
    }
    #[test]
    fn trace_printk_is_captured() {
        super::both(super::trace_printk_is_captured);
    }
    #[test]
    fn probe_read_registered_memory() {
        super::both(super::probe_read_registered_memory);
    }
    #[test]
    fn every_probe_read_variant_and_the_remaining_ids() {
        super::both(super::every_probe_read_variant_and_the_remaining_ids);
    }
    #[test]
    fn maps_of_maps_give_inner_handles_usable_as_maps() {
        super::both(super::maps_of_maps_give_inner_handles_usable_as_maps);
    }
}

fn u64s(v: &[u8]) -> u64 {
    u64::from_le_bytes(v[..8].try_into().unwrap())
}

/// key (u32 at r10-4) = K; r2 = &key; r1 = map 0
const KEY_SETUP: &str = "
    stw [%r10-4], KEY
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_idx 0
";

fn with_key(key: u32, rest: &str) -> String {
    KEY_SETUP.replace("KEY", &key.to_string()) + rest
}

fn lookup_returns_a_pointer_the_program_writes(env: &mut Env) {
    let a = env.map(MapKind::Array, 4, 8, 4);
    let prog = with_key(
        2,
        "call 1
         jeq %r0, 0, +4
         ldxdw %r1, [%r0]
         add %r1, 5
         stxdw [%r0], %r1
         mov %r0, %r1
         exit",
    );
    assert_eq!(env.ok(&prog), 5);
    assert_eq!(env.ok(&prog), 10);
    assert_eq!(u64s(&env.maps.lookup(a, &2u32.to_le_bytes()).unwrap()), 10);
    // Out of range: NULL.
    assert_eq!(env.ok(&with_key(4, "call 1\nexit")), 0);
}

fn update_and_delete_return_kernel_errnos(env: &mut Env) {
    let h = env.map(MapKind::Hash, 4, 8, 2);
    let update = |flags: u64| {
        with_key(
            7,
            &format!(
                "stdw [%r10-16], 99
                 mov %r3, %r10
                 add %r3, -16
                 mov %r4, {flags}
                 call 2
                 exit"
            ),
        )
    };
    assert_eq!(
        env.ok(&update(2)),
        (-2i64) as u64,
        "BPF_EXIST on a missing key: -ENOENT"
    );
    assert_eq!(env.ok(&update(1)), 0);
    assert_eq!(
        env.ok(&update(1)),
        (-17i64) as u64,
        "BPF_NOEXIST on an existing key: -EEXIST"
    );
    assert_eq!(u64s(&env.maps.lookup(h, &7u32.to_le_bytes()).unwrap()), 99);
    assert_eq!(env.ok(&with_key(7, "call 3\nexit")), 0);
    assert_eq!(env.ok(&with_key(7, "call 3\nexit")), (-2i64) as u64);
}

fn a_deleted_value_stays_valid_memory_until_the_run_ends(env: &mut Env) {
    env.map(MapKind::Hash, 4, 8, 1);
    let prog = with_key(
        1,
        "stdw [%r10-16], 1
         mov %r3, %r10
         add %r3, -16
         mov %r4, 0
         call 2
         mov %r2, %r10
         add %r2, -4
         lddw %r1, map_idx 0
         call 1
         mov %r6, %r0
         mov %r2, %r10
         add %r2, -4
         lddw %r1, map_idx 0
         call 3
         stdw [%r6], 77
         ldxdw %r0, [%r6]
         exit",
    );
    assert_eq!(env.ok(&prog), 77);
}

fn global_data_through_map_values(env: &mut Env) {
    let data = env.map(MapKind::Array, 4, 16, 1);
    let mut ro = MapSpec::new(".rodata", MapKind::Array, 4, 8, 1);
    ro.flags = BPF_F_RDONLY_PROG;
    let rodata = env.maps.create(ro).unwrap();
    env.maps
        .set_initial_data(rodata, &40u64.to_le_bytes())
        .unwrap();
    let prog = "lddw %r1, map_idx_value 1+0
                ldxdw %r0, [%r1]
                lddw %r2, map_idx_value 0+8
                stxdw [%r2], %r0
                add %r0, 2
                exit";
    assert_eq!(env.ok(prog), 42);
    assert_eq!(
        u64s(&env.maps.lookup(data, &0u32.to_le_bytes()).unwrap()[8..]),
        40
    );
    let trap = env
        .run("lddw %r1, map_idx_value 1+0\nstdw [%r1], 1\nexit")
        .result
        .unwrap_err();
    assert!(
        matches!(
            trap.kind,
            TrapKind::OutOfBounds {
                region: Some(RegionKind::MapValue),
                ..
            }
        ),
        "{trap}"
    );
    assert_eq!(env.ok("lddw %r1, map_idx 1\nmov %r2, %r10\nadd %r2, -8\nstw [%r2], 0\nmov %r3, %r2\nmov %r4, 0\ncall 2\nexit"), (-1i64) as u64, "EPERM");
}

fn lowering_checks_map_references(env: &mut Env) {
    env.map(MapKind::Hash, 4, 8, 1);
    let p = assemble("lddw %r1, map_idx 0\nexit").unwrap();
    assert!(env.lower(&p, false).is_err(), "no map table");
    let p = assemble("lddw %r1, map_idx 5\nexit").unwrap();
    assert_eq!(
        env.lower(&p, true).unwrap_err(),
        "pc 0: a map reference to a map index outside the map table is not supported by this engine"
    );
    let p = assemble("lddw %r1, map_idx_value 0+0\nexit").unwrap();
    assert!(
        env.lower(&p, true).is_err(),
        "hash maps have no direct value"
    );
    assert_eq!(env.ok("lddw %r0, map_idx 0\nexit"), MapId(0).handle());
    assert_eq!(env.ok("lddw %r0, map_fd 0\nexit"), MapId(0).handle());
    // A handle is not memory.
    assert!(env
        .run("lddw %r1, map_idx 0\nldxb %r0, [%r1]\nexit")
        .result
        .is_err());
    // A non-map where a map is expected is a fault, not a panic.
    let trap = env
        .run("mov %r1, 5\nmov %r2, %r10\ncall 1\nexit")
        .result
        .unwrap_err();
    assert!(
        matches!(trap.kind, TrapKind::HelperFault { id: 1, .. }),
        "{trap}"
    );
}

fn tail_calls_jump_and_stop_after_33(env: &mut Env) {
    let jumps = env.map(MapKind::ProgArray, 4, 4, 4);
    let counter = env.map(MapKind::Array, 4, 8, 1);
    // Program 0: count, then tail-call slot 0 (itself) until the limit; then return 7.
    let prog0 = "
        mov %r6, %r1
        lddw %r2, map_idx_value 1+0
        ldxdw %r3, [%r2]
        add %r3, 1
        stxdw [%r2], %r3
        mov %r1, %r6
        lddw %r2, map_idx 0
        mov %r3, 0
        call 12
        mov %r0, 7
        exit";
    // Program 1: r1 (the context) is kept across the jump.
    let prog1 = "
        mov %r1, %r1
        lddw %r2, map_idx 0
        mov %r3, 1
        call 12
        mov %r0, 9
        exit";
    let prog2 = "ldxb %r0, [%r1]\nexit";
    let p = [env.compile(prog0), env.compile(prog1), env.compile(prog2)];
    env.maps
        .update(jumps, &0u32.to_le_bytes(), &0u32.to_le_bytes(), BPF_ANY)
        .unwrap();
    let out = env.run_all(&p, &mut [0; 16]);
    assert_eq!(out.result, Ok(7));
    let runs = u64s(&env.maps.lookup(counter, &0u32.to_le_bytes()).unwrap());
    assert_eq!(runs, 1 + MAX_TAIL_CALLS as u64);
    // Slot 1 -> program 2, which reads the context.
    env.maps
        .update(jumps, &1u32.to_le_bytes(), &2u32.to_le_bytes(), BPF_ANY)
        .unwrap();
    let q = [env.compile(prog1), env.compile(prog0), env.compile(prog2)];
    let mut mem = [0x5au8; 16];
    assert_eq!(env.run_all(&q, &mut mem).result, Ok(0x5a));
    // An empty slot falls through.
    env.maps.delete(jumps, &1u32.to_le_bytes()).unwrap();
    assert_eq!(env.run_all(&q, &mut mem).result, Ok(9));
}

fn tail_call_from_a_subprogram_returns_to_its_caller(env: &mut Env) {
    let jumps = env.map(MapKind::ProgArray, 4, 4, 1);
    let main = "
        call local sub
        add %r0, 100
        exit
    sub:
        lddw %r2, map_idx 0
        mov %r3, 0
        call 12
        mov %r0, 1
        exit";
    let p = [env.compile(main), env.compile("mov %r0, 5\nexit")];
    env.maps
        .update(jumps, &0u32.to_le_bytes(), &1u32.to_le_bytes(), BPF_ANY)
        .unwrap();
    assert_eq!(env.run_all(&p, &mut [0; 4]).result, Ok(105));
}

fn bpf_loop_calls_back(env: &mut Env) {
    // sum of i for i in 0..N into the u64 at r10-8, stopping early when i == STOP.
    let prog = |n: i64, stop: i64, flags: i64| {
        format!(
            "stdw [%r10-8], 0
             mov %r1, {n}
             lddw %r2, code_addr cb
             mov %r3, %r10
             add %r3, -8
             mov %r4, {flags}
             call 181
             ldxdw %r1, [%r10-8]
             lsh %r0, 32
             or %r0, %r1
             exit
         cb:
             ldxdw %r3, [%r2]
             add %r3, %r1
             stxdw [%r2], %r3
             mov %r0, 0
             jne %r1, {stop}, +1
             mov %r0, 1
             exit"
        )
    };
    assert_eq!(env.ok(&prog(5, -1, 0)), 5 << 32 | 10);
    assert_eq!(
        env.ok(&prog(5, 2, 0)),
        3 << 32 | 3,
        "stops after the callback returns 1"
    );
    assert_eq!(env.ok(&prog(0, -1, 0)), 0);
    assert_eq!(env.ok(&prog(5, -1, 1)) >> 32, 0xffff_ffea, "flags: -EINVAL");
    assert_eq!(
        env.ok(&prog(1 << 24, -1, 0)) >> 32,
        0xffff_fff9,
        "too many: -E2BIG"
    );
    let trap = env
        .run("mov %r1, 2\nmov %r2, 8\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit")
        .result
        .unwrap_err();
    assert!(
        matches!(trap.kind, TrapKind::BadCallTarget { target: 8 }),
        "{trap}"
    );
}

fn ring_buffer_from_a_program(env: &mut Env) {
    let rb = env
        .maps
        .create(MapSpec::new("rb", MapKind::RingBuf, 0, 0, 4096))
        .unwrap();
    let prog = "
        lddw %r1, map_idx 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, +5
        stdw [%r0], 0x1234
        mov %r1, %r0
        mov %r2, 0
        call 132
        ja +0
        stdw [%r10-8], 0x77
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -8
        mov %r3, 8
        mov %r4, 0
        call 130
        lddw %r1, map_idx 0
        mov %r2, 0
        call 134
        exit";
    assert_eq!(env.ok(prog), 32, "two 16-byte records available");
    let recs = env.maps.ringbuf_consume(rb).unwrap();
    assert_eq!(
        recs,
        vec![
            0x1234u64.to_le_bytes().to_vec(),
            0x77u64.to_le_bytes().to_vec()
        ]
    );
    // Submitting something that was not reserved is a fault.
    let trap = env
        .run("mov %r1, %r10\nmov %r2, 0\ncall 132\nexit")
        .result
        .unwrap_err();
    assert!(matches!(trap.kind, TrapKind::HelperFault { id: 132, .. }));
}

fn queue_push_pop_peek(env: &mut Env) {
    let q = env.map(MapKind::Queue, 0, 8, 4);
    let prog = "
        stdw [%r10-8], 5
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -8
        mov %r3, 0
        call 87
        stdw [%r10-8], 6
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -8
        mov %r3, 0
        call 87
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -16
        call 88
        ldxdw %r0, [%r10-16]
        exit";
    assert_eq!(env.ok(prog), 5);
    assert_eq!(env.maps.entries(q).unwrap().len(), 1);
    let peek =
        "lddw %r1, map_idx 0\nmov %r2, %r10\nadd %r2, -8\ncall 89\nldxdw %r0, [%r10-8]\nexit";
    assert_eq!(env.ok(peek), 6);
    env.maps.lookup_and_delete(q, &[]).unwrap();
    assert_eq!(
        env.ok("lddw %r1, map_idx 0\nmov %r2, %r10\nadd %r2, -8\ncall 88\nexit"),
        (-2i64) as u64
    );
}

fn perf_event_output_is_captured(env: &mut Env) {
    let p = env.map(MapKind::PerfEventArray, 4, 4, 2);
    env.maps.set_current_cpu(1);
    let prog = "
        stdw [%r10-8], 0x4142
        lddw %r2, map_idx 0
        lddw %r3, 0xffffffff
        mov %r4, %r10
        add %r4, -8
        mov %r5, 2
        call 25
        exit";
    assert_eq!(env.ok(prog), 0);
    let recs = env.maps.perf_records(p).unwrap();
    assert_eq!((recs[0].index, recs[0].data.as_slice()), (1, &b"BA"[..]));
}

fn environment_helpers(env: &mut Env) {
    env.kernel.with(|k| {
        k.time_ns = 123;
        k.boot_offset_ns = 1000;
        k.pid = 7;
        k.tgid = 8;
        k.uid = 9;
        k.gid = 10;
        k.set_comm("worker");
        k.seed(1);
    });
    env.maps.set_current_cpu(1);
    assert_eq!(env.ok("call 5\nexit"), 123);
    assert_eq!(env.ok("call 125\nexit"), 1123);
    assert_eq!(env.ok("call 8\nexit"), 1);
    assert_eq!(env.ok("call 14\nexit"), 8 << 32 | 7);
    assert_eq!(env.ok("call 15\nexit"), 10 << 32 | 9);
    let r1 = env.ok("call 7\nexit");
    env.kernel.with(|k| k.seed(1));
    assert_eq!(env.ok("call 7\nexit"), r1, "seeded");
    assert_ne!(env.ok("call 7\nexit"), r1);
    let comm = "mov %r1, %r10\nadd %r1, -16\nmov %r2, 16\ncall 16\nldxdw %r0, [%r10-16]\nexit";
    assert_eq!(env.ok(comm).to_le_bytes(), *b"worker\0\0");
}

fn trace_printk_is_captured(env: &mut Env) {
    // "x=%d\0" at r10-8
    let prog = format!(
        "lddw %r1, {:#x}
         stxdw [%r10-8], %r1
         mov %r1, %r10
         add %r1, -8
         mov %r2, 5
         mov %r3, -3
         call 6
         exit",
        u64::from_le_bytes(*b"x=%d\0\0\0\0")
    );
    assert_eq!(env.ok(&prog), 4);
    assert_eq!(env.kernel.take_trace(), ["x=-3"]);
}

fn probe_read_registered_memory(env: &mut Env) {
    env.kernel
        .with(|k| k.register_memory(0xffff_8880_0000_1000, b"kernel!\0rest".to_vec()));
    // r0 = the helper's result << 32 | the low half of what it wrote at r10-8.
    let read = |src: &str| {
        format!(
            "stdw [%r10-8], -1
             mov %r1, %r10
             add %r1, -8
             mov %r2, 8
             lddw %r3, {src}
             call 113
             ldxw %r1, [%r10-8]
             lsh %r0, 32
             or %r0, %r1
             exit"
        )
    };
    let low = u32::from_le_bytes(*b"kern") as u64;
    assert_eq!(env.ok(&read("0xffff888000001000")), low);
    // Unreadable: -EFAULT and the destination zeroed.
    assert_eq!(env.ok(&read("0xdead0000")), (-14i64 as u64) << 32);
    // Guest memory is readable too (the stack).
    assert_eq!(env.ok(&read("0x200000ff0")) >> 32, 0);
    // The string variant stops at the NUL and returns the length with it.
    let s =
        "mov %r1, %r10\nadd %r1, -16\nmov %r2, 16\nlddw %r3, 0xffff888000001000\ncall 115\nexit";
    assert_eq!(env.ok(s), 8);
}

fn every_probe_read_variant_and_the_remaining_ids(env: &mut Env) {
    env.kernel.with(|k| {
        k.register_memory(0x1000_0000_0000, b"abc\0".to_vec());
        k.time_ns = 9;
    });
    for id in [4, 112, 113] {
        let prog = format!(
            "mov %r1, %r10\nadd %r1, -8\nmov %r2, 4\nlddw %r3, 0x100000000000\ncall {id}\nldxw %r0, [%r10-8]\nexit"
        );
        assert_eq!(
            env.ok(&prog),
            u32::from_le_bytes(*b"abc\0") as u64,
            "helper {id}"
        );
    }
    for id in [45, 114, 115] {
        let prog = format!(
            "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nlddw %r3, 0x100000000000\ncall {id}\nexit"
        );
        assert_eq!(env.ok(&prog), 4, "helper {id}");
    }
    assert_eq!(env.ok("call 160\nexit"), 9);
    // Reserve, then discard: nothing reaches the consumer, the space is reclaimed.
    let rb = env
        .maps
        .create(MapSpec::new("rb", MapKind::RingBuf, 0, 0, 4096))
        .unwrap();
    let prog = "lddw %r1, map_idx 0\nmov %r2, 8\nmov %r3, 0\ncall 131\nmov %r1, %r0\nmov %r2, 0\ncall 133\nexit";
    assert_eq!(env.ok(prog), 0);
    assert_eq!(env.maps.ringbuf_consume(rb), Ok(vec![]));
    assert_eq!(
        env.maps.ringbuf_query(rb, 2),
        16,
        "consumer moved past the discarded record"
    );
}

fn maps_of_maps_give_inner_handles_usable_as_maps(env: &mut Env) {
    let mut outer = MapSpec::new("outer", MapKind::HashOfMaps, 4, 4, 4);
    outer.inner = Some(Box::new(MapSpec::new("inner", MapKind::Array, 4, 8, 1)));
    let outer = env.maps.create(outer).unwrap();
    let inner = env.map(MapKind::Array, 4, 8, 1);
    env.maps
        .update(outer, &3u32.to_le_bytes(), &inner.0.to_le_bytes(), BPF_ANY)
        .unwrap();
    // inner = lookup(outer, 3); v = lookup(inner, 0); *v = 5
    let prog = with_key(
        3,
        "call 1
         jeq %r0, 0, +7
         mov %r1, %r0
         stw [%r10-8], 0
         mov %r2, %r10
         add %r2, -8
         call 1
         jeq %r0, 0, +1
         stdw [%r0], 5
         exit",
    );
    env.ok(&prog);
    assert_eq!(
        u64s(&env.maps.lookup(inner, &0u32.to_le_bytes()).unwrap()),
        5
    );
}
