#!/usr/bin/env bash
# XDP fast path against userspace and Knot DNS over a veth pair: dnsperf in a client namespace
# against, one after the other on the same address, zone and query mix, meridiand with XDP,
# meridiand without XDP, and knotd, each in a server namespace. Reports QPS, average latency and
# server CPU per query (XDP: the kernel's BPF run-time statistics plus meridiand's own CPU time;
# the others: process CPU time), then the XDP/Knot ratios. Bounded: SECONDS_PER_RUN per server.
#   SECONDS_PER_RUN=15 CLIENTS=8 THREADS=2 OUTSTANDING=500 bash bench/dnsperf_netns.sh
set -euo pipefail
# shellcheck source=bench/knot_conf.sh
source "$(dirname "$0")/knot_conf.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
seconds="${SECONDS_PER_RUN:-15}"
clients="${CLIENTS:-8}"
threads="${THREADS:-2}"
outstanding="${OUTSTANDING:-500}"
xdp_mode="${XDP_MODE:-native}"
build="$root/build/bench-rel"

if [ "$(id -u)" -ne 0 ]; then
  echo "dnsperf_netns.sh: run as root (namespaces, XDP, sysctl)" >&2
  exit 1
fi
for tool in dnsperf knotd bpftool dig nsenter ip python3; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "dnsperf_netns.sh: $tool missing: run scripts/setup.sh first" >&2
    exit 1
  }
done

cmake --preset release -B "$build" >/dev/null
cmake --build "$build" -j "$(nproc)" --target meridiand meridian_xdp_object >/dev/null
cmake --build "$build" -j "$(nproc)" --target meridianctl >/dev/null 2>&1 || true
meridiand="$build/userspace/daemon/meridiand"
meridianctl="$build/tools/meridianctl"
xdp_pass="$build/bpf/xdp_pass.bpf.o"

id=$$
server_ns="mdn-bench-srv-$id"
client_ns="mdn-bench-cli-$id"
server_if="mbs$id"
client_if="mbc$id"
server_ip=198.18.0.1
client_ip=198.18.0.2
pin_dir="/sys/fs/bpf/meridian/bench-$id"
zone="$root/tests/diff/data/diff.zone"
work=$(mktemp -d)
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
server_pid=""

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  sysctl -q -w kernel.bpf_stats_enabled="$stats_before" >/dev/null || true
  ip netns del "$server_ns" 2>/dev/null || true
  ip netns del "$client_ns" 2>/dev/null || true
  rm -rf "$pin_dir" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# Two namespaces joined by a veth pair. The client end carries an XDP_PASS program: a native
# XDP_TX on a veth is only delivered when the peer has an XDP program. It stays there for all
# three servers, so every run crosses the same path.
ip netns add "$server_ns"
ip netns add "$client_ns"
ip link add "$server_if" netns "$server_ns" type veth peer name "$client_if" netns "$client_ns"
ip -n "$server_ns" addr add "$server_ip/24" dev "$server_if"
ip -n "$client_ns" addr add "$client_ip/24" dev "$client_if"
for ns in "$server_ns" "$client_ns"; do ip -n "$ns" link set lo up; done
ip -n "$server_ns" link set "$server_if" up
ip -n "$client_ns" link set "$client_if" up
ip -n "$client_ns" link set dev "$client_if" xdpdrv obj "$xdp_pass" sec xdp

# Query mix: positive A/AAAA/MX/TXT answers, all of which the fast path holds (no EDNS: dnsperf's
# default, so replies stay within 512 octets).
{
  for _ in $(seq 1 4); do
    echo "web.diff.test A"; echo "web.diff.test AAAA"; echo "mail.diff.test A"
    echo "mail.diff.test AAAA"; echo "ns1.diff.test A"; echo "ns2.diff.test AAAA"
    echo "diff.test MX"; echo "diff.test TXT"; echo "txt.diff.test TXT"; echo "diff.test A"
  done
} > "$work/queries.txt"

write_knot_conf "$work/knot.conf" "$server_ip@53" "$work" diff.test. "$zone"
cat > "$work/meridian-userspace.json" <<CONF
{
  "listen": ["$server_ip:53"],
  "log": {"level": "info"},
  "zones": [{"origin": "diff.test.", "format": "rfc1035", "file": "$zone"}],
  "state": {"database": null}, "control": {"socket": null}
}
CONF
cat > "$work/meridian-xdp.json" <<CONF
{
  "listen": ["$server_ip:53"],
  "log": {"level": "info"},
  "zones": [{"origin": "diff.test.", "format": "rfc1035", "file": "$zone"}],
  "xdp": {"interfaces": ["$server_if"], "mode": "$xdp_mode", "pin_dir": "$pin_dir"},
  "state": {"database": null}, "control": {"socket": null}
}
CONF

# Servers run with only the network namespace switched (nsenter --net), not `ip netns exec`,
# which would also give them a private /sys and bpffs: the pinned maps must stay visible here.
start_server() {  # log-file command...
  local log=$1
  shift
  nsenter --net="/var/run/netns/$server_ns" "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    if ip netns exec "$client_ns" dig +short +time=1 +tries=1 @"$server_ip" diff.test SOA \
      >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start; its log:" >&2
  cat "$log" >&2
  return 1
}

cpu_ticks() {  # pid -> utime + stime in clock ticks (all threads)
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}
attached_prog_id() {  # the XDP program attached to the server's veth (libxdp's dispatcher, if any)
  ip -n "$server_ns" -d link show dev "$server_if" | grep -o 'prog/xdp id [0-9]*' | head -1 |
    awk '{ print $3 }'
}
prog_stats() {  # prog id -> "run_time_ns run_cnt"
  bpftool prog show id "$1" --json |
    python3 -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_time_ns",0), p.get("run_cnt",0))'
}
xdp_counter() {  # counter name -> value, from the pinned stats map
  [ -x "$meridianctl" ] || { echo 0; return; }
  "$meridianctl" stats --pin-dir "$pin_dir" --json |
    python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', 0))"
}

