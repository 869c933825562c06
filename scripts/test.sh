#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the ASan+UBSan test build with clang, checks
# formatting, and runs every ctest label (unit, bpf, e2e, diff, fleet, fuzz).
#   MERIDIAN_TEST_LABELS=unit      run one slice (a ctest -L regex, e.g. "unit|bpf")
#   MERIDIAN_FUZZ_SECONDS=60       seconds each fuzz target runs
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/check-format.sh

fuzz_seconds="${MERIDIAN_FUZZ_SECONDS:-60}"
cmake --preset asan -DMERIDIAN_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build --preset asan -j "$(nproc)"

args=(--test-dir build/asan --output-on-failure --timeout 900 -j 2)
if [ -n "${MERIDIAN_TEST_LABELS:-}" ]; then
  args+=(-L "$MERIDIAN_TEST_LABELS")
fi
ctest "${args[@]}"
