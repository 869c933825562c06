#!/usr/bin/env bash
# GSLB demo: three "regions" of HTTP backends (python3 -m http.server), each in its own network
# namespace, meridiand in a fourth serving examples/gslb/ (weighted, failover, geolocation,
# latency and a CALCULATED-checked name, Route 53 JSON zone, real HTTP health checks) with its XDP
# program attached to the client's link, so the routing decisions are made in XDP (the counters
# at the end say how many), and dig in a client namespace. Then the us-east backend is stopped: the answers change within a second or
# two; it is started again and they change back. All addresses are in 198.18.0.0/16 inside the
# namespaces; ECS subnets passed to dig are only data in the query (they pick a geolocation from
# the country database scripts/setup.sh builds), nothing is sent to them. Bounded in time, and
# everything it starts is stopped and removed at the end, also on failure.
#
# Usage: scripts/demo-gslb.sh [MERIDIAND]   (default: build/release/userspace/daemon/meridiand,
#        built if missing). scripts/demo.sh runs it at its end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/netns-meridiand.sh

meridiand=${1:-}
if [ -z "$meridiand" ]; then
  meridiand="$root/build/release/userspace/daemon/meridiand"
  if [ ! -x "$meridiand" ]; then
    cmake --preset release >/dev/null
    cmake --build --preset release -j "$(nproc)" --target meridiand meridianctl \
      meridian_xdp_object >/dev/null
  fi
fi
# The build directory meridiand comes from also has meridianctl and the XDP_PASS program.
build=$(cd "$(dirname "$meridiand")/../.." && pwd)
meridianctl="$build/tools/meridianctl"
xdp_pass="$build/bpf/xdp_pass.bpf.o"

id=$$
dns_ns="mdn-gslb-dns-$id"
client_ns="mdn-gslb-cli-$id"
regions=(us-east eu-central ap-southeast)
work=$(mktemp -d)
pin_dir="/sys/fs/bpf/meridian/demo-gslb-$id"
daemon_pid=""
declare -A backend_pid=()

region_ns() { echo "mdn-gslb-$1-$id"; }
region_ip() {
  case $1 in us-east) echo 198.18.1.10 ;; eu-central) echo 198.18.2.10 ;; ap-southeast) echo 198.18.3.10 ;; esac
}

cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  for r in "${!backend_pid[@]}"; do
    kill "${backend_pid[$r]}" 2>/dev/null || true
    wait "${backend_pid[$r]}" 2>/dev/null || true
  done
  for r in "${regions[@]}"; do ip netns del "$(region_ns "$r")" 2>/dev/null || true; done
  ip netns del "$client_ns" 2>/dev/null || true
  ip netns del "$dns_ns" 2>/dev/null || true
  rm -rf "$work" "$pin_dir"
}
trap cleanup EXIT

# One L2 segment: a bridge in the DNS namespace, one veth from each other namespace to it.
ip netns add "$dns_ns"
ip -n "$dns_ns" link add br0 type bridge
ip -n "$dns_ns" addr add 198.18.0.1/16 dev br0
ip -n "$dns_ns" link set br0 up
ip -n "$dns_ns" link set lo up
n=0
attach() {  # attach NAMESPACE ADDRESS
  local ns=$1 address=$2
  n=$((n + 1))
  ip netns add "$ns"
  ip link add "gslb$n-$id" netns "$ns" type veth peer name "port$n" netns "$dns_ns"
  ip -n "$ns" link set "gslb$n-$id" name eth0
  ip -n "$ns" addr add "$address/16" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "$dns_ns" link set "port$n" master br0 up
}
attach "$client_ns" 198.18.0.2
# Native XDP_TX on a veth needs a program on the other end too: XDP_PASS on the client's.
ip -n "$client_ns" link set dev eth0 xdp obj "$xdp_pass" sec xdp
for r in "${regions[@]}"; do attach "$(region_ns "$r")" "$(region_ip "$r")"; done

start_backend() {  # start_backend REGION
  local r=$1 dir="$work/www-$1"
  mkdir -p "$dir"
  echo "OK from $r" >"$dir/health.txt"
  echo "hello from $r" >"$dir/index.html"
  ip netns exec "$(region_ns "$r")" /usr/bin/python3 -m http.server 80 --bind "$(region_ip "$r")" \
    --directory "$dir" >/dev/null 2>&1 &
  backend_pid[$r]=$!
  for _ in $(seq 1 50); do
    ip netns exec "$client_ns" curl -s -o /dev/null --max-time 1 "http://$(region_ip "$r")/" &&
      return 0
    sleep 0.1
  done
  echo "backend $r did not start" >&2
  exit 1
}
stop_backend() {
  kill "${backend_pid[$1]}"
  wait "${backend_pid[$1]}" 2>/dev/null || true
  unset "backend_pid[$1]"
}
for r in "${regions[@]}"; do start_backend "$r"; done
if [ ! -r /var/lib/meridian/geoip/country.mmdb ]; then
  echo "note: /var/lib/meridian/geoip/country.mmdb is missing (scripts/setup.sh builds it):"
  echo "      without it every geo.gslb.example answer is the '*' record set"
