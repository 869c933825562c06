#!/usr/bin/env bash
# Fleet demo (docs/fleet.md): three meridiand edges sharing one etcd cluster, each edge in its
# own network namespace with its XDP program attached, and two HTTP backends. It shows, with the
# evidence of each step (dig answers from every edge and which of the XDP counters moved,
# `meridianctl cluster status`, the health votes of `meridianctl health`):
#   a) a change sent to one edge answered by all three;
#   b) a backend one edge cannot reach kept in service by the vote of the others;
#   c) a backend down for everyone taken out everywhere (and back when it returns);
#   d) an edge cut off from etcd still answering (from XDP) and refusing writes with 503;
#   e) that edge catching up once healed.
# It checks each step's evidence and exits non-zero with the reason when one is not as expected,
# so it doubles as a smoke test. Everything it starts is stopped and removed at the end.
#
# Topology (198.18.0.0/24 inside the namespaces only):
#   hub ns:   bridge br0 198.18.0.1 (dig runs there), HTTP backends 198.18.0.20 and .21 (:8080)
#   etcd ns:  etcd members m0..m2 on 198.18.0.2 .. .4 (client port 2379, peer port 2380)
#   edge ns:  fra1 198.18.0.10, iad1 198.18.0.11, sin1 198.18.0.12, each meridiand with XDP
#             (native) on its eth0, a veth whose peer is a bridge port with an XDP_PASS program
# An edge loses a backend or etcd through blackhole routes in the namespaces (no firewall).
#
# Usage: scripts/demo-fleet.sh   (as root on Debian 12; installs what is missing and builds)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/netns-meridiand.sh

build_release_demo "$root"

id=$$
hub_ns="mdn-fleet-hub-$id"
etcd_ns="mdn-fleet-etcd-$id"
edges=(fra1 iad1 sin1)
vantages=(eu-central us-east ap-southeast)
work=$(mktemp -d)
pin_root="/sys/fs/bpf/meridian/demo-fleet-$id"
zone=fleet.example
lease_ttl_s=3
started_at=$(date +%s)
declare -a edge_pid=() etcd_pid=() backend_pid=()

edge_ns() { echo "mdn-fleet-$1-$id"; }
edge_ip() { echo "198.18.0.$((10 + $1))"; }
etcd_ip() { echo "198.18.0.$((2 + $1))"; }
backend_ip() { echo "198.18.0.$((20 + $1))"; }
pin_dir() { echo "$pin_root/${edges[$1]}"; }
sock() { echo "$work/${edges[$1]}/control.sock"; }

stop_pid() {  # stop_pid PID: SIGTERM, wait
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${edge_pid[@]}" "${backend_pid[@]}" "${etcd_pid[@]}"; do
    [ -n "$p" ] && stop_pid "$p"
  done
  # Deleting the namespaces removes the veth pairs, the bridge and the XDP programs on them.
  for e in "${edges[@]}"; do ip netns del "$(edge_ns "$e")" 2>/dev/null || true; done
  ip netns del "$etcd_ns" 2>/dev/null || true
  ip netns del "$hub_ns" 2>/dev/null || true
  rm -rf "$pin_root" "$work"
  rmdir /sys/fs/bpf/meridian 2>/dev/null || true
}
trap cleanup EXIT

