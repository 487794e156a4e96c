#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs (the corpus directories are git-ignored):
#   decode, run  the benchmark programs (benches/programs/*.bin), a few hand-written
#                programs, and the bpf_conformance programs assembled to bytecode when
#                an `ebpfvm` binary is available (set EBPFVM=path, or build the root
#                crate); `run` inputs start with 2 bytes that pick the memory size
#   assemble     the `-- asm` sections of the bpf_conformance tests
# Usage: fuzz/seed.sh   (env: CONFORMANCE_TESTS=dir of *.data, EBPFVM=binary)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tests=${CONFORMANCE_TESTS:-$root/../shared/corpora/bpf_conformance/tests}
corpus=$here/corpus
mkdir -p "$corpus/decode" "$corpus/run" "$corpus/assemble"

# The 2-byte prefix of `run` inputs: little-endian memory size 0x0100 = 256 bytes.
mem_prefix='\x00\x01'

# seed NAME HEX: a raw program, given as hex bytes, for decode and run.
seed() {
    local bytes
    bytes=$(printf '%s' "$2" | tr -d ' ' | sed 's/\(..\)/\\x\1/g')
    printf "$bytes" >"$corpus/decode/$1"
    printf "$mem_prefix$bytes" >"$corpus/run/$1"
}

exit_='95 00 00 00 00 00 00 00'
seed mov-exit       "b7 00 00 00 2a 00 00 00 $exit_"
seed lddw           "18 00 00 00 88 77 66 55 00 00 00 00 44 33 22 11 $exit_"
seed helper-read    "b7 03 00 00 01 00 00 00 85 00 00 00 01 00 00 00 $exit_"
seed helper-exit    "b7 01 00 00 07 00 00 00 85 00 00 00 02 00 00 00 $exit_"
seed loop           "b7 00 00 00 00 00 00 00 07 00 00 00 01 00 00 00 05 00 fe ff 00 00 00 00"
seed local-call     "85 10 00 00 01 00 00 00 $exit_ b7 00 00 00 05 00 00 00 $exit_"
seed ld-abs         "20 00 00 00 02 00 00 00 $exit_"
seed atomic         "7b 1a f8 ff 00 00 00 00 db 1a f8 ff 01 00 00 00 79 a0 f8 ff 00 00 00 00 $exit_"
seed callx-code     "18 42 00 00 03 00 00 00 00 00 00 00 00 00 00 00 8d 02 00 00 00 00 00 00 $exit_ b7 00 00 00 09 00 00 00 $exit_"

for bin in "$root"/benches/programs/*.bin; do
    name=bench-$(basename "$bin" .bin)
    cp "$bin" "$corpus/decode/$name"
    { printf "$mem_prefix"; cat "$bin"; } >"$corpus/run/$name"
done

# The ELF parser: clang-built objects (tests and examples).
mkdir -p "$corpus/elf"
for obj in "$root"/elf/tests/programs/obj/*.o "$root"/examples/*.o; do
    [ -e "$obj" ] && cp "$obj" "$corpus/elf/$(basename "$(dirname "$obj")")-$(basename "$obj")"
done

# The assembler corpus, and bytecode for the others when an assembler binary exists.
ebpfvm=${EBPFVM:-}
if [ -z "$ebpfvm" ]; then
    for candidate in "$(command -v ebpfvm || true)" \
        "${CARGO_TARGET_DIR:-$root/target}/release/ebpfvm" \
        "${CARGO_TARGET_DIR:-$root/target}/debug/ebpfvm"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            ebpfvm=$candidate
            break
        fi
    done
fi
assembled=0
for data in "$tests"/*.data; do
    name=$(basename "$data" .data)
    awk '/^-- /{on = ($0 == "-- asm"); next} on' "$data" >"$corpus/assemble/$name.s"
    if [ ! -s "$corpus/assemble/$name.s" ]; then
        rm -f "$corpus/assemble/$name.s"
        continue
    fi
    if [ -n "$ebpfvm" ] &&
        "$ebpfvm" asm "$corpus/assemble/$name.s" -o "$corpus/decode/conf-$name" 2>/dev/null; then
        { printf "$mem_prefix"; cat "$corpus/decode/conf-$name"; } >"$corpus/run/conf-$name"
        assembled=$((assembled + 1))
    fi
done
if [ -z "$ebpfvm" ]; then
    echo "note: no ebpfvm binary found; decode/run are seeded without the conformance programs" >&2
fi
for target in decode run assemble elf; do
    echo "$target: $(find "$corpus/$target" -type f | wc -l) seeds"
done
echo "($assembled conformance programs assembled to bytecode)"
