#!/usr/bin/env bash
# Rebuilds the test objects from the C sources beside this script. The objects are
# committed, so the tests need no clang; run this after changing a source.
#   clang (14 or newer) builds the v1-v3 and -g/no -g variants;
#   clang-19 (when installed) builds the v4 variant and a clang-19 object.
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
build() { # source output flags...
  local src=$1 out=$2; shift 2
  "$CLANG" -target bpf -O2 "$@" -c "$src" -o "$out"
}
mkdir -p obj
build legacy_maps.c obj/legacy_maps.o
build legacy_maps.c obj/legacy_maps_g.o -g
for cpu in v1 v2 v3; do
  build btf_maps.c "obj/btf_maps_$cpu.o" -g -mcpu=$cpu
done
build btf_maps.c obj/btf_maps.o -g
build btf_maps.c obj/btf_maps_nog.o
build core.c obj/core.o -g
build kfunc.c obj/kfunc.o -g
build btf_maps.c obj/btf_maps_be.o -g -target bpfeb
if command -v clang-19 >/dev/null; then
  CLANG=clang-19 build btf_maps.c obj/btf_maps_v4.o -g -mcpu=v4
  CLANG=clang-19 build legacy_maps.c obj/legacy_maps_clang19.o
fi
