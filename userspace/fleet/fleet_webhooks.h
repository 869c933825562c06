// Webhooks of a fleet: one POST per fleet-wide transition (docs/fleet.md), sent by one edge (the
// live edge with the lowest name) on a thread of its own, with the body of single-host webhooks
// (health/webhook.h) and the vote as the reason. Bounded like them: 5 s per POST, at most 1,000
// waiting (the oldest dropped beyond), never retried (a retry could deliver twice).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "health/health_state.h"

namespace meridian::fleet {

class FleetWebhooks {
 public:
  explicit FleetWebhooks(std::vector<std::string> urls);
  ~FleetWebhooks();  // stops; what is still queued is dropped (and logged)

  bool enabled() const { return !urls_.empty(); }
  void post(const health::Transition& transition);

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  void run();

  std::vector<std::string> urls_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;  // bodies
  bool stopping_ = false;
  std::atomic<uint64_t> delivered_{0}, failed_{0};
  std::thread thread_;
};

}  // namespace meridian::fleet
