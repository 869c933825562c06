// XdpProgram: the loaded XDP fast-path program and its maps (RAII over the bpftool-generated
// skeleton; cannot be copied). Settings are written to the program's read-only data before load.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "fastpath/map_writer.h"

struct meridian_xdp;  // generated skeleton
struct bpf_object;

namespace meridian::fastpath {

struct XdpSettings {
  std::vector<uint16_t> dns_ports = {53};  // at most MDN_MAX_PORTS
  uint16_t advertised_udp_payload = 1232;  // must equal the userspace responder's
  std::string pin_dir;                     // bpffs directory to pin maps in; empty: no pinning
};

class XdpProgram {
 public:
  // Opens the embedded object, applies settings, loads it into the kernel (maps, pins, verifier)
  // and, when pin_dir is set, pins the maps there, reusing maps already pinned there that match
  // this build's definitions. A pin that does not match (left by an older or newer build) is
  // replaced by a new map, with a note in `warnings`: the program it belonged to keeps its own
  // reference.
  static Result<std::unique_ptr<XdpProgram>> load(const XdpSettings& settings,
                                                  std::vector<std::string>* warnings = nullptr);
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  int program_fd() const;
  // The kernel's id of the loaded program (0 if it cannot be read).
  uint32_t program_id() const;
  FastPathMapFds map_fds() const;
  struct bpf_object* object() const;

 private:
  explicit XdpProgram(meridian_xdp* skeleton) : skel_(skeleton) {}
  meridian_xdp* skel_;
};

}  // namespace meridian::fastpath
