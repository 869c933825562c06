#!/usr/bin/env bash
# Soak run (issue #6): dnsperf at a fixed rate against meridiand's XDP path for DURATION seconds
# while the zone changes and meridiand reloads every second and a health-checked backend flaps;
# a checker sends its own queries the whole time and checks every reply against the allowed
# answers. Reports lost queries, wrong answers, reloads, health transitions, the fast path's
# counters and meridiand's memory over time; exit 0 only when nothing was wrong or lost and
# memory stayed flat. Everything runs in network namespaces of its own (198.18.0.0/15 and
# fd00:18::/64) and is stopped and removed on exit, also on Ctrl-C or failure.
#
#   bench/soak.sh [--duration 600] [--rate 20000] [--meridiand PATH] [options]   (see --help)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/netns-meridiand.sh"

usage() {
  cat <<'USAGE'
Usage: bench/soak.sh [options]
  --duration S          seconds of load (default 600)
  --rate Q              dnsperf's fixed rate, queries per second (-Q; default 20000)
  --check-rate Q        the checker's rate (default 200)
  --timeout S           dnsperf's and the checker's timeout: a query without a reply after S
                        seconds is lost (dnsperf -t; default 5)
  --flap S              stop or start the backend every S seconds (default 7)
  --reload S            rewrite the zone and SIGHUP meridiand every S seconds (default 1)
  --sample S            memory sample interval (default 10)
  --clients N --threads N --outstanding N   dnsperf -c/-T/-q (default 4, 1, 1000)
  --buffer-kib K        dnsperf's socket buffers (-b; default 4096: a reply burst while dnsperf
                        waits for a core is queued, not dropped)
  --max-lost N          dnsperf lost queries allowed (default 0)
  --max-rss-kib-per-min K   RSS growth bound after warm-up (default 256)
  --meridiand PATH      (default build/release/userspace/daemon/meridiand); meridianctl and
                        xdp_pass.bpf.o are taken from the same build directory unless given:
  --meridianctl PATH --xdp-pass PATH
  --xdp-mode native|generic|auto   (default native)
  --out DIR             where logs and samples are kept (default /tmp/meridian-soak-PID)
USAGE
}

duration=600 rate=20000 check_rate=200 timeout=5 flap=7 reload_every=1 sample_every=10
clients=4 threads=1 outstanding=1000 buffer_kib=4096 max_lost=0 max_rss=256 xdp_mode=native
meridiand="$root/build/release/userspace/daemon/meridiand" meridianctl="" xdp_pass="" out=""
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2 ;;
    --rate) rate=$2 ;;
    --check-rate) check_rate=$2 ;;
    --timeout) timeout=$2 ;;
    --flap) flap=$2 ;;
    --reload) reload_every=$2 ;;
    --sample) sample_every=$2 ;;
    --clients) clients=$2 ;;
    --threads) threads=$2 ;;
    --outstanding) outstanding=$2 ;;
    --buffer-kib) buffer_kib=$2 ;;
    --max-lost) max_lost=$2 ;;
    --max-rss-kib-per-min) max_rss=$2 ;;
    --meridiand) meridiand=$2 ;;
    --meridianctl) meridianctl=$2 ;;
    --xdp-pass) xdp_pass=$2 ;;
    --xdp-mode) xdp_mode=$2 ;;
    --out) out=$2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift 2
done
build=$(cd "$(dirname "$meridiand")/../.." && pwd)
meridianctl=${meridianctl:-$build/tools/meridianctl}
xdp_pass=${xdp_pass:-$build/bpf/xdp_pass.bpf.o}
py=/usr/bin/python3  # the Debian interpreter: python3-dnspython is installed for it
check="$here/soak_check.py"

if [ "$(id -u)" -ne 0 ]; then
  echo "soak.sh: run as root (namespaces, XDP)" >&2
  exit 1
fi
for f in "$meridiand" "$meridianctl"; do
  [ -x "$f" ] || { echo "soak.sh: $f missing: build the release preset first" >&2; exit 1; }
done
[ -r "$xdp_pass" ] || { echo "soak.sh: $xdp_pass missing" >&2; exit 1; }
for tool in dnsperf bpftool nsenter ip curl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "soak.sh: $tool missing: run scripts/setup.sh first" >&2
    exit 1
  }
done

