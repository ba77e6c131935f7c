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
