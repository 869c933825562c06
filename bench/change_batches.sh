#!/usr/bin/env bash
# Change batches through the control API with XDP attached: the time from POST to the answer
# (validated, committed to SQLite, served by userspace and published to the XDP maps: INSYNC) for
# BATCHES batches of 1,000 CREATEs growing one zone, then SINGLES one-change batches into it.
# meridiand runs in its own namespace with a veth pair; bounded by the batch counts.
#   BATCHES=10 SINGLES=30 bash bench/change_batches.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
batches="${BATCHES:-10}"
singles="${SINGLES:-30}"
build="$root/build/bench-rel"

if [ "$(id -u)" -ne 0 ]; then
  echo "change_batches.sh: run as root (namespaces, XDP)" >&2
  exit 1
fi
cmake --preset release -B "$build" >/dev/null
cmake --build "$build" -j "$(nproc)" --target meridiand meridian_xdp_object >/dev/null
meridiand="$build/userspace/daemon/meridiand"
xdp_pass="$build/bpf/xdp_pass.bpf.o"

id=$$
ns="mdn-bench-api-$id"
pin_dir="/sys/fs/bpf/meridian/bench-api-$id"
work=$(mktemp -d)
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$pin_dir" "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add v0 type veth peer name v1
ip -n "$ns" addr add 198.18.0.1/24 dev v0
ip -n "$ns" link set v0 up
ip -n "$ns" link set v1 up
ip -n "$ns" link set dev v1 xdp obj "$xdp_pass" sec xdp
cp "$root/tests/e2e/data/xdp.example.zone" "$work/"
cat >"$work/meridian.json" <<CONF
{
  "listen": ["198.18.0.1:53"], "workers": 2, "log": {"level": "warn"},
  "zones": [{"origin": "xdp.example.", "format": "rfc1035", "file": "xdp.example.zone"}],
  "geoip": {"database": null},
  "state": {"database": "$work/state.db"}, "control": {"socket": "$work/control.sock"},
  "xdp": {"interfaces": ["v0"], "mode": "native", "pin_dir": "$pin_dir"}
}
CONF
nsenter --net="/run/netns/$ns" "$meridiand" --config "$work/meridian.json" >"$work/log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$work/control.sock" ] && break; sleep 0.1; done

PYTHONPATH="$root/tests/e2e" /usr/bin/python3 - "$work/control.sock" "$batches" "$singles" <<'PY'
import sys, time
import control_http
sock, batches, singles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def batch(n, tag):
    return {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": f"h{i}.{tag}.xdp.example", "Type": "A", "TTL": 60,
        "ResourceRecords": [{"Value": f"198.18.{i // 250}.{i % 250 + 1}"}]}} for i in range(n)]}

for k in range(batches):
    t = time.monotonic()
    r = control_http.request("POST", "/v1/zones/xdp.example/rrsets", batch(1000, f"b{k}"),
                             unix=sock, timeout=300)
    ms = (time.monotonic() - t) * 1000
    status = r.json()["ChangeInfo"]["Status"] if r.status == 200 else r.body
    print(f"batch {k + 1:3d}: 1,000 changes -> {status} in {ms:6.0f} ms "
          f"(zone now {(k + 1) * 1000 + 14} record sets)")
lat = []
for i in range(singles):
    t = time.monotonic()
    control_http.request("POST", "/v1/zones/xdp.example/rrsets", batch(1, f"s{i}"), unix=sock,
                         timeout=300)
    lat.append((time.monotonic() - t) * 1000)
lat.sort()
if lat:
    print(f"{singles} one-change batches: p50 {lat[len(lat) // 2]:.0f} ms, max {lat[-1]:.0f} ms")
PY
