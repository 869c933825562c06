// Webhooks: every state transition POSTed as JSON {check_id, old_state, new_state, time, reason}
// to each configured URL, on the checker's transfer loop: non-blocking, bounded in time and in
// queue length, failures logged and counted, never retried (a retry could deliver twice).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "health/health_state.h"
#include "health/transfer_loop.h"

namespace meridian::health {

struct WebhookSettings {
  std::vector<std::string> urls;
  uint32_t timeout_ms = 5000;  // whole POST, connect included
  size_t max_in_flight = 64;   // per sender; more wait in the queue
  size_t max_queued = 10000;   // beyond this the oldest waiting POST is dropped (and logged)
};

// The JSON body for one transition.
std::string transition_json(const Transition& transition);

class WebhookSender {
 public:
  explicit WebhookSender(WebhookSettings settings) : settings_(std::move(settings)) {}

  // Queues one POST per URL and starts as many as the in-flight limit allows.
  void post(const Transition& transition, TransferLoop& loop);

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t failed() const { return failed_.load(); }  // errors, non-2xx, and dropped

 private:
  struct Pending {
    std::string url;
    std::string body;
  };
  class Post;
  void start_queued(TransferLoop& loop);

  WebhookSettings settings_;
  std::deque<Pending> queue_;
  size_t in_flight_ = 0;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
};

}  // namespace meridian::health