id=$$
server_ns="mdn-soak-srv-$id"
client_ns="mdn-soak-cli-$id"
server_if="mss$id"
client_if="msc$id"
server4=198.18.0.1 client4=198.18.0.2 server6=fd00:18::1 client6=fd00:18::2
backend_ip=198.18.1.10  # on the server namespace's lo: the health checker probes it there
pin_dir="/sys/fs/bpf/meridian/soak-$id"
out=${out:-/tmp/meridian-soak-$id}
mkdir -p "$out"
work="$out"
gen_base=1000000  # SOA serial = gen_base + generation
geoip_db=/var/lib/meridian/geoip/country.mmdb
daemon_pid="" backend_pid="" sampler_pid="" dnsperf_pid="" checker_pid=""

stop_pid() {  # pid: TERM, then KILL after 5 s
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  for pid in "$sampler_pid" "$checker_pid" "$dnsperf_pid" "$backend_pid" "$daemon_pid"; do
    stop_pid "$pid"
  done
  ip netns del "$client_ns" 2>/dev/null || true
  ip netns del "$server_ns" 2>/dev/null || true
  rm -rf "$pin_dir"
  echo "logs and samples: $out"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# --- topology: server and client namespaces joined by a veth pair --------------------------------
# The client end carries an XDP_PASS program: native XDP_TX on a veth is delivered only when the
# peer has an XDP program.
ip netns add "$server_ns"
ip netns add "$client_ns"
ip link add "$server_if" netns "$server_ns" type veth peer name "$client_if" netns "$client_ns"
ip -n "$server_ns" addr add "$server4/24" dev "$server_if"
ip -n "$server_ns" addr add "$server6/64" dev "$server_if" nodad
ip -n "$client_ns" addr add "$client4/24" dev "$client_if"
ip -n "$client_ns" addr add "$client6/64" dev "$client_if" nodad
for ns in "$server_ns" "$client_ns"; do ip -n "$ns" link set lo up; done
ip -n "$server_ns" addr add "$backend_ip/32" dev lo
ip -n "$server_ns" link set "$server_if" up
ip -n "$client_ns" link set "$client_if" up
ip -n "$client_ns" link set dev "$client_if" xdpdrv obj "$xdp_pass" sec xdp

# --- the backend: python's HTTP server, stopped and started to flap its health check -------------
mkdir -p "$work/www"
echo OK >"$work/www/health.txt"
: >"$work/events"  # "EPOCH changing" before each flap, "EPOCH up|down" after: for the checker
backend_up=0
start_backend() {
  echo "$EPOCHREALTIME changing" >>"$work/events"
  nsenter --net="/var/run/netns/$server_ns" "$py" -m http.server 80 --bind "$backend_ip" \
    --directory "$work/www" >/dev/null 2>&1 &
  backend_pid=$!
  for _ in $(seq 1 50); do
    if nsenter --net="/var/run/netns/$server_ns" curl -s -o /dev/null --max-time 1 \
      "http://$backend_ip/health.txt"; then
      backend_up=1
      echo "$EPOCHREALTIME up" >>"$work/events"
      return 0
    fi
    sleep 0.1
  done
  echo "soak.sh: the backend did not start" >&2
  return 1
}
stop_backend() {
  echo "$EPOCHREALTIME changing" >>"$work/events"
  stop_pid "$backend_pid"
  backend_pid=""
  backend_up=0
  echo "$EPOCHREALTIME down" >>"$work/events"
}

# --- zone and configuration ----------------------------------------------------------------------
# Static names (one alternating with every generation, one of four records, an AAAA, a TXT and the
# SOA serial carrying the generation) and GSLB names (failover, weighted, geolocation) whose
# health-checked record sets follow the backend. bench/soak_check.py holds the allowed answers.
write_zone() {  # generation
  local g=$1 a
  a=$((g % 2 == 0 ? 1 : 2))
  cat >"$work/soak.example.json.tmp" <<ZONE
{"ResourceRecordSets": [
 {"Name": "soak.example.", "Type": "SOA", "TTL": 300, "ResourceRecords": [
   {"Value": "ns1.soak.example. hostmaster.soak.example. $((gen_base + g)) 7200 900 1209600 60"}]},
 {"Name": "soak.example.", "Type": "NS", "TTL": 300,
  "ResourceRecords": [{"Value": "ns1.soak.example."}]},
 {"Name": "ns1.soak.example.", "Type": "A", "TTL": 300,
  "ResourceRecords": [{"Value": "$server4"}]},
 {"Name": "static.soak.example.", "Type": "A", "TTL": 60,
  "ResourceRecords": [{"Value": "198.18.10.$a"}]},
 {"Name": "static.soak.example.", "Type": "AAAA", "TTL": 60,
  "ResourceRecords": [{"Value": "fd00:18::10"}]},
 {"Name": "multi.soak.example.", "Type": "A", "TTL": 60, "ResourceRecords": [
   {"Value": "198.18.11.1"}, {"Value": "198.18.11.2"}, {"Value": "198.18.11.3"},
   {"Value": "198.18.11.4"}]},
 {"Name": "gen.soak.example.", "Type": "TXT", "TTL": 60,
  "ResourceRecords": [{"Value": "\"gen=$g\""}]},
 {"Name": "app.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "primary",
  "Failover": "PRIMARY", "HealthCheckId": "backend",
  "ResourceRecords": [{"Value": "198.18.1.10"}]},
 {"Name": "app.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "secondary",
  "Failover": "SECONDARY", "ResourceRecords": [{"Value": "198.18.2.10"}]},
 {"Name": "www.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "one", "Weight": 1,
  "ResourceRecords": [{"Value": "198.18.3.1"}]},
 {"Name": "www.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "two", "Weight": 1,
  "ResourceRecords": [{"Value": "198.18.3.2"}, {"Value": "198.18.3.3"}]},
 {"Name": "www.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "checked", "Weight": 1,
  "HealthCheckId": "backend", "ResourceRecords": [{"Value": "198.18.3.4"}]},
 {"Name": "geo.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "na",
  "GeoLocation": {"ContinentCode": "NA"}, "HealthCheckId": "backend",
  "ResourceRecords": [{"Value": "198.18.4.1"}]},
 {"Name": "geo.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "eu",
  "GeoLocation": {"ContinentCode": "EU"}, "ResourceRecords": [{"Value": "198.18.4.2"}]},
 {"Name": "geo.soak.example.", "Type": "A", "TTL": 30, "SetIdentifier": "default",
  "GeoLocation": {"CountryCode": "*"}, "ResourceRecords": [{"Value": "198.18.4.9"}]}
]}
ZONE
  mv "$work/soak.example.json.tmp" "$work/soak.example.json"  # meridiand never reads half a file
}
geoip=no
geoip_json=null
if [ -r "$geoip_db" ]; then geoip=yes geoip_json="\"$geoip_db\""; fi
write_zone 0
cat >"$work/meridian.json" <<CONF
{
  "listen": ["$server4:53", "[$server6]:53"],
  "workers": 2,
  "log": {"level": "info"},
  "zones": [{"origin": "soak.example.", "format": "route53-json", "file": "soak.example.json"}],
  "geoip": {"database": $geoip_json},
  "health_checks": [
    {"Id": "backend", "Type": "HTTP", "IPAddress": "$backend_ip", "Port": 80,
     "ResourcePath": "/health.txt", "RequestInterval": 1, "FailureThreshold": 1}
  ],
  "health": {"state_db": "$work/health.db"},
  "state": {"database": "$work/state.db"}, "control": {"socket": "$work/control.sock"},
  "xdp": {"interfaces": ["$server_if"], "mode": "$xdp_mode", "pin_dir": "$pin_dir"}
}
CONF
# The query mix for dnsperf: every static and GSLB name, positive answers only (so any rcode
# other than NOERROR in dnsperf's summary is wrong).
cat >"$work/queries.txt" <<'QUERIES'
static.soak.example A
static.soak.example AAAA
multi.soak.example A
gen.soak.example TXT
soak.example SOA
soak.example NS
ns1.soak.example A
app.soak.example A
www.soak.example A
geo.soak.example A
QUERIES

# --- meridiand -----------------------------------------------------------------------------------
start_backend
if ! start_meridiand_in_netns "$server_ns" "$work/meridian.json" "$work/meridiand.log"; then
  echo "soak.sh: meridiand did not start; its log:" >&2
  cat "$work/meridiand.log" >&2
  exit 1
fi
grep -E "XDP|published|decided in XDP" "$work/meridiand.log" | sed 's/^/  /' || true
if ! grep -q "XDP program attached\|replaced" "$work/meridiand.log"; then
  echo "soak.sh: the XDP program is not attached" >&2
  exit 1
fi
sleep 1.5  # the first probe round

"$meridianctl" stats --pin-dir "$pin_dir" --json >"$work/stats-before.json"
warmup=$((duration / 10 < 10 ? 10 : (duration / 10 > 60 ? 60 : duration / 10)))
echo "== soak: ${duration}s, dnsperf -Q $rate -c $clients -T $threads -q $outstanding" \
  "-b $buffer_kib -t $timeout;" \
  "checker $check_rate q/s; reload every ${reload_every}s, backend flap every ${flap}s;" \
  "GeoIP database: $geoip; memory every ${sample_every}s (warm-up ${warmup}s)"

# Memory sampler: RSS and BPF map memory every sample_every seconds.
(
  while kill -0 "$daemon_pid" 2>/dev/null; do
    "$py" "$check" mem --pid "$daemon_pid" --pin-dir "$pin_dir" >>"$work/memory.jsonl" || true
    sleep "$sample_every"
  done
) &
sampler_pid=$!

ip netns exec "$client_ns" timeout $((duration + 60)) dnsperf -s "$server4" -p 53 \
  -d "$work/queries.txt" -l "$duration" -Q "$rate" -c "$clients" -T "$threads" \
  -q "$outstanding" -b "$buffer_kib" -t "$timeout" -S 60 >"$work/dnsperf.log" 2>&1 &
dnsperf_pid=$!
ip netns exec "$client_ns" timeout $((duration + 60)) "$py" "$check" check --server4 "$server4" \
  --server6 "$server6" --duration "$duration" --rate "$check_rate" --timeout "$timeout" \
  --events "$work/events" --gen-base "$gen_base" --geoip "$geoip" --out "$work/checker.json" \
  >"$work/checker.log" 2>&1 &
checker_pid=$!

# Reloads and flaps on a fixed schedule (ticks of reload_every seconds from the start).
start=$EPOCHREALTIME
gen=0 sighups=0 flaps=0 tick=0
while :; do
  tick=$((tick + 1))
  due=$(awk -v s="$start" -v t="$tick" -v r="$reload_every" 'BEGIN { printf "%.3f", s + t * r }')
  wait_s=$(awk -v d="$due" -v n="$EPOCHREALTIME" \
    'BEGIN { w = d - n; printf "%.3f", (w > 0 ? w : 0) }')
  sleep "$wait_s"
  elapsed=$((tick * reload_every))
  [ "$elapsed" -le "$duration" ] || break
  kill -0 "$daemon_pid" 2>/dev/null || { echo "soak.sh: meridiand died" >&2; break; }
  gen=$((gen + 1))
  write_zone "$gen"
  kill -HUP "$daemon_pid"
  sighups=$((sighups + 1))
  if [ $((elapsed % flap)) -lt "$reload_every" ]; then
    if [ "$backend_up" = 1 ]; then stop_backend; else start_backend; fi
    flaps=$((flaps + 1))
  fi
  if [ $((elapsed % 60)) -lt "$reload_every" ]; then
    echo "  ${elapsed}s: generation $gen, $flaps flaps, RSS $(awk '/VmRSS/ { print $2, $3 }' \
      "/proc/$daemon_pid/status" 2>/dev/null)"
  fi
done
daemon_alive=0
kill -0 "$daemon_pid" 2>/dev/null && daemon_alive=1
wait "$dnsperf_pid" || true
dnsperf_pid=""
wait "$checker_pid" || true
checker_pid=""
# Where lost queries went: UDP datagrams the kernel dropped for a full receive buffer, in the
# server namespace (meridiand's sockets) and the client namespace (dnsperf's and the checker's).
udp_drops() {  # namespace -> "RcvbufErrors InErrors"
  ip netns exec "$1" cat /proc/net/snmp | awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++)
    col[$i] = i; h = 1 } else print $col["RcvbufErrors"], $col["InErrors"] }'
}
read -r srv_rcvbuf srv_inerr <<<"$(udp_drops "$server_ns")"
read -r cli_rcvbuf cli_inerr <<<"$(udp_drops "$client_ns")"
sleep 2  # the last reload's log lines
"$meridianctl" stats --pin-dir "$pin_dir" --json >"$work/stats-after.json" || true
"$py" "$check" mem --pid "$daemon_pid" --pin-dir "$pin_dir" >>"$work/memory.jsonl" 2>/dev/null ||
  true
