#!/usr/bin/env python3
"""Prints the JIT tables of BENCHMARKS.md from criterion's output.

Run after the benches (both `interp` and `jit`):

    cargo bench -p ebpfvm-benches -- --warm-up-time 1 --measurement-time 3
    python3 benches/jit_report.py

It reads `$CARGO_TARGET_DIR/criterion` (default `target/criterion`) and prints
markdown. The native column is the `native/NAME` benches of the same run (the C
programs built with `gcc -O2` into the bench binary); without them, it builds and runs
`benches/programs/native.c` (best of several runs), and `--readme-native` takes the
quiet-machine figures of `programs/README.md` instead. Each figure is the fastest criterion sample (the lowest
time/iterations of its 100 samples), the figure least disturbed by other work on a
shared machine; the median is given next to the run times. Standard library only.
"""

import json
import math
import os
import subprocess
import sys
import tempfile

PROGRAMS = ["alu64", "checksum", "parser", "sort", "collatz", "memcpy"]
HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "target")), "criterion")


def read(bench):
    """(fastest ns, median ns, elements) of one benchmark, or None if it did not run."""
    d = os.path.join(BASE, bench.replace("/", os.sep), "new")
    try:
        s = json.load(open(os.path.join(d, "sample.json")))
        est = json.load(open(os.path.join(d, "estimates.json")))
        meta = json.load(open(os.path.join(d, "benchmark.json")))
    except OSError:
        return None
    best = min(t / i for t, i in zip(s["times"], s["iters"]))
    tp = meta.get("throughput") or {}
    return best, est["median"]["point_estimate"], tp.get("Elements")


def native(runs=5):
    """Best ns/run per program over `runs` runs of native.c."""
    src = os.path.join(HERE, "programs")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "native")
        subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(src, "native.c")], check=True)
        best = {}
        for _ in range(runs):
            out = subprocess.run([exe, src], check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                name, _, rest = line.partition(" ")
                ns = float(rest.split("ns_per_run=")[1])
                best[name] = min(best.get(name, ns), ns)
        return best


def readme_native():
    """The quiet-machine native figures of benches/programs/README.md ("typical")."""
    best = {}
    for line in open(os.path.join(HERE, "programs", "README.md")):
        cells = [c.strip(" `") for c in line.split("|")]
        if len(cells) > 3 and cells[1] in PROGRAMS:
            try:
                best[cells[1]] = float(cells[2].replace(",", ""))
            except ValueError:
                pass
    return best


def fmt(ns):
    if ns is None:
        return "–"
    if ns >= 100:
        return f"{ns:,.0f}"
    return f"{ns:.1f}"


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def main():
    # The same run's native benches; else --readme-native: the README's quiet-machine
    # figures; else a new run of native.c.
    nat = {p: r[0] for p in PROGRAMS if (r := read(f"native/{p}"))}
    if len(nat) < len(PROGRAMS):
        nat = readme_native() if "--readme-native" in sys.argv else native()
    engines = [("interp", "interp"), ("JIT", "jit"), ("JIT quick tier", "jit_quick"), ("rbpf interp", "rbpf_interp"),
               ("rbpf x86 JIT", "rbpf_jit"), ("rbpf Cranelift", "rbpf_cranelift")]
    print("| program | insns | native | " + " | ".join(e for e, _ in engines)
          + " | JIT median | JIT ns/insn | JIT/native | interp/JIT | rbpf Cranelift/JIT | rbpf x86 JIT/native |")
    print("|---|--:|--:|" + "--:|" * len(engines) + "--:|--:|--:|--:|--:|--:|")
    ratios = {"JIT/native": [], "interp/JIT": [], "rbpf Cranelift/JIT": [], "rbpf x86 JIT/native": [],
              "rbpf Cranelift/native": []}
    for p in PROGRAMS:
        r = {key: read(f"{key}/{p}") for _, key in engines}
        best = {k: (v[0] if v else None) for k, v in r.items()}
        insns = r["jit"][2] if r["jit"] else None
        jit = best["jit"]
        row = [p, f"{insns:,}" if insns else "–", fmt(nat.get(p))]
        row += [fmt(best[key]) for _, key in engines]
        row.append(fmt(r["jit"][1]) if r["jit"] else "–")
        row.append(f"{jit / insns:.3f}" if jit and insns else "–")

        def ratio(name, a, b):
            if a and b:
                ratios[name].append(a / b)
                return f"{a / b:.2f}x"
            return "–"
        row.append(ratio("JIT/native", jit, nat.get(p)))
        row.append(ratio("interp/JIT", best["interp"], jit))
        row.append(ratio("rbpf Cranelift/JIT", best["rbpf_cranelift"], jit))
        row.append(ratio("rbpf x86 JIT/native", best["rbpf_jit"], nat.get(p)))
        if best["rbpf_cranelift"] and nat.get(p):
            ratios["rbpf Cranelift/native"].append(best["rbpf_cranelift"] / nat[p])
        print("| " + " | ".join(row) + " |")
    print()
    for name, xs in ratios.items():
        g = geomean(xs)
        if g:
            print(f"* geometric mean {name}: {g:.2f}x")
    print()
    print("| program | slots | our compile µs (quick tier) | µs/slot | optimized tier µs | rbpf x86 JIT compile µs | rbpf Cranelift compile µs |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for p in PROGRAMS + ["mixed201"]:
        ours = read(f"compile/{p}")
        opt = read(f"compile_optimized/{p}")
        x86 = read(f"rbpf_compile/{p}")
        cl = read(f"rbpf_cranelift_compile/{p}")
        slots = ours[2] if ours else None
        us = lambda v: f"{v[0] / 1000:,.1f}" if v else "–"
        per = f"{ours[0] / 1000 / slots:.2f}" if ours and slots else "–"
        print(f"| {p} | {slots or '–'} | {us(ours)} | {per} | {us(opt)} | {us(x86)} | {us(cl)} |")
    print()
    print("| per call, `mov r0, 0; exit` | fastest ns | median ns |")
    print("|---|--:|--:|")
    for key in ["jit", "interp", "vm_jit", "vm_interp", "rbpf_jit", "rbpf_cranelift"]:
        v = read(f"call/{key}")
        if v:
            print(f"| {key} | {v[0]:.1f} | {v[1]:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
