// XdpProgram: skeleton open/configure/load with map pinning.
#include "fastpath/xdp_program.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "meridian_xdp.skel.h"

namespace meridian::fastpath {

Result<std::unique_ptr<XdpProgram>> XdpProgram::load(const XdpSettings& settings) {
  if (settings.dns_ports.empty() || settings.dns_ports.size() > MDN_MAX_PORTS)
    return make_error("between 1 and " + std::to_string(MDN_MAX_PORTS) + " DNS ports are needed");
  meridian_xdp* skel = meridian_xdp__open();
  if (!skel) return make_error(std::string("opening the XDP object: ") + std::strerror(errno));
  std::unique_ptr<XdpProgram> program(new XdpProgram(skel));
  for (size_t i = 0; i < MDN_MAX_PORTS; ++i)
    skel->rodata->cfg_ports[i] = i < settings.dns_ports.size() ? settings.dns_ports[i] : 0;
  skel->rodata->cfg_advertised_payload = settings.advertised_udp_payload;
  if (!settings.pin_dir.empty()) {
    bpf_map* maps[] = {skel->maps.mdn_stats,  skel->maps.mdn_control, skel->maps.mdn_names0,
                       skel->maps.mdn_names1, skel->maps.mdn_names2,  skel->maps.mdn_names3};
    for (bpf_map* map : maps) {
      const std::string path = settings.pin_dir + "/" + bpf_map__name(map);
      if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0)
        return make_error("pin path " + path + ": " + std::strerror(-err));
    }
  }
  if (int err = meridian_xdp__load(skel); err != 0)
    return make_error(std::string("loading the XDP program (verifier): ") + std::strerror(-err));
  return program;
}

XdpProgram::~XdpProgram() {
  meridian_xdp__destroy(skel_);
}

int XdpProgram::program_fd() const {
  return bpf_program__fd(skel_->progs.meridian_xdp);
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
  return fds;
}

}  // namespace meridian::fastpath
