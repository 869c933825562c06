# Sourced by the demos and benchmarks: start_meridiand_in_netns NETNS CONFIG LOG starts meridiand
# in NETNS's network namespace only, sets daemon_pid, and waits up to 10 s for its ready line;
# it returns 1 when meridiand exited or did not get ready (its log says why).
# nsenter --net, not `ip netns exec`: the latter also gives a private /sys and so a private
# bpffs, and the pinned maps must stay visible to meridianctl and bpftool on this host.
start_meridiand_in_netns() {
  local netns=$1 config=$2 log=$3
  nsenter --net="/run/netns/$netns" "$meridiand" --config "$config" >"$log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 100); do
    grep -qs "meridiand ready" "$log" && return 0
    kill -0 "$daemon_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
