// MapWriter: builds fresh inner name maps for the idle generation and flips the control map.
#include "fastpath/map_writer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "abi/name_classes.h"
#include "common/unique_fd.h"

namespace meridian::fastpath {

namespace {

std::string errno_text(int err) {
  return std::strerror(err < 0 ? -err : err);
}

// Owns a map fd until it has been handed to an outer map (which keeps its own reference).
using MapFd = UniqueFd;

// A fresh inner map of `type` holding `count` values (at least one slot: a map cannot be empty).
Result<int> create_inner(bpf_map_type type, const std::string& name, uint32_t key_size,
                         uint32_t value_size, size_t count, uint32_t flags) {
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
  const uint32_t capacity = static_cast<uint32_t>(std::max<size_t>(1, count));
  const int fd = bpf_map_create(type, name.c_str(), key_size, value_size, capacity, &opts);
  if (fd < 0) return make_error("creating map " + name + ": " + errno_text(errno));
  return fd;
}

// Writes `items` (key, value pairs) into `fd`, then installs it at `slot` of `outer`.
template <typename Items, typename KeyOf, typename ValueOf>
Status fill_and_install(const MapFd& inner, const std::string& name, const Items& items,
                        KeyOf key_of, ValueOf value_of, int outer, uint32_t slot) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (bpf_map_update_elem(inner.get(), key_of(items[i], i), value_of(items[i]), BPF_ANY) != 0)
      return make_error("writing " + name + ": " + errno_text(errno));
  }
  int fd = inner.get();
  if (bpf_map_update_elem(outer, &slot, &fd, BPF_ANY) != 0)
    return make_error("installing " + name + ": " + errno_text(errno));
  return Ok{};
}

// The routing-policy maps of generation `gen`.
Status publish_policy(const FastPathMapFds& fds, const PolicyTables& policy, uint32_t gen) {
  const std::string g = "_g" + std::to_string(gen);
  uint32_t index = 0;
  auto by_index = [&index](const auto&, size_t i) {
    index = static_cast<uint32_t>(i);
    return &index;
  };
  {
    auto fd = create_inner(BPF_MAP_TYPE_ARRAY, "mdn_groups" + g, sizeof(uint32_t),
                           sizeof(mdn_group_entry), policy.groups.size(), BPF_F_INNER_MAP);
    if (!fd) return fd.error();
    MapFd inner(*fd);
    if (auto s = fill_and_install(
            inner, "mdn_groups" + g, policy.groups, by_index,
            [](const mdn_group_entry& e) { return &e; }, fds.groups, gen);
        !s)
      return s;
  }
  {
    auto fd = create_inner(BPF_MAP_TYPE_ARRAY, "mdn_fragments" + g, sizeof(uint32_t),
                           sizeof(mdn_fragment), policy.fragments.size(), BPF_F_INNER_MAP);
    if (!fd) return fd.error();
    MapFd inner(*fd);
    if (auto s = fill_and_install(
            inner, "mdn_fragments" + g, policy.fragments, by_index,
            [](const mdn_fragment& f) { return &f; }, fds.fragments, gen);
        !s)
      return s;
  }
  {
    auto fd = create_inner(BPF_MAP_TYPE_LPM_TRIE, "mdn_prefixes" + g, sizeof(mdn_prefix_key),
                           sizeof(mdn_prefix_value), policy.prefixes.size(), BPF_F_NO_PREALLOC);
    if (!fd) return fd.error();
    MapFd inner(*fd);
    if (auto s = fill_and_install(
            inner, "mdn_prefixes" + g, policy.prefixes,
            [](const PrefixEntry& e, size_t) { return &e.first; },
            [](const PrefixEntry& e) { return &e.second; }, fds.prefixes, gen);
        !s)
      return s;
  }
  {
    auto fd = create_inner(BPF_MAP_TYPE_HASH, "mdn_latency" + g, sizeof(mdn_latency_key),
                           sizeof(uint32_t), policy.latency_ms.size(), 0);
    if (!fd) return fd.error();
    MapFd inner(*fd);
    return fill_and_install(
        inner, "mdn_latency" + g, policy.latency_ms, [](const auto& e, size_t) { return &e.first; },
        [](const auto& e) { return &e.second; }, fds.latency, gen);
  }
}

}  // namespace

MapWriter::MapWriter(FastPathMapFds fds, uint32_t max_entries_per_class)
    : fds_(fds), max_entries_(max_entries_per_class == 0 ? 1 : max_entries_per_class) {}

template <typename Change>
Status MapWriter::update_control(Change change, const char* what) {
  std::lock_guard<std::mutex> lock(control_mutex_);
  const uint32_t zero = 0;
  mdn_control control{};
  if (bpf_map_lookup_elem(fds_.control, &zero, &control) != 0)
    return make_error("reading the control map: " + errno_text(errno));
  change(control);
  if (bpf_map_update_elem(fds_.control, &zero, &control, BPF_ANY) != 0)
    return make_error(std::string(what) + ": " + errno_text(errno));
  return Ok{};
}

