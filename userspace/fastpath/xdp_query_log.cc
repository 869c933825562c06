// XdpQueryLogReader: ring_buffer__poll on a thread, events converted to query log entries.
#include "fastpath/xdp_query_log.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <span>

#include <spdlog/spdlog.h>

namespace meridian::fastpath {

namespace {

std::chrono::nanoseconds clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

std::chrono::nanoseconds monotonic_to_realtime_offset() {
  // The monotonic reading between two realtime ones: the offset is off by at most half their gap.
  const auto before = clock_ns(CLOCK_REALTIME);
  const auto mono = clock_ns(CLOCK_MONOTONIC);
  const auto after = clock_ns(CLOCK_REALTIME);
  return before + (after - before) / 2 - mono;
}

bool query_log_entry(const mdn_qlog_event& event, std::chrono::nanoseconds offset,
                     const ZoneIdResolver& zone_id, observe::QueryLogEntry* out) {
  const size_t len = event.name_len;
  if (len < 1 || len > MDN_QLOG_NAME_MAX - 1) return false;
  auto name = dns::Name::from_wire(std::span<const uint8_t>(event.qname, len));
  if (!name) return false;
  const auto since_epoch =
      std::chrono::nanoseconds(static_cast<int64_t>(event.timestamp_ns)) + offset;
  out->time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
  out->hosted_zone_id = zone_id ? zone_id(*name) : std::string();
  out->qname = observe::query_log_name(*name);
  out->qtype = event.qtype;
  out->rcode = event.rcode;
  out->tcp = false;  // the program answers UDP only
  out->resolver_ip = observe::query_log_address(event.family == MDN_FAMILY_IPV6 ? 6 : 4,
                                                std::span<const uint8_t>(event.client, 16));
  out->ecs = event.ecs_family == 0
                 ? std::string()
                 : observe::query_log_ecs(event.ecs_family, event.ecs_source,
                                          std::span<const uint8_t>(event.ecs_addr, 16));
  return true;
}

Result<std::unique_ptr<XdpQueryLogReader>> XdpQueryLogReader::start(
    int ring_fd, ZoneIdResolver zone_id, QueryLogSink sink, std::chrono::milliseconds timeout) {
  std::unique_ptr<XdpQueryLogReader> reader(
      new XdpQueryLogReader(std::move(zone_id), std::move(sink), timeout));
  reader->ring_ = ring_buffer__new(ring_fd, &XdpQueryLogReader::on_record, reader.get(), nullptr);
  if (!reader->ring_)
    return make_error(std::string("opening the XDP query log ring buffer: ") +
                      std::strerror(errno));
  reader->offset_ = monotonic_to_realtime_offset();
  reader->thread_ = std::thread([r = reader.get()] { r->run(); });
  return reader;
}

XdpQueryLogReader::~XdpQueryLogReader() {
  stop();
  if (ring_) ring_buffer__free(ring_);
}

void XdpQueryLogReader::stop() {
  stopping_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

int XdpQueryLogReader::on_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<XdpQueryLogReader*>(ctx);
  if (size < sizeof(mdn_qlog_event)) {
    self->bad_events_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  mdn_qlog_event event;  // copied: the record is not aligned for every field
  std::memcpy(&event, data, sizeof event);
  observe::QueryLogEntry entry;
  if (!query_log_entry(event, self->offset_, self->zone_id_, &entry)) {
    self->bad_events_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  self->events_.fetch_add(1, std::memory_order_relaxed);
  if (self->sink_) self->sink_(entry);
  return 0;
}

void XdpQueryLogReader::run() {
  const int timeout_ms = static_cast<int>(timeout_.count());
  while (!stopping_.load(std::memory_order_relaxed)) {
    // Follows steps of the realtime clock (NTP, an operator) between polls.
    offset_ = monotonic_to_realtime_offset();
    const int n = ring_buffer__poll(ring_, timeout_ms);
    if (n < 0 && n != -EINTR) {
      // Nobody would notice the sampled lines stopping: say so where operators look.
      poll_error_.store(n, std::memory_order_relaxed);
      auto log = spdlog::get("fastpath");
      (log ? log : spdlog::default_logger())
          ->error("XDP query log reader stopped: reading the ring buffer failed: {}",
                  std::strerror(-n));
      return;
    }
  }
  offset_ = monotonic_to_realtime_offset();
  ring_buffer__consume(ring_);  // what arrived before stop()
}

}  // namespace meridian::fastpath
