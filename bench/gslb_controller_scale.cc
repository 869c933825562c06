// GSLB controller scale: builds a synthetic zone of N routing-policy groups and inputs with P
// client prefixes, then measures attach_gslb (DecisionTable + classifier tries) time and memory at
// several (P, N) points to show memory ~ a*P + b*N, never P*N, plus the userspace cost of one
// decision.
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/types.h"
#include "geo/geo_database.h"
#include "geo/regions.h"
#include "policy/gslb_engine.h"
#include "zone/route53_json.h"
#include "zone/zone_set.h"

namespace {

using namespace meridian;
using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultGeo = "/var/lib/meridian/geoip/country.mmdb";
constexpr int kCollections = 16;  // CIDR collections the ip-based groups spread over
constexpr int kLocations = 64;    // location names per collection
constexpr int kPolicyKinds = 7;   // weighted, failover, geolocation, latency, geoproximity, ...
const char* const kKindNames[kPolicyKinds] = {"weighted",     "failover", "geolocation", "latency",
                                              "geoproximity", "ip-based", "multivalue"};

struct Options {
  std::vector<std::pair<size_t, size_t>> points;  // (prefixes, groups)
  std::string geo_path = kDefaultGeo;             // "" = no database
  bool geo_prefixes = false;                      // take the prefixes from the database's networks
  int latency_rows = 2;                           // regions per latency-table prefix
  size_t decisions = 1000000;
};

// Memory figures from /proc/self/status, in kB.
struct Mem {
  long rss = 0, hwm = 0, anon = 0;
};

Mem read_mem() {
  Mem m;
  std::ifstream f("/proc/self/status");
  std::string key;
  long v = 0;
  while (f >> key) {
    if (key == "VmRSS:" && f >> v) m.rss = v;
    if (key == "VmHWM:" && f >> v) m.hwm = v;
    if (key == "RssAnon:" && f >> v) m.anon = v;
  }
  return m;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A deterministic generator, so every run builds the same data.
struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

std::string ipv4_text(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

// IPv6 prefix text for the top 48 bits `hi`.
std::string ipv6_text48(uint64_t hi) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%x:%x:%x::", static_cast<unsigned>((hi >> 32) & 0xffff),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff));
  return buf;
}

// Synthetic prefixes, unique by construction (an odd multiplier is a bijection modulo 2^len), so
// no dedup set inflates the memory figures. 80% IPv4 spread over the whole space (CIDR blocks /24,
// latency prefixes /20-/24), 20% IPv6 /48 below 4,096 provider /32s, clustered as real tables are.
std::string synthetic_prefix(size_t i, bool cidr) {
  const size_t slot = i % 10;
  if (slot < 8) {
    const int len = cidr ? 24 : 20 + static_cast<int>(slot % 5);
    const uint64_t j = cidr ? i / 10 * 8 + slot : i / 10 * 2 + (slot >= 5 ? 1 : 0);
    const uint32_t x = static_cast<uint32_t>((j * 2654435761ull) & ((1ull << len) - 1));
    return ipv4_text(x << (32 - len)) + "/" + std::to_string(len);
  }
  const uint64_t j = i / 10 * 2 + (slot - 8);
  const uint64_t provider = 0x2a000000ull | ((j % 4096) << 4);
  const uint64_t site = ((j / 4096) * 40503u + (cidr ? 0 : 1)) & 0xffff;
  return ipv6_text48((provider << 16) | site) + "/48";
}

std::string rs_json(const std::string& name, const std::string& id, const std::string& routing,
                    const std::string& health, const std::string& value) {
  std::string s =
      R"({"Name":")" + name + R"(","Type":"A","TTL":60,"SetIdentifier":")" + id + "\"," + routing;
  if (!health.empty()) s += R"(,"HealthCheckId":")" + health + "\"";
  return s + R"(,"ResourceRecords":[{"Value":")" + value + R"("}]})";
}

