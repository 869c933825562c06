// XdpAttachment: the loaded program attached to one network interface through libxdp, detached
// when destroyed (unless told to leave it). Native mode first; generic (SKB) mode as a configured
// choice or, in "auto", as a fallback with a logged warning.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

struct xdp_program;

namespace meridian::fastpath {

enum class AttachMode { kNative, kGeneric, kAuto };
Result<AttachMode> attach_mode_from_text(const std::string& text);

class XdpAttachment {
 public:
  // Attaches the program `program_fd` to `interface`. `note` receives a warning to log when auto
  // mode fell back to generic mode.
  static Result<std::unique_ptr<XdpAttachment>> attach(int program_fd, const std::string& interface,
                                                       AttachMode mode, std::string* note);
  ~XdpAttachment();
  XdpAttachment(const XdpAttachment&) = delete;
  XdpAttachment& operator=(const XdpAttachment&) = delete;

  const std::string& interface() const { return interface_; }
  bool generic() const { return generic_; }
  // Leave the program attached when this object goes away (the maps stay pinned).
  void keep_attached() { keep_ = true; }

 private:
  XdpAttachment(xdp_program* program, std::string interface, int ifindex, bool generic)
      : program_(program), interface_(std::move(interface)), ifindex_(ifindex), generic_(generic) {}
  xdp_program* program_;
  std::string interface_;
  int ifindex_;
  bool generic_;
  bool keep_ = false;
};

}  // namespace meridian::fastpath
