#!/usr/bin/env bash
# Rebuilds the test objects from the C sources beside this script (the objects are
# committed, so the tests need no clang). clang 18+ for -mcpu=v3 with BTF maps.
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
for src in *.c; do
  "$CLANG" -target bpf -O2 -g -mcpu=v3 -c "$src" -o "${src%.c}.o"
done
