// Prometheus text exposition and the sharded per-query counters.
#include "observe/metrics.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <functional>
#include <thread>
#include <tuple>

#include "observe/query_log.h"

namespace meridian::observe {

// ---- MetricValue ----

std::string MetricValue::text() const {
  switch (kind_) {
    case Kind::kSigned:
      return std::to_string(i_);
    case Kind::kUnsigned:
      return std::to_string(u_);
    case Kind::kDouble:
      break;
  }
  if (std::isnan(d_)) return "NaN";
  if (std::isinf(d_)) return d_ > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d_);  // shortest exact form
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

MetricValue MetricValue::plus(const MetricValue& other) const {
  if (kind_ == Kind::kUnsigned && other.kind_ == Kind::kUnsigned) return u_ + other.u_;
  if (kind_ != Kind::kDouble && other.kind_ != Kind::kDouble) {
    const int64_t a = kind_ == Kind::kSigned ? i_ : static_cast<int64_t>(u_);
    const int64_t b = other.kind_ == Kind::kSigned ? other.i_ : static_cast<int64_t>(other.u_);
    return a + b;
  }
  auto as_double = [](const MetricValue& v) {
    return v.kind_ == Kind::kDouble   ? v.d_
           : v.kind_ == Kind::kSigned ? static_cast<double>(v.i_)
                                      : static_cast<double>(v.u_);
  };
  return as_double(*this) + as_double(other);
}

// ---- text format ----

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::string sanitize_metric_name(std::string_view name, bool label) {
  std::string out(name);
  if (out.empty()) return "_";
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool ok = alpha || (i > 0 && c >= '0' && c <= '9') || (!label && c == ':');
    if (!ok) out[i] = '_';
  }
  return out;
}

MetricsBuilder& MetricsBuilder::family(std::string_view name, MetricType type,
                                       std::string_view help) {
  auto [it, inserted] = families_.try_emplace(sanitize_metric_name(name));
  if (inserted || (it->second.type == MetricType::kUntyped && it->second.help.empty())) {
    it->second.type = type;
    it->second.help = help;
  }
  return *this;
}

MetricsBuilder& MetricsBuilder::sample(std::string_view name, const Labels& labels,
                                       MetricValue value) {
  Family& f = families_[sanitize_metric_name(name)];
  Labels clean;
  clean.reserve(labels.size());
  for (const auto& [k, v] : labels) clean.emplace_back(sanitize_metric_name(k, true), v);
  auto [it, inserted] = f.samples.try_emplace(std::move(clean), value);
  if (!inserted) it->second = it->second.plus(value);
  return *this;
}

std::string MetricsBuilder::text() const {
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + name + " ";
    out += f.type == MetricType::kCounter ? "counter"
           : f.type == MetricType::kGauge ? "gauge"
                                          : "untyped";
    out += "\n";
    for (const auto& [labels, value] : f.samples) {
      out += name;
      if (!labels.empty()) {
        out += "{";
        for (size_t i = 0; i < labels.size(); ++i) {
          if (i > 0) out += ",";
          out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
        }
        out += "}";
      }
      out += " " + value.text() + "\n";
    }
  }
  return out;
}

// ---- QueryCounters ----

