#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the ASan+UBSan test build with clang, checks
# formatting, and runs every ctest label (unit, bpf, e2e, xdp, diff, fleet, fuzz).
#   MERIDIAN_TEST_LABELS=unit      run one slice (a ctest -L regex, e.g. "unit|bpf")
#   MERIDIAN_FUZZ_SECONDS=60       seconds each fuzz target runs
# A full run (no label slice) also builds meridiand and meridianctl without the XDP program
# (-DMERIDIAN_BUILD_BPF=OFF, docs/development.md), so the build without BPF cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/check-format.sh

fuzz_seconds="${MERIDIAN_FUZZ_SECONDS:-60}"
cmake --preset asan -DMERIDIAN_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build --preset asan -j "$(nproc)"

if [ -z "${MERIDIAN_TEST_LABELS:-}" ]; then
  cmake -S . -B build/nobpf -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DMERIDIAN_BUILD_BPF=OFF -DMERIDIAN_BUILD_FUZZERS=OFF \
    -DMERIDIAN_BUILD_BENCH=OFF >/dev/null
  cmake --build build/nobpf -j "$(nproc)" --target meridiand meridianctl
  build/nobpf/userspace/daemon/meridiand --check-config examples/meridian.json
fi

args=(--test-dir build/asan --output-on-failure --timeout 900 -j 2)
if [ -n "${MERIDIAN_TEST_LABELS:-}" ]; then
  args+=(-L "$MERIDIAN_TEST_LABELS")
fi
ctest "${args[@]}"