stop_pid "$sampler_pid"
sampler_pid=""
stop_pid "$daemon_pid"
daemon_pid=""

# --- report --------------------------------------------------------------------------------------
log="$work/meridiand.log"
count() { grep -c "$1" "$log" || true; }
sent=$(awk '/Queries sent:/ { print $3 }' "$work/dnsperf.log")
completed=$(awk '/Queries completed:/ { print $3 }' "$work/dnsperf.log")
lost=$(awk '/Queries lost:/ { print $3 }' "$work/dnsperf.log")
qps=$(awk '/Queries per second:/ { print $4 }' "$work/dnsperf.log")
codes=$(grep "Response codes:" "$work/dnsperf.log" | sed 's/.*Response codes: *//')
bad_codes=$(echo "$codes" | tr ',' '\n' |
  awk '$1 != "NOERROR" && $2 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 }')
echo
echo "== results"
echo "dnsperf: sent ${sent:-?}, completed ${completed:-?}, lost ${lost:-?} (no reply within" \
  "${timeout}s), ${qps:-?} QPS; response codes: ${codes:-?}"
"$py" - "$work/checker.json" <<'PY' || true
import json, sys
c = json.load(open(sys.argv[1]))
late = "-" if c["late_health_max_s"] is None else c["late_health_max_s"]
print(f"checker: sent {c['sent']}, answered {c['answered']}, wrong {c['wrong']}, lost {c['lost']}"
      f" (no reply within {c['timeout_s']:g}s), generation regressions {c['gen_regressions']},"
      f" late health answers {c['late_health']} (latest {late} s after a flap);"
      f" latency ms p50 {c['latency_ms']['p50']}"
      f" p99 {c['latency_ms']['p99']} max {c['latency_ms']['max']}")