fail() {  # the edges' recent fleet and health log lines, then the reason; exit 1
  echo >&2
  for i in 0 1 2; do
    [ -r "$work/${edges[$i]}/meridiand.log" ] || continue
    echo "--- ${edges[$i]}'s log (fleet, health, warnings), last lines" >&2
    grep -E '\[(fleet|health|config)\]|warn|error' "$work/${edges[$i]}/meridiand.log" |
      tail -n 10 >&2 || true
  done
  echo "demo-fleet: FAILED: $*" >&2
  exit 1
}
step() {
  echo
  echo "== [$(($(date +%s) - started_at)) s] $*"
}
ctl() {  # ctl EDGE-INDEX ARGS...: prints the command and its output
  local i=$1
  shift
  echo "   ${edges[$i]}\$ meridianctl ${*//$work\//}"
  "$meridianctl" "$@" --socket "$(sock "$i")" 2>&1 | sed 's/^/   /'
  return "${PIPESTATUS[0]}"
}
ctlq() { local i=$1; shift; "$meridianctl" "$@" --socket "$(sock "$i")"; }  # quiet
json_get() {  # json_get PYTHON-EXPRESSION-ON-j < JSON
  /usr/bin/python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$pin_root"

# --- the namespaces: one bridge in the hub, a veth from every other namespace to it
ip netns add "$hub_ns"
ip -n "$hub_ns" link set lo up
ip -n "$hub_ns" link add br0 type bridge
ip -n "$hub_ns" addr add 198.18.0.1/24 dev br0
ip -n "$hub_ns" link set br0 up
attach() {  # attach NAMESPACE PORT ADDRESS...: "eth0" in NAMESPACE, PORT on the hub's bridge
  local ns=$1 port=$2 n=0
  shift 2
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "fl$port-$id" netns "$ns" type veth peer name "$port" netns "$hub_ns"
  ip -n "$ns" link set "fl$port-$id" name eth0
  for address in "$@"; do
    if [ $n -eq 0 ]; then ip -n "$ns" addr add "$address/24" dev eth0; else
      ip -n "$ns" addr add "$address/32" dev eth0; fi
    n=$((n + 1))
  done
  ip -n "$ns" link set eth0 up
  ip -n "$hub_ns" link set "$port" master br0 up
}
attach "$etcd_ns" pd "$(etcd_ip 0)" "$(etcd_ip 1)" "$(etcd_ip 2)"
for i in 0 1 2; do
  attach "$(edge_ns "${edges[$i]}")" "p$i" "$(edge_ip "$i")"
  # Native XDP_TX on a veth is dropped unless the peer end has an XDP program: XDP_PASS is enough.
  ip -n "$hub_ns" link set dev "p$i" xdp obj "$xdp_pass" sec xdp
done
for k in 0 1; do ip -n "$hub_ns" addr add "$(backend_ip "$k")/32" dev br0; done

# --- etcd: three members
cluster=""
for j in 0 1 2; do cluster+="${cluster:+,}m$j=http://$(etcd_ip "$j"):2380"; done
endpoints=""
for j in 0 1 2; do endpoints+="${endpoints:+,}http://$(etcd_ip "$j"):2379"; done
for j in 0 1 2; do
  a=$(etcd_ip "$j")
  nsenter --net="/run/netns/$etcd_ns" etcd --name "m$j" --data-dir "$work/etcd-m$j" \
    --listen-client-urls "http://$a:2379" --advertise-client-urls "http://$a:2379" \
    --listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:2380" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token "meridian-demo-$id" >"$work/etcd-m$j.log" 2>&1 &
  etcd_pid+=($!)
done
etcdctl_() {
  nsenter --net="/run/netns/$etcd_ns" etcdctl --endpoints "$endpoints" --dial-timeout 2s \
    --command-timeout 3s "$@"
}
step "etcd: 3 members in $etcd_ns ($endpoints)"
for _ in $(seq 1 100); do
  etcdctl_ endpoint health >/dev/null 2>&1 && break
  sleep 0.3
done
etcdctl_ endpoint health 2>&1 | sed 's/^/   /' || fail "etcd did not become healthy (logs: $work/etcd-m*.log)"

# --- the HTTP backends (the health checks' targets), in the hub
for k in 0 1; do
  mkdir -p "$work/www$k"
  echo "backend $k" >"$work/www$k/index.html"
done
start_backend() {  # start_backend K
  nsenter --net="/run/netns/$hub_ns" /usr/bin/python3 -m http.server 8080 \
    --bind "$(backend_ip "$1")" --directory "$work/www$1" >/dev/null 2>&1 &
  backend_pid[$1]=$!
  for _ in $(seq 1 50); do
    ip netns exec "$hub_ns" curl -s -o /dev/null --max-time 1 "http://$(backend_ip "$1"):8080/" &&
      return 0
    sleep 0.1
  done
  fail "backend $1 did not start"
}
start_backend 0
start_backend 1

# --- the edges: no zones in their configs; the fleet's state is in etcd
step "starting 3 edges (meridiand, XDP native on each edge's eth0, lease ${lease_ttl_s} s)"
for i in 0 1 2; do
  e=${edges[$i]}
  mkdir -p "$work/$e"
  cat >"$work/$e/meridian.json" <<CONF
{
  "listen": ["$(edge_ip "$i"):53"],
  "log": {"level": "info"},
  "xdp": {"interfaces": ["eth0"], "mode": "native", "pin_dir": "$(pin_dir "$i")"},
  "state": {"database": "$work/$e/state.db"},
  "control": {"socket": "$(sock "$i")"},
  "cluster": {"endpoints": ["${endpoints//,/\", \"}"], "edge": "$e",
              "vantage": "${vantages[$i]}", "prefix": "/meridian-demo/",
              "lease_ttl_s": $lease_ttl_s}
}
CONF
  started=0
  start_meridiand_in_netns "$(edge_ns "$e")" "$work/$e/meridian.json" "$work/$e/meridiand.log" ||
    started=$?
  edge_pid[i]=$daemon_pid
  [ "$started" -eq 0 ] || fail "meridiand on $e did not start"
  echo "   $e: $(edge_ip "$i"):53 in $(edge_ns "$e"), vantage ${vantages[$i]}, pid $daemon_pid"
done

edges_live() {  # edges_live I: how many live edges edge I lists
  ctlq "$1" cluster status --json 2>/dev/null | json_get 'len(j["Edges"])' 2>/dev/null || echo 0
}
for _ in $(seq 1 100); do
  [ "$(edges_live 0)" = 3 ] && break
  sleep 0.1
done
ctl 0 cluster status || fail "meridianctl cluster status on fra1"
[ "$(edges_live 0)" = 3 ] || fail "fra1 does not list 3 live edges"

# --- asking the edges: dig from the hub, and which XDP counters of that edge moved
stats_json() { "$meridianctl" stats --pin-dir "$(pin_dir "$1")" --json; }
dig_short() {  # dig_short I NAME: the A answers, sorted, comma-separated ("-" for none)
  local out
  out=$(ip netns exec "$hub_ns" dig +short +norec +time=1 +tries=1 @"$(edge_ip "$1")" "$2" A |
    grep -E '^[0-9.]+$' | sort | paste -sd, -) || true
  echo "${out:--}"
}
ask() {  # ask I NAME EXPECTED: prints the answer and who sent it; fails unless EXPECTED by XDP
  local i=$1 name=$2 expected=$3 before after got by
  before=$(stats_json "$i")
  got=$(dig_short "$i" "$name")
  after=$(stats_json "$i")
  by=$(/usr/bin/python3 -c '
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}
passes = [k for k in d if k.startswith("pass_") and k not in ("pass_not_ip", "pass_ipv6_ext")]
print("XDP" if d.get("answered") else "userspace (" + ",".join(passes) + ")" if passes else "?")
' "$before" "$after")
  printf '   %-5s %-13s %-20s -> %-12s answered by %s\n' "${edges[$i]}" "@$(edge_ip "$i")" \
    "$name A" "$got" "$by"
  [ "$got" = "$expected" ] || fail "${edges[$i]} answered $name with $got, expected $expected"
  [ "$by" = XDP ] || fail "${edges[$i]}'s answer for $name did not come from XDP ($by)"
}
ask_all() {  # ask_all NAME EXPECTED [EDGE-INDEX...] (default: every edge)
  local name=$1 expected=$2
  shift 2
  [ $# -gt 0 ] || set -- 0 1 2
  for i in "$@"; do ask "$i" "$name" "$expected"; done
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_answer() {  # wait_answer SECONDS NAME EXPECTED EDGE-INDEX...: seconds until all answer so
  local limit=$1 name=$2 expected=$3 start ok elapsed
  shift 3
  start=$(now_ms)
  while :; do
    ok=1
    for i in "$@"; do [ "$(dig_short "$i" "$name")" = "$expected" ] || ok=0; done
    elapsed=$(($(now_ms) - start))
    [ $ok -eq 1 ] && break
    [ "$elapsed" -lt $((limit * 1000)) ] ||
      fail "$name not answered $expected by edges $* within $limit s"
    sleep 0.1
  done
  printf '%d.%02d' $((elapsed / 1000)) $((elapsed % 1000 / 10))
}
vote() {  # vote I CHECK: "own-status|fleet-status|summary" as edge I sees it
  ctlq "$1" health --json 2>/dev/null | json_get '
"|".join(next((h["Status"], h.get("FleetStatus", "-"), h.get("Vote", {}).get("Summary", "-"))
              for h in j["HealthCheckStatuses"] if h["Id"] == "'"$2"'"))' 2>/dev/null || echo "?"
}
wait_vote() {  # wait_vote SECONDS I CHECK EXPECTED
  for _ in $(seq 1 $(($1 * 10))); do
    [ "$(vote "$2" "$3")" = "$4" ] && return 0
    sleep 0.1
  done
  fail "${edges[$2]}: $3 is '$(vote "$2" "$3")', expected '$4'"
}

# --- a) a change through one edge, answered by all three
step "a) a zone and a change sent to iad1 only, answered by all three edges"
ctl 0 zones create "$zone" --comment "created through fra1" || fail "zones create on fra1"
cat >"$work/www.json" <<'BATCH'
{"Comment": "demo: www through iad1",
 "Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": "www.fleet.example", "Type": "A",
              "TTL": 60, "ResourceRecords": [{"Value": "198.18.1.1"}]}}]}
