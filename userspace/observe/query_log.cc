// Route 53 query log lines and the background file writer.
#include "observe/query_log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "dns/types.h"

namespace meridian::observe {

namespace {

void append_number(std::string& out, uint64_t value, int width) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  for (int pad = width - static_cast<int>(end - buf); pad > 0; --pad) out.push_back('0');
  out.append(buf, end);
}

// 2017-12-13T08:16:02.130Z: UTC, milliseconds truncated toward the past.
void append_time(std::string& out, std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(time);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> clock{ms - day};
  append_number(out, static_cast<uint64_t>(static_cast<int>(ymd.year())), 4);
  out.push_back('-');
  append_number(out, static_cast<unsigned>(ymd.month()), 2);
  out.push_back('-');
  append_number(out, static_cast<unsigned>(ymd.day()), 2);
  out.push_back('T');
  append_number(out, static_cast<uint64_t>(clock.hours().count()), 2);
  out.push_back(':');
  append_number(out, static_cast<uint64_t>(clock.minutes().count()), 2);
  out.push_back(':');
  append_number(out, static_cast<uint64_t>(clock.seconds().count()), 2);
  out.push_back('.');
  append_number(out, static_cast<uint64_t>(clock.subseconds().count()), 3);
  out.push_back('Z');
}

void append_field(std::string& out, std::string_view value) {
  out.push_back(' ');
  if (value.empty())
    out.push_back('-');
  else
    out.append(value);
}

}  // namespace

void append_query_log_line(std::string& out, const QueryLogEntry& entry,
                           std::string_view edge_location) {
  out.append("1.0 ");
  append_time(out, entry.time);
  append_field(out, entry.hosted_zone_id);
  append_field(out, entry.qname);
  append_field(out, dns::type_to_text(entry.qtype));
  append_field(out, rcode_mnemonic(entry.rcode));
  append_field(out, entry.tcp ? "TCP" : "UDP");
  append_field(out, edge_location);
  append_field(out, entry.resolver_ip);
  append_field(out, entry.ecs);
}

std::string format_query_log_line(const QueryLogEntry& entry, std::string_view edge_location) {
  std::string out;
  out.reserve(128);
  append_query_log_line(out, entry, edge_location);
  return out;
}

std::string query_log_name(std::span<const uint8_t> wire) {
  std::string out;
  size_t i = 0;
  while (true) {
    if (i >= wire.size() || i >= dns::kMaxNameWire) return {};
    const size_t len = wire[i];
    if (len == 0) break;
    if (len > dns::kMaxLabel || i + 1 + len >= wire.size()) return {};
    if (!out.empty()) out.push_back('.');
    for (size_t j = 1; j <= len; ++j) {
      uint8_t c = wire[i + j];
      if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
      // Escaped as in master files: the line stays one token per field.
      if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
          c == '$') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x21 || c > 0x7e) {
        out.push_back('\\');
        append_number(out, c, 3);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    i += 1 + len;
  }
  return out.empty() ? "." : out;
}

std::string query_log_name(const dns::Name& name) {
  return query_log_name(name.wire());
}

std::string query_log_address(int family, std::span<const uint8_t> address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4 && address.size() >= 4) {
    inet_ntop(AF_INET, address.data(), buf, sizeof buf);
    return buf;
  }
  if (family == 6 && address.size() >= 16) {
    inet_ntop(AF_INET6, address.data(), buf, sizeof buf);
    return buf;
  }
  return "-";
}

std::string query_log_address(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    return query_log_address(
        4, {reinterpret_cast<const uint8_t*>(&v4->sin_addr), sizeof v4->sin_addr});
  }
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    return query_log_address(
        6, {reinterpret_cast<const uint8_t*>(&v6->sin6_addr), sizeof v6->sin6_addr});
  }
  return "-";
}

std::string query_log_ecs(uint16_t family, uint8_t source_prefix,
                          std::span<const uint8_t> address) {
  uint8_t padded[16] = {};
  if (!address.empty())
    std::memcpy(padded, address.data(), std::min(address.size(), sizeof padded));
  std::string text;
  if (family == 1)
    text = query_log_address(4, padded);
  else if (family == 2)
    text = query_log_address(6, padded);
  else
    return {};
  text.push_back('/');
  append_number(text, source_prefix, 1);
  return text;
}

std::string query_log_ecs(const dns::EcsOption& ecs) {
  return query_log_ecs(ecs.family, ecs.source_prefix, ecs.address);
}