print(f"  weighted sets one/two/checked: {c['weighted_sets']}; failover primary/secondary:"
      f" {list(c['failover'].values())}")
for label, n in sorted(c["per_query"].items()):
    print(f"  {label}: wrong {n['wrong']}, lost {n['lost']}")
for e in c["examples"]:
    print(f"  example: {e['query']}: {e['why']}")
PY
echo "kernel UDP drops: server namespace $srv_rcvbuf receive-buffer errors ($srv_inerr in" \
  "errors), client namespace $cli_rcvbuf ($cli_inerr)"
reloaded=$(count "reloaded:")
reload_failed=$(count "reload failed")
published=$(count "published .* answers to XDP")
downs=$(count "health check backend: healthy -> unhealthy")
ups=$(count "health check backend: unhealthy -> healthy")
echo "reloads: $sighups SIGHUPs sent, $(count "SIGHUP: reloading") started, $reloaded done," \
  "$reload_failed failed; XDP publishes $published"
echo "health: $flaps backend flaps, transitions $downs healthy->unhealthy, $ups unhealthy->healthy"
echo "meridiand log: $(count '^[^ ]* error \[') error lines," \
  "$(count '^[^ ]* warning \[') warning lines"
grep -E '^[^ ]* (error|warning) \[' "$log" | cut -d' ' -f2- | sort | uniq -c | sort -rn | head -5 |
  cut -c1-160 | sed 's/^/  /' || true
