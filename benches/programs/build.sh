#!/usr/bin/env bash
# build.sh - rebuild the ebpfvm benchmark programs and their oracles.
#
#   bash benches/programs/build.sh
#
# For every NAME.c in PROGRAMS this:
#   1. compiles it with `clang -O2 -target bpf -mcpu=v3` into a temporary
#      object and checks that the object is usable as a raw program: no
#      relocations, no data sections, exactly one function (`entry`) at
#      offset 0 of .text;
#   2. extracts .text as raw little-endian bytecode into NAME.bin and checks
#      it (non-empty, multiple of 8 bytes, last instruction is `exit`);
#   3. writes a disassembly to NAME.txt for reviewers.
# Then it regenerates the inputs (NAME.mem, gen_inputs.py), builds the native
# harness (native.c, gcc -O2), runs it to produce expected.txt (the oracle
# the VM tests compare against) plus native timings, and finally cross-checks
# every NAME.bin against expected.txt with the reference interpreter in
# bpf_check.py.
#
# It installs nothing.  Needed: clang, llvm-objcopy, llvm-readelf,
# llvm-objdump (Debian: `apt-get install clang llvm`), gcc, python3.
# Versioned names such as clang-14 / llvm-objcopy-14 are accepted too.
#
# Environment:
#   NATIVE_TIMING=0   skip the (few seconds long) native timing runs;
#                     expected.txt is still written.
#   CLANG_WAIT=SECS   how long to wait for clang to appear (default 600,
#                     polling every 20 s; useful while apt is still
#                     installing it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROGRAMS=(alu64 checksum parser sort collatz memcpy)
NATIVE_TIMING="${NATIVE_TIMING:-1}"
CLANG_WAIT="${CLANG_WAIT:-600}"

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}

# find_tool NAME: print the path of NAME or of the newest NAME-<version>.
find_tool() {
	local name="$1" v
	if command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
		return 0
	fi
	for v in 21 20 19 18 17 16 15 14 13 12 11; do
		if command -v "$name-$v" >/dev/null 2>&1; then
			command -v "$name-$v"
			return 0
		fi
	done
	return 1
}

# ---- Tools -----------------------------------------------------------------

waited=0
until CLANG="$(find_tool clang)"; do
	if [ "$waited" -ge "$CLANG_WAIT" ]; then
		die "clang not found after waiting ${CLANG_WAIT}s (apt-get install clang llvm)"
	fi
	echo "build.sh: waiting for clang to be installed (${waited}s so far)..." >&2
	sleep 20
	waited=$((waited + 20))
done
OBJCOPY="$(find_tool llvm-objcopy)" || die "llvm-objcopy not found (apt-get install llvm)"
READELF="$(find_tool llvm-readelf)" || die "llvm-readelf not found (apt-get install llvm)"
OBJDUMP="$(find_tool llvm-objdump)" || die "llvm-objdump not found (apt-get install llvm)"
command -v gcc >/dev/null 2>&1 || die "gcc not found"
command -v python3 >/dev/null 2>&1 || die "python3 not found"
echo "build.sh: using $("$CLANG" --version | head -n1)"

BUILD="$(mktemp -d "${TMPDIR:-/tmp}/ebpfvm-bench-programs.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT

# ---- eBPF bytecode ---------------------------------------------------------

for name in "${PROGRAMS[@]}"; do
	obj="$BUILD/$name.o"
	bin="$HERE/$name.bin"

	"$CLANG" -O2 -target bpf -mcpu=v3 -Wall -Wextra -c "$HERE/$name.c" -o "$obj"

	# No relocations of any kind (no globals, .rodata, calls, maps).
	relocs="$("$READELF" -r "$obj")"
	if printf '%s\n' "$relocs" | grep -q 'Relocation section'; then
		printf '%s\n' "$relocs" >&2
		die "$name: object has relocations; it cannot run as a raw program"
	fi

	# No allocated section other than .text may have contents (e.g. .rodata
	# from a switch table or string constant, .data/.bss from globals).
	# Columns of `readelf -S --wide`: [Nr] Name Type Address Off Size ES Flg.
	extra="$("$READELF" -S --wide "$obj" | sed 's/^ *\[ *[0-9]*\] *//' |
		awk '$1 != ".text" && $7 ~ /A/ && $5 !~ /^0+$/ { print $1 }')"
	if [ -n "$extra" ]; then
		die "$name: unexpected non-empty allocated section(s): $extra"
	fi

	# Exactly one function, `entry`, at offset 0 of .text and covering all
	# of it, so the first instruction of NAME.bin is the entry point.
	funcs="$("$READELF" -s --wide "$obj" | awk '$4 == "FUNC" { print $8, $2, $3 }')"
	nfuncs="$(printf '%s\n' "$funcs" | grep -c . || true)"
	[ "$nfuncs" -eq 1 ] || die "$name: expected exactly one function, found $nfuncs: $funcs"
	read -r fname fvalue fsize <<<"$funcs"
	[ "$fname" = entry ] || die "$name: the only function is '$fname', expected 'entry'"
	[ $((16#$fvalue)) -eq 0 ] || die "$name: entry is at .text+0x$fvalue, expected 0"

	"$OBJCOPY" -O binary --only-section=.text "$obj" "$bin"

	size="$(wc -c <"$bin")"
	[ "$size" -gt 0 ] || die "$name: empty .text"
	[ $((size % 8)) -eq 0 ] || die "$name: .bin size $size is not a multiple of 8"
	[ "$size" -eq "$fsize" ] || die "$name: entry is $fsize bytes but .text is $size bytes"
	last_op="$(od -An -tx1 -j $((size - 8)) -N1 "$bin" | tr -d ' \n')"
	[ "$last_op" = 95 ] || die "$name: last instruction opcode is 0x$last_op, expected exit (0x95)"

	# Disassembly for reviewers (run from $BUILD so no temp path leaks in).
	(cd "$BUILD" && "$OBJDUMP" -d "$name.o") >"$HERE/$name.txt"

	echo "build.sh: $name.bin: $((size / 8)) instructions"
done

# ---- Inputs ----------------------------------------------------------------

python3 "$HERE/gen_inputs.py" "$HERE"

# ---- Native oracle and timings ---------------------------------------------

gcc -O2 -Wall -Wextra -o "$BUILD/native" "$HERE/native.c"
if [ "$NATIVE_TIMING" = 0 ]; then
	"$BUILD/native" -q "$HERE" >"$BUILD/native.out"
else
	"$BUILD/native" "$HERE" >"$BUILD/native.out"
fi
cat "$BUILD/native.out"
awk '{ sub(/^result=/, "", $2); print $1, $2 }' "$BUILD/native.out" >"$HERE/expected.txt"
[ "$(grep -c . "$HERE/expected.txt")" -eq "${#PROGRAMS[@]}" ] ||
	die "expected.txt does not have one line per program"

# ---- Cross-check the bytecode against the oracle ---------------------------

python3 "$HERE/bpf_check.py" "$HERE"

echo "build.sh: done"