BATCH
change=$("$meridianctl" change-resource-record-sets --hosted-zone-id "$zone" \
  --change-batch "file://$work/www.json" --socket "$(sock 1)" --json |
  json_get 'j["ChangeInfo"]["Id"]') || fail "the change batch on iad1"
echo "   iad1\$ meridianctl change-resource-record-sets --hosted-zone-id $zone --change-batch file://www.json"
echo "   $change committed (www.fleet.example A 198.18.1.1)"
t=$(wait_answer 10 www.fleet.example 198.18.1.1 0 1 2)
echo "   answered by all three ${t} s after iad1 acknowledged it"
ask_all www.fleet.example 198.18.1.1
for _ in $(seq 1 100); do
  [ "$(ctlq 0 get-change "$change" --json | json_get 'j["ChangeInfo"]["Status"]')" = INSYNC ] &&
    break
  sleep 0.1
done
ctl 0 get-change "$change" || fail "get-change on fra1"
[ "$(ctlq 0 get-change "$change" --json | json_get 'j["ChangeInfo"]["Status"]')" = INSYNC ] ||
  fail "$change is not INSYNC once every edge serves it"
echo "   the zone as each edge lists it:"
for i in 0 1 2; do
  echo "   ${edges[$i]}: $(ctlq "$i" zones list | tail -n +2 | awk '{print $1, $2, $3 " rrsets"}')"
