// XdpQueryLogReader: turns the XDP program's sampled answers (struct mdn_qlog_event on the
// mdn_qlog ring buffer, bpf/query_log.h) into query log entries, on a thread of its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "dns/name.h"
#include "meridian_maps.h"
#include "observe/query_log.h"

struct ring_buffer;

namespace meridian::fastpath {

// The hosted zone id to log for a query name ("" when none: logged as "-").
using ZoneIdResolver = std::function<std::string(const dns::Name& qname)>;
using QueryLogSink = std::function<void(const observe::QueryLogEntry& entry)>;

// CLOCK_REALTIME minus CLOCK_MONOTONIC now: event times are monotonic (bpf_ktime_get_ns).
std::chrono::nanoseconds monotonic_to_realtime_offset();

// The entry for one event; its time is the event's monotonic time plus `offset`. The qname is
// the event's lowercased name; `zone_id` (may be empty) names the hosted zone. False when the
// event's name is malformed (never, from the program).
bool query_log_entry(const mdn_qlog_event& event, std::chrono::nanoseconds offset,
                     const ZoneIdResolver& zone_id, observe::QueryLogEntry* out);

class XdpQueryLogReader {
 public:
  // Polls `ring_fd` (FastPath::query_log_ring_fd(); not owned, must stay open while the reader
  // runs) on a new thread and hands every event, converted, to `sink`. `zone_id` and `sink` are
  // called on that thread only. stop() returns within about `poll_timeout`.
  static Result<std::unique_ptr<XdpQueryLogReader>> start(
      int ring_fd, ZoneIdResolver zone_id, QueryLogSink sink,
      std::chrono::milliseconds poll_timeout = std::chrono::milliseconds(100));
  ~XdpQueryLogReader();  // stop()
  XdpQueryLogReader(const XdpQueryLogReader&) = delete;
  XdpQueryLogReader& operator=(const XdpQueryLogReader&) = delete;

  // Reads what is in the ring, then stops the thread. Idempotent.
  void stop();

  uint64_t events() const { return events_.load(std::memory_order_relaxed); }
  // Records of the wrong size or with a malformed name (a program from another build).
  uint64_t bad_events() const { return bad_events_.load(std::memory_order_relaxed); }
  // The error (negative errno) that ended the thread early; 0 while it runs or after stop().
  int poll_error() const { return poll_error_.load(std::memory_order_relaxed); }

 private:
  XdpQueryLogReader(ZoneIdResolver zone_id, QueryLogSink sink, std::chrono::milliseconds timeout)
      : zone_id_(std::move(zone_id)), sink_(std::move(sink)), timeout_(timeout) {}
  static int on_record(void* ctx, void* data, size_t size);
  void run();

  ZoneIdResolver zone_id_;
  QueryLogSink sink_;
  const std::chrono::milliseconds timeout_;
  ring_buffer* ring_ = nullptr;
  std::chrono::nanoseconds offset_{0};  // refreshed before each poll
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> bad_events_{0};
  std::atomic<int> poll_error_{0};
  std::thread thread_;
};

}  // namespace meridian::fastpath
