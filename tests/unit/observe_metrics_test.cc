// The Prometheus text exposition (parsed back line by line: HELP, TYPE, samples with escaped
// label values) and the sharded per-query counters (sums across threads, bounded labels).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dns/name.h"
#include "observe/metrics.h"

namespace meridian::observe {
namespace {

// One sample line parsed back: name, labels (unescaped), value text.
struct ParsedSample {
  std::string name;
  Labels labels;
  std::string value;
};

// A strict parser of the text format's sample lines: fails the test on anything malformed.
ParsedSample parse_sample(const std::string& line) {
  ParsedSample s;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name.push_back(line[i++]);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::string key, value;
      while (i < line.size() && line[i] != '=') key.push_back(line[i++]);
      EXPECT_EQ(line.substr(i, 2), "=\"") << line;
      i += 2;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          ++i;
          const char c = line[i];
          EXPECT_TRUE(c == '\\' || c == '"' || c == 'n') << "bad escape in " << line;
          value.push_back(c == 'n' ? '\n' : c);
        } else {
          value.push_back(line[i]);
        }
        ++i;
      }
      ++i;  // closing quote
      s.labels.emplace_back(key, value);
      if (i < line.size() && line[i] == ',') ++i;
    }
    ++i;  // '}'
  }
  EXPECT_EQ(line[i], ' ') << line;
  s.value = line.substr(i + 1);
  EXPECT_EQ(s.value.find(' '), std::string::npos) << line;
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  return out;
}

TEST(MetricsText, FamiliesHelpTypeAndSamples) {
  MetricsBuilder m;
  m.counter("meridian_xdp_packets_total", "Packets the XDP program saw.");
  m.sample("meridian_xdp_packets_total", {{"outcome", "answered"}}, uint64_t{12});
  m.sample("meridian_xdp_packets_total", {{"outcome", "pass_tcp"}}, 3);
  m.gauge("meridian_zones", "Zones loaded.");
  m.sample("meridian_zones", 2);
  EXPECT_EQ(m.text(),
            "# HELP meridian_xdp_packets_total Packets the XDP program saw.\n"
            "# TYPE meridian_xdp_packets_total counter\n"
            "meridian_xdp_packets_total{outcome=\"answered\"} 12\n"
            "meridian_xdp_packets_total{outcome=\"pass_tcp\"} 3\n"
            "# HELP meridian_zones Zones loaded.\n"
            "# TYPE meridian_zones gauge\n"
            "meridian_zones 2\n");
}

TEST(MetricsText, EscapingParsesBack) {
  const std::string nasty = "a\\b\"c\nd{e}=f,g h";
  MetricsBuilder m;
  m.gauge("g", "help with \\ and\nnewline");
  m.sample("g", {{"zone", nasty}, {"plain", "x"}}, 1.5);
  const auto lines = lines_of(m.text());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "# HELP g help with \\\\ and\\nnewline");
  EXPECT_EQ(lines[1], "# TYPE g gauge");
  EXPECT_EQ(lines[2], "g{zone=\"a\\\\b\\\"c\\nd{e}=f,g h\",plain=\"x\"} 1.5");
  const ParsedSample s = parse_sample(lines[2]);
  EXPECT_EQ(s.name, "g");
  ASSERT_EQ(s.labels.size(), 2u);
  EXPECT_EQ(s.labels[0], (std::pair<std::string, std::string>("zone", nasty)));
  EXPECT_EQ(s.labels[1], (std::pair<std::string, std::string>("plain", "x")));
  EXPECT_EQ(s.value, "1.5");
  EXPECT_EQ(escape_label_value("\\\"\n"), "\\\\\\\"\\n");
}