done

# --- b) the health vote: a backend one edge cannot reach stays in service
step "b) failover app.fleet.example: primary 198.18.1.10 checked on backend $(backend_ip 0):8080,"
echo "   secondary 198.18.1.20 on $(backend_ip 1):8080 (RequestInterval 1 s, FailureThreshold 2)"
for k in 0 1; do
  name=$([ "$k" = 0 ] && echo primary || echo secondary)
  ctl 2 health-checks create "{\"Id\": \"$name\", \"Type\": \"HTTP\", \"IPAddress\":
    \"$(backend_ip "$k")\", \"Port\": 8080, \"ResourcePath\": \"/\", \"RequestInterval\": 1,
    \"FailureThreshold\": 2}" || fail "health-checks create $name on sin1"
done
cat >"$work/app.json" <<'BATCH'
{"Comment": "demo: failover",
 "Changes": [
  {"Action": "CREATE", "ResourceRecordSet": {"Name": "app.fleet.example", "Type": "A", "TTL": 10,
   "SetIdentifier": "primary", "Failover": "PRIMARY", "HealthCheckId": "primary",
   "ResourceRecords": [{"Value": "198.18.1.10"}]}},
  {"Action": "CREATE", "ResourceRecordSet": {"Name": "app.fleet.example", "Type": "A", "TTL": 10,
   "SetIdentifier": "secondary", "Failover": "SECONDARY", "HealthCheckId": "secondary",
   "ResourceRecords": [{"Value": "198.18.1.20"}]}}]}