// The zone: N groups g0..g(N-1).bench.example., kind = g % 7, 4.4 record sets per group on
// average, every record set with its own health check id.
std::string zone_json(size_t groups) {
  const auto regions = geo::builtin_regions();
  static const char* const kCountries[] = {"DE", "FR", "US", "JP", "BR", "IN", "AU", "GB"};
  std::string out = R"({"ResourceRecordSets":[
    {"Name":"bench.example.","Type":"SOA","TTL":900,"ResourceRecords":[{"Value":
     "ns1.bench.example. hostmaster.bench.example. 1 7200 900 1209600 300"}]},
    {"Name":"bench.example.","Type":"NS","TTL":3600,"ResourceRecords":[{"Value":"ns1.bench.example."}]},
    {"Name":"ns1.bench.example.","Type":"A","TTL":3600,"ResourceRecords":[{"Value":"192.0.2.53"}]})";
  for (size_t g = 0; g < groups; ++g) {
    const std::string name = "g" + std::to_string(g) + ".bench.example.";
    const std::string hc = "hc-" + std::to_string(g) + "-";
    auto value = [&](int i) {
      return "192.0." + std::to_string(2 + (g + i) % 2) + "." +
             std::to_string(1 + (g * 7 + i) % 250);
    };
    auto add = [&](int i, const std::string& routing) {
      out +=
          ",\n" + rs_json(name, "s" + std::to_string(i), routing, hc + std::to_string(i), value(i));
    };
    switch (g % kPolicyKinds) {
      case 0:
        for (int i = 0; i < 4; ++i) add(i, "\"Weight\":" + std::to_string(i == 3 ? 0 : i + 1));
        break;
      case 1:
        add(0, R"("Failover":"PRIMARY")");
        add(1, R"("Failover":"SECONDARY")");
        break;
      case 2:
        add(0, R"("GeoLocation":{"ContinentCode":"EU"})");
        add(1, std::string(R"("GeoLocation":{"CountryCode":")") + kCountries[g % 8] + "\"}");
        add(2, R"("GeoLocation":{"CountryCode":"US","SubdivisionCode":"CA"})");
        add(3, R"("GeoLocation":{"CountryCode":"*"})");
        break;
      case 3:
        for (int i = 0; i < 4; ++i)
          add(i, "\"Region\":\"" + std::string(regions[(g + i * 5) % regions.size()].name) + "\"");
        break;
      case 4:
        add(0, "\"GeoProximityLocation\":{\"AWSRegion\":\"" +
                   std::string(regions[g % regions.size()].name) +
                   "\",\"Bias\":" + std::to_string(static_cast<int>(g % 50) - 25) + "}");
        add(1, R"("GeoProximityLocation":{"Coordinates":{"Latitude":"48.1","Longitude":"11.6"}})");
        add(2,
            R"("GeoProximityLocation":{"Coordinates":{"Latitude":"-33.9","Longitude":"151.2"},"Bias":10})");
        break;
      case 5: {
        const std::string c = "c-" + std::to_string(g % kCollections);
        for (int i = 0; i < 3; ++i)
          add(i, R"("CidrRoutingConfig":{"CollectionId":")" + c + R"(","LocationName":"loc-)" +
                     std::to_string((g + i) % kLocations) + "\"}");
        add(3, R"("CidrRoutingConfig":{"CollectionId":")" + c + R"(","LocationName":"*"})");
        break;
      }
      default:
        for (int i = 0; i < 10; ++i) add(i, R"("MultiValueAnswer":true)");
        break;
    }
  }
  return out + "]}";
}

// Fills the CIDR collections (half of the prefixes) and the latency table (the other half,
// `latency_rows` regions each), from the synthetic generator or the GeoIP database's networks.
void make_prefix_inputs(size_t prefixes, const Options& o, const geo::GeoDatabase* db,
                        policy::GslbInputs& in) {
  const auto regions = geo::builtin_regions();
  for (int c = 0; c < kCollections; ++c) in.cidr_collections["c-" + std::to_string(c)];
  size_t cidr = 0;
  auto add = [&](const std::string& prefix, bool cidr_ok, size_t k) {
    if (cidr_ok && k % 2 == 0) {
      in.cidr_collections["c-" + std::to_string(cidr % kCollections)].push_back(
          {prefix, "loc-" + std::to_string(cidr / kCollections % kLocations)});
      ++cidr;
    } else {
      for (int r = 0; r < o.latency_rows; ++r)
        in.latency.push_back({prefix, std::string(regions[(k + r * 7) % regions.size()].name),
                              static_cast<uint32_t>(5 + (k * 31 + r * 17) % 300)});
    }
  };
  if (db && o.geo_prefixes) {
    size_t k = 0;
    auto walked = db->for_each_network([&](const geo::GeoNetwork& n, const geo::GeoInfo&) {
      add(n.to_string(), n.prefix_len <= (n.ipv6 ? 48 : 24), k++);
      return k < prefixes;
    });
    if (!walked.ok()) std::fprintf(stderr, "walk: %s\n", walked.error().to_string().c_str());
    return;
  }
  // Even indexes go to the CIDR collections, odd ones to the latency table.
  for (size_t k = 0; k < prefixes; ++k) {
    const bool to_cidr = k % 2 == 0;
    add(synthetic_prefix(k / 2, to_cidr), to_cidr, k);
  }
}

