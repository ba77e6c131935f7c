#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS: run one libFuzzer target on its seed corpus
# (build-fuzz/corpus-TARGET grows; crashes land in build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
t=$1; secs=${2:-300}
mkdir -p build-fuzz/corpus-$t
exec build-fuzz/$t -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	-artifact_prefix=build-fuzz/$t- build-fuzz/corpus-$t build-fuzz/seed-$t
