// XdpProgram: skeleton open/configure/load with map pinning.
#include "fastpath/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "meridian_xdp.skel.h"

namespace meridian::fastpath {

namespace {

std::string number(uint64_t value) {
  return std::to_string(value);
}

// Compares the shape of a map the kernel holds with what the object defines; returns why they
// differ, or an empty string. The fields are the ones libbpf refuses to reuse a pin over, plus
// the key and value sizes of inner maps still installed in a map of maps (a slot's new inner map
// must match the outer map's template, or publishing fails later).
std::string shape_mismatch(int fd, const bpf_map* want) {
  bpf_map_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0)
    return std::string("not a map (") + std::strerror(errno) + ")";
  if (info.type != static_cast<uint32_t>(bpf_map__type(want)))
    return "type " + number(info.type) + ", this build's is " + number(bpf_map__type(want));
  if (info.key_size != bpf_map__key_size(want))
    return "key size " + number(info.key_size) + ", this build's is " +
           number(bpf_map__key_size(want));
  if (info.value_size != bpf_map__value_size(want))
    return "value size " + number(info.value_size) + ", this build's is " +
           number(bpf_map__value_size(want));
  if (info.max_entries != bpf_map__max_entries(want))
    return "max entries " + number(info.max_entries) + ", this build's is " +
           number(bpf_map__max_entries(want));
  if (info.map_flags != bpf_map__map_flags(want))
    return "flags " + number(info.map_flags) + ", this build's are " +
           number(bpf_map__map_flags(want));
  const bpf_map* inner = bpf_map__inner_map(const_cast<bpf_map*>(want));
  if (!inner) return {};
  for (uint32_t slot = 0; slot < info.max_entries; ++slot) {
    uint32_t inner_id = 0;
    if (bpf_map_lookup_elem(fd, &slot, &inner_id) != 0) continue;  // empty slot
    const int inner_fd = bpf_map_get_fd_by_id(inner_id);
    if (inner_fd < 0) continue;
    bpf_map_info inner_info{};
    length = sizeof(inner_info);
    const int err = bpf_obj_get_info_by_fd(inner_fd, &inner_info, &length);
    close(inner_fd);
    if (err != 0) continue;
    if (inner_info.key_size != bpf_map__key_size(inner) ||
        inner_info.value_size != bpf_map__value_size(inner))
      return "inner map key/value size " + number(inner_info.key_size) + "/" +
             number(inner_info.value_size) + ", this build's are " +
             number(bpf_map__key_size(inner)) + "/" + number(bpf_map__value_size(inner));
  }
  return {};
}

// Removes the pin at `path` when the map there cannot serve `map`, so that libbpf creates and
// pins a new one instead of failing the load with EINVAL (which reads like a verifier error).
Status replace_mismatched_pin(const std::string& path, const bpf_map* map,
                              std::vector<std::string>* warnings) {
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return Ok{};  // nothing pinned there yet (or unreadable: libbpf reports it)
  const std::string why = shape_mismatch(fd, map);
  close(fd);
  if (why.empty()) return Ok{};
  if (unlink(path.c_str()) != 0)
    return make_error(std::string("removing the mismatched pin: ") + std::strerror(errno), path);
  if (warnings)
    warnings->push_back("pinned map " + std::string(bpf_map__name(map)) + " at " + path +
                        " does not match this build (" + why +
                        "); replaced it with a new map (a program still using the old one keeps "
                        "it until it is replaced)");
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<XdpProgram>> XdpProgram::load(const XdpSettings& settings,
                                                     std::vector<std::string>* warnings) {
  if (settings.dns_ports.empty() || settings.dns_ports.size() > MDN_MAX_PORTS)
    return make_error("between 1 and " + std::to_string(MDN_MAX_PORTS) + " DNS ports are needed");
  meridian_xdp* skel = meridian_xdp__open();
  if (!skel) return make_error(std::string("opening the XDP object: ") + std::strerror(errno));
  std::unique_ptr<XdpProgram> program(new XdpProgram(skel));
  for (size_t i = 0; i < MDN_MAX_PORTS; ++i)
    skel->rodata->cfg_ports[i] = i < settings.dns_ports.size() ? settings.dns_ports[i] : 0;
  skel->rodata->cfg_advertised_payload = settings.advertised_udp_payload;
  if (!settings.pin_dir.empty()) {
    bpf_map* maps[] = {
        skel->maps.mdn_stats,      skel->maps.mdn_control,     skel->maps.mdn_names0,
        skel->maps.mdn_names1,     skel->maps.mdn_names2,      skel->maps.mdn_names3,
        skel->maps.mdn_groups,     skel->maps.mdn_fragments,   skel->maps.mdn_prefixes,
        skel->maps.mdn_latency,    skel->maps.mdn_geo,         skel->maps.mdn_health,
        skel->maps.mdn_rrl_config, skel->maps.mdn_rrl_buckets, skel->maps.mdn_rrl_allow,
        skel->maps.mdn_qlog};
    for (bpf_map* map : maps) {
      const std::string path = settings.pin_dir + "/" + bpf_map__name(map);
      if (auto s = replace_mismatched_pin(path, map, warnings); !s) return s.error();
      if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0)
        return make_error("pin path " + path + ": " + std::strerror(-err));
    }
  }
  // The load creates and pins the maps before the verifier runs: any of the three can fail, and
  // libbpf's own lines just before this error (on stderr) say which.
  if (int err = meridian_xdp__load(skel); err != 0)
    return make_error(std::string("loading the XDP program (creating the maps") +
                      (settings.pin_dir.empty() ? "" : ", pinning them in " + settings.pin_dir) +
                      ", or the verifier; see libbpf's messages above): " + std::strerror(-err));
  return program;
}

XdpProgram::~XdpProgram() {
  meridian_xdp__destroy(skel_);
}

int XdpProgram::program_fd() const {
  return bpf_program__fd(skel_->progs.meridian_xdp);
}

uint32_t XdpProgram::program_id() const {
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(program_fd(), &info, &length) != 0) return 0;
  return info.id;
}

struct bpf_object* XdpProgram::object() const {
  return skel_->obj;
}

FastPathMapFds XdpProgram::map_fds() const {
  FastPathMapFds fds;
  fds.names = {bpf_map__fd(skel_->maps.mdn_names0), bpf_map__fd(skel_->maps.mdn_names1),
               bpf_map__fd(skel_->maps.mdn_names2), bpf_map__fd(skel_->maps.mdn_names3)};
  fds.control = bpf_map__fd(skel_->maps.mdn_control);
  fds.stats = bpf_map__fd(skel_->maps.mdn_stats);
  fds.groups = bpf_map__fd(skel_->maps.mdn_groups);
  fds.fragments = bpf_map__fd(skel_->maps.mdn_fragments);
  fds.prefixes = bpf_map__fd(skel_->maps.mdn_prefixes);
  fds.latency = bpf_map__fd(skel_->maps.mdn_latency);
  fds.geo = bpf_map__fd(skel_->maps.mdn_geo);
  fds.health = bpf_map__fd(skel_->maps.mdn_health);
  fds.rrl_config = bpf_map__fd(skel_->maps.mdn_rrl_config);
  fds.rrl_allow = bpf_map__fd(skel_->maps.mdn_rrl_allow);
  fds.qlog = bpf_map__fd(skel_->maps.mdn_qlog);
  return fds;
}

}  // namespace meridian::fastpath
