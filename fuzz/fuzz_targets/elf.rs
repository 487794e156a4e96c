//! Fuzz target `elf`: arbitrary bytes through `ebpfvm_elf::Object::parse`. Nothing
//! panics; every program of an object that parses is a valid program (it revalidates
//! from its typed instructions) and lowers for the interpreter once its maps exist.

#![no_main]

use ebpfvm_elf::Object;
use ebpfvm_isa::Program;
use ebpfvm_vm::{Interpreter, MapKind, MapSpec, Maps};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(object) = Object::parse(data) else {
        return;
    };
    let mut maps = Maps::new();
    for decl in &object.maps {
        let Some(kind) = MapKind::from_type_id(decl.map_type.0) else {
            return;
        };
        // Keep the fuzzer's memory bounded: skip objects with huge maps.
        if (decl.value_size as u64) * (decl.max_entries as u64) > 1 << 24 {
            return;
        }
        let spec = MapSpec::new(
            &decl.name,
            kind,
            decl.key_size,
            decl.value_size,
            decl.max_entries,
        );
        if maps.create(spec).is_err() {
            return;
        }
    }
    for p in &object.programs {
        let again = Program::new(p.program.insns().to_vec()).expect("a linked program revalidates");
        assert_eq!(again, p.program);
        let _ = Interpreter::with_maps(&p.program, &maps);
    }
});
