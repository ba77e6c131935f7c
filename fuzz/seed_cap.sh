#!/usr/bin/env bash
# fuzz/seed_cap.sh: seed corpus for fuzz_cap (into build-fuzz/seed-fuzz_cap/):
# every conformance vector as a bare Image (its program, regs, pc, page map as
# mappings), plus Data and Instance caps, encoded per docs/caps.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-fuzz/seed-fuzz_cap
mkdir -p $out
python3 - "$out" <<'PY'
import json, glob, struct, sys, hashlib
out = sys.argv[1]
def data(b): return bytes([2, 1]) + struct.pack('<I', len(b)) + b
def image(layout, code, eps, maps, ro=b'', rw=b'', heap=0, stack=0):
    h = bytes([1, 1, layout, len(eps), len(maps)]) + struct.pack('<5I', len(ro), len(rw), heap, stack, len(code))
    h += ro + rw + code
    for pc, regs in eps: h += struct.pack('<I13Q', pc, *regs)
    for va, pages, slot, w in sorted(maps): h += struct.pack('<IIBB', va, pages, slot, w)
    return h
def instance(img, slots):
    return bytes([0, 1]) + img + bytes([len(slots)]) + b''.join(bytes([i]) + h for i, h in sorted(slots))
n = 0
for f in sorted(glob.glob('tests/conformance/pvm/vectors/*.json'))[::3]:
    v = json.load(open(f))
    maps = [(r['address'], r['length'] // 4096, k, 1 if r['is-writable'] else 0) for k, r in enumerate(v['initial-page-map'])]
    img = image(0, bytes(v['program']), [(v['initial-pc'], v['initial-regs'])], maps)
    open(f'{out}/img{n}', 'wb').write(img)
    ds = [data(bytes(m['contents'])) for m in v['initial-memory']]
    for k, d in enumerate(ds): open(f'{out}/data{n}_{k}', 'wb').write(d)
    h = hashlib.blake2b(img, digest_size=32).digest()
    slots = [(k, hashlib.blake2b(data(b''), digest_size=32).digest()) for k in range(len(maps))]
    open(f'{out}/inst{n}', 'wb').write(instance(h, slots))
    n += 1
spi_code = bytes([0, 0, 1, 0, 1])
open(f'{out}/spi', 'wb').write(image(1, spi_code, [(0, [0xFFFF0000, 0xFEFE0000] + [0]*5 + [0xFEFF0000] + [0]*5)],
                                     [(0xFEFF0000, 1, 0, 0)], ro=b'abc', rw=b'xy', heap=2, stack=8192))
PY
ls $out | wc -l
