// MapWriter: builds fresh inner name maps for the idle generation and flips the control map.
#include "fastpath/map_writer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace meridian::fastpath {

namespace {

constexpr std::array<size_t, MDN_NAME_CLASSES> kClassSizes = {MDN_NAME_CLASS0, MDN_NAME_CLASS1,
                                                              MDN_NAME_CLASS2, MDN_NAME_CLASS3};

std::string errno_text(int err) {
  return std::strerror(err < 0 ? -err : err);
}

// Owns a map fd until it has been handed to an outer map (which keeps its own reference).
class MapFd {
 public:
  explicit MapFd(int fd) : fd_(fd) {}
  ~MapFd() {
    if (fd_ >= 0) close(fd_);
  }
  MapFd(const MapFd&) = delete;
  MapFd& operator=(const MapFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

int name_class(size_t wire_length) {
  for (int c = 0; c < MDN_NAME_CLASSES; ++c)
    if (wire_length <= kClassSizes[c]) return c;
  return -1;
}

size_t name_class_size(int c) {
  return kClassSizes.at(static_cast<size_t>(c));
}

MapWriter::MapWriter(FastPathMapFds fds, uint32_t max_entries_per_class)
    : fds_(fds), max_entries_(max_entries_per_class == 0 ? 1 : max_entries_per_class) {}

Result<PublishResult> MapWriter::publish(const std::vector<FastPathEntry>& entries) {
  PublishResult result;
  uint32_t zero = 0;
  mdn_control control{};
  if (bpf_map_lookup_elem(fds_.control, &zero, &control) != 0)
    return make_error("reading the control map: " + errno_text(errno));
  const uint32_t next = (control.generation & 1) ^ 1;

  // Entries per class, to size each inner map to what it will hold.
  std::array<uint32_t, MDN_NAME_CLASSES> wanted{};
  for (const auto& e : entries) {
    const int c = name_class(e.name_key.size());
    if (c >= 0) ++wanted[c];
  }

  std::vector<uint8_t> key;
  for (int c = 0; c < MDN_NAME_CLASSES; ++c) {
    const uint32_t capacity = std::max<uint32_t>(1, std::min(wanted[c], max_entries_));
    const uint32_t key_size = 2 + static_cast<uint32_t>(kClassSizes[c]);
    const std::string map_name = "mdn_names" + std::to_string(c) + "_g" + std::to_string(next);
    MapFd inner(bpf_map_create(BPF_MAP_TYPE_HASH, map_name.c_str(), key_size, sizeof(mdn_answer),
                               capacity, nullptr));
    if (inner.get() < 0)
      return make_error("creating name map " + map_name + ": " + errno_text(errno));
    uint32_t stored = 0;
    for (const auto& e : entries) {
      if (name_class(e.name_key.size()) != c) continue;
      if (stored == capacity) {
        ++result.map_full;
        continue;
      }
      key.assign(key_size, 0);
      key[0] = static_cast<uint8_t>(e.qtype >> 8);
      key[1] = static_cast<uint8_t>(e.qtype & 0xff);
      std::memcpy(key.data() + 2, e.name_key.data(), e.name_key.size());
      if (bpf_map_update_elem(inner.get(), key.data(), &e.answer, BPF_ANY) != 0) {
        if (errno == E2BIG || errno == ENOMEM) {
          ++result.map_full;
          continue;
        }
        return make_error("writing " + map_name + ": " + errno_text(errno));
      }
      ++stored;
      ++result.published;
    }
    int inner_fd = inner.get();
    if (bpf_map_update_elem(fds_.names[c], &next, &inner_fd, BPF_ANY) != 0)
      return make_error("installing " + map_name + ": " + errno_text(errno));
  }

  // The flip: one array write, seen by the next lookup on every CPU.
  control.generation = next;
  if (bpf_map_update_elem(fds_.control, &zero, &control, BPF_ANY) != 0)
    return make_error("flipping the control map: " + errno_text(errno));
  result.generation = next;
  return result;
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
