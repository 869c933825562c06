// Metrics in the Prometheus text exposition format (version 0.0.4), and the per-query counters
// of the userspace server. No client library: Debian packages none, and the format is small.
#pragma once

#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dns/name.h"

namespace meridian::observe {

enum class MetricType : uint8_t { kCounter, kGauge, kUntyped };

// Label name/value pairs of one sample, written in this order.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A sample's value: integers are written exactly (a uint64 counter keeps every digit), floating
// point values in their shortest exact form, NaN and infinities as "NaN", "+Inf", "-Inf".
class MetricValue {
 public:
  template <std::integral T>
  MetricValue(T v)  // NOLINT: implicit by design
      : kind_(std::is_signed_v<T> ? Kind::kSigned : Kind::kUnsigned),
        i_(static_cast<int64_t>(v)),
        u_(static_cast<uint64_t>(v)) {}
  template <std::floating_point T>
  MetricValue(T v) : kind_(Kind::kDouble), d_(static_cast<double>(v)) {}  // NOLINT

  std::string text() const;
  // The sum of two values (samples with the same labels add up).
  MetricValue plus(const MetricValue& other) const;

 private:
  enum class Kind : uint8_t { kSigned, kUnsigned, kDouble };
  Kind kind_;
  int64_t i_ = 0;
  uint64_t u_ = 0;
  double d_ = 0;
};

// Builds one exposition: families with HELP and TYPE lines, then their samples. The output is
// deterministic: families sorted by name, samples by their labels. Invalid characters in metric
// and label names become '_'.
class MetricsBuilder {
 public:
  // Declares a family; declaring it again keeps the first type and help.
  MetricsBuilder& family(std::string_view name, MetricType type, std::string_view help);
  MetricsBuilder& counter(std::string_view name, std::string_view help) {
    return family(name, MetricType::kCounter, help);
  }
  MetricsBuilder& gauge(std::string_view name, std::string_view help) {
    return family(name, MetricType::kGauge, help);
  }
  // Adds a sample to a family (declared "untyped" if it was not declared). A sample with the
  // same labels as an earlier one is added to it.
  MetricsBuilder& sample(std::string_view name, const Labels& labels, MetricValue value);
  MetricsBuilder& sample(std::string_view name, MetricValue value) {
    return sample(name, Labels{}, value);
  }

  // The exposition text (each line ends in '\n').
  std::string text() const;

 private:
  struct Family {
    MetricType type = MetricType::kUntyped;
    std::string help;
    std::map<Labels, MetricValue> samples;
  };
  std::map<std::string, Family> families_;
};

// Escapes a label value: backslash, double quote and newline as \\, \" and \n.
std::string escape_label_value(std::string_view value);
// Escapes HELP text: backslash and newline.
std::string escape_help(std::string_view help);
// A valid metric (or, with `label` set, label) name: other characters become '_'.
std::string sanitize_metric_name(std::string_view name, bool label = false);

// Userspace answers counted by (zone, query type, rcode, transport) from many worker threads.
// Each thread counts into its own shard (a mutex nobody else takes except snapshot()), so the
// count costs a hash lookup and no shared cache line. Cardinality is bounded: query types
// outside a fixed set count as "other", rcodes outside the known ones as "other", and past
// kMaxSeriesPerShard series in one shard new zones count as "other".
class QueryCounters {
 public:
  static constexpr size_t kMaxSeriesPerShard = 4096;

  // `shards` 0: twice the hardware threads.
  explicit QueryCounters(size_t shards = 0);
  ~QueryCounters();
  QueryCounters(const QueryCounters&) = delete;
  QueryCounters& operator=(const QueryCounters&) = delete;

  // One answer for a query under `zone` (the responding zone's origin; null: not from one of
  // our zones, labelled "-").
  void count(const dns::Name* zone, uint16_t qtype, uint16_t rcode, bool tcp);

  struct Row {
    std::string zone;       // "example.com" (query_log_name of the origin), "-", or "other"
    std::string qtype;      // "A", "AAAA", ..., "other"
    std::string rcode;      // "NOERROR", ..., "other"
    std::string transport;  // "udp" or "tcp"
    uint64_t count = 0;
  };
  // Totals over every thread, sorted by (zone, qtype, rcode, transport).
  std::vector<Row> snapshot() const;
  // Adds the family `name` (a counter) with labels zone, qtype, rcode, transport.
  void add_to(MetricsBuilder& metrics,
              std::string_view name = "meridian_userspace_queries_total") const;

  // The label a query type or rcode counts under.
  static std::string_view qtype_label(uint16_t qtype);
  static std::string_view rcode_label(uint16_t rcode);

 private:
  struct Shard;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace meridian::observe
