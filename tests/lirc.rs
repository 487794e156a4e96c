//! `lirc_mode2`: the context rule (one u32, read whole), the helper allow-list and the
//! `rc_*` helpers recorded in order, on the interpreter and the JIT. The kernel here
//! has no lirc_mode2 (`CONFIG_RC_CORE` is off); `kernel_has_no_lirc_mode2` checks that
//! this is still so, and compares the access rule with the kernel where it loads.

use ebpfvm::ctx::access::{check, AccessKind};
use ebpfvm::ctx::{lirc, ProgramType};
use ebpfvm::{Engine, RcCall, Vm};
use ebpfvm_kernel::{KernelError, KernelProgram};

/// A toy decoder: a pulse over 8 ms is a key (scancode = the pulse's length, NEC
/// protocol 8, toggle when the length is odd); a 2250 us space repeats it; a pulse
/// under 1 ms moves the pointer by (length, -length). Returns the sample's kind.
const DECODER: &str = "
    ldxw %r6, [%r1+0]
    mov %r7, %r6
    and %r7, 0xffffff        # the value
    mov %r8, %r6
    rsh %r8, 24              # the kind
    jne %r8, 1, +13          # not a pulse: to the space check
    jgt %r7, 8000, +6        # to the key
    jgt %r7, 999, +14        # a pulse of 1-8 ms: nothing
    mov %r2, %r7
    mov %r3, 0
    sub %r3, %r7
    call 92                  # rc_pointer_rel(ctx, len, -len)
    ja +9
    mov %r2, 8
    mov %r3, %r7
    mov %r4, %r7
    and %r4, 1
    call 78                  # rc_keydown(ctx, 8, len, len & 1)
    ja +3
    jne %r8, 0, +2           # the space check
    jne %r7, 2250, +1
    call 77                  # rc_repeat(ctx)
    mov %r0, %r8
    exit
";

fn decoder(engine: Engine) -> Vm {
    let program = ebpfvm::isa::assemble(DECODER).unwrap();
    let mut vm = Vm::with_type(program, ProgramType::LircMode2).unwrap();
    vm.set_engine(engine).unwrap();
    vm
}

#[test]
fn rc_helpers_are_recorded_in_order_on_both_engines() {
    let samples = [
        (
            "pulse:9000",
            1,
            vec![RcCall::Keydown {
                protocol: 8,
                scancode: 9000,
                toggle: false,
            }],
        ),
        (
            "pulse:9001",
            1,
            vec![RcCall::Keydown {
                protocol: 8,
                scancode: 9001,
                toggle: true,
            }],
        ),
        ("space:2250", 0, vec![RcCall::Repeat]),
        ("space:560", 0, vec![]),
        ("pulse:560", 1, vec![RcCall::PointerRel { x: 560, y: -560 }]),
        ("pulse:1500", 1, vec![]),
        ("timeout:125000", 3, vec![]),
    ];
    for engine in [Engine::Interpreter, Engine::Jit] {
        let mut vm = decoder(engine);
        for (text, kind, calls) in &samples {
            let mut ctx = lirc::sample(text).unwrap().to_le_bytes();
            let outcome = vm.run_context(&mut ctx);
            assert_eq!(outcome.result, Ok(*kind), "{engine:?} {text}");
            assert_eq!(&vm.take_rc_calls(), calls, "{engine:?} {text}");
            assert!(vm.take_rc_calls().is_empty(), "taken");
        }
    }
}

#[test]
fn the_sample_is_one_u32_read_whole() {
    let read = AccessKind::Read { sign_extend: false };
    let ty = ProgramType::LircMode2;
    assert!(check(ty, 0, 4, read).is_ok());
    for (off, size) in [(0, 1), (0, 2), (0, 8), (2, 2), (4, 4), (-4, 4), (1, 1)] {
        let e = check(ty, off, size, read).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("invalid bpf_context access off={off} size={size}")
        );
    }
    assert!(check(ty, 0, 4, AccessKind::WriteReg).is_err());
    assert!(check(ty, 0, 4, AccessKind::WriteImm(1)).is_err());
    // Through the loader, with the pc.
    let write = ebpfvm::isa::assemble("stw [%r1+0], 1\nmov %r0, 0\nexit").unwrap();
    let e = Vm::with_type(write, ty).err().unwrap().to_string();
    assert!(
        e.contains("pc 0: invalid bpf_context access off=0 size=4"),
        "{e}"
    );
}

#[test]
fn helpers_outside_lirc_mode2_func_proto_are_refused() {
    let call = |id: i32| {
        ebpfvm::isa::assemble(&format!("mov %r1, 0\ncall {id}\nmov %r0, 0\nexit")).unwrap()
    };
    for id in [77, 78, 92, 5, 7] {
        assert!(
            Vm::with_type(call(id), ProgramType::LircMode2).is_ok(),
            "{id}"
        );
    }
    // Not in its proto: packet helpers, bpf_get_smp_processor_id (in the base set of
    // most types, not here), redirect.
    for id in [8, 9, 23, 14] {
        let e = Vm::with_type(call(id), ProgramType::LircMode2)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("cannot use helper") || e.contains("invalid func"),
            "{id}: {e}"
        );
    }
    // And the rc_* helpers are for lirc_mode2 only.
    assert!(Vm::with_type(call(78), ProgramType::Xdp).is_err());
}

#[test]
fn samples_parse_as_lirc_h_encodes_them() {
    assert_eq!(lirc::sample("pulse:560"), Ok(0x0100_0230));
    assert_eq!(lirc::sample("space:0x10"), Ok(0x10));
    assert_eq!(lirc::sample("frequency:38000"), Ok(0x0200_0000 | 38000));
    assert_eq!(lirc::sample("timeout:1"), Ok(0x0300_0001));
    assert_eq!(lirc::sample("0x04000000"), Ok(0x0400_0000));
    for bad in ["pulse:16777216", "blink:1", "pulse:x", "-1", "0x100000000"] {
        assert!(lirc::sample(bad).is_err(), "{bad}");
    }
}

/// This kernel refuses the type itself; if a kernel with lirc_mode2 runs the tests,
/// the context rule is compared with its verifier instead.
#[test]
fn kernel_has_no_lirc_mode2() {
    let load = |asm: &str| {
        let program = ebpfvm::isa::assemble(asm).unwrap();
        KernelProgram::load_raw(&program, ProgramType::LircMode2.id(), None, "GPL")
    };
    match load("ldxw %r0, [%r1+0]\nexit") {
        Err(e) if e.is_unavailable() => eprintln!("skipped: {e}"),
        Err(KernelError::Refused { error, .. }) if error.raw_os_error() == Some(libc::EINVAL) => {
            eprintln!("the kernel has no lirc_mode2 ({error}): nothing to compare");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => {
            for (off, size) in [(0, 4), (0, 1), (0, 8), (4, 4)] {
                let op = match size {
                    1 => "ldxb",
                    2 => "ldxh",
                    4 => "ldxw",
                    _ => "ldxdw",
                };
                let kernel = load(&format!("{op} %r0, [%r1+{off}]\nexit")).is_ok();
                let read = AccessKind::Read { sign_extend: false };
                let ours = check(ProgramType::LircMode2, off, size, read).is_ok();
                assert_eq!(kernel, ours, "off={off} size={size}");
            }
        }
    }
}
