#!/usr/bin/env bash
# Rebuilds connect.o and the contexts of README.md (all committed, so running the
# example needs neither clang nor python).
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
"$CLANG" -target bpf -O2 -g -c connect.c -o connect.o
# struct bpf_sock_addr (72 bytes): user_family, user_ip4, user_ip6[4], user_port
# (network order, low 16 bits), family, type, protocol; the rest 0.
python3 - <<'PY'
import ipaddress, struct

def ctx(name, family, addr, port, sock_type, proto):
    c = bytearray(72)
    af = 2 if family == 4 else 10
    struct.pack_into('<I', c, 0, af)
    ip = ipaddress.ip_address(addr).packed
    if family == 4:
        c[4:8] = ip
    else:
        c[8:24] = ip
    c[24:26] = struct.pack('>H', port)
    struct.pack_into('<III', c, 28, af, sock_type, proto)
    open(name, 'wb').write(c)

TCP, UDP = (1, 6), (2, 17)
ctx('tcp4_80.ctx', 4, '93.184.216.34', 80, *TCP)
ctx('tcp4_22.ctx', 4, '93.184.216.34', 22, *TCP)
ctx('udp4_53.ctx', 4, '9.9.9.9', 53, *UDP)
ctx('tcp4_53.ctx', 4, '9.9.9.9', 53, *TCP)
ctx('lo4_22.ctx', 4, '127.0.0.1', 22, *TCP)
ctx('tcp6_443.ctx', 6, '2001:db8::1', 443, *TCP)
ctx('tcp6_25.ctx', 6, '2001:db8::1', 25, *TCP)
ctx('lo6_25.ctx', 6, '::1', 25, *TCP)
PY
