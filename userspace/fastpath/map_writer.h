// MapWriter: publishes compiled fast-path entries into the XDP program's maps atomically. New
// inner name maps are built for the idle generation, then one write to the control map flips
// every lookup to them: a query sees all of the old data or all of the new, never a mix.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/policy_compiler.h"
#include "meridian_maps.h"
#include "meridian_rrl.h"
#include "policy/ip_prefix.h"

namespace meridian::fastpath {

// File descriptors of the program's maps (owned elsewhere: the loaded program or pinned maps).
struct FastPathMapFds {
  std::array<int, MDN_NAME_CLASSES> names{-1, -1, -1, -1};  // outer ARRAY_OF_MAPS per size class
  int control = -1;
  int stats = -1;
  // Routing policies: outer ARRAY_OF_MAPS per generation, the geolocation slot, health array.
  int groups = -1;
  int fragments = -1;
  int prefixes = -1;
  int latency = -1;
  int geo = -1;
  int health = -1;
  // Response rate limiting (bpf/rrl.h): settings and allow list.
  int rrl_config = -1;
  int rrl_allow = -1;
  // Query log sampling (bpf/query_log.h): the ring buffer of sampled answers.
  int qlog = -1;
};

struct PublishResult {
  size_t published = 0;
  size_t map_full = 0;  // entries left to userspace because a name map reached max_entries
  uint32_t generation = 0;
};

class MapWriter {
 public:
  // `max_entries_per_class` caps each new inner map; entries beyond it are counted as map_full
  // and stay in userspace.
  MapWriter(FastPathMapFds fds, uint32_t max_entries_per_class);

  // Fills the idle generation with `entries` and `policy` (groups, fragments, prefix tables),
  // then flips to it.
  Result<PublishResult> publish(const std::vector<FastPathEntry>& entries,
                                const PolicyTables& policy = {});
  // Replaces the geolocation table (not part of a generation: its ids do not change with zones).
  Status publish_geo(const std::vector<PrefixEntry>& entries);
  // One health slot: healthy or not, read by the next query.
  Status write_health(uint32_t slot, bool healthy);
  // Response rate limiting settings and allow list. New allow entries are written before the
  // settings and stale ones removed after, so an allow-listed source is never limited meanwhile.
  Status write_rrl(const mdn_rrl_config& config, const std::vector<policy::IpPrefix>& allow);

  // Query log sampling: the program logs one answer in `one_in_n` (0: none) through mdn_qlog.
  // Kept by every later publish (which rewrites mdn_control to flip generations).
  Status set_query_log_sample(uint32_t one_in_n);
  Result<uint32_t> query_log_sample() const;

  // The daemon's heartbeat: `heartbeat_ns` (CLOCK_MONOTONIC, abi::monotonic_ns()) and the age past
  // which the program passes every query up (0: never). Kept by every later publish.
  Status write_heartbeat(uint64_t heartbeat_ns, uint64_t stale_after_ns);
  // The whole control value (generation, sample rate, heartbeat).
  Result<mdn_control> read_control() const;

  // Per-CPU stats summed over CPUs, indexed by enum mdn_stat.
  Result<std::array<uint64_t, MDN_STAT_COUNT>> read_stats() const;

 private:
  FastPathMapFds fds_;
  uint32_t max_entries_;
  // mdn_control is written by read-modify-write (the flip, the sample rate, the heartbeat): one
  // at a time, so none undoes another. `what` names the write in errors.
  template <typename Change>
  Status update_control(Change change, const char* what);
  mutable std::mutex control_mutex_;
};

}  // namespace meridian::fastpath
