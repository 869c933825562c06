#!/usr/bin/env bash
# Demo: installs what is needed, builds meridiand, and serves examples/zones/example.com.zone
# inside network namespaces it creates: a client namespace and a server namespace joined by a
# veth pair (198.18.0.0/15 and fd00:18::/64 only). Queries from the client are answered by the
# XDP fast path attached to the server's veth where it can, by the userspace server otherwise;
# the program's counters show which. Everything it starts is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target meridiand >/dev/null
meridiand="$root/build/release/userspace/daemon/meridiand"

id=$$
server_ns="mdn-demo-srv-$id"
client_ns="mdn-demo-cli-$id"
work=$(mktemp -d)
daemon_pid=""

cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  ip netns del "$server_ns" 2>/dev/null || true
  ip netns del "$client_ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

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

cat > "$work/meridian.json" <<CONF
{
  "listen": ["198.18.0.1:53", "[fd00:18::1]:53"],
  "edns": {"udp_payload": 1232, "nsid": "meridian-demo"},
  "log": {"level": "info"},
  "zones": [
    {"origin": "example.com.", "format": "rfc1035", "file": "$root/examples/zones/example.com.zone"}
  ]
}
CONF

echo "== starting meridiand in namespace $server_ns"
ip netns exec "$server_ns" "$meridiand" --config "$work/meridian.json" >"$work/meridiand.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 50); do
  grep -q "ready" "$work/meridiand.log" && break
  sleep 0.1
done
cat "$work/meridiand.log"

ask() {
  echo
  echo "== dig $*"
  ip netns exec "$client_ns" dig +norec +time=2 +tries=1 "$@" | grep -E '^;; (->>HEADER|flags)|^[^;].*IN' || true
}
ask @198.18.0.1 www.example.com A
ask @198.18.0.1 example.com MX
ask @fd00:18::1 web.example.com AAAA
ask @198.18.0.1 anything.apps.example.com A
ask @198.18.0.1 nope.example.com A
ask @198.18.0.1 example.com SOA +tcp
ask @198.18.0.1 www.example.org A

echo
echo "== done; cleaning up"
