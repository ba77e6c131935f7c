#!/usr/bin/env bash
# link_oracle_test.sh: nub-cc programs on nub's engine vs the independent
# anan-as interpreter (scripts/oracle-check.sh --quick). Skips loudly
# without node/npm or clang-19.
cd "$(dirname "$0")/.." && exec scripts/oracle-check.sh --quick
