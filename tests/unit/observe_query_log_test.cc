// Route 53 query log lines (field by field, exact text) and the file writer: many threads, whole
// lines, timed flushes, bounded memory, reopen after a rename (log rotation).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dns/name.h"
#include "observe/query_log.h"

namespace meridian::observe {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// 2017-12-13T08:16:02Z plus `extra`.
system_clock::time_point at(std::chrono::nanoseconds extra = {}) {
  return system_clock::time_point(std::chrono::seconds(1513152962)) +
         std::chrono::duration_cast<system_clock::duration>(extra);
}

QueryLogEntry example() {
  QueryLogEntry e;
  e.time = at(milliseconds(130));
  e.hosted_zone_id = "Z123412341234";
  e.qname = "example.com";
  e.qtype = 1;
  e.rcode = 0;
  e.tcp = false;
  e.resolver_ip = "192.168.1.1";
  return e;
}

TEST(QueryLogLine, Route53Example) {
  EXPECT_EQ(format_query_log_line(example(), "FRA6"),
            "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 "
            "192.168.1.1 -");
}

TEST(QueryLogLine, Fields) {
  QueryLogEntry e = example();
  e.resolver_ip = "2001:db8::53";
  e.ecs = "198.18.0.0/24";
  e.tcp = true;
  e.qtype = 28;
  EXPECT_EQ(format_query_log_line(e, "NRT12"),
            "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com AAAA NOERROR TCP NRT12 "
            "2001:db8::53 198.18.0.0/24");

  e = example();
  e.qtype = 65280;
  e.rcode = 3;
  e.qname = "nope.example.com";
  EXPECT_EQ(format_query_log_line(e, "FRA6"),
            "1.0 2017-12-13T08:16:02.130Z Z123412341234 nope.example.com TYPE65280 NXDOMAIN UDP "
            "FRA6 192.168.1.1 -");

  // No hosted zone (REFUSED), no edge location: "-".
  e = example();
  e.hosted_zone_id.clear();
  e.rcode = 5;
  e.qtype = 255;
  EXPECT_EQ(format_query_log_line(e, ""),
            "1.0 2017-12-13T08:16:02.130Z - example.com ANY REFUSED UDP - 192.168.1.1 -");

  for (const auto& [rcode, text] : std::vector<std::pair<uint8_t, std::string>>{
           {1, "FORMERR"}, {2, "SERVFAIL"}, {4, "NOTIMP"}, {9, "NOTAUTH"}, {16, "BADVERS"}}) {
    e = example();
    e.rcode = rcode;
    EXPECT_NE(format_query_log_line(e, "X").find(" A " + text + " UDP "), std::string::npos)
        << text;
  }
}

// Milliseconds are truncated, never rounded: a time never moves into the next second.
TEST(QueryLogLine, MillisecondsTruncated) {
  auto line_time = [](system_clock::time_point t) {
    QueryLogEntry e = example();
    e.time = t;
    return format_query_log_line(e, "X").substr(4, 24);
  };
  EXPECT_EQ(line_time(at()), "2017-12-13T08:16:02.000Z");
  EXPECT_EQ(line_time(at(std::chrono::microseconds(999))), "2017-12-13T08:16:02.000Z");
  EXPECT_EQ(line_time(at(std::chrono::microseconds(130999))), "2017-12-13T08:16:02.130Z");
  EXPECT_EQ(line_time(at(std::chrono::microseconds(999999))), "2017-12-13T08:16:02.999Z");
  // Day, month and year boundaries.
  EXPECT_EQ(line_time(system_clock::time_point(std::chrono::seconds(1514764799)) +
                      std::chrono::microseconds(999999)),
            "2017-12-31T23:59:59.999Z");
  EXPECT_EQ(line_time(system_clock::time_point(std::chrono::seconds(1514764800))),
            "2018-01-01T00:00:00.000Z");
  EXPECT_EQ(line_time(system_clock::time_point(std::chrono::seconds(951782400))),
            "2000-02-29T00:00:00.000Z");
}

TEST(QueryLogFields, Names) {
  auto name = [](const char* text) { return query_log_name(*dns::Name::from_text(text)); };
  EXPECT_EQ(name("WwW.Example.COM."), "www.example.com");
  EXPECT_EQ(name("."), ".");
  EXPECT_EQ(name("a\\.b.example."), "a\\.b.example");
  EXPECT_EQ(name("a\\032b.example."), "a\\032b.example");  // one token: no space in the line
  const uint8_t wire[] = {3, 'W', 'w', 'W', 1, 'q', 0};
  EXPECT_EQ(query_log_name(std::span<const uint8_t>(wire)), "www.q");
  const uint8_t bad[] = {3, 'w', 'w'};
  EXPECT_EQ(query_log_name(std::span<const uint8_t>(bad)), "");
}

TEST(QueryLogFields, Addresses) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  v4->sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.1", &v4->sin_addr);
  EXPECT_EQ(query_log_address(ss), "192.0.2.1");
  ss = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  v6->sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::53", &v6->sin6_addr);
  EXPECT_EQ(query_log_address(ss), "2001:db8::53");
  ss = {};
  EXPECT_EQ(query_log_address(ss), "-");

