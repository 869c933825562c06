// The XDP fast path as meridiand runs it: started from the "xdp" settings, given the userspace
// server's rate limits, and published after every change of the zones.
#pragma once

#include <cstdint>
#include <memory>

#include "answer/responder.h"
#include "config/daemon_config.h"
#include "fastpath/fast_path.h"
#include "server/server.h"
#include "zone/zone_set.h"

namespace meridian::daemon {

// What the last publish to the XDP maps wrote (for the map fill gauges).
struct PublishSummary {
  uint64_t answers = 0;
  uint64_t map_full = 0;
  uint64_t policy_groups = 0;
  uint64_t geo_prefixes = 0;
  uint32_t max_entries_per_class = 0;
  bool valid = false;
};

// Loads and attaches the XDP program when the configuration asks for it. Returns null (after
// logging why) when it cannot: the userspace server keeps serving everything.
std::unique_ptr<fastpath::FastPath> start_fast_path(const config::DaemonConfig& config);

// The XDP program limits the replies it sends with the userspace server's settings.
void configure_fast_path_rrl(fastpath::FastPath* fp, const server::Server& server);

// Publishes `zones` to the maps; false (after logging why) when the previous data stays live.
// `summary` (optional) gets what was written.
bool publish_fast_path(fastpath::FastPath* fp, const zone::ZoneSet& zones,
                       const answer::Responder& responder, PublishSummary* summary = nullptr);

}  // namespace meridian::daemon
