//! The benchmark programs of `benches/programs/` (C compiled to raw eBPF, see its
//! README), loaded for the criterion benches in `benches/interp.rs` and `benches/jit.rs`
//! and for anything else that wants to run them.
//!
//! Each program is a `raw` program: r1 points to its input buffer (`NAME.mem`) and r2
//! holds the buffer's length; r0 on exit must equal the native result in
//! `expected.txt`.
//!
//! ```
//! let programs = ebpfvm_benches::load_all();
//! assert_eq!(programs.len(), 6);
//! for p in &programs {
//!     let outcome = p.run_once();
//!     assert_eq!(outcome.result, Ok(p.expected), "{}", p.name);
//! }
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};

use ebpfvm_isa::{Features, Program};
use ebpfvm_jit::{JitProgram, Tiering};
use ebpfvm_vm::{Helpers, Interpreter, MemoryMap, Outcome, RegionKind, Stack};

/// One benchmark program with its input and the result its native build gives.
#[derive(Clone, Debug)]
pub struct BenchProgram {
    /// The file stem, e.g. `alu64`.
    pub name: String,
    /// The raw bytecode (`NAME.bin`), kept for decode benchmarks.
    pub bytes: Vec<u8>,
    /// The decoded, validated program.
    pub program: Program,
    /// The input buffer (`NAME.mem`).
    pub mem: Vec<u8>,
    /// The value r0 must hold at `exit` (`expected.txt`).
    pub expected: u64,
    /// The stack bytes a run may write ([`ebpfvm_vm::stack_writes`]): what a run zeroes
    /// first when its stack was only ever used by this program, as `ebpfvm::Vm` does.
    pub stack_writes: Range<usize>,
}

impl BenchProgram {
    /// Lowers the program for the interpreter.
    ///
    /// # Panics
    /// If the interpreter refuses the program (none of the committed ones needs
    /// anything it lacks).
    pub fn interpreter(&self) -> Interpreter {
        Interpreter::new(&self.program)
            .unwrap_or_else(|e| panic!("{}: interpreter refused the program: {e}", self.name))
    }

    /// Compiles the program with our JIT, in the optimized tier: the code a program
    /// that runs this often ends up in (adaptive tiering's steady state).
    ///
    /// # Panics
    /// If the JIT refuses the program.
    pub fn jit(&self) -> JitProgram {
        self.jit_tier(Tiering::Optimized)
    }

    /// Compiles the program with our JIT as `tiering` says.
    ///
    /// # Panics
    /// If the JIT refuses the program.
    pub fn jit_tier(&self, tiering: Tiering) -> JitProgram {
        JitProgram::compile_with(&self.program, None, tiering)
            .unwrap_or_else(|e| panic!("{}: the JIT refused the program: {e}", self.name))
    }

    /// The bytecode for rbpf's raw VM, which passes the buffer in r1 but not its length
    /// in r2: the program behind one `mov r2, LEN` (jump offsets are relative, so the
    /// program needs no other change). Executes one instruction more than ours.
    pub fn rbpf_bytes(&self) -> Vec<u8> {
        let len = u32::try_from(self.mem.len()).expect("inputs are small");
        let mut bytes = vec![0xb7, 0x02, 0, 0];
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&self.bytes);
        bytes
    }

    /// The input in a fresh 8-byte-aligned buffer, as the programs' README requires.
    pub fn aligned_mem(&self) -> AlignedBuf {
        AlignedBuf::from_bytes(&self.mem)
    }

    /// Lowers and runs the program once on a fresh copy of its input.
    pub fn run_once(&self) -> Outcome {
        let interp = self.interpreter();
        let mut mem = self.aligned_mem();
        run_interp(
            &interp,
            mem.as_mut_slice(),
            &mut Stack::new(),
            self.stack_writes.clone(),
            &mut Helpers::new(),
        )
    }
}