namespace {

// Zone keys are the origin's wire bytes; these two cannot be wire names.
constexpr std::string_view kNoZone{};              // "-"
constexpr std::string_view kOtherZone{"\xff", 1};  // "other": the shard is full

constexpr uint16_t kOtherType = 0;
constexpr uint16_t kOtherRcode = 0xffff;

struct KeyView {
  std::string_view zone;
  uint16_t qtype;
  uint16_t rcode;
  bool tcp;
};

struct Key {
  std::string zone;
  uint16_t qtype;
  uint16_t rcode;
  bool tcp;
  KeyView view() const { return {zone, qtype, rcode, tcp}; }
};

struct KeyHash {
  using is_transparent = void;
  size_t operator()(const KeyView& k) const {
    size_t h = std::hash<std::string_view>{}(k.zone);
    return h ^ ((static_cast<size_t>(k.qtype) << 17 | static_cast<size_t>(k.rcode) << 1 | k.tcp) *
                0x9E3779B97F4A7C15ULL);
  }
  size_t operator()(const Key& k) const { return (*this)(k.view()); }
};

struct KeyEqual {
  using is_transparent = void;
  static KeyView v(const KeyView& k) { return k; }
  static KeyView v(const Key& k) { return k.view(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const KeyView x = v(a), y = v(b);
    return x.zone == y.zone && x.qtype == y.qtype && x.rcode == y.rcode && x.tcp == y.tcp;
  }
};

// Which shard the calling thread counts into: threads are numbered as they first count.
size_t thread_slot() {
  static std::atomic<size_t> next{0};
  thread_local const size_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

constexpr std::pair<uint16_t, std::string_view> kTypeLabels[] = {
    {1, "A"},     {2, "NS"},     {5, "CNAME"}, {6, "SOA"},    {12, "PTR"}, {15, "MX"},
    {16, "TXT"},  {28, "AAAA"},  {33, "SRV"},  {35, "NAPTR"}, {43, "DS"},  {48, "DNSKEY"},
    {64, "SVCB"}, {65, "HTTPS"}, {255, "ANY"}, {257, "CAA"},
};

}  // namespace

// Padded to its own cache lines: threads counting in neighbouring shards do not share one.
struct alignas(64) QueryCounters::Shard {
  std::mutex mutex;
  std::unordered_map<Key, uint64_t, KeyHash, KeyEqual> counts;
};

QueryCounters::QueryCounters(size_t shards) {
  if (shards == 0) shards = 2 * std::max(1u, std::thread::hardware_concurrency());
  shards_.reserve(shards);
  for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

QueryCounters::~QueryCounters() = default;

std::string_view QueryCounters::qtype_label(uint16_t qtype) {
  for (const auto& [type, label] : kTypeLabels)
    if (type == qtype) return label;
  return "other";
}

std::string_view QueryCounters::rcode_label(uint16_t rcode) {
  static constexpr std::string_view kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                                "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode < std::size(kNames)) return kNames[rcode];
  if (rcode == 16) return "BADVERS";
  if (rcode == 23) return "BADCOOKIE";
  return "other";
}

void QueryCounters::count(const dns::Name* zone, uint16_t qtype, uint16_t rcode, bool tcp) {
  KeyView key{kNoZone, qtype_label(qtype) == "other" ? kOtherType : qtype,
              rcode_label(rcode) == "other" ? kOtherRcode : rcode, tcp};
  if (zone) key.zone = {reinterpret_cast<const char*>(zone->wire().data()), zone->wire_length()};
  Shard& shard = *shards_[thread_slot() % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto it = shard.counts.find(key);
  if (it != shard.counts.end()) {
    ++it->second;
    return;
  }
  if (shard.counts.size() >= kMaxSeriesPerShard) {
    key.zone = kOtherZone;
    it = shard.counts.find(key);
    if (it != shard.counts.end()) {
      ++it->second;
      return;
    }
  }
  shard.counts.emplace(Key{std::string(key.zone), key.qtype, key.rcode, key.tcp}, 1);
}

std::vector<QueryCounters::Row> QueryCounters::snapshot() const {
  std::map<std::tuple<std::string, std::string, std::string, std::string>, uint64_t> totals;
  std::unordered_map<std::string, std::string> zone_labels;  // wire -> label
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    for (const auto& [key, n] : shard->counts) {
      auto [it, inserted] = zone_labels.try_emplace(key.zone);
      if (inserted) {
        if (key.zone == kNoZone)
          it->second = "-";
        else if (key.zone == kOtherZone)
          it->second = "other";
        else
          it->second = query_log_name(std::span<const uint8_t>(
              reinterpret_cast<const uint8_t*>(key.zone.data()), key.zone.size()));
      }
      const std::string qtype(key.qtype == kOtherType ? "other" : qtype_label(key.qtype));
      const std::string rcode(key.rcode == kOtherRcode ? "other" : rcode_label(key.rcode));
      totals[{it->second, qtype, rcode, key.tcp ? "tcp" : "udp"}] += n;
    }
  }
  std::vector<Row> rows;
  rows.reserve(totals.size());
  for (const auto& [k, n] : totals)
    rows.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), n});
  return rows;
}

void QueryCounters::add_to(MetricsBuilder& metrics, std::string_view name) const {
  metrics.counter(name,
                  "DNS queries answered by the userspace server, by zone, type, rcode "
                  "and transport");
  for (const Row& r : snapshot())
    metrics.sample(
        name,
        {{"zone", r.zone}, {"qtype", r.qtype}, {"rcode", r.rcode}, {"transport", r.transport}},
        r.count);
}

}  // namespace meridian::observe
