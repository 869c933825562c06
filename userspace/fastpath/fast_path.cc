// FastPath: load, attach, publish; detaches (unless kept) when destroyed.
#include "fastpath/fast_path.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>

namespace meridian::fastpath {

namespace {

// mkdir -p for the pin directory inside bpffs.
Status make_directories(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string part = path.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return make_error(std::string("creating the pin directory: ") + std::strerror(errno), part);
  }
  return Ok{};
}

// Pinning needs bpffs at /sys/fs/bpf; mount it when this mount namespace has none (fresh hosts,
// `ip netns exec`, which remounts /sys).
Status ensure_bpffs(const std::string& pin_dir) {
  const std::string root = "/sys/fs/bpf";
  if (pin_dir.rfind(root + "/", 0) != 0) return Ok{};
  struct statfs fs {};
  if (statfs(root.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC) return Ok{};
  if (mount("bpf", root.c_str(), "bpf", 0, nullptr) != 0)
    return make_error(std::string("mounting bpffs: ") + std::strerror(errno), root);
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<FastPath>> FastPath::start(const FastPathSettings& settings,
                                                  std::vector<std::string>* warnings) {
  if (!settings.pin_dir.empty()) {
    if (auto s = ensure_bpffs(settings.pin_dir); !s) return s.error();
    if (auto s = make_directories(settings.pin_dir); !s) return s.error();
  }
  XdpSettings xdp;
  xdp.dns_ports = settings.dns_ports;
  xdp.advertised_udp_payload = settings.advertised_udp_payload;
  xdp.pin_dir = settings.pin_dir;
  auto program = XdpProgram::load(xdp);
  if (!program) return program.error();
  std::unique_ptr<FastPath> fp(
      new FastPath(std::move(program).value(), settings.max_entries_per_class));
  for (const auto& interface : settings.interfaces) {
    std::string note;
    auto attached =
        XdpAttachment::attach(fp->program_->program_fd(), interface, settings.mode, &note);
    if (!attached) return attached.error();
    if (!note.empty() && warnings) warnings->push_back(note);
    if (settings.keep_attached_on_exit) (*attached)->keep_attached();
    fp->attachments_.push_back(std::move(attached).value());
  }
  return fp;
}

Result<PublishReport> FastPath::publish(const zone::ZoneSet& zones,
                                        const answer::Responder& responder) {
  PublishReport report;
  AnswerCompiler compiler(responder);
  const auto entries = compiler.compile(zones, &report.compiled);
  auto published = writer_.publish(entries);
  if (!published) return published.error();
  report.published = *published;
  return report;
}

}  // namespace meridian::fastpath