  const uint8_t net4[] = {198, 18, 0};
  EXPECT_EQ(query_log_ecs(1, 24, net4), "198.18.0.0/24");
  const uint8_t net6[] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56};
  EXPECT_EQ(query_log_ecs(2, 56, net6), "2001:db8:1234:5600::/56");
  EXPECT_EQ(query_log_ecs(1, 0, {}), "0.0.0.0/0");
  EXPECT_EQ(query_log_ecs(3, 8, net4), "");
  dns::EcsOption ecs;
  ecs.family = 1;
  ecs.source_prefix = 32;
  ecs.address = {203, 0, 113, 7};
  EXPECT_EQ(query_log_ecs(ecs), "203.0.113.7/32");
}

// ---- QueryLogWriter ----

class TempPath {
 public:
  TempPath() {
    char dir[] = "/tmp/observe_qlog_XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/query.log";
  }
  ~TempPath() {
    std::system(("rm -rf " + dir_).c_str());  // NOLINT: test cleanup
  }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, path_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(QueryLogWriter, EightThreadsEveryLineWholeAndPresent) {
  TempPath tmp;
  QueryLogWriterOptions options;
  options.flush_bytes = 4096;  // many batches while the threads write
  auto writer = QueryLogWriter::open(tmp.path(), "FRA6", options);
  ASSERT_TRUE(writer.ok()) << writer.error().to_string();
  constexpr int kThreads = 8, kLines = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) {
        QueryLogEntry e = example();
        e.qname = "t" + std::to_string(t) + "-" + std::to_string(i) + ".example.com";
        e.hosted_zone_id = "Z" + std::string(static_cast<size_t>(i % 50), 'x');  // lengths vary
        EXPECT_TRUE((*writer)->write(e));
      }
    });
  }
  for (auto& th : threads) th.join();
  (*writer)->flush();
  const QueryLogCounters c = (*writer)->counters();
  EXPECT_EQ(c.lines_written, static_cast<uint64_t>(kThreads * kLines));
  EXPECT_EQ(c.lines_dropped, 0u);
  EXPECT_EQ(c.write_errors, 0u);

  const auto lines = read_lines(tmp.path());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  EXPECT_EQ(c.bytes_written, read_all(tmp.path()).size());
  std::set<std::string> seen;
  for (const auto& line : lines) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    ASSERT_EQ(f.size(), 10u) << line;
    const std::string& name = f[3];
    const size_t dash = name.find('-'), dot = name.find('.');
    ASSERT_NE(dash, std::string::npos) << line;
    const int i = std::stoi(name.substr(dash + 1, dot - dash - 1));
    QueryLogEntry e = example();
    e.qname = name;
    e.hosted_zone_id = "Z" + std::string(static_cast<size_t>(i % 50), 'x');
    EXPECT_EQ(line, format_query_log_line(e, "FRA6"));
    EXPECT_TRUE(seen.insert(name).second) << "twice: " << line;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines));

  struct stat st {};
  ASSERT_EQ(stat(tmp.path().c_str(), &st), 0);
  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0640 & ~mask);
}

