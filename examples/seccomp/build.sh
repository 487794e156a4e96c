#!/usr/bin/env bash
# Rebuilds policy.bpf from policy.c with libseccomp (apt-get install libseccomp-dev).
# The exported filter is committed, so running the example needs no libseccomp.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
gcc -O2 -Wall policy.c -lseccomp -o "$out"
"$out" > policy.bpf