/// A byte buffer whose first byte is 8-byte aligned, made without `unsafe`.
///
/// The interpreter itself does not care about alignment (every guest access is an
/// unaligned host access), but the programs are written for an aligned buffer, so the
/// benchmarks give them one, as a real embedder would.
#[derive(Clone, Debug)]
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// Copies `bytes` into a new aligned buffer.
    pub fn from_bytes(bytes: &[u8]) -> AlignedBuf {
        // Up to 7 bytes of slack; a Vec never moves its heap storage while we hold it,
        // so the offset found here stays valid.
        let mut storage = vec![0u8; bytes.len() + 7];
        let start = storage.as_ptr().align_offset(8);
        assert!(start < 8, "align_offset of a u8 pointer is always below 8");
        storage[start..start + bytes.len()].copy_from_slice(bytes);
        AlignedBuf {
            storage,
            start,
            len: bytes.len(),
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The bytes, mutably (the programs `sort` and `memcpy` write to their input).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// The directory holding the programs: `benches/programs/` in the workspace.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

/// Loads every program listed in `expected.txt`, in the file's order.
///
/// # Panics
/// If a file is missing or malformed, or a program fails to decode: these are
/// committed files, so that is a bug in the repository, not an input error.
pub fn load_all() -> Vec<BenchProgram> {
    load_from(&programs_dir())
}

/// Loads every program listed in `dir/expected.txt`.
///
/// # Panics
/// As [`load_all`].
pub fn load_from(dir: &Path) -> Vec<BenchProgram> {
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let expected = String::from_utf8(read("expected.txt")).expect("expected.txt is UTF-8");
    expected
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (name, value) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("expected.txt: bad line {line:?}"));
            let hex = value.trim().trim_start_matches("0x");
            let expected = u64::from_str_radix(hex, 16)
                .unwrap_or_else(|e| panic!("expected.txt: bad value for {name}: {e}"));
            let bytes = read(&format!("{name}.bin"));
            let program = Program::from_bytes(&bytes, &Features::default())
                .unwrap_or_else(|e| panic!("{name}.bin: {e}"));
            BenchProgram {
                stack_writes: ebpfvm_vm::stack_writes(program.insns()),
                name: name.to_string(),
                mem: read(&format!("{name}.mem")),
                bytes,
                program,
                expected,
            }
        })
        .collect()
}

/// Runs `interp` once over `mem` as the `ebpfvm` facade (`Vm::run`) does: the bytes
/// `dirty` of the stack are zeroed (all that earlier runs on `stack` may have written:
/// [`BenchProgram::stack_writes`] when only this program runs on it), a fresh
/// [`MemoryMap`] maps `mem` read-write as r1 with its length in r2, and there is no
/// instruction budget.
///
/// # Panics
/// If `mem` is larger than a region may be (4 GiB).
pub fn run_interp(
    interp: &Interpreter,
    mem: &mut [u8],
    stack: &mut Stack,
    dirty: Range<usize>,
    helpers: &mut Helpers,
) -> Outcome {
    with_memory(mem, stack, dirty, |args, map| {
        interp.run(args, map, helpers, None)
    })
}

