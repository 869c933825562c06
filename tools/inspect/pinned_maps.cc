// PinnedMaps: opening and reading pinned BPF maps through the bpf(2) syscall wrappers of libbpf.
#include "inspect/pinned_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "meridian_maps.h"

namespace meridian::inspect {

std::string map_type_name(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_HASH:
      return "hash";
    case BPF_MAP_TYPE_ARRAY:
      return "array";
    case BPF_MAP_TYPE_PERCPU_HASH:
      return "percpu_hash";
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return "percpu_array";
    case BPF_MAP_TYPE_LPM_TRIE:
      return "lpm_trie";
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
      return "array_of_maps";
    case BPF_MAP_TYPE_HASH_OF_MAPS:
      return "hash_of_maps";
    case BPF_MAP_TYPE_LRU_HASH:
      return "lru_hash";
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      return "lru_percpu_hash";
    case BPF_MAP_TYPE_RINGBUF:
      return "ringbuf";
    default:
      return "type_" + std::to_string(type);
  }
}

bool per_cpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

int possible_cpus() {
  const int n = libbpf_num_possible_cpus();
  return n > 0 ? n : 1;
}

namespace {

// "memlock:\t12345" in the fd's fdinfo: what the map charges (all its memory on kernels that
// account maps to memcg, an estimate computed by the kernel otherwise).
std::optional<uint64_t> fdinfo_memlock(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("memlock:", 0) == 0) return std::stoull(line.substr(8));
  }
  return std::nullopt;
}

bool map_of_maps(uint32_t type) {
  return type == BPF_MAP_TYPE_ARRAY_OF_MAPS || type == BPF_MAP_TYPE_HASH_OF_MAPS;
}

}  // namespace

MapInfo map_info(int fd) {
  MapInfo out;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return out;
  out.name = info.name;
  out.id = info.id;
  out.type = info.type;
  out.key_size = info.key_size;
  out.value_size = info.value_size;
  out.max_entries = info.max_entries;
  out.flags = info.map_flags;
  out.memlock = fdinfo_memlock(fd);
  return out;
}

std::vector<std::vector<uint8_t>> map_keys(int fd, uint32_t key_size, size_t limit) {
  std::vector<std::vector<uint8_t>> keys;
  std::vector<uint8_t> key(key_size), next(key_size);
  const void* at = nullptr;
  // Bounded by a generous cap as well: a map written concurrently can restart iteration.
  for (size_t guard = 0; keys.size() < limit && guard < (1u << 26); ++guard) {
    if (bpf_map_get_next_key(fd, at, next.data()) != 0) break;
    keys.push_back(next);
    key = next;
    at = key.data();
  }
  return keys;
}

std::optional<std::vector<uint8_t>> map_value(int fd, const MapInfo& info, const void* key) {
  size_t size = info.value_size;
  if (per_cpu(info.type))
    size = ((info.value_size + 7) / 8 * 8) * static_cast<size_t>(possible_cpus());
  if (map_of_maps(info.type)) size = sizeof(uint32_t);
  std::vector<uint8_t> value(size);
  if (bpf_map_lookup_elem(fd, key, value.data()) != 0) return std::nullopt;
  return value;
}

size_t entries_in_use(int fd, const MapInfo& info) {
  if (info.type == BPF_MAP_TYPE_RINGBUF) return 0;  // a stream, not entries: nothing to count
  const bool array = info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY ||
                     info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS;
  if (!array) return map_keys(fd, info.key_size).size();
  size_t used = 0;
  for (uint32_t i = 0; i < info.max_entries; ++i) {
    auto v = map_value(fd, info, &i);
    if (v && std::any_of(v->begin(), v->end(), [](uint8_t b) { return b != 0; })) ++used;
  }
  return used;
}

Result<PinnedMaps> PinnedMaps::open(const std::string& pin_dir) {
  DIR* d = opendir(pin_dir.c_str());
  if (!d) return make_error("cannot read pin dir " + pin_dir + ": " + std::strerror(errno));
  PinnedMaps maps;
  maps.dir_ = pin_dir;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") maps.names_.push_back(name);
  }
  closedir(d);
  std::sort(maps.names_.begin(), maps.names_.end());
  return maps;
}

Result<MapFd> PinnedMaps::map(const std::string& name) const {
  if (std::find(names_.begin(), names_.end(), name) == names_.end())
    return with_code(make_error("no map " + name + " in " + dir_), Failure::kNotFound);
  const std::string path = dir_ + "/" + name;
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0)
    return with_code(make_error("cannot open " + path + ": " + std::strerror(errno)),
                     Failure::kUnavailable);
  return MapFd(fd);
}

std::optional<mdn_control> PinnedMaps::control() const {
  auto fd = map("mdn_control");
  if (!fd) return std::nullopt;
  uint32_t zero = 0;
  mdn_control control{};
  if (bpf_map_lookup_elem(fd->get(), &zero, &control) != 0) return std::nullopt;
  return control;
}

std::optional<uint32_t> PinnedMaps::live_generation() const {
  auto c = control();
  if (!c) return std::nullopt;
  return c->generation & 1;
}

MapFd inner_map(int outer_fd, uint32_t index) {
  uint32_t id = 0;
  if (bpf_map_lookup_elem(outer_fd, &index, &id) != 0 || id == 0) return MapFd();
  return MapFd(bpf_map_get_fd_by_id(id));
}

}  // namespace meridian::inspect
