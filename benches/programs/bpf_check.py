#!/usr/bin/env python3
"""Cross-check the compiled NAME.bin files with a tiny reference eBPF
interpreter, independent of ebpfvm itself.

For every program it runs NAME.bin on a fresh copy of NAME.mem
(r1 = mem, r2 = len, r10 = top of a 512-byte stack), compares r0 with the
native oracle in expected.txt and reports the number of eBPF instructions
executed.  Standard library only.

    python3 benches/programs/bpf_check.py [DIR]

Supports what clang -mcpu=v3 emits for these programs: ALU/ALU64, JMP/JMP32,
LDX/ST/STX (B/H/W/DW), LDDW and byte swaps.  Calls, atomics and anything
else raise an error.  Exit status is non-zero on any mismatch.
"""

import os
import struct
import sys

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

MEM_BASE = 0x1_0000_0000
STACK_SIZE = 512
STACK_BASE = 0x2_0000_0000
MAX_INSNS = 50_000_000

PROGRAMS = ["alu64", "checksum", "parser", "sort", "collatz", "memcpy"]

SIZES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}  # BPF_W, BPF_H, BPF_B, BPF_DW


def sext(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class Fault(Exception):
    pass


class Memory:
    def __init__(self, mem):
        self.regions = [
            (MEM_BASE, bytearray(mem)),
            (STACK_BASE, bytearray(STACK_SIZE)),
        ]

    def _find(self, addr, size):
        for base, buf in self.regions:
            if base <= addr and addr + size <= base + len(buf):
                return buf, addr - base
        raise Fault(f"out-of-bounds access of {size} bytes at {addr:#x}")

    def load(self, addr, size):
        buf, off = self._find(addr, size)
        return int.from_bytes(buf[off : off + size], "little")

    def store(self, addr, size, value):
        buf, off = self._find(addr, size)
        buf[off : off + size] = (value & ((1 << (size * 8)) - 1)).to_bytes(size, "little")


def alu(op, dst, src, bits):
    """One ALU operation on `bits`-wide unsigned operands."""
    mask = (1 << bits) - 1
    dst &= mask
    src &= mask
    if op == 0x00:
        return dst + src
    if op == 0x10:
        return dst - src
    if op == 0x20:
        return dst * src
    if op == 0x30:
        return dst // src if src else 0
    if op == 0x40:
        return dst | src
    if op == 0x50:
        return dst & src
    if op == 0x60:
        return dst << (src & (bits - 1))
    if op == 0x70:
        return dst >> (src & (bits - 1))
    if op == 0x80:
        return -dst
    if op == 0x90:
        return dst % src if src else dst
    if op == 0xA0:
        return dst ^ src
    if op == 0xB0:
        return src
    if op == 0xC0:
        return sext(dst, bits) >> (src & (bits - 1))
    raise Fault(f"unsupported ALU op {op:#x}")


def cond(op, a, b, bits):
    mask = (1 << bits) - 1
    a &= mask
    b &= mask
    sa, sb = sext(a, bits), sext(b, bits)
    table = {
        0x10: a == b,
        0x20: a > b,
        0x30: a >= b,
        0x40: (a & b) != 0,
        0x50: a != b,
        0x60: sa > sb,
        0x70: sa >= sb,
        0xA0: a < b,
        0xB0: a <= b,
        0xC0: sa < sb,
        0xD0: sa <= sb,
    }
    if op not in table:
        raise Fault(f"unsupported jump op {op:#x}")
    return table[op]


def run(code, mem):
    insns = [struct.unpack_from("<BBhi", code, i) for i in range(0, len(code), 8)]
    memory = Memory(mem)
    reg = [0] * 11
    reg[1] = MEM_BASE
    reg[2] = len(mem)
    reg[10] = STACK_BASE + STACK_SIZE
    pc = 0
    count = 0
    while True:
        if not 0 <= pc < len(insns):
            raise Fault(f"pc {pc} out of range")
        count += 1
        if count > MAX_INSNS:
            raise Fault("instruction limit exceeded")
        opcode, regs, off, imm = insns[pc]
        dst, src = regs & 0x0F, regs >> 4
        cls = opcode & 0x07
        pc += 1

        if cls in (0x04, 0x07):  # ALU, ALU64
            bits = 64 if cls == 0x07 else 32
            op = opcode & 0xF0
            if op == 0xD0:  # byte swap / truncate (BPF_END)
                width = imm
                value = reg[dst] & ((1 << width) - 1)
                if opcode & 0x08:  # to big endian: swap on this LE machine
                    value = int.from_bytes(value.to_bytes(width // 8, "little"), "big")
                reg[dst] = value
                continue
            operand = reg[src] if opcode & 0x08 else (imm & M64 if bits == 64 else imm & M32)
            reg[dst] = alu(op, reg[dst], operand, bits) & (M64 if bits == 64 else M32)
        elif cls in (0x05, 0x06):  # JMP, JMP32
            op = opcode & 0xF0
            if op == 0x00 and cls == 0x05:  # ja
                pc += off
            elif op == 0x90 and cls == 0x05:  # exit
                return reg[0], count, bytes(memory.regions[0][1])
            elif op == 0x80:
                raise Fault("calls are not supported")
            else:
                bits = 32 if cls == 0x06 else 64
                operand = reg[src] if opcode & 0x08 else imm & M64
                if cond(op, reg[dst], operand, bits):
                    pc += off
        elif cls == 0x01:  # LDX
            if opcode & 0xE0 != 0x60:
                raise Fault(f"unsupported LDX mode {opcode:#x}")
            reg[dst] = memory.load((reg[src] + off) & M64, SIZES[opcode & 0x18])
        elif cls in (0x02, 0x03):  # ST, STX
            if opcode & 0xE0 != 0x60:
                raise Fault(f"unsupported store mode {opcode:#x} (atomics?)")
            value = reg[src] if cls == 0x03 else imm & M64
            memory.store((reg[dst] + off) & M64, SIZES[opcode & 0x18], value)
        elif opcode == 0x18:  # lddw: two slots
            _, _, _, hi = insns[pc]
            reg[dst] = ((hi & M32) << 32) | (imm & M32)
            pc += 1
        else:
            raise Fault(f"unsupported opcode {opcode:#x} at pc {pc - 1}")


def main():
    here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    expected = {}
    with open(os.path.join(here, "expected.txt")) as f:
        for line in f:
            if line.strip():
                name, value = line.split()
                expected[name] = int(value, 16)

    failed = 0
    for name in PROGRAMS:
        with open(os.path.join(here, name + ".bin"), "rb") as f:
            code = f.read()
        with open(os.path.join(here, name + ".mem"), "rb") as f:
            mem = f.read()
        try:
            result, count, after = run(code, mem)
            # Programs must be repeatable on the buffer they modified.
            result2, _, _ = run(code, after)
        except Fault as e:
            print(f"{name}: FAULT: {e}")
            failed += 1
            continue
        ok = result == expected.get(name) and result2 == result
        failed += not ok
        print(
            f"{name}: {'ok' if ok else 'MISMATCH'} result=0x{result:016x} "
            f"expected=0x{expected.get(name, 0):016x} insns_static={len(code) // 8} "
            f"insns_executed={count}"
        )
    print(f"{len(PROGRAMS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