TEST(QueryLogWriter, WritesWithinTheFlushIntervalWithoutFlush) {
  TempPath tmp;
  QueryLogWriterOptions options;
  options.flush_interval = milliseconds(200);
  auto writer = QueryLogWriter::open(tmp.path(), "FRA6", options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->write(example()));
  const auto start = std::chrono::steady_clock::now();
  while (read_lines(tmp.path()).empty() &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(3))
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(read_lines(tmp.path()).size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(QueryLogWriter, DestructorWritesWhatIsQueued) {
  TempPath tmp;
  {
    QueryLogWriterOptions options;
    options.flush_interval = std::chrono::hours(1);
    auto writer = QueryLogWriter::open(tmp.path(), "FRA6", options);
    ASSERT_TRUE(writer.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*writer)->write(example()));
  }
  EXPECT_EQ(read_lines(tmp.path()).size(), 100u);
}

TEST(QueryLogWriter, FullQueueDropsAndCounts) {
  TempPath tmp;
  QueryLogWriterOptions options;
  options.max_pending_bytes = 1000;  // about ten lines
  options.flush_bytes = 1 << 20;     // the thread is never woken by size
  options.flush_interval = std::chrono::hours(1);
  auto writer = QueryLogWriter::open(tmp.path(), "FRA6", options);
  ASSERT_TRUE(writer.ok());
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += (*writer)->write(example()) ? 1 : 0;
  EXPECT_GT(accepted, 5);
  EXPECT_LT(accepted, 15);
  (*writer)->flush();
  const auto c = (*writer)->counters();
  EXPECT_EQ(c.lines_written, static_cast<uint64_t>(accepted));
  EXPECT_EQ(c.lines_dropped, static_cast<uint64_t>(100 - accepted));
  EXPECT_EQ(read_lines(tmp.path()).size(), static_cast<size_t>(accepted));
  // Room again once written.
  EXPECT_TRUE((*writer)->write(example()));
}

// logrotate renames the file, then meridiand reopens: later lines go to a new file at the path.
TEST(QueryLogWriter, ReopenAfterRenameWritesToTheNewFile) {
  TempPath tmp;
  auto writer = QueryLogWriter::open(tmp.path(), "FRA6");
  ASSERT_TRUE(writer.ok());
  QueryLogEntry before = example();
  before.qname = "before.example.com";
  QueryLogEntry after = example();
  after.qname = "after.example.com";
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*writer)->write(before));
  (*writer)->flush();
  const std::string rotated = tmp.path() + ".1";
  ASSERT_EQ(std::rename(tmp.path().c_str(), rotated.c_str()), 0);
  ASSERT_TRUE((*writer)->reopen().ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE((*writer)->write(after));
  (*writer)->flush();
  const auto old_lines = read_lines(rotated);
  const auto new_lines = read_lines(tmp.path());
  ASSERT_EQ(old_lines.size(), 10u);
  ASSERT_EQ(new_lines.size(), 7u);
  for (const auto& l : old_lines) EXPECT_EQ(l, format_query_log_line(before, "FRA6"));
  for (const auto& l : new_lines) EXPECT_EQ(l, format_query_log_line(after, "FRA6"));
}

TEST(QueryLogWriter, OpenAndReopenErrors) {
  TempPath tmp;
  EXPECT_FALSE(QueryLogWriter::open(tmp.dir() + "/missing/query.log", "FRA6").ok());
  auto writer = QueryLogWriter::open(tmp.path(), "FRA6");
  ASSERT_TRUE(writer.ok());
  // The directory is gone: reopen fails, the old file stays in use.
  const std::string moved = tmp.dir() + "-moved";
  ASSERT_EQ(std::rename(tmp.dir().c_str(), moved.c_str()), 0);
  EXPECT_FALSE((*writer)->reopen().ok());
  ASSERT_TRUE((*writer)->write(example()));
  (*writer)->flush();
  EXPECT_EQ(read_lines(moved + "/query.log").size(), 1u);
  ASSERT_EQ(std::rename(moved.c_str(), tmp.dir().c_str()), 0);
}

}  // namespace
}  // namespace meridian::observe
