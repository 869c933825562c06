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
  libmicrohttpd-dev
  libssl-dev openssl
  # ISO 3166 codes for scripts/gen-geolocation-codes.py (the generated table is committed)
  iso-codes
  libgtest-dev libgmock-dev libbenchmark-dev libmaxminddb-dev mmdb-bin libmaxmind-db-writer-perl
  # country ranges for the default geolocation database (scripts/build-geoip-db.sh)
  tor-geoipdb
  # reference servers and DNS tools
  knot knot-dnsutils nsd dnsperf bind9-dnsutils python3-dnspython
  # the fleet's shared store (docs/fleet.md): etcd members for tests, benchmarks and the demo
  etcd-server etcd-client
  # networking for namespace tests and the demo
  iproute2 ethtool iputils-ping procps psmisc curl util-linux
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
# system services bound to port 53. etcd likewise: tests and the demo start their own members.
for svc in knot nsd etcd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done
# Without systemd, the packages' init scripts may have started them: stop those the same way
# (never a blanket pkill: a knotd started by a running test or benchmark must be left alone).
for svc in knot nsd etcd; do
  if [ -x "/etc/init.d/$svc" ] && ! command -v systemctl >/dev/null 2>&1; then
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
  fi
done

# bpffs for pinned maps
if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
# The default country database (docs/geolocation.md): rebuilt when missing or older than its
# sources (a tor-geoipdb update, the centroid table, the writer).
geoip_db=/var/lib/meridian/geoip/country.mmdb
root=$(cd "$(dirname "$0")/.." && pwd)
for src in /usr/share/tor/geoip /usr/share/tor/geoip6 "$root/userspace/geo/data/country_centroids.csv" \
           "$root/scripts/mmdb_writer.pl"; do
  if [ ! -e "$geoip_db" ] || [ "$src" -nt "$geoip_db" ]; then
    bash "$root/scripts/build-geoip-db.sh" "$geoip_db"
    break
  fi
done
echo "setup.sh: ready"