std::string rcode_mnemonic(uint16_t rcode) {
  switch (rcode) {
    case 6:
      return "YXDOMAIN";
    case 7:
      return "YXRRSET";
    case 8:
      return "NXRRSET";
    case 9:
      return "NOTAUTH";
    case 10:
      return "NOTZONE";
    default:
      return dns::rcode_to_text(rcode);  // NOERROR ... REFUSED, BADVERS, BADCOOKIE, RCODE<n>
  }
}

// ---- QueryLogWriter ----

namespace {

int open_log(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

Result<std::unique_ptr<QueryLogWriter>> QueryLogWriter::open(const std::string& path,
                                                             std::string edge_location,
                                                             QueryLogWriterOptions options) {
  const int fd = open_log(path);
  if (fd < 0)
    return make_error(std::string("opening the query log: ") + std::strerror(errno), path);
  return std::unique_ptr<QueryLogWriter>(
      new QueryLogWriter(path, std::move(edge_location), options, fd));
}

QueryLogWriter::QueryLogWriter(std::string path, std::string edge_location,
                               QueryLogWriterOptions options, int fd)
    : path_(std::move(path)), edge_location_(std::move(edge_location)), options_(options), fd_(fd) {
  pending_.reserve(options_.flush_bytes * 2);
  thread_ = std::thread([this] { run(); });
}

QueryLogWriter::~QueryLogWriter() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (fd_ >= 0) close(fd_);
}

bool QueryLogWriter::write(const QueryLogEntry& entry) {
  // Formatted before the lock, in a buffer each thread reuses.
  thread_local std::string line;
  line.clear();
  append_query_log_line(line, entry, edge_location_);
  return enqueue(line);
}

bool QueryLogWriter::enqueue(std::string_view line) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    if (pending_.size() + line.size() + 1 > options_.max_pending_bytes) {
      lines_dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    const bool below = pending_.size() < options_.flush_bytes;
    pending_.append(line);
    pending_.push_back('\n');
    ++pending_lines_;
    ++queued_seq_;
    wake = below && pending_.size() >= options_.flush_bytes;  // only when crossing it
  }
  if (wake) wake_.notify_one();
  return true;
}

void QueryLogWriter::flush() {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  const uint64_t target = queued_seq_;
  if (written_seq_ >= target) return;
  flush_requested_ = true;
  wake_.notify_one();
  written_cv_.wait(lock, [&] { return written_seq_ >= target; });
}

Status QueryLogWriter::reopen() {
  const int fd = open_log(path_);
  if (fd < 0)
    return make_error(std::string("reopening the query log: ") + std::strerror(errno), path_);
  int old = -1;
  {
    std::lock_guard<std::mutex> lock(file_mutex_);
    old = fd_;
    fd_ = fd;
  }
  if (old >= 0) close(old);
  return Ok{};
}

QueryLogCounters QueryLogWriter::counters() const {
  QueryLogCounters c;
  c.lines_written = lines_written_.load(std::memory_order_relaxed);
  c.lines_dropped = lines_dropped_.load(std::memory_order_relaxed);
  c.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  c.write_errors = write_errors_.load(std::memory_order_relaxed);
  return c;
}

void QueryLogWriter::run() {
  std::string batch;  // swapped with pending_: both keep their capacity
  batch.reserve(options_.flush_bytes * 2);
  std::unique_lock<std::mutex> lock(queue_mutex_);
  while (true) {
    wake_.wait_for(lock, options_.flush_interval, [&] {
      return stopping_ || flush_requested_ || pending_.size() >= options_.flush_bytes;
    });
    batch.clear();
    batch.swap(pending_);
    const uint64_t lines = pending_lines_;
    const uint64_t seq = queued_seq_;
    pending_lines_ = 0;
    flush_requested_ = false;
    const bool stop = stopping_;
    lock.unlock();
    if (!batch.empty()) write_batch(batch, lines);
    lock.lock();
    written_seq_ = seq;
    written_cv_.notify_all();
    if (stop && pending_.empty()) return;
  }
}

void QueryLogWriter::write_batch(const std::string& batch, uint64_t lines) {
  std::lock_guard<std::mutex> lock(file_mutex_);
  size_t done = 0;
  while (done < batch.size()) {
    const ssize_t n = ::write(fd_, batch.data() + done, batch.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Disk full, I/O error: the batch is lost (counted); the next one tries again.
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    lines_dropped_.fetch_add(lines, std::memory_order_relaxed);
    bytes_written_.fetch_add(done, std::memory_order_relaxed);
    return;
  }
  lines_written_.fetch_add(lines, std::memory_order_relaxed);
  bytes_written_.fetch_add(done, std::memory_order_relaxed);
}

}  // namespace meridian::observe