BATCH
ctl 2 change-resource-record-sets --hosted-zone-id "$zone" --change-batch "file://$work/app.json" ||
  fail "the failover batch on sin1"
for i in 0 1 2; do wait_vote 15 "$i" primary "healthy|healthy|3 of 3 vantage points healthy"; done
wait_answer 10 app.fleet.example 198.18.1.10 0 1 2 >/dev/null
ask_all app.fleet.example 198.18.1.10
echo
echo "   sin1 loses its route to the primary's backend (blackhole $(backend_ip 0) in its namespace)"
ip -n "$(edge_ns sin1)" route add blackhole "$(backend_ip 0)/32"
wait_vote 15 2 primary "unhealthy|healthy|2 of 3 vantage points healthy"
sleep 1  # one more probe round: the vote holds
ctl 2 health || fail "meridianctl health on sin1"
for i in 0 1; do
  [ "$(vote "$i" primary)" = "healthy|healthy|2 of 3 vantage points healthy" ] ||
    fail "${edges[$i]}: primary is '$(vote "$i" primary)'"
done
echo "   sin1's own probe fails, the vote (2 of 3 > healthy_fraction 0.18) keeps the primary:"
ask_all app.fleet.example 198.18.1.10

# --- c) a backend down for everyone: out everywhere
step "c) the primary's backend stops (kill $(backend_ip 0):8080): down for every edge"
stop_pid "${backend_pid[0]}"
backend_pid[0]=""
t=$(wait_answer 15 app.fleet.example 198.18.1.20 0 1 2)
echo "   every edge answers the secondary ${t} s after the stop (bound: 1 s x 2 + lease ${lease_ttl_s} s + 1 s)"
for i in 0 1 2; do wait_vote 5 "$i" primary "unhealthy|unhealthy|0 of 3 vantage points healthy"; done
ctl 0 health || fail "meridianctl health on fra1"
ask_all app.fleet.example 198.18.1.20
grep -h "decided unhealthy" "$work/fra1/meridiand.log" | tail -n 1 | sed 's/^/   fra1 log: /'
echo
echo "   the backend starts again and sin1's route comes back"
start_backend 0
ip -n "$(edge_ns sin1)" route del blackhole "$(backend_ip 0)/32"
t=$(wait_answer 15 app.fleet.example 198.18.1.10 0 1 2)
echo "   every edge answers the primary again ${t} s later"
ask_all app.fleet.example 198.18.1.10

# --- d) an edge cut off from etcd: answers, refuses writes
step "d) sin1 cut off from etcd (blackhole routes both ways between sin1 and the etcd members)"
mark=$(wc -l <"$work/sin1/meridiand.log")
for j in 0 1 2; do ip -n "$(edge_ns sin1)" route add blackhole "$(etcd_ip "$j")/32"; done
ip -n "$etcd_ns" route add blackhole "$(edge_ip 2)/32"
connected() { ctlq "$1" cluster status --json 2>/dev/null | json_get 'j["Connected"]' || echo "?"; }
for _ in $(seq 1 200); do
  [ "$(connected 2)" = False ] && break
  sleep 0.1