struct PointResult {
  size_t prefixes = 0, groups = 0, record_sets = 0;
  size_t cidr_blocks = 0, latency_rows = 0, trie_nodes = 0, trie_bytes = 0, table_bytes = 0;
  double build_s = 0;
  long rss_growth_kb = 0, anon_growth_kb = 0, hwm_kb = 0, hwm_growth_kb = 0, live_growth_kb = 0;
  double ns_per_decision[kPolicyKinds + 1] = {};  // per kind, then overall
  uint64_t answers = 0;
};

// Random clients: half inside a configured prefix (hits), half anywhere in IPv4 unicast space;
// a quarter of them as an ECS /24.
std::vector<policy::ClientAddress> make_clients(const policy::GslbInputs& in, size_t count) {
  Rng rng;
  std::vector<policy::ClientAddress> out;
  out.reserve(count);
  const auto& blocks = in.cidr_collections.begin()->second;
  while (out.size() < count) {
    const uint64_t r = rng.next();
    policy::ClientAddress c;
    if (r % 2 == 0 && !blocks.empty()) {
      auto p = policy::parse_prefix(blocks[(r >> 8) % blocks.size()].prefix);
      if (!p) continue;
      c.ipv6 = p->ipv6;
      c.address = p->address;
      c.source_prefix = c.ipv6 ? 128 : 32;
      for (int b = p->length; b < c.max_len(); ++b)
        if ((rng.next() >> 33) & 1) c.address[b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
    } else {
      const uint32_t a = static_cast<uint32_t>(0x01000000u + (r >> 16) % 0xdeffffffu);
      c.address = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                   static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)};
    }
    if (r % 4 == 1 && !c.ipv6) {
      c.source_prefix = 24;
      c.address[3] = 0;
    }
    out.push_back(c);
  }
  return out;
}

// One (P, N) point, run in a forked child so its peak RSS is its own.
PointResult run_point(size_t prefixes, size_t groups, const Options& o, bool decide) {
  PointResult res;
  res.prefixes = prefixes;
  res.groups = groups;
  std::unique_ptr<geo::GeoDatabase> db;
  if (!o.geo_path.empty()) {
    auto opened = geo::GeoDatabase::open(o.geo_path);
    if (opened.ok())
      db = std::make_unique<geo::GeoDatabase>(std::move(*opened));
    else
      std::fprintf(stderr, "no GeoIP database: %s\n", opened.error().to_string().c_str());
  }
  policy::GslbInputs in;
  in.geo = db.get();
  in.health = std::make_shared<policy::HealthView>(
      static_cast<uint32_t>(std::max<size_t>(policy::HealthView::kDefaultCapacity, groups * 12)));
  make_prefix_inputs(prefixes, o, db.get(), in);
  for (const auto& [id, blocks] : in.cidr_collections) res.cidr_blocks += blocks.size();
  res.latency_rows = in.latency.size();

  zone::ZoneSet plain;
  {
    std::string text = zone_json(groups);
    auto z = zone::parse_route53_json(text, *dns::Name::from_text("bench.example."), "bench");
    if (!z.ok()) {
      std::fprintf(stderr, "zone: %s\n", z.error().to_string().c_str());
      std::exit(1);
    }
    res.record_sets = z->record_set_count() - 3;
    plain = zone::ZoneSet({std::make_shared<const zone::Zone>(std::move(*z))});
  }
  // Freed input scaffolding (the zone's JSON text) goes back to the kernel first, so the build
  // cannot hide its growth by reusing it; then peak RSS counts from here on (Linux >= 4.0).
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
  const Mem before = read_mem();
  const auto t0 = Clock::now();
  auto attached = policy::attach_gslb(plain, in);
  res.build_s = seconds_since(t0);
  if (!attached.ok()) {
    std::fprintf(stderr, "attach_gslb: %s\n", attached.error().to_string().c_str());
    std::exit(1);
  }
  const Mem after = read_mem();
  res.rss_growth_kb = after.rss - before.rss;
  res.anon_growth_kb = after.anon - before.anon;
  res.hwm_kb = after.hwm;
  res.hwm_growth_kb = after.hwm - before.rss;
  // What stays once the allocator hands back what the build freed (temporaries, regrown vectors).
  malloc_trim(0);
  res.live_growth_kb = read_mem().anon - before.anon;
  const policy::GslbEngine* engine = policy::gslb_engine(**attached);
  const policy::DecisionTable& table = engine->table();
  res.table_bytes = table.memory_bytes();
  res.trie_nodes = table.latency_prefixes().node_count();
  res.trie_bytes = table.latency_prefixes().memory_bytes();
  for (uint32_t c = 1; table.cidr_collection(c); ++c) {
    res.trie_nodes += table.cidr_collection(c)->node_count();
    res.trie_bytes += table.cidr_collection(c)->memory_bytes();
  }

  if (decide && o.decisions > 0) {
    const std::vector<policy::ClientAddress> clients = make_clients(in, 1 << 16);
    std::vector<const policy::GroupEntry*> entries(groups);
    for (size_t g = 0; g < groups; ++g)
      entries[g] = engine->group(*dns::Name::from_text("g" + std::to_string(g) + ".bench.example."),
                                 dns::rrtype::A);
    uint64_t state = 88172645463325252ull;
    double total_ns = 0;
    for (int kind = 0; kind < kPolicyKinds; ++kind) {
      const size_t per_kind = o.decisions / kPolicyKinds;
      Rng pick;
      pick.s += static_cast<uint64_t>(kind);
      const size_t kinds_groups = (groups + kPolicyKinds - 1 - kind) / kPolicyKinds;
      const auto t = Clock::now();
      for (size_t q = 0; q < per_kind; ++q) {
        const uint64_t r = pick.next();
        const policy::GroupEntry* e = entries[(r % kinds_groups) * kPolicyKinds + kind];
        const policy::GslbAnswer a = engine->answer(*e, clients[(r >> 40) & 0xffff], state);
        res.answers += a.record_sets.size();
      }
      const double ns = seconds_since(t) * 1e9;
      res.ns_per_decision[kind] = ns / static_cast<double>(per_kind);
      total_ns += ns;
    }
    res.ns_per_decision[kPolicyKinds] =
        total_ns / static_cast<double>(o.decisions / kPolicyKinds * kPolicyKinds);
  }
  return res;
}

