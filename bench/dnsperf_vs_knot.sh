#!/usr/bin/env bash
# Userspace server throughput: dnsperf against meridiand and Knot DNS on loopback, same zone file
# (tests/diff/data/diff.zone), same query mix, one after the other in one run. Prints both QPS
# figures and their ratio. Bounded: each dnsperf run lasts SECONDS (default 15).
#   SECONDS_PER_RUN=15 CLIENTS=8 bash bench/dnsperf_vs_knot.sh
set -euo pipefail
# shellcheck source=bench/knot_conf.sh
source "$(dirname "$0")/knot_conf.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
seconds="${SECONDS_PER_RUN:-15}"
clients="${CLIENTS:-8}"

bash scripts/setup.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target meridiand >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

zone="$root/tests/diff/data/diff.zone"
knot_port=25353
meridian_port=25354

# Query mix: mostly positive answers, some CNAME chains, wildcards, NXDOMAIN and NODATA.
{
  for i in $(seq 1 6); do
    echo "www.diff.test A"; echo "web.diff.test A"; echo "web.diff.test AAAA"
    echo "diff.test MX"; echo "diff.test NS"; echo "mail.diff.test A"; echo "txt.diff.test TXT"
    echo "ns1.diff.test A"; echo "chain1.diff.test A"; echo "_sip._udp.diff.test SRV"
  done
  for i in $(seq 1 5); do echo "host$i.wild.diff.test A"; done
  for i in $(seq 1 5); do echo "missing$i.diff.test A"; done
  for i in $(seq 1 5); do echo "web.diff.test MX"; done
} > "$work/queries.txt"

write_knot_conf "$work/knot.conf" "127.0.0.1@$knot_port" "$work" diff.test. "$zone"
cat > "$work/meridian.json" <<CONF
{
  "listen": ["127.0.0.1:$meridian_port"],
  "log": {"level": "warn"},
  "zones": [{"origin": "diff.test.", "format": "rfc1035", "file": "$zone"}],
  "state": {"database": null}, "control": {"socket": null}
}
CONF

wait_ready() {
  for _ in $(seq 1 100); do
    dig +short +time=1 +tries=1 -p "$1" @127.0.0.1 diff.test SOA >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  return 1
}

run_dnsperf() {  # port -> QPS
  dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries.txt" -l "$seconds" -c "$clients" -T 1 -q 500 \
    -t 2 2>&1 | tee "$work/dnsperf-$1.log" | awk '/Queries per second/ {print $4}'
}

/usr/sbin/knotd -c "$work/knot.conf" 2>"$work/knot.log" &
pids+=($!)
"$root/build/release/userspace/daemon/meridiand" --config "$work/meridian.json" 2>"$work/meridian.log" &
pids+=($!)
wait_ready "$knot_port"
wait_ready "$meridian_port"

echo "dnsperf: ${seconds}s per server, $clients clients, $(wc -l < "$work/queries.txt") query mix"
knot_qps=$(run_dnsperf "$knot_port")
meridian_qps=$(run_dnsperf "$meridian_port")
grep -E "Queries lost" "$work"/dnsperf-*.log | sed "s|$work/||" || true
echo "knot      QPS: $knot_qps"
echo "meridiand QPS: $meridian_qps"
awk -v m="$meridian_qps" -v k="$knot_qps" 'BEGIN { printf "ratio meridiand/knot: %.2f\n", m / k }'