/// The set-up both engines' runs share: the stack's `dirty` bytes zeroed, `mem` mapped
/// read-write as r1 with its length in r2, then `run(args, map)`.
fn with_memory(
    mem: &mut [u8],
    stack: &mut Stack,
    dirty: Range<usize>,
    run: impl FnOnce([u64; 5], &mut MemoryMap<'_>) -> Outcome,
) -> Outcome {
    stack.clear_range(dirty);
    let len = mem.len() as u64;
    let mut map = MemoryMap::new(stack);
    let addr = map
        .map_mut(RegionKind::Memory, mem)
        .expect("the input fits in one region");
    run([addr, len, 0, 0, 0], &mut map)
}

/// The compile-time benchmark: 201 instructions mixing 64-bit loads through r1, stack
/// stores, ALU and conditional jumps (40 rounds of five, then `exit`), the shape of
/// issue 3's "200-instruction program".
pub fn mixed_program() -> Program {
    let mut text = String::new();
    for i in 0..40 {
        text += &format!(
            "ldxdw %r2, [%r1+{}]\nadd %r0, %r2\nstxdw [%r10-{}], %r0\nxor %r3, %r0\njgt %r3, {}, +0\n",
            (i % 8) * 8,
            8 + (i % 16) * 8,
            i
        );
    }
    text += "exit";
    ebpfvm_isa::assemble(&text).expect("the mixed program assembles")
}

/// [`run_interp`] for the JIT: the same set-up, then [`JitProgram::run`].
///
/// # Panics
/// If `mem` is larger than a region may be (4 GiB).
pub fn run_jit(
    jit: &JitProgram,
    mem: &mut [u8],
    stack: &mut Stack,
    dirty: Range<usize>,
    helpers: &mut Helpers,
) -> Outcome {
    with_memory(mem, stack, dirty, |args, map| {
        jit.run(args, map, helpers, None)
    })
}

/// The same C programs built natively (`gcc -O2`, by `build.rs`): the reference the
/// engines are compared with, timed in the same process.
pub mod native {
    use super::AlignedBuf;

    /// A program's native entry: `entry(mem, len)` as in the programs' README.
    type Entry = unsafe extern "C" fn(*mut u8, u64) -> u64;

    extern "C" {
        fn bench_alu64(mem: *mut u8, len: u64) -> u64;
        fn bench_checksum(mem: *mut u8, len: u64) -> u64;
        fn bench_parser(mem: *mut u8, len: u64) -> u64;
        fn bench_sort(mem: *mut u8, len: u64) -> u64;
        fn bench_collatz(mem: *mut u8, len: u64) -> u64;
        fn bench_memcpy(mem: *mut u8, len: u64) -> u64;
    }

    /// The native build of the program `name`, if it is one of the six.
    pub fn program(name: &str) -> Option<NativeProgram> {
        let entry: Entry = match name {
            "alu64" => bench_alu64,
            "checksum" => bench_checksum,
            "parser" => bench_parser,
            "sort" => bench_sort,
            "collatz" => bench_collatz,
            "memcpy" => bench_memcpy,
            _ => return None,
        };
        Some(NativeProgram(entry))
    }

    /// One natively built program.
    #[derive(Clone, Copy, Debug)]
    pub struct NativeProgram(Entry);

    impl NativeProgram {
        /// Runs the program on `mem` (its input, or what an earlier run left there).
        pub fn run(self, mem: &mut AlignedBuf) -> u64 {
            let bytes = mem.as_mut_slice();
            // SAFETY: every program reads and writes only `mem[..len]` (each checks
            // `len` first, README "Calling convention") and needs an 8-byte aligned
            // buffer, which `AlignedBuf` is; the slice is borrowed mutably for the call.
            unsafe { (self.0)(bytes.as_mut_ptr(), bytes.len() as u64) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_build_gives_the_expected_results() {
        for p in load_all() {
            let native = native::program(&p.name).expect("a native build");
            let mut mem = p.aligned_mem();
            assert_eq!(native.run(&mut mem), p.expected, "{}", p.name);
            // sort and memcpy write to their input; a second run does the same work.
            assert_eq!(native.run(&mut mem), p.expected, "{}", p.name);
        }
    }

    #[test]
    fn all_programs_give_the_native_results() {
        let programs = load_all();
        let names: Vec<_> = programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["alu64", "checksum", "parser", "sort", "collatz", "memcpy"]
        );
        for p in &programs {
            assert_eq!(p.run_once().result, Ok(p.expected), "{}", p.name);
        }
    }

    #[test]
    fn repeated_runs_on_one_buffer_agree() {
        // sort and memcpy write to their input; each run must still do the same work.
        let mut helpers = Helpers::new();
        for p in load_all() {
            let mut stack = Stack::new();
            let interp = p.interpreter();
            let mut mem = p.aligned_mem();
            let dirty = || p.stack_writes.clone();
            let first = run_interp(
                &interp,
                mem.as_mut_slice(),
                &mut stack,
                dirty(),
                &mut helpers,
            );
            let second = run_interp(
                &interp,
                mem.as_mut_slice(),
                &mut stack,
                dirty(),
                &mut helpers,
            );
            assert_eq!(first, second, "{}", p.name);
            assert_eq!(first.result, Ok(p.expected), "{}", p.name);
        }
    }

    #[test]
    fn the_jit_gives_the_interpreters_outcomes() {
        let mut helpers = Helpers::new();
        for p in load_all() {
            let mut stack = Stack::new();
            let dirty = || p.stack_writes.clone();
            for tiering in [Tiering::Quick, Tiering::Optimized] {
                let jit = p.jit_tier(tiering);
                let mut mem = p.aligned_mem();
                let want = p.run_once();
                let got = run_jit(&jit, mem.as_mut_slice(), &mut stack, dirty(), &mut helpers);
                assert_eq!(got, want, "{} {tiering:?}", p.name);
                // Again on the same buffer, as the benches run it.
                let again = run_jit(&jit, mem.as_mut_slice(), &mut stack, dirty(), &mut helpers);
                assert_eq!(again, want, "{} {tiering:?}", p.name);
            }
        }
    }

    #[test]
    fn rbpf_engines_compute_the_native_results() {
        // The benches' reference column is only meaningful if rbpf does the same work.
        for p in load_all() {
            let bytes = p.rbpf_bytes();
            let mut mem = p.aligned_mem();
            let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).expect("rbpf loads it");
            let got = vm.execute_program(mem.as_mut_slice());
            assert_eq!(got.ok(), Some(p.expected), "{}: rbpf interpreter", p.name);
            vm.jit_compile().expect("rbpf's JIT compiles it");
            // SAFETY: rbpf's x86 JIT does not check accesses; its interpreter just ran
            // the same program on the same input without a memory error.
            let got = unsafe { vm.execute_program_jit(mem.as_mut_slice()) };
            assert_eq!(got.ok(), Some(p.expected), "{}: rbpf x86 JIT", p.name);
            vm.cranelift_compile()
                .expect("rbpf's Cranelift JIT compiles it");
            let got = vm.execute_program_cranelift(mem.as_mut_slice());
            assert_eq!(got.ok(), Some(p.expected), "{}: rbpf Cranelift JIT", p.name);
        }
    }

    #[test]
    fn aligned_buffers_are_aligned() {
        for len in [0, 1, 7, 8, 1500] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let buf = AlignedBuf::from_bytes(&data);
            assert_eq!(buf.as_slice(), &data[..]);
            assert_eq!(buf.as_slice().as_ptr() as usize % 8, 0);
        }
    }
}