bool run_forked(size_t p, size_t n, const Options& o, bool decide, PointResult& out) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    const PointResult r = run_point(p, n, o, decide);
    const ssize_t w = write(fds[1], &r, sizeof(r));
    _exit(w == static_cast<ssize_t>(sizeof(r)) ? 0 : 1);
  }
  close(fds[1]);
  size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&out);
  for (ssize_t n_read;
       got < sizeof(out) && (n_read = read(fds[0], bytes + got, sizeof(out) - got)) > 0;)
    got += static_cast<size_t>(n_read);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got == sizeof(out) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Least squares for y = a*P + b*N + c (3x3 normal equations, Cramer's rule).
std::array<double, 3> fit(const std::vector<PointResult>& rs, long PointResult::*y) {
  double m[3][3] = {}, v[3] = {};
  for (const auto& r : rs) {
    const double x[3] = {static_cast<double>(r.prefixes), static_cast<double>(r.groups), 1.0};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) m[i][j] += x[i] * x[j];
      v[i] += x[i] * static_cast<double>(r.*y) * 1024.0;
    }
  }
  auto det = [](double a[3][3]) {
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
           a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  };
  const double d = det(m);
  std::array<double, 3> out{};
  for (int k = 0; k < 3; ++k) {
    double t[3][3];
    std::memcpy(t, m, sizeof(t));
    for (int i = 0; i < 3; ++i) t[i][k] = v[i];
    out[k] = det(t) / d;
  }
  return out;
}