Result<PublishResult> MapWriter::publish(const std::vector<FastPathEntry>& entries,
                                         const PolicyTables& policy) {
  PublishResult result;
  uint32_t zero = 0;
  mdn_control control{};
  if (bpf_map_lookup_elem(fds_.control, &zero, &control) != 0)
    return make_error("reading the control map: " + errno_text(errno));
  const uint32_t next = (control.generation & 1) ^ 1;

  // Entries per class, to size each inner map to what it will hold.
  auto negative = [](const FastPathEntry& e) {
    return e.qtype == 0 && e.answer.kind == MDN_ANSWER_NEGATIVE;
  };
  std::array<uint32_t, MDN_NAME_CLASSES> wanted{}, negatives{};
  bool nxdomain_safe = true;
  for (const auto& e : entries) {
    const int c = abi::name_class(e.name_key.size());
    if (c >= 0) ++wanted[c];
    if (c >= 0 && negative(e)) ++negatives[c];
  }
  // An NXDOMAIN from an encloser entry is right only if every existing name below it has its
  // negative entry (which stops the program's walk up): when any negative entry is left out,
  // no entry may answer NXDOMAIN. Negative entries are written after the others of their class,
  // so they are the ones left out when a class is full.
  for (int c = 0; c < MDN_NAME_CLASSES; ++c)
    if (wanted[c] > max_entries_ && negatives[c] > 0) nxdomain_safe = false;
  auto without_nxdomain = [](mdn_answer a) {
    mdn_negative neg;
    std::memcpy(&neg, a.data + MDN_NEG_AT, sizeof(neg));
    neg.nx_length = 0;
    std::memcpy(a.data + MDN_NEG_AT, &neg, sizeof(neg));
    return a;
  };

  std::vector<MapFd> inners;
  inners.reserve(MDN_NAME_CLASSES);
  std::vector<std::pair<int, std::vector<uint8_t>>> written_negative;  // (class, key)
  std::vector<const FastPathEntry*> written_negative_entries;
  std::vector<uint8_t> key;
  for (int c = 0; c < MDN_NAME_CLASSES; ++c) {
    const uint32_t capacity = std::max<uint32_t>(1, std::min(wanted[c], max_entries_));
    const uint32_t key_size = 2 + mdn_name_class_size(static_cast<uint32_t>(c));
    const std::string map_name = "mdn_names" + std::to_string(c) + "_g" + std::to_string(next);
    inners.emplace_back(bpf_map_create(BPF_MAP_TYPE_HASH, map_name.c_str(), key_size,
                                       sizeof(mdn_answer), capacity, nullptr));
    const MapFd& inner = inners.back();
    if (inner.get() < 0)
      return make_error("creating name map " + map_name + ": " + errno_text(errno));
    uint32_t stored = 0;
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& e : entries) {
        if (abi::name_class(e.name_key.size()) != c || negative(e) != (pass == 1)) continue;
        if (stored == capacity) {
          ++result.map_full;
          continue;
        }
        key.assign(key_size, 0);
        key[0] = static_cast<uint8_t>(e.qtype >> 8);
        key[1] = static_cast<uint8_t>(e.qtype & 0xff);
        std::memcpy(key.data() + 2, e.name_key.data(), e.name_key.size());
        const mdn_answer value =
            pass == 1 && !nxdomain_safe ? without_nxdomain(e.answer) : e.answer;
        if (bpf_map_update_elem(inner.get(), key.data(), &value, BPF_ANY) != 0) {
          if (errno == E2BIG || errno == ENOMEM) {
            ++result.map_full;
            if (pass == 1 && nxdomain_safe) {
              // Too late to leave this one out silently: take NXDOMAIN off those written.
              nxdomain_safe = false;
              for (size_t i = 0; i < written_negative.size(); ++i) {
                const mdn_answer off = without_nxdomain(written_negative_entries[i]->answer);
                if (bpf_map_update_elem(
                        inners[static_cast<size_t>(written_negative[i].first)].get(),
                        written_negative[i].second.data(), &off, BPF_EXIST) != 0)
                  return make_error("rewriting " + map_name + ": " + errno_text(errno));
              }
            }
            continue;
          }
          return make_error("writing " + map_name + ": " + errno_text(errno));
        }
        if (pass == 1 && nxdomain_safe) {
          written_negative.emplace_back(c, key);
          written_negative_entries.push_back(&e);
        }
        ++stored;
        ++result.published;
      }
    }
  }
  // Installed only once every class is written, so a late rewrite above reaches them all.
  for (int c = 0; c < MDN_NAME_CLASSES; ++c) {
    int inner_fd = inners[static_cast<size_t>(c)].get();
    if (bpf_map_update_elem(fds_.names[c], &next, &inner_fd, BPF_ANY) != 0)
      return make_error("installing name map " + std::to_string(c) + ": " + errno_text(errno));
  }

  if (auto s = publish_policy(fds_, policy, next); !s) return s.error();

  // The flip: one array write, seen by the next lookup on every CPU. The rest of the value (the
  // query log sample rate, the heartbeat) is kept as it is now.
  if (auto s = update_control([next](mdn_control& c) { c.generation = next; },
                              "flipping the control map");
      !s)
    return s.error();
  result.generation = next;
  return result;
}

