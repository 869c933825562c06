// XdpAttachment: the loaded program attached to one network interface through libxdp, detached
// when destroyed (unless told to leave it). Native mode first; generic (SKB) mode as a configured
// choice or, in "auto", as a fallback with a logged warning.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

struct xdp_program;

namespace meridian::fastpath {

enum class AttachMode { kNative, kGeneric, kAuto };
Result<AttachMode> attach_mode_from_text(const std::string& text);

// The kernel's program name of the fast path (bpf/meridian_xdp.bpf.c's entry point): how a
// program left attached by an earlier meridiand is recognised.
inline constexpr const char* kProgramName = "meridian_xdp";

// What an interface carries before meridiand attaches.
struct InterfaceXdp {
  uint32_t program_id = 0;  // 0: no XDP program attached
  std::string name;         // the attached program's name (the dispatcher's, under libxdp)
  bool generic = false;     // attached in generic (SKB) mode
  bool ours = false;        // the fast path, alone (directly or as libxdp's only dispatched one)
};

class XdpAttachment {
 public:
  // Attaches the program `program_fd` to `interface`. `note` receives a warning to log when auto
  // mode fell back to generic mode.
  static Result<std::unique_ptr<XdpAttachment>> attach(int program_fd, const std::string& interface,
                                                       AttachMode mode, std::string* note);
  // Reads which XDP program `interface` carries, and whether it is the fast path.
  static Result<InterfaceXdp> inspect(const std::string& interface);

  // Puts `program_fd` in place of the program `old` reported by inspect(), in one kernel
  // operation (XDP_FLAGS_REPLACE): every packet meets either the old or the new program, never
  // none. Fails (changing nothing) if the interface no longer carries `old`.
  static Result<std::unique_ptr<XdpAttachment>> replace(int program_fd,
                                                        const std::string& interface,
                                                        const InterfaceXdp& old);

  ~XdpAttachment();
  XdpAttachment(const XdpAttachment&) = delete;
  XdpAttachment& operator=(const XdpAttachment&) = delete;

  const std::string& interface() const { return interface_; }
  bool generic() const { return generic_; }
  // The interface's index when attached: a different index under the same name means it was
  // deleted and created again (without the program), none that it is gone.
  int ifindex() const { return ifindex_; }
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