"$py" "$check" stats --before "$work/stats-before.json" --after "$work/stats-after.json" || true
grep -E "health checker stopped|stopped: udp" "$log" | sed 's/^[^]]*] /meridiand: /' || true
mem_ok=0
"$py" "$check" report --samples "$work/memory.jsonl" --every "$sample_every" --warmup "$warmup" \
  --max-rss-kib-per-min "$max_rss" --max-map-growth-kib 0 || mem_ok=1
checker_wrong=$("$py" -c \
  'import json,sys; c=json.load(open(sys.argv[1])); print(c["wrong"], c["lost"])' \
  "$work/checker.json" 2>/dev/null || echo "? ?")
read -r wrong checker_lost <<<"$checker_wrong"

verdict=PASS
fail() { verdict=FAIL; echo "FAIL: $*"; }
[ "$daemon_alive" = 1 ] || fail "meridiand did not survive the run"
[ "$wrong" = 0 ] || fail "checker: $wrong wrong answers"
[ "$checker_lost" = 0 ] || fail "checker: $checker_lost lost queries"
[ "$bad_codes" = 0 ] || fail "dnsperf: $bad_codes replies with an rcode other than NOERROR"
if [ -z "$lost" ] || [ "$lost" -gt "$max_lost" ]; then
  fail "dnsperf: ${lost:-?} lost (bound $max_lost)"
fi
[ "$reload_failed" = 0 ] || fail "$reload_failed reloads failed"
[ "$mem_ok" = 0 ] || fail "memory not flat"
echo "== soak $verdict"
[ "$verdict" = PASS ]