done
[ "$(connected 2)" = False ] || fail "sin1 still says it reaches etcd"
ctl 2 cluster status || true
cat >"$work/www2.json" <<'BATCH'
{"Comment": "demo: www moves",
 "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": "www.fleet.example", "Type": "A",
              "TTL": 60, "ResourceRecords": [{"Value": "198.18.1.2"}]}}]}
BATCH
echo
echo "   a write sent to sin1 is refused:"
if ctl 2 change-resource-record-sets --hosted-zone-id "$zone" \
  --change-batch "file://$work/www2.json"; then
  fail "sin1 accepted a write while cut off from etcd"
fi
code=$(curl -s -o "$work/refused.json" -w '%{http_code}' --unix-socket "$(sock 2)" -X POST \
  --data-binary "@$work/www2.json" "http://localhost/v1/zones/$zone/rrsets")
echo "   (HTTP $code: $(cat "$work/refused.json"))"
[ "$code" = 503 ] || fail "sin1 answered a write with HTTP $code, expected 503"
grep -q "etcd unreachable since" "$work/refused.json" || fail "the 503 does not say since when"
echo
echo "   the same write through fra1 (www -> 198.18.1.2) is committed; sin1 keeps serving 198.18.1.1:"
ctl 0 change-resource-record-sets --hosted-zone-id "$zone" --change-batch "file://$work/www2.json" ||
  fail "the change batch on fra1"
wait_answer 10 www.fleet.example 198.18.1.2 0 1 >/dev/null
ask_all www.fleet.example 198.18.1.2 0 1
ask 2 www.fleet.example 198.18.1.1
lost=0
for _ in $(seq 1 100); do
  [ "$(dig_short 2 www.fleet.example)" = 198.18.1.1 ] || lost=$((lost + 1))
done
echo "   100 more queries to sin1 while it is cut off: $((100 - lost)) answered 198.18.1.1"
[ "$lost" -eq 0 ] || fail "$lost of 100 queries to the cut-off edge not answered as before"
for _ in $(seq 1 $((lease_ttl_s * 10 + 50))); do
  [ "$(edges_live 0)" = 2 ] && break
  sleep 0.1
done
echo "   fra1's view once sin1's lease has expired:"
ctl 0 cluster status || fail "cluster status on fra1"

# --- e) healed: it catches up
step "e) sin1's routes to etcd come back"
for j in 0 1 2; do ip -n "$(edge_ns sin1)" route del blackhole "$(etcd_ip "$j")/32"; done
ip -n "$etcd_ns" route del blackhole "$(edge_ip 2)/32"
t=$(wait_answer 30 www.fleet.example 198.18.1.2 2)
echo "   sin1 answers the change it missed ${t} s after the heal"
for _ in $(seq 1 100); do
  [ "$(connected 2)" = True ] && [ "$(edges_live 0)" = 3 ] && break
  sleep 0.1
done
[ "$(connected 2)" = True ] || fail "sin1 does not reach etcd again"
ctl 2 cluster status || fail "cluster status on sin1"
ask_all www.fleet.example 198.18.1.2
echo "   sin1's fleet log since the cut:"
tail -n +"$((mark + 1))" "$work/sin1/meridiand.log" | grep -F "[fleet]" | sed 's/^/   /'
[ "$(tail -n +"$((mark + 1))" "$work/sin1/meridiand.log" | grep -c "etcd reachable again")" = 1 ] ||
  fail "sin1 did not go from unreachable to reachable exactly once"

step "the XDP counters of each edge: answers XDP sent, those a routing policy decided"
for i in 0 1 2; do
  "$meridianctl" stats --pin-dir "$(pin_dir "$i")" | grep -E "^ *(answered|hit_policy) +[0-9]" |
    awk -v e="${edges[$i]}" '{printf "   %-5s %-12s %s\n", e, $1, $2}'
done

step "demo-fleet: every step as expected; stopping and cleaning up"
