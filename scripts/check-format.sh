#!/usr/bin/env bash
# Fails when any tracked C/C++ file differs from the layout of its .clang-format: C++ under the
# top-level .clang-format (Google style, 100 columns), the BPF program (bpf/) and the C headers it
# shares with user space (maps/) under their own kernel-style .clang-format (tabs, as xdp-tools).
# Says which files it checked under which style.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t kernel < <(git ls-files 'bpf/*.c' 'bpf/*.h' 'maps/*.h' | grep -v '^maps/abi/')
# maps/abi/ is C++ (the daemon's and the CLI's reading of the ABI), not shared with BPF: Google
# style, with a copy of the top-level .clang-format there.
mapfile -t cpp < <(git ls-files '*.cc' '*.h' | grep -v '^bpf/\|^maps/' ; git ls-files 'maps/abi/*.cc' 'maps/abi/*.h')
status=0
check() {  # style name, files...
  local style=$1
  shift
  if [ $# -eq 0 ]; then return 0; fi
  if clang-format --dry-run --Werror "$@"; then
    echo "check-format: $# files in $style style: formatted"
  else
    echo "check-format: $style style: the files above differ (clang-format -i FILE fixes them)"
    status=1
  fi
}
check "C++ (Google, .clang-format)" "${cpp[@]}"
check "kernel C (bpf/.clang-format, maps/.clang-format)" "${kernel[@]}"
exit $status