void usage() {
  std::fprintf(stderr,
               "usage: gslb_controller_scale [--points P:N,P:N,...] [--geoip PATH|none]\n"
               "       [--geoip-prefixes] [--latency-rows R] [--decisions K]\n"
               "default points: 250000:2500,500000:5000,1000000:10000,1000000:1000,100000:10000\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string points = "250000:2500,500000:5000,1000000:10000,1000000:1000,100000:10000";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto arg = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--points")
      points = arg();
    else if (a == "--geoip")
      o.geo_path = arg() == "none" ? "" : argv[i];
    else if (a == "--geoip-prefixes")
      o.geo_prefixes = true;
    else if (a == "--latency-rows")
      o.latency_rows = std::atoi(arg().c_str());
    else if (a == "--decisions")
      o.decisions = std::strtoull(arg().c_str(), nullptr, 10);
    else {
      usage();
      return 2;
    }
  }
  for (size_t at = 0; at < points.size();) {
    size_t end = points.find(',', at);
    if (end == std::string::npos) end = points.size();
    const std::string one = points.substr(at, end - at);
    const size_t colon = one.find(':');
    if (colon == std::string::npos) {
      usage();
      return 2;
    }
    o.points.emplace_back(std::strtoull(one.c_str(), nullptr, 10),
                          std::strtoull(one.c_str() + colon + 1, nullptr, 10));
    at = end + 1;
  }
  std::printf("GeoIP database: %s%s; latency rows per prefix: %d\n",
              o.geo_path.empty() ? "none" : o.geo_path.c_str(),
              o.geo_prefixes ? " (prefixes from its networks)" : "", o.latency_rows);
  std::printf("%9s %7s %7s %8s %8s %9s %8s %8s %8s %8s %8s %9s %8s\n", "prefixes", "groups",
              "rsets", "cidr", "lat.rows", "trie nod", "build s", "RSS+ MB", "anon+ MB", "peak+ MB",
              "trimmed+", "table MB", "trie MB");
  std::vector<PointResult> results;
  size_t biggest = 0;
  for (size_t i = 0; i < o.points.size(); ++i)
    if (o.points[i].first * 4 + o.points[i].second >
        o.points[biggest].first * 4 + o.points[biggest].second)
      biggest = i;
  for (size_t i = 0; i < o.points.size(); ++i) {
    PointResult r;
    if (!run_forked(o.points[i].first, o.points[i].second, o, i == biggest, r)) {
      std::fprintf(stderr, "point %zu:%zu failed\n", o.points[i].first, o.points[i].second);
      return 1;
    }
    results.push_back(r);
    std::printf("%9zu %7zu %7zu %8zu %8zu %9zu %8.2f %8.1f %8.1f %8.1f %8.1f %9.1f %8.1f\n",
                r.prefixes, r.groups, r.record_sets, r.cidr_blocks, r.latency_rows, r.trie_nodes,
                r.build_s, r.rss_growth_kb / 1024.0, r.anon_growth_kb / 1024.0,
                r.hwm_growth_kb / 1024.0, r.live_growth_kb / 1024.0, r.table_bytes / 1048576.0,
                r.trie_bytes / 1048576.0);
    std::fflush(stdout);
  }
  if (results.size() >= 3) {
    const auto c = fit(results, &PointResult::anon_growth_kb);
    const auto h = fit(results, &PointResult::hwm_growth_kb);
    const double sets_per_group =
        static_cast<double>(results[0].record_sets) / static_cast<double>(results[0].groups);
    std::printf(
        "\nfit of resident growth (anon): a = %.1f B per prefix, b = %.1f B per group "
        "(%.1f B per record set), c = %.1f MB\n",
        c[0], c[1], c[1] / sets_per_group, c[2] / 1048576.0);
    const auto l = fit(results, &PointResult::live_growth_kb);
    std::printf("fit of peak growth during the build: %.1f B * P + %.1f B * N + %.1f MB\n", h[0],
                h[1], h[2] / 1048576.0);
    std::printf("fit after malloc_trim (live data): %.1f B * P + %.1f B * N + %.1f MB\n", l[0],
                l[1], l[2] / 1048576.0);
    std::printf("%9s %7s %10s %10s %8s %12s\n", "prefixes", "groups", "anon+ MB", "a*P+b*N+c",
                "error", "P*N (1e9)");
    for (const auto& r : results) {
      const double model = (c[0] * r.prefixes + c[1] * r.groups + c[2]) / 1048576.0;
      const double actual = r.anon_growth_kb / 1024.0;
      std::printf("%9zu %7zu %10.1f %10.1f %7.1f%% %12.3f\n", r.prefixes, r.groups, actual, model,
                  100.0 * (actual - model) / actual, r.prefixes * 1e-9 * r.groups);
    }
  }
  const PointResult& big = results[biggest];
  if (big.ns_per_decision[kPolicyKinds] > 0) {
    std::printf(
        "\nuserspace decision cost at %zu prefixes x %zu groups (%zu decisions, random "
        "clients and groups):\n",
        big.prefixes, big.groups, o.decisions / kPolicyKinds * kPolicyKinds);
    for (int k = 0; k < kPolicyKinds; ++k)
      std::printf("  %-13s %8.0f ns\n", kKindNames[k], big.ns_per_decision[k]);
    std::printf("  %-13s %8.0f ns (%llu record sets answered)\n", "all",
                big.ns_per_decision[kPolicyKinds], static_cast<unsigned long long>(big.answers));
  }
  return 0;
}
