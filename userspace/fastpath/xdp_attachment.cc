// XdpAttachment: libxdp attach/detach with native-to-generic fallback.
#include "fastpath/xdp_attachment.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cstring>

#include "common/unique_fd.h"

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

namespace {

// A program fd obtained by id.
using ProgramFd = UniqueFd;

Result<std::string> program_name(uint32_t id) {
  ProgramFd fd(bpf_prog_get_fd_by_id(id));
  if (fd.get() < 0)
    return make_error("reading XDP program id " + std::to_string(id) + ": " + std::strerror(errno));
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &length) != 0)
    return make_error("reading XDP program id " + std::to_string(id) + ": " + std::strerror(errno));
  if (info.type != BPF_PROG_TYPE_XDP) return std::string("(not an XDP program)");
  return std::string(info.name);
}

// Under libxdp's dispatcher the interface carries "xdp_dispatcher"; it is ours only when every
// program it runs is the fast path (anything else would be removed by replacing it).
bool dispatches_only_ours(int ifindex) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || !mp) return false;
  bool ours = !xdp_multiprog__is_legacy(mp) && xdp_multiprog__program_count(mp) > 0;
  for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p && ours;
       p = xdp_multiprog__next_prog(p, mp))
    ours = std::strcmp(xdp_program__name(p), kProgramName) == 0;
  xdp_multiprog__close(mp);
  return ours;
}

}  // namespace

Result<InterfaceXdp> XdpAttachment::inspect(const std::string& interface) {
  const int ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
  if (ifindex == 0) return make_error("no such interface", interface);
  bpf_xdp_query_opts query{};
  query.sz = sizeof(query);
  if (int err = bpf_xdp_query(ifindex, 0, &query); err != 0)
    return make_error(std::string("querying its XDP program: ") + std::strerror(-err), interface);
  InterfaceXdp found;
  switch (query.attach_mode) {
    case XDP_ATTACHED_NONE:
      return found;
    case XDP_ATTACHED_DRV:
      found.program_id = query.drv_prog_id;
      break;
    case XDP_ATTACHED_SKB:
      found.program_id = query.skb_prog_id;
      found.generic = true;
      break;
    default:  // offloaded, or programs in several modes at once: never ours
      found.program_id = query.prog_id ? query.prog_id : query.hw_prog_id;
      found.name = "(offloaded or in several modes)";
      return found;
  }
  auto name = program_name(found.program_id);
  if (!name) return make_error(name.error().what, interface);
  found.name = *name;
  found.ours = found.name == kProgramName ||
               (found.name == "xdp_dispatcher" && dispatches_only_ours(ifindex));
  return found;
}

Result<std::unique_ptr<XdpAttachment>> XdpAttachment::replace(int program_fd,
                                                              const std::string& interface,
                                                              const InterfaceXdp& old) {
  const int ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
  if (ifindex == 0) return make_error("no such interface", interface);
  ProgramFd old_fd(bpf_prog_get_fd_by_id(old.program_id));
  if (old_fd.get() < 0)
    return make_error("program id " + std::to_string(old.program_id) +
                          " to replace is gone: " + std::strerror(errno),
                      interface);
  xdp_program* program = xdp_program__from_fd(program_fd);
  if (long err = libxdp_get_error(program); err || !program)
    return make_error(
        std::string("libxdp cannot use the program: ") + std::strerror(static_cast<int>(-err)),
        interface);
  bpf_xdp_attach_opts opts{};
  opts.sz = sizeof(opts);
  opts.old_prog_fd = old_fd.get();
  const uint32_t flags =
      XDP_FLAGS_REPLACE | (old.generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
  if (int err = bpf_xdp_attach(ifindex, program_fd, flags, &opts); err != 0) {
    xdp_program__close(program);
    return make_error("replacing XDP program id " + std::to_string(old.program_id) + " (" +
                          (old.generic ? "generic" : "native") + " mode): " + std::strerror(-err),
                      interface);
  }
  return std::unique_ptr<XdpAttachment>(
      new XdpAttachment(program, interface, ifindex, old.generic));
}

XdpAttachment::~XdpAttachment() {
  // An interface deleted meanwhile took the program with it; its index may belong to another
  // interface by now, which must not lose its program.
  const bool still_there = if_nametoindex(interface_.c_str()) == static_cast<unsigned>(ifindex_);
  if (!keep_ && still_there)
    xdp_program__detach(program_, ifindex_, generic_ ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
  xdp_program__close(program_);
}

}  // namespace meridian::fastpath
