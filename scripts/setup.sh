#!/usr/bin/env bash
# Installs every Debian package Meridian needs to build, test, benchmark and run its demo.
# Idempotent: safe to run again; it only installs what is missing.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config clang llvm lld libclang-rt-14-dev clang-format
  # BPF / XDP
  libbpf-dev libxdp-dev xdp-tools bpftool linux-libc-dev gcc-multilib
  # libraries
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev
  libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev libmaxminddb-dev mmdb-bin libmaxmind-db-writer-perl
  # reference servers and DNS tools
  knot knot-dnsutils nsd dnsperf bind9-dnsutils python3-dnspython
  # networking for namespace tests and the demo
  iproute2 ethtool iputils-ping procps psmisc
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Knot and NSD are reference servers for tests and benchmarks only: never leave them running as
# system services bound to port 53.
for svc in knot nsd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done
pkill -x knotd 2>/dev/null || true
pkill -x nsd 2>/dev/null || true

# bpffs for pinned maps
if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
echo "setup.sh: ready"