fi
echo "== backends: us-east 198.18.1.10, eu-central 198.18.2.10, ap-southeast 198.18.3.10 (HTTP :80)"

# The example configuration, with the health state kept in this run's temp dir.
cp -r "$root/examples/gslb/." "$work/"
/usr/bin/python3 - "$work/meridian.json" "$work/health.db" "$pin_dir" <<'PY'
import json, sys
path, db = sys.argv[1], sys.argv[2]
config = json.load(open(path))
config["health"]["state_db"] = db
# Zones, checks and the control socket in this run's temp dir too.
config["state"] = {"database": db.replace("health.db", "state.db")}
config["control"] = {"socket": db.replace("health.db", "control.sock")}
# The XDP program on the DNS namespace's end of the client's link (the bridge port).
config["xdp"] = {"interfaces": ["port1"], "mode": "native", "pin_dir": sys.argv[3]}
json.dump(config, open(path, "w"), indent=2)
PY

echo "== starting meridiand in $dns_ns with examples/gslb/meridian.json"
started=0
start_meridiand_in_netns "$dns_ns" "$work/meridian.json" "$work/meridiand.log" || started=$?
grep -v '^lib' "$work/meridiand.log" || true
[ "$started" -eq 0 ] || { echo "meridiand did not start" >&2; exit 1; }
sleep 1.5  # the first probe round

# dig from the client namespace: the answer addresses, and the ECS scope when asked with +subnet.
ask() {  # ask NAME [dig options...]
  local name=$1
  shift
  local out
  out=$(ip netns exec "$client_ns" dig +norec +time=2 +tries=1 @198.18.0.1 "$name" A "$@" || true)
  local answer scope
  answer=$(echo "$out" | awk '$4 == "A" {print $5}' | sort | paste -sd, -)
  scope=$(echo "$out" | grep -o 'CLIENT-SUBNET: [0-9a-f.:/]*' | head -1 || true)
  printf '   %-22s %-28s -> %s %s\n' "$name" "$*" "${answer:-(no data)}" "${scope:+($scope)}"
}
# How 40 weighted answers split between the record sets.
tally() {
  for _ in $(seq 1 40); do
    ip netns exec "$client_ns" dig +short +norec +time=2 +tries=1 @198.18.0.1 www.gslb.example A
  done | sort | uniq -c | awk '{printf "%s x%s  ", $2, $1} END {print ""}' | sed 's/^/   www.gslb.example (40 queries, weights 2:1:1): /'
}
show_all() {
  tally
  ask app.gslb.example
  ask geo.gslb.example +subnet=8.8.8.0/24
  ask geo.gslb.example +subnet=193.0.0.0/24
  ask geo.gslb.example +subnet=1.1.1.0/24
  ask fast.gslb.example
  ask fast.gslb.example +subnet=8.8.8.0/24
  ask fast.gslb.example +subnet=1.1.1.0/24
  ask all.gslb.example
}

echo
echo "== every backend healthy (ECS 8.8.8.0/24 is in the US, 193.0.0.0/24 in NL, 1.1.1.0/24 in AU;"
echo "   fast.gslb.example without ECS uses the operator latency table for 198.18.0.0/24)"
show_all

echo
echo "== stopping the us-east backend (RequestInterval 1 s, FailureThreshold 1)"
# Seconds until app.gslb.example (failover) answers $1, polling every 0.1 s for at most 10 s.
time_until_app_is() {
  local start now
  start=$(date +%s.%N)
  for _ in $(seq 1 100); do
    [ "$(ip netns exec "$client_ns" dig +short +norec +time=1 +tries=1 @198.18.0.1 \
      app.gslb.example A)" = "$1" ] && break
    sleep 0.1
  done
  now=$(date +%s.%N)
  echo "$now - $start" | bc
}
mark=$(wc -l <"$work/meridiand.log")
stop_backend us-east
printf '   app.gslb.example answered the secondary %.2f s after the stop (bound: 1 s x 1 + 1 s)\n' \
  "$(time_until_app_is 198.18.2.10)"
tail -n +"$((mark + 1))" "$work/meridiand.log" | grep -E "\[health\]" || true
show_all

echo
echo "== starting the us-east backend again"
mark=$(wc -l <"$work/meridiand.log")
start_backend us-east
printf '   app.gslb.example answered the primary again %.2f s after the start\n' \
  "$(time_until_app_is 198.18.1.10)"
tail -n +"$((mark + 1))" "$work/meridiand.log" | grep -E "\[health\]" || true
show_all

echo
echo "== the XDP program's counters: answers it sent, those a routing policy decided, queries it"
echo "   passed up to meridiand (by reason)"
"$meridianctl" stats --pin-dir "$pin_dir" | grep -E "^ *(answered|hit_policy|pass_[a-z_]*) " |
  awk '$2 != 0' | sed 's/^/   /'

echo
echo "== stopping meridiand"
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
grep -E "stopped" "$work/meridiand.log" || true
echo "== GSLB demo done; cleaning up"
