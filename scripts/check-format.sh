#!/usr/bin/env bash
# Fails when any tracked C/C++ file differs from .clang-format's layout (BPF C files included).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^bpf/\|^maps/[^/]*$')
if [ ${#files[@]} -eq 0 ]; then exit 0; fi
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
