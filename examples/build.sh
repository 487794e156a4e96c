#!/usr/bin/env bash
# Rebuilds the example objects from the C sources beside this script (the objects are
# committed, so running the examples needs no clang).
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
for src in *.c; do
  "$CLANG" -target bpf -O2 -g -c "$src" -o "${src%.c}.o"
done
