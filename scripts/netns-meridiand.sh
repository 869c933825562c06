# shellcheck shell=bash
# Sourced by the demos and benchmarks.
#
# build_release_demo ROOT: installs what is missing (scripts/setup.sh), builds meridiand,
# meridianctl and the XDP objects with the release preset, and sets meridiand, meridianctl and
# xdp_pass (the XDP_PASS object a veth peer needs for native XDP_TX).
build_release_demo() {
  local root=$1
  bash "$root/scripts/setup.sh"
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target meridiand meridianctl \
    meridian_xdp_object >/dev/null
  # shellcheck disable=SC2034  # set for the sourcing script
  meridiand="$root/build/release/userspace/daemon/meridiand"
  # shellcheck disable=SC2034
  meridianctl="$root/build/release/tools/meridianctl"
  # shellcheck disable=SC2034
  xdp_pass="$root/build/release/bpf/xdp_pass.bpf.o"
}

# start_meridiand_in_netns NETNS CONFIG LOG starts meridiand
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