TEST(MetricsText, Values) {
  auto text = [](MetricValue v) { return v.text(); };
  EXPECT_EQ(text(std::numeric_limits<uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(text(int64_t{-42}), "-42");
  EXPECT_EQ(text(0), "0");
  EXPECT_EQ(text(0.5), "0.5");
  EXPECT_EQ(text(3.0), "3");
  EXPECT_EQ(text(1e-9), "1e-09");
  EXPECT_EQ(text(0.1), "0.1");  // shortest form that reads back exactly
  EXPECT_EQ(std::stod(text(1.0 / 3)), 1.0 / 3);
  EXPECT_EQ(text(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(text(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(text(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(MetricsText, DeterministicOrderAndMerging) {
  auto build = [](bool reversed) {
    MetricsBuilder m;
    std::vector<std::pair<std::string, std::string>> series = {
        {"b_total", "x"}, {"a_total", "y"}, {"a_total", "x"}, {"b_total", "z"}};
    if (reversed) std::reverse(series.begin(), series.end());
    for (const auto& [name, label] : series) {
      m.counter(name, "help");
      m.sample(name, {{"k", label}}, 1);
    }
    m.sample("a_total", {{"k", "x"}}, 2);  // same labels: added
    return m.text();
  };
  const std::string text = build(false);
  EXPECT_EQ(text, build(true));
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[2], "a_total{k=\"x\"} 3");
  EXPECT_EQ(lines[3], "a_total{k=\"y\"} 1");
  EXPECT_EQ(lines[4], "# HELP b_total help");
}

TEST(MetricsText, NamesAreSanitized) {
  MetricsBuilder m;
  m.sample("bad-name.total", {{"9lbl", "v"}, {"a:b", "w"}}, 1);
  EXPECT_EQ(m.text(), "# TYPE bad_name_total untyped\nbad_name_total{_lbl=\"v\",a_b=\"w\"} 1\n");
  EXPECT_EQ(sanitize_metric_name("ns:metric_1"), "ns:metric_1");
  EXPECT_EQ(sanitize_metric_name("1x"), "_x");
}

// ---- QueryCounters ----

TEST(QueryCounters, SumsAcrossThreads) {
  QueryCounters counters;
  const dns::Name example = *dns::Name::from_text("Example.COM.");
  const dns::Name other = *dns::Name::from_text("other.test.");
  constexpr int kThreads = 8, kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        switch (i % 4) {
          case 0:
            counters.count(&example, 1, 0, false);
            break;
          case 1:
            counters.count(&example, 28, 3, t % 2 == 0);
            break;
          case 2:
            counters.count(&other, static_cast<uint16_t>(1000 + i % 7), 0, false);  // other type
            break;
          default:
            counters.count(nullptr, 1, 5, false);  // REFUSED, no zone
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::map<std::string, uint64_t> got;
  uint64_t total = 0;
  for (const auto& r : counters.snapshot()) {
    got[r.zone + "|" + r.qtype + "|" + r.rcode + "|" + r.transport] = r.count;
    total += r.count;
  }
  const uint64_t quarter = kThreads * kPerThread / 4;
  EXPECT_EQ(total, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(got["example.com|A|NOERROR|udp"], quarter);
  EXPECT_EQ(got["example.com|AAAA|NXDOMAIN|tcp"], quarter / 2);
  EXPECT_EQ(got["example.com|AAAA|NXDOMAIN|udp"], quarter / 2);
  EXPECT_EQ(got["other.test|other|NOERROR|udp"], quarter);
  EXPECT_EQ(got["-|A|REFUSED|udp"], quarter);
  EXPECT_EQ(got.size(), 5u);
}

TEST(QueryCounters, LabelsAreBounded) {
  EXPECT_EQ(QueryCounters::qtype_label(65), "HTTPS");
  EXPECT_EQ(QueryCounters::qtype_label(99), "other");
  EXPECT_EQ(QueryCounters::rcode_label(2), "SERVFAIL");
  EXPECT_EQ(QueryCounters::rcode_label(16), "BADVERS");
  EXPECT_EQ(QueryCounters::rcode_label(4000), "other");
  // One shard: past its series cap, new zones count as "other".
  QueryCounters counters(1);
  const size_t zones = QueryCounters::kMaxSeriesPerShard + 10;
  for (size_t i = 0; i < zones; ++i) {
    const dns::Name z = *dns::Name::from_text("z" + std::to_string(i) + ".test.");
    counters.count(&z, 1, 0, false);
  }
  const auto rows = counters.snapshot();
  EXPECT_EQ(rows.size(), QueryCounters::kMaxSeriesPerShard + 1);
  uint64_t other = 0, total = 0;
  for (const auto& r : rows) {
    total += r.count;
    if (r.zone == "other") other = r.count;
  }
  EXPECT_EQ(total, zones);
  EXPECT_EQ(other, 10u);
}

TEST(QueryCounters, Exposition) {
  QueryCounters counters(2);
  const dns::Name zone = *dns::Name::from_text("example.com.");
  counters.count(&zone, 1, 0, false);
  counters.count(&zone, 1, 0, false);
  counters.count(&zone, 15, 0, true);
  MetricsBuilder m;
  counters.add_to(m);
  const auto lines = lines_of(m.text());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "# TYPE meridian_userspace_queries_total counter");
  EXPECT_EQ(lines[2],
            "meridian_userspace_queries_total{zone=\"example.com\",qtype=\"A\",rcode=\"NOERROR\","
            "transport=\"udp\"} 2");
  const ParsedSample s = parse_sample(lines[3]);
  EXPECT_EQ(s.labels[1].second, "MX");
  EXPECT_EQ(s.labels[3].second, "tcp");
  EXPECT_EQ(s.value, "1");
}

}  // namespace
}  // namespace meridian::observe