tck=$(getconf CLK_TCK)
results="$work/results.txt"
: > "$results"

# One dnsperf run against the running server; appends "label qps latency_us cpu_ns_per_query
# xdp_ns_per_query" to the results.
measure() {  # label
  local label=$1 prog="" rt0=0 rc0=0 rt1=0 rc1=0 answered0=0 answered1=0
  if [ "$label" = "meridiand+xdp" ]; then
    prog=$(attached_prog_id)
    [ -n "$prog" ] || { echo "no XDP program attached to $server_if" >&2; return 1; }
    read -r rt0 rc0 < <(prog_stats "$prog")
    answered0=$(xdp_counter answered)
  fi
  local cpu0
  cpu0=$(cpu_ticks "$server_pid")
  ip netns exec "$client_ns" timeout $((seconds + 30)) dnsperf -s "$server_ip" -p 53 \
    -d "$work/queries.txt" -l "$seconds" -c "$clients" -T "$threads" -q "$outstanding" -t 2 \
    >"$work/dnsperf-$label.log" 2>&1
  local cpu1
  cpu1=$(cpu_ticks "$server_pid")
  if [ -n "$prog" ]; then
    read -r rt1 rc1 < <(prog_stats "$prog")
    answered1=$(xdp_counter answered)
  fi
  local completed qps latency
  completed=$(awk '/Queries completed/ { print $3 }' "$work/dnsperf-$label.log")
  qps=$(awk '/Queries per second/ { print $4 }' "$work/dnsperf-$label.log")
  latency=$(awk '/Average Latency/ { print $4 * 1e6 }' "$work/dnsperf-$label.log")
  awk -v l="$label" -v q="$qps" -v lat="$latency" -v n="$completed" -v c0="$cpu0" -v c1="$cpu1" \
    -v tck="$tck" -v rt0="$rt0" -v rt1="$rt1" -v rc0="$rc0" -v rc1="$rc1" -v a0="$answered0" \
    -v a1="$answered1" 'BEGIN {
      proc = (c1 - c0) * 1e9 / tck; xdp = rt1 - rt0
      printf "%s %s %.1f %.1f %.1f %.1f %d %d %d\n", l, q, lat, (proc + xdp) / n, xdp / n,
        proc / n, n, a1 - a0, rc1 - rc0
    }' >> "$results"
  grep -E "Queries (sent|completed|lost)" "$work/dnsperf-$label.log" | sed "s/^/  $label: /"
}

sysctl -q -w kernel.bpf_stats_enabled=1
echo "dnsperf: ${seconds}s per server, $clients clients, $threads thread(s), $outstanding outstanding;" \
  "$(wc -l < "$work/queries.txt") queries of A/AAAA/MX/TXT hits; veth $server_if <-> $client_if"

echo "== meridiand with XDP ($xdp_mode)"
start_server "$work/meridiand-xdp.log" "$meridiand" --config "$work/meridian-xdp.json"
for _ in $(seq 1 50); do grep -q "published" "$work/meridiand-xdp.log" && break; sleep 0.1; done
grep -E "attached|published|not started" "$work/meridiand-xdp.log" | sed 's/^/  /' || true
ip netns exec "$client_ns" dig +short +time=1 +tries=1 @"$server_ip" web.diff.test A >/dev/null
if [ "$(xdp_counter answered)" = "0" ]; then
  echo "XDP answered nothing for a query it holds; counters:" >&2
  "$meridianctl" stats --pin-dir "$pin_dir" >&2 || true
  exit 1
fi
measure "meridiand+xdp"
echo "  fast-path counters after the run:"
"$meridianctl" stats --pin-dir "$pin_dir" 2>&1 | sed 's/^/    /' || true
stop_server

echo "== meridiand without XDP"
start_server "$work/meridiand.log" "$meridiand" --config "$work/meridian-userspace.json"
measure "meridiand"
stop_server

echo "== knotd $(knotd --version | awk '{ print $NF }')"
start_server "$work/knot.log" /usr/sbin/knotd -c "$work/knot.conf"
measure "knotd"
stop_server

echo
printf "%-15s %11s %11s %14s %12s %12s %11s %11s\n" server QPS "avg lat us" "CPU ns/query" \
  "XDP ns/q" "proc ns/q" completed "XDP answers"
awk '{ printf "%-15s %11.0f %11.1f %14.1f %12.1f %12.1f %11d %11d\n", $1, $2, $3, $4, $5, $6, $7, $8 }' \
  "$results"
awk '
  { qps[$1] = $2; cpu[$1] = $4; runs[$1] = $9; n[$1] = $7 }
  END {
    printf "\nXDP program runs per completed query: %.2f (every packet on the veth runs it)\n",
      runs["meridiand+xdp"] / n["meridiand+xdp"]
    r1 = qps["meridiand+xdp"] / qps["knotd"]; r2 = cpu["knotd"] / cpu["meridiand+xdp"]
    printf "XDP QPS / Knot QPS:                 %6.2f  (target >= 1.5)  %s\n", r1, (r1 >= 1.5 ? "met" : "NOT met")
    printf "Knot CPU/query / XDP CPU/query:     %6.2f  (target >= 10)   %s\n", r2, (r2 >= 10 ? "met" : "NOT met")
    printf "meridiand (no XDP) QPS / Knot QPS:  %6.2f\n", qps["meridiand"] / qps["knotd"]
  }' "$results"
