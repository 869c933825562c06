// XdpAttachment: libxdp attach/detach with native-to-generic fallback.
#include "fastpath/xdp_attachment.h"

#include <net/if.h>
#include <xdp/libxdp.h>

#include <cstring>

namespace meridian::fastpath {

Result<AttachMode> attach_mode_from_text(const std::string& text) {
  if (text == "native") return AttachMode::kNative;
  if (text == "generic") return AttachMode::kGeneric;
  if (text == "auto") return AttachMode::kAuto;
  return make_error("must be \"native\", \"generic\" or \"auto\"");
}

Result<std::unique_ptr<XdpAttachment>> XdpAttachment::attach(int program_fd,
                                                             const std::string& interface,
                                                             AttachMode mode, std::string* note) {
  const int ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
  if (ifindex == 0) return make_error("no such interface", interface);
  xdp_program* program = xdp_program__from_fd(program_fd);
  if (long err = libxdp_get_error(program); err || !program)
    return make_error(
        std::string("libxdp cannot use the program: ") + std::strerror(static_cast<int>(-err)),
        interface);
  int err = -EINVAL;
  bool generic = mode == AttachMode::kGeneric;
  if (mode != AttachMode::kGeneric) err = xdp_program__attach(program, ifindex, XDP_MODE_NATIVE, 0);
  if (err && mode == AttachMode::kAuto) {
    if (note)
      *note = "native XDP failed on " + interface + " (" + std::strerror(-err) +
              "); using generic mode, which is slower";
    generic = true;
  }
  if (generic) err = xdp_program__attach(program, ifindex, XDP_MODE_SKB, 0);
  if (err) {
    xdp_program__close(program);
    return make_error(std::string("attaching XDP in ") + (generic ? "generic" : "native") +
                          " mode: " + std::strerror(-err),
                      interface);
  }
  return std::unique_ptr<XdpAttachment>(new XdpAttachment(program, interface, ifindex, generic));
}

XdpAttachment::~XdpAttachment() {
  if (!keep_) xdp_program__detach(program_, ifindex_, generic_ ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
  xdp_program__close(program_);
}

}  // namespace meridian::fastpath
