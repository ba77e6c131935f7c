#!/usr/bin/env bash
# fuzz/seed.sh: build seed corpora for the fuzz targets from the test vectors
# (into build-fuzz/seed-<target>/), using python3's json module.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-fuzz
mkdir -p $out/seed-fuzz_blob $out/seed-fuzz_run $out/seed-fuzz_spi $out/seed-fuzz_vector
python3 - "$out" <<'PY'
import json, glob, os, sys
out = sys.argv[1]
for i, f in enumerate(sorted(glob.glob('tests/conformance/pvm/vectors/*.json') + glob.glob('tests/conformance/pvm/random/*.json'))):
    v = json.load(open(f))
    blob = bytes(v['program'])
    open(f'{out}/seed-fuzz_blob/{i}', 'wb').write(blob)
    open(f'{out}/seed-fuzz_run/{i}', 'wb').write(bytes(range(16)) + blob)
    spi = len(b'').to_bytes(3,'little')*2 + (0).to_bytes(2,'little') + (4096).to_bytes(3,'little') + len(blob).to_bytes(4,'little') + blob
    open(f'{out}/seed-fuzz_spi/{i}', 'wb').write(b'\x04' + spi)
    if i % 4 == 0:
        open(f'{out}/seed-fuzz_vector/{i}.json', 'wb').write(open(f, 'rb').read())
PY
# fuzz_jit_cross: 16 configuration bytes (registers, pc, gas = byte 15 * 400)
# + the program blob: every vector's program, and the bench kernels' blobs
# (from $B/bench/*.pvm, built by make bench-programs) when they exist
mkdir -p $out/seed-fuzz_jit_cross
python3 - "$out" "${B:-build}" <<'PY'
import json, glob, os, sys
out, b = sys.argv[1], sys.argv[2]
for i, f in enumerate(sorted(glob.glob('tests/conformance/pvm/vectors/*.json') + glob.glob('tests/conformance/pvm/random/*.json'))):
    blob = bytes(json.load(open(f))['program'])
    open(f'{out}/seed-fuzz_jit_cross/v{i}', 'wb').write(bytes([i % 256] * 13) + bytes([0, 0, 250]) + blob)
for p in sorted(glob.glob(f'{b}/bench/*.pvm')):
    d = open(p, 'rb').read()  # SPI: |o| |w| (3 bytes each), z (2), s (3), o, w, |c| (4), c
    ro, rw = int.from_bytes(d[0:3], 'little'), int.from_bytes(d[3:6], 'little')
    o = 11 + ro + rw
    n = int.from_bytes(d[o:o + 4], 'little')
    k = os.path.basename(p)[:-4]
    open(f'{out}/seed-fuzz_jit_cross/k_{k}', 'wb').write(bytes(range(13)) + bytes([0, 0, 255]) + d[o + 4:o + 4 + n])
PY
