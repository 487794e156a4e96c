#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs (the corpus directories are git-ignored):
#   decode, run  the benchmark programs (benches/programs/*.bin), a few hand-written
#                programs, and the bpf_conformance programs assembled to bytecode when
#                an `ebpfvm` binary is available (set EBPFVM=path, or build the root
#                crate); `run` inputs start with 2 bytes that pick the memory size
#   assemble     the `-- asm` sections of the bpf_conformance tests
#   ctx_rewrite  the decode seeds, and the typed programs below assembled to bytecode
#   packet_run   those typed programs with a type selector and packets: every program
#                with an XDP, a tc and a socket-filter header over an IPv4/UDP frame,
#                and a few with an IPv6 frame, a 14-byte frame and a ctx_in
#   tracepoint_format  the tracefs formats of ctx-models/tests/formats, one with values
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
for obj in "$root"/elf/tests/programs/obj/*.o "$root"/examples/*.o "$root"/tests/programs/*.o; do
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
# Typed programs for ctx_rewrite and packet_run (needs the assembler binary).
mkdir -p "$corpus/ctx_rewrite" "$corpus/packet_run"
cp "$corpus/decode/"* "$corpus/ctx_rewrite/"
typed=0
# The packet_run header: type selector (an index into the program types with a modelled
# context, in the kernel's order: 0 socket_filter, 1 sched_cls, 2 sched_act, 3 xdp,
# 4 cgroup_skb, ...), the packet's length (2 bytes LE), ctx_in's length + 1 (0: none).
hexbytes() { printf '%s' "$1" | tr -d ' \n' | sed 's/\(..\)/\\x\1/g'; }
udp4=$(hexbytes "ffffffffffff 020000000001 0800 4500003200004000 40110000 0a000001 0a000002
    30390035001e0000 00112233445566778899aabbccddeeff001122334455")
udp4_len='\x40\x00'
ip6=$(hexbytes "333300000001 020000000001 86dd 6000000000083a40
    fe800000000000000000000000000001 ff020000000000000000000000000001 8000000000000000")
ip6_len='\x3e\x00'
short=$(hexbytes "0000000000000000000000000000")
short_len='\x0e\x00'
# ctx_in: an __sk_buff with mark 7, priority 3 and cb[0] = 0x11223344 (52 bytes + 1).
skb_ctx=$(hexbytes "00000000 00000000 07000000 00000000 00000000 00000000 00000000
    00000000 03000000 00000000 00000000 00000000 44332211")
# typed NAME SELECTORS ASM: assembles ASM and writes one packet_run seed per selector.
typed() {
    local name=$1 selectors=$2 asm=$corpus/packet_run/.$1.s bin=$corpus/ctx_rewrite/typed-$1
    printf '%s\n' "$3" >"$asm"
    if [ -z "$ebpfvm" ] || ! "$ebpfvm" asm "$asm" -o "$bin"; then
        echo "note: typed program $name not assembled" >&2
        rm -f "$asm"
        return
    fi
    rm -f "$asm"
    for sel in $selectors; do
        local s; s=$(printf '\\x%02x' "$sel")
        { printf "$s$udp4_len\x00$udp4"; cat "$bin"; } >"$corpus/packet_run/$name-$sel-udp4"
    done
    local s; s=$(printf '\\x%02x' "${selectors%% *}")
    { printf "$s$ip6_len\x00$ip6"; cat "$bin"; } >"$corpus/packet_run/$name-ip6"
    { printf "$s$short_len\x00$short"; cat "$bin"; } >"$corpus/packet_run/$name-short"
    { printf "\x01$udp4_len\x35$udp4$skb_ctx"; cat "$bin"; } >"$corpus/packet_run/$name-tc-ctx"
    typed=$((typed + 1))
}
# Bounds-checked packet access through data/data_end (__sk_buff: 76/80, xdp_md: 0/4).
typed xdp-bounds "3" "ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, +4
ldxb %r0, [%r2+12]
stb [%r2+0], 0xff
ldxh %r5, [%r2+13]
exit
mov %r0, 1
exit"
typed skb-bounds "1 0 2 4 5" "ldxw %r2, [%r1+76]
ldxw %r3, [%r1+80]
mov %r4, %r2
add %r4, 34
jgt %r4, %r3, +5
ldxw %r0, [%r2+26]
ldxh %r5, [%r2+12]
stxw [%r2+30], %r0
stb [%r2+0], 2
exit
mov %r0, 2
exit"
# No bounds check: the access traps past data_end.
typed xdp-unchecked "3" "ldxw %r2, [%r1+0]
ldxdw %r0, [%r2+60]
exit"
# The XDP fields, and data_meta grown by bpf_xdp_adjust_meta (54), then
# bpf_xdp_adjust_head (44) and bpf_xdp_adjust_tail (65).
typed xdp-adjust "3" "mov %r6, %r1
ldxw %r7, [%r6+12]
ldxw %r8, [%r6+16]
add %r7, %r8
mov %r2, -8
call 54
ldxw %r2, [%r6+8]
ldxw %r3, [%r6+0]
mov %r4, %r2
add %r4, 8
jgt %r4, %r3, +1
stxdw [%r2+0], %r7
mov %r1, %r6
mov %r2, 2
call 44
mov %r1, %r6
mov %r2, -4
call 65
ldxw %r2, [%r6+0]
ldxw %r3, [%r6+4]
mov %r0, %r3
sub %r0, %r2
exit"
# __sk_buff fields read and written: len, pkt_type, mark, protocol, priority, cb,
# tc_classid, ifindex, wire_len; the context spilled to the stack and filled back.
typed skb-fields "1 0 2 4 5 6 7" "stxdw [%r10-8], %r1
ldxw %r0, [%r1+0]
ldxw %r2, [%r1+4]
add %r0, %r2
ldxw %r2, [%r1+16]
add %r0, %r2
stw [%r1+8], 42
ldxw %r2, [%r1+8]
add %r0, %r2
ldxdw %r6, [%r10-8]
stxw [%r6+32], %r0
stxw [%r6+48], %r0
ldxw %r3, [%r6+52]
ldxw %r4, [%r6+72]
ldxw %r5, [%r6+40]
ldxw %r5, [%r6+160]
ldxb %r5, [%r6+17]
stxw [%r6+72], %r5
exit"
# Legacy packet loads with the context in r6, and bpf_skb_load_bytes (26) onto the
# stack, bpf_skb_store_bytes (9) back, and bpf_csum_diff (28).
typed skb-legacy "0 1" "mov %r6, %r1
ldabsh 12
mov %r7, %r0
mov %r8, 14
ldindb %r8, 9
add %r7, %r0
mov %r1, %r6
mov %r2, 26
mov %r3, %r10
add %r3, -8
mov %r4, 8
call 26
mov %r1, %r6
mov %r2, 0
mov %r3, %r10
add %r3, -8
mov %r4, 4
mov %r5, 0
call 9
mov %r1, 0
mov %r2, 0
mov %r3, %r10
add %r3, -8
mov %r4, 8
mov %r5, 0
call 28
add %r0, %r7
exit"
# A loop over the packet's bytes, bounds-checked each time.
typed xdp-loop "3" "ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r0, 0
mov %r4, %r2
add %r4, 1
jgt %r4, %r3, +4
ldxb %r5, [%r2+0]
add %r0, %r5
add %r2, 1
ja -7
exit"
# Refused at load: a modified context pointer dereferenced, a write to len.
typed refused-ctxoff "1 3" "add %r1, 4
ldxw %r0, [%r1+0]
exit"
typed refused-write-len "1" "stw [%r1+0], 1
mov %r0, 0
exit"
echo "($typed typed programs assembled)"

# tracepoint_format: the checked-in tracefs formats, one with field values after a NUL.
mkdir -p "$corpus/tracepoint_format"
cp "$root"/ctx-models/tests/formats/*.format "$corpus/tracepoint_format/"
{
    cat "$root/ctx-models/tests/formats/sched_switch.format"
    printf '\0prev_comm=bash\nprev_pid=-1\nnext_comm[3]=65\ncommon_pid=7\n'
} >"$corpus/tracepoint_format/sched_switch-values"

for target in decode run assemble elf ctx_rewrite packet_run tracepoint_format; do
    echo "$target: $(find "$corpus/$target" -type f | wc -l) seeds"
done
echo "($assembled conformance programs assembled to bytecode)"
