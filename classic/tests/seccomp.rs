//! seccomp policies generated with libseccomp (random rules, several architectures,
//! every comparison), exported as BPF and evaluated by our checker and translation
//! against the actions their rules define, on every engine. Skipped, with a message,
//! without libseccomp.

mod common;

use common::engines::engines;
use common::libseccomp::{ArgCmp, LibSeccomp, EQ, GE, GT, LE, LT, MASKED_EQ, NE};
use common::Rng;
use ebpfvm_classic::parse_raw;
use ebpfvm_classic::seccomp::{
    combine, syscall_number, Action, SeccompData, SeccompFilter, AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_X86_64,
};
use ebpfvm_vm::Stack;

const SYSCALLS: &[&str] = &[
    "read",
    "write",
    "openat",
    "close",
    "mmap",
    "getpid",
    "getppid",
    "ioctl",
    "socket",
    "connect",
    "kill",
    "prctl",
    "futex",
    "clone",
    "execve",
    "getpriority",
    "dup",
    "lseek",
    "fcntl",
    "uname",
    "getuid",
    "setuid",
    "bpf",
    "memfd_create",
    "pipe2",
];

const I386: u32 = 0x4000_0003;

struct Policy {
    default: u32,
    arches: Vec<u32>,
    rules: Vec<(u32, &'static str, Vec<ArgCmp>)>,
}

fn random_action(rng: &mut Rng) -> u32 {
    match rng.below(8) {
        0 => 0x8000_0000,
        1 => 0,
        2 => 0x0003_0000, // libseccomp takes no data for SCMP_ACT_TRAP
        3 | 4 => 0x0005_0000 | (1 + rng.below(4000) as u32),
        5 => 0x7ff0_0000 | rng.below(100) as u32,
        6 => 0x7ffc_0000,
        _ => 0x7fff_0000,
    }
}

fn random_value(rng: &mut Rng) -> u64 {
    match rng.below(5) {
        0 => rng.below(8),
        1 => rng.next(),
        2 => 1 << rng.below(64),
        3 => u64::MAX - rng.below(3),
        _ => rng.below(1 << 32) << 32 | rng.below(4),
    }
}

fn random_policy(rng: &mut Rng) -> Policy {
    let default = random_action(rng);
    let mut arches = Vec::new();
    if rng.chance(40) {
        arches.push(AUDIT_ARCH_AARCH64);
    }
    let mut names: Vec<&'static str> = Vec::new();
    let mut rules = Vec::new();
    for _ in 0..1 + rng.below(8) {
        let name = *rng.pick(SYSCALLS);
        if names.contains(&name) {
            continue;
        }
        let mut action = random_action(rng);
        while action == default {
            action = random_action(rng);
        }
        let mut cmps: Vec<ArgCmp> = Vec::new();
        for _ in 0..rng.below(3) {
            let arg = rng.below(6) as u32;
            if cmps.iter().any(|c| c.arg == arg) {
                continue;
            }
            let op = *rng.pick(&[NE, LT, LE, EQ, GE, GT, MASKED_EQ]);
            let a = random_value(rng);
            let b = if op == MASKED_EQ {
                a & random_value(rng)
            } else {
                0
            };
            cmps.push(ArgCmp { arg, op, a, b });
        }
        names.push(name);
        rules.push((action, name, cmps));
    }
    Policy {
        default,
        arches,
        rules,
    }
}

/// What the rules say for `data`.
fn expected(policy: &Policy, lib: &LibSeccomp, data: &SeccompData) -> u32 {
    let known = data.arch == AUDIT_ARCH_X86_64 || policy.arches.contains(&data.arch);
    if !known {
        return 0; // SCMP_ACT_KILL_THREAD: libseccomp's default for a bad architecture
    }
    for (action, name, cmps) in &policy.rules {
        if lib.resolve(data.arch, name) == Some(data.nr) {
            return if cmps.iter().all(|c| c.holds(&data.args)) {
                *action
            } else {
                policy.default
            };
        }
    }
    policy.default
}

fn random_case(rng: &mut Rng, policy: &Policy) -> SeccompData {
    let arch = *rng.pick(&[
        AUDIT_ARCH_X86_64,
        AUDIT_ARCH_X86_64,
        AUDIT_ARCH_AARCH64,
        I386,
    ]);
    let nr = if rng.chance(70) {
        let (_, name, _) = rng.pick(&policy.rules);
        syscall_number(arch, name).map_or(rng.below(400) as i32, |n| n as i32)
    } else {
        rng.below(450) as i32
    };
    let mut args = [0u64; 6];
    for a in &mut args {
        *a = random_value(rng);
    }
    // Often reuse the rule's own constants, so the comparisons' edges are hit.
    for (_, _, cmps) in &policy.rules {
        for c in cmps {
            if rng.chance(40) {
                args[c.arg as usize] = match rng.below(3) {
                    0 => c.a,
                    1 => c.a.wrapping_add(1),
                    _ => c.a.wrapping_sub(1) | c.b,
                };
            }
        }
    }
    SeccompData {
        nr,
        arch,
        instruction_pointer: rng.next(),
        args,
    }
}

#[test]
fn libseccomp_policies_give_the_actions_their_rules_define() {
    let lib = match LibSeccomp::load() {
        Ok(l) => l,
        Err(why) => {
            eprintln!("SKIP: {why}");
            return;
        }
    };
    let mut rng = Rng::new(7);
    let mut seen = std::collections::HashSet::new();
    for i in 0..300 {
        let policy = random_policy(&mut rng);
        let bytes = lib
            .export(policy.default, &policy.arches, &policy.rules)
            .unwrap_or_else(|e| panic!("policy {i}: {e}"));
        let filter = SeccompFilter::new(parse_raw(&bytes).unwrap())
            .unwrap_or_else(|e| panic!("policy {i} refused: {e}"));
        let engines = engines(filter.program());
        let mut stack = Stack::new();
        for _ in 0..60 {
            let data = random_case(&mut rng, &policy);
            let want = expected(&policy, &lib, &data);
            let got = filter.run(&data).unwrap();
            for (name, engine) in &engines {
                assert_eq!(
                    filter.run_with(engine.as_ref(), &mut stack, &data),
                    Ok(got),
                    "{name}"
                );
            }
            assert_eq!(
                Action::from_ret(got),
                Action::from_ret(want),
                "policy {i} ({:?}, default {:#x}) on {data:?}: got {got:#x}, want {want:#x}",
                policy.rules,
                policy.default
            );
            assert_eq!(combine(&[got]).action, Action::from_ret(want));
            seen.insert(std::mem::discriminant(&Action::from_ret(got)));
        }
    }
    assert_eq!(
        seen.len(),
        7,
        "every action kind except user_notif was produced"
    );
}

#[test]
fn stacked_libseccomp_policies_follow_the_kernel_precedence() {
    let Ok(lib) = LibSeccomp::load() else {
        eprintln!("SKIP: libseccomp is not installed");
        return;
    };
    let mut rng = Rng::new(8);
    for _ in 0..50 {
        let policies: Vec<Policy> = (0..3).map(|_| random_policy(&mut rng)).collect();
        let filters: Vec<SeccompFilter> = policies
            .iter()
            .map(|p| {
                let bytes = lib.export(p.default, &p.arches, &p.rules).unwrap();
                SeccompFilter::new(parse_raw(&bytes).unwrap()).unwrap()
            })
            .collect();
        for _ in 0..40 {
            let which = rng.below(policies.len() as u64) as usize;
            let data = random_case(&mut rng, &policies[which]);
            let rets: Vec<u32> = filters.iter().map(|f| f.run(&data).unwrap()).collect();
            let wants: Vec<u32> = policies.iter().map(|p| expected(p, &lib, &data)).collect();
            // The lowest action as a signed number wins.
            let lowest = wants
                .iter()
                .map(|w| (w & 0xffff_0000) as i32)
                .min()
                .unwrap();
            let verdict = combine(&rets);
            if lowest < 0x7fff_0000 {
                assert_eq!((verdict.retval & 0xffff_0000) as i32, lowest);
            } else {
                assert_eq!(verdict.action, Action::Allow);
            }
        }
    }
}
