// Query logging in Route 53's query log format: one line per query answered, from either answer
// path (the userspace server's hook, the XDP program's sampled events), written to a file by a
// background thread so that workers never wait for the disk.
//
// A line: version, time, hosted zone id, query name, type, rcode, protocol, edge location,
// resolver address, EDNS client subnet, separated by one space:
//   1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "dns/message.h"
#include "dns/name.h"

namespace meridian::observe {

struct QueryLogEntry {
  std::chrono::system_clock::time_point time;
  std::string hosted_zone_id;  // "-" in the line when empty
  std::string qname;           // presentation, no trailing dot (query_log_name)
  uint16_t qtype = 0;
  uint8_t rcode = 0;
  bool tcp = false;
  std::string resolver_ip;  // "192.0.2.1", "2001:db8::1" (query_log_address)
  std::string ecs;          // "198.18.0.0/24" or empty (query_log_ecs)
};

// The entry as one line, without the newline. The time is written in UTC with milliseconds,
// truncated (never rounded up into the next second); an empty field is written as "-".
std::string format_query_log_line(const QueryLogEntry& entry, std::string_view edge_location);
// The same, appended to `out` (no allocation once `out` has grown).
void append_query_log_line(std::string& out, const QueryLogEntry& entry,
                           std::string_view edge_location);

// Building entries. Names are written lowercased, as the XDP program keys them, so both answer
// paths log a query the same way: "www.example.com", the root as ".".
std::string query_log_name(const dns::Name& name);
// From a wire name (uncompressed, as in the XDP event); empty when malformed.
std::string query_log_name(std::span<const uint8_t> wire);
// "192.0.2.1" or "2001:db8::1"; "-" for another family.
std::string query_log_address(const sockaddr_storage& address);
// An address of `family` (4 or 6, as MDN_FAMILY_*) from its bytes (4 or 16 used).
std::string query_log_address(int family, std::span<const uint8_t> address);
// "198.18.0.0/24", "2001:db8::/56"; empty for an unknown family. The address bytes as sent,
// zero padded.
std::string query_log_ecs(uint16_t family, uint8_t source_prefix, std::span<const uint8_t> address);
std::string query_log_ecs(const dns::EcsOption& ecs);
// "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", ... "BADVERS";
// "RCODE<n>" for others.
std::string rcode_mnemonic(uint16_t rcode);

struct QueryLogWriterOptions {
  // Lines waiting to be written beyond this are dropped (and counted): a slow disk never makes
  // memory grow without bound.
  size_t max_pending_bytes = 8u << 20;
  // The writer thread writes at least this often, and sooner once this much is waiting.
  std::chrono::milliseconds flush_interval{1000};
  size_t flush_bytes = 64u << 10;
};

struct QueryLogCounters {
  uint64_t lines_written = 0;
  uint64_t lines_dropped = 0;  // queue full, or lost in a failed write
  uint64_t bytes_written = 0;
  uint64_t write_errors = 0;  // failed write(2) calls (each loses its batch)
};

// Appends lines to a file from any number of threads. Lines are queued in memory under a mutex
// (a line is never split or interleaved with another) and written by one background thread.
class QueryLogWriter {
 public:
  // Opens (creates, mode 0640) `path` for appending and starts the writer thread.
  static Result<std::unique_ptr<QueryLogWriter>> open(const std::string& path,
                                                      std::string edge_location,
                                                      QueryLogWriterOptions options = {});
  ~QueryLogWriter();  // writes everything queued, then stops the thread and closes the file
  QueryLogWriter(const QueryLogWriter&) = delete;
  QueryLogWriter& operator=(const QueryLogWriter&) = delete;

  // Formats and queues the entry; false when it was dropped because the queue is full.
  bool write(const QueryLogEntry& entry);

  // Opens the path again (log rotation: the file was renamed, then meridiand signalled); lines
  // not yet written go to the new file. On error the old file stays in use.
  Status reopen();
  // Waits until every line queued before the call has been written (or has failed).
  void flush();

  QueryLogCounters counters() const;
  const std::string& path() const { return path_; }
  const std::string& edge_location() const { return edge_location_; }

 private:
  QueryLogWriter(std::string path, std::string edge_location, QueryLogWriterOptions options,
                 int fd);
  void run();
  bool enqueue(std::string_view line);
  void write_batch(const std::string& batch, uint64_t lines);

  const std::string path_;
  const std::string edge_location_;
  const QueryLogWriterOptions options_;

  std::mutex queue_mutex_;
  std::condition_variable wake_;        // the writer thread: work, flush or stop
  std::condition_variable written_cv_;  // flush(): a batch is done
  std::string pending_;                 // complete lines, each ending in '\n'
  uint64_t pending_lines_ = 0;
  uint64_t queued_seq_ = 0;   // lines accepted so far
  uint64_t written_seq_ = 0;  // lines handled (written or lost) so far
  bool flush_requested_ = false;
  bool stopping_ = false;

  std::mutex file_mutex_;  // fd_: the writer thread writes, reopen() swaps
  int fd_ = -1;

  std::atomic<uint64_t> lines_written_{0};
  std::atomic<uint64_t> lines_dropped_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> write_errors_{0};

  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace meridian::observe