Status MapWriter::set_query_log_sample(uint32_t one_in_n) {
  return update_control([one_in_n](mdn_control& c) { c.qlog_sample = one_in_n; },
                        "writing the query log sample rate");
}

Result<uint32_t> MapWriter::query_log_sample() const {
  auto control = read_control();
  if (!control) return control.error();
  return control->qlog_sample;
}

Status MapWriter::write_heartbeat(uint64_t heartbeat_ns, uint64_t stale_after_ns) {
  return update_control(
      [&](mdn_control& c) {
        c.heartbeat_ns = heartbeat_ns;
        c.stale_after_ns = stale_after_ns;
      },
      "writing the heartbeat");
}

Result<mdn_control> MapWriter::read_control() const {
  const uint32_t zero = 0;
  mdn_control control{};
  if (bpf_map_lookup_elem(fds_.control, &zero, &control) != 0)
    return make_error("reading the control map: " + errno_text(errno));
  return control;
}

Status MapWriter::publish_geo(const std::vector<PrefixEntry>& entries) {
  auto fd = create_inner(BPF_MAP_TYPE_LPM_TRIE, "mdn_geo_table", sizeof(mdn_prefix_key),
                         sizeof(mdn_prefix_value), entries.size(), BPF_F_NO_PREALLOC);
  if (!fd) return fd.error();
  MapFd inner(*fd);
  return fill_and_install(
      inner, "mdn_geo_table", entries, [](const PrefixEntry& e, size_t) { return &e.first; },
      [](const PrefixEntry& e) { return &e.second; }, fds_.geo, 0);
}

Status MapWriter::write_health(uint32_t slot, bool healthy) {
  if (slot >= MDN_HEALTH_SLOTS) return Ok{};  // no slot: always healthy, nothing to write
  const uint32_t down = healthy ? 0 : 1;
  if (bpf_map_update_elem(fds_.health, &slot, &down, BPF_ANY) != 0)
    return make_error("writing the health map: " + errno_text(errno));
  return Ok{};
}

Status MapWriter::write_rrl(const mdn_rrl_config& config,
                            const std::vector<policy::IpPrefix>& allow) {
  auto key_of = [](const policy::IpPrefix& p) {
    mdn_rrl_allow_key k{};
    k.family = p.ipv6 ? MDN_RRL_FAMILY_IPV6 : MDN_RRL_FAMILY_IPV4;
    k.prefixlen = 8u + p.length;
    std::memcpy(k.addr, p.address.data(), p.ipv6 ? 16 : 4);
    return k;
  };
  std::vector<mdn_rrl_allow_key> wanted;
  const uint8_t one = 1;
  for (const auto& p : allow) {
    wanted.push_back(key_of(p));
    if (bpf_map_update_elem(fds_.rrl_allow, &wanted.back(), &one, BPF_ANY) != 0)
      return make_error("writing the rate limiting allow list: " + errno_text(errno));
  }
  const uint32_t zero = 0;
  if (bpf_map_update_elem(fds_.rrl_config, &zero, &config, BPF_ANY) != 0)
    return make_error("writing the rate limiting settings: " + errno_text(errno));
  std::vector<mdn_rrl_allow_key> stale;
  mdn_rrl_allow_key key{}, next{};
  for (const void* at = nullptr; bpf_map_get_next_key(fds_.rrl_allow, at, &next) == 0; at = &key) {
    key = next;
    const bool keep = std::any_of(wanted.begin(), wanted.end(), [&](const mdn_rrl_allow_key& w) {
      return std::memcmp(&w, &key, sizeof(key)) == 0;
    });
    if (!keep) stale.push_back(key);
  }
  for (const auto& k : stale) bpf_map_delete_elem(fds_.rrl_allow, &k);
  return Ok{};
}

Result<std::array<uint64_t, MDN_STAT_COUNT>> MapWriter::read_stats() const {
  std::array<uint64_t, MDN_STAT_COUNT> totals{};
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error("cannot count possible CPUs");
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  for (uint32_t i = 0; i < MDN_STAT_COUNT; ++i) {
    if (bpf_map_lookup_elem(fds_.stats, &i, per_cpu.data()) != 0)
      return make_error("reading the stats map: " + errno_text(errno));
    for (uint64_t v : per_cpu) totals[i] += v;
  }
  return totals;
}

}  // namespace meridian::fastpath
