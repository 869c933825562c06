#!/usr/bin/env bash
# Demo: installs what is needed, builds meridiand, and serves examples/zones/example.com.zone
# inside network namespaces it creates: a client namespace and a server namespace joined by a
# veth pair (198.18.0.0/15 and fd00:18::/64 only). meridiand attaches its XDP program to the
# server's veth (the "xdp" config section); queries from the client are answered by XDP where it
# can, by the userspace server otherwise, and the program's counters (meridianctl stats) show
# which. A short dnsperf run shows the rate. Then scripts/demo-gslb.sh shows GSLB answers, decided
# by the XDP program, moving when a backend stops. Everything it starts is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/netns-meridiand.sh

build_release_demo "$root"

id=$$
server_ns="mdn-demo-srv-$id"
client_ns="mdn-demo-cli-$id"
pin_dir="/sys/fs/bpf/meridian/demo-$id"
work=$(mktemp -d)
daemon_pid=""

cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  # Deleting the namespaces removes the veth pair and the XDP programs on it.
  ip netns del "$server_ns" 2>/dev/null || true
  ip netns del "$client_ns" 2>/dev/null || true
  # meridiand leaves its maps pinned after it stops (docs/configuration.md); the demo removes them.
  rm -rf "$pin_dir"
  rmdir /sys/fs/bpf/meridian 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

ip netns add "$server_ns"
ip netns add "$client_ns"
ip link add veth-srv netns "$server_ns" type veth peer name veth-cli netns "$client_ns"
ip -n "$server_ns" addr add 198.18.0.1/24 dev veth-srv
ip -n "$client_ns" addr add 198.18.0.2/24 dev veth-cli
ip -n "$server_ns" addr add fd00:18::1/64 dev veth-srv nodad
ip -n "$client_ns" addr add fd00:18::2/64 dev veth-cli nodad
for ns in "$server_ns" "$client_ns"; do ip -n "$ns" link set lo up; done
ip -n "$server_ns" link set veth-srv up
ip -n "$client_ns" link set veth-cli up
# Native XDP_TX on a veth is dropped unless the peer end has an XDP program: XDP_PASS is enough.
ip -n "$client_ns" link set dev veth-cli xdp obj "$xdp_pass" sec xdp 2>/dev/null

cat > "$work/meridian.json" <<CONF
{
  "listen": ["198.18.0.1:53", "[fd00:18::1]:53"],
  "edns": {"udp_payload": 1232, "nsid": "meridian-demo"},
  "log": {"level": "info"},
  "zones": [
    {"origin": "example.com.", "format": "rfc1035", "file": "$root/examples/zones/example.com.zone"}
  ],
  "xdp": {"interfaces": ["veth-srv"], "mode": "native", "pin_dir": "$pin_dir"},
  "state": {"database": "$work/state.db"},
  "control": {"socket": "$work/control.sock"}
}
CONF

echo "== starting meridiand in namespace $server_ns, XDP on veth-srv"
started=0
start_meridiand_in_netns "$server_ns" "$work/meridian.json" "$work/meridiand.log" || started=$?
grep -v '^lib' "$work/meridiand.log" || true
[ "$started" -eq 0 ] || { echo "meridiand did not start" >&2; exit 1; }

stats_json() { "$meridianctl" stats --pin-dir "$pin_dir" --json; }

# Which counters one query moved: "XDP (hit_a)" or "userspace (passed up: pass_name_miss)".
who_answered() {
  /usr/bin/python3 -c '
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
hits = [k for k in d if k.startswith("hit_")]
passes = [k for k in d if k.startswith("pass_") and k not in ("pass_not_ip", "pass_ipv6_ext")]
if d.get("answered"):
    print("   -> answered by XDP (" + ", ".join(hits) + ")")
elif passes:
    print("   -> passed up by XDP (" + ", ".join(f"{k} +{d[k]}" for k in passes) +
          "), answered by userspace meridiand")
else:
    print("   -> no XDP counter moved")
' "$1" "$2"
}

ask() {
  echo
  echo "== dig $*"
  local before after
  before=$(stats_json)
  ip netns exec "$client_ns" dig +norec +time=2 +tries=1 "$@" |
    grep -E '^;; (->>HEADER|flags)|^[^;].*IN' || true
  after=$(stats_json)
  who_answered "$before" "$after"
}
ask @198.18.0.1 www.example.com A
ask @198.18.0.1 example.com MX
ask @fd00:18::1 web.example.com AAAA
ask @fd00:18::1 _dmarc.example.com TXT
ask @198.18.0.1 anything.apps.example.com A
ask @198.18.0.1 nope.example.com A
ask @198.18.0.1 example.com SOA +tcp
ask @198.18.0.1 www.example.com A +nsid
ask @198.18.0.1 www.example.org A

echo
echo "== meridianctl stats --pin-dir $pin_dir (XDP counters, summed over CPUs)"
"$meridianctl" stats --pin-dir "$pin_dir"

# dnsperf: hot names (answered by XDP) and a few misses (passed up), 5 seconds, bounded.
cat > "$work/queries.txt" <<'Q'
www.example.com A
web.example.com A
web.example.com AAAA
example.com MX
example.com NS
mail.example.com A
ns1.example.com AAAA
_dmarc.example.com TXT
x.apps.example.com A
nope.example.com A
Q
echo
echo "== dnsperf from $client_ns to 198.18.0.1 for 5 s (8 of 10 names answered by XDP)"
before=$(stats_json)
ip netns exec "$client_ns" timeout 30 dnsperf -s 198.18.0.1 -d "$work/queries.txt" -l 5 -c 4 \
  -q 200 -t 2 | grep -E 'Queries (sent|completed|lost)|Response codes|Queries per second|Average Latency'
after=$(stats_json)
/usr/bin/python3 -c '
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = {k: after[k] - before.get(k, 0) for k in after}
print("   XDP counters for the run: answered %d, passed up to userspace %d (name misses)"
      % (d["answered"], d["pass_name_miss"]))
' "$before" "$after"

# Operating it: a change batch through the control API goes live in the XDP maps at once.
echo
echo "== meridianctl over the control socket: zones, a Route 53 change batch, metrics"
ctl() {
  echo "\$ meridianctl $*"
  "$meridianctl" "$@" --socket "$work/control.sock"
}
ctl zones list
cat > "$work/batch.json" <<'BATCH'
{"Comment": "demo: a new name",
 "Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": "api.example.com", "Type": "A",
              "TTL": 60, "ResourceRecords": [{"Value": "198.18.0.42"}]}}]}
BATCH
ctl change-resource-record-sets --hosted-zone-id example.com --change-batch "file://$work/batch.json"
ask @198.18.0.1 api.example.com A
ctl record-sets list example.com --type A
echo "\$ curl --unix-socket $work/control.sock http://localhost/metrics (excerpt)"
curl -s --unix-socket "$work/control.sock" http://localhost/metrics |
  grep -E '^meridian_(queries_total|fastpath_hit_ratio|change_batches_total)' || true

echo
echo "== stopping meridiand (SIGTERM): the XDP program is detached"
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
grep -E "stopping|stopped" "$work/meridiand.log" || true

# GSLB: weighted, failover, geolocation and latency answers from real HTTP health checks, and
# how they change when one region's backend stops (its own namespaces, cleaned up by itself).
echo
echo "== GSLB (scripts/demo-gslb.sh)"
bash scripts/demo-gslb.sh "$meridiand"
echo "== done; cleaning up"
