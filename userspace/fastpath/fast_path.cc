// FastPath: load, attach, publish; detaches (unless kept) when destroyed.
#include "fastpath/fast_path.h"

#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "abi/heartbeat.h"
#include "policy/decision_table.h"
#include "policy/gslb_engine.h"

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

Status prepare_pin_dir(const std::string& pin_dir) {
  if (auto s = ensure_bpffs(pin_dir); !s) return s.error();
  if (auto s = make_directories(pin_dir); !s) return s.error();
  // mkdir reports EEXIST for anything at the path; a pinned map or program there would fail
  // the load with a bare "Not a directory".
  struct stat st {};
  if (stat(pin_dir.c_str(), &st) != 0)
    return make_error(std::string("pin_dir: ") + std::strerror(errno), pin_dir);
  if (!S_ISDIR(st.st_mode))
    return make_error("pin_dir is not a directory (a pinned BPF object is there)", pin_dir);
  return Ok{};
}

Result<std::unique_ptr<FastPath>> FastPath::start(const FastPathSettings& settings,
                                                  std::vector<std::string>* warnings) {
  if (!settings.pin_dir.empty()) {
    if (auto s = prepare_pin_dir(settings.pin_dir); !s) return s.error();
  }
  // Before loading: a foreign program is refused without touching the pins.
  std::vector<InterfaceXdp> found;
  for (const auto& interface : settings.interfaces) {
    auto existing = XdpAttachment::inspect(interface);
    if (!existing) return existing.error();
    if (existing->program_id != 0 && !existing->ours)
      return make_error("another XDP program is attached (\"" + existing->name + "\", id " +
                            std::to_string(existing->program_id) +
                            "); meridiand replaces only its own program, detach it first",
                        interface);
    found.push_back(*existing);
  }
  XdpSettings xdp;
  xdp.dns_ports = settings.dns_ports;
  xdp.advertised_udp_payload = settings.advertised_udp_payload;
  xdp.pin_dir = settings.pin_dir;
  auto program = XdpProgram::load(xdp, warnings);
  if (!program) return program.error();
  std::unique_ptr<FastPath> fp(
      new FastPath(std::move(program).value(), settings.max_entries_per_class));
  fp->keep_attached_ = settings.keep_attached_on_exit;
  fp->mode_ = settings.mode;
  for (size_t i = 0; i < settings.interfaces.size(); ++i) {
    const auto& interface = settings.interfaces[i];
    if (found[i].ours) {
      // Replaced in the mode it is attached in: the kernel refuses a native and a generic
      // program on one interface, so switching modes would need a gap.
      const AttachMode wanted = found[i].generic ? AttachMode::kGeneric : AttachMode::kNative;
      if (warnings) {
        warnings->push_back(interface + " carries meridian's XDP program id " +
                            std::to_string(found[i].program_id) + " (" +
                            (found[i].generic ? "generic" : "native") +
                            " mode), left by an earlier meridiand; it keeps answering until this "
                            "one's answers are published, then it is replaced");
        if (settings.mode != AttachMode::kAuto && settings.mode != wanted)
          warnings->push_back(interface + ": keeping the " +
                              (found[i].generic ? "generic" : "native") +
                              " mode of the program being replaced; restart with \"on_exit\": "
                              "\"detach\" to change modes");
      }
      fp->takeovers_.push_back({interface, found[i]});
      continue;
    }
    std::string note;
    auto attached =
        XdpAttachment::attach(fp->program_->program_fd(), interface, settings.mode, &note);
    if (!attached) return attached.error();  // detaches the ones attached so far
    if (!note.empty() && warnings) warnings->push_back(note);
    fp->attachments_.push_back(std::move(attached).value());
  }
  // Only now: had a later interface failed, the earlier ones must not stay attached.
  if (fp->keep_attached_)
    for (auto& a : fp->attachments_) a->keep_attached();
  fp->stale_after_ = settings.stale_after;
  fp->heartbeat_ = std::thread(&FastPath::run_heartbeat, fp.get());
  return fp;
}

FastPath::~FastPath() {
  {
    std::lock_guard<std::mutex> lock(heartbeat_mutex_);
    stopping_ = true;
  }
  heartbeat_wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void FastPath::set_stale_after(std::chrono::milliseconds stale_after) {
  std::lock_guard<std::mutex> lock(heartbeat_mutex_);
  stale_after_ = stale_after;
  beat();
  heartbeat_wake_.notify_all();  // the period follows stale_after
}

// Called with heartbeat_mutex_ held.
void FastPath::beat() {
  if (!published_) return;
  const auto stale_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(stale_after_).count();
  auto s = writer_.write_heartbeat(abi::monotonic_ns(), static_cast<uint64_t>(stale_ns));
  if (s.ok() == heartbeat_ok_) return;
  heartbeat_ok_ = s.ok();
  auto log = spdlog::get("fastpath");
  if (!log) log = spdlog::default_logger();
  if (!s)
    log->error(
        "XDP heartbeat not written, the program stops answering {} ms after the last one: {}",
        stale_after_.count(), s.error().to_string());
  else
    log->info("XDP heartbeat written again");
}

void FastPath::run_heartbeat() {
  std::unique_lock<std::mutex> lock(heartbeat_mutex_);
  while (!stopping_) {
    beat();
    auto period = std::chrono::milliseconds(1000);
    if (stale_after_.count() > 0)
      period = std::clamp(stale_after_ / 3, std::chrono::milliseconds(10), period);
    heartbeat_wake_.wait_for(lock, period);  // an early wake (stop, new value) only beats early
  }
}

Status FastPath::take_over(std::vector<std::string>* notes) {
  while (!takeovers_.empty()) {
    const Takeover& t = takeovers_.front();
    auto attached = XdpAttachment::replace(program_->program_fd(), t.interface, t.old);
    if (!attached) return attached.error();  // the old program stays; the next publish retries
    if (keep_attached_) (*attached)->keep_attached();
    notes->push_back("XDP program id " + std::to_string(program_->program_id()) +
                     " replaced meridian's program id " + std::to_string(t.old.program_id) +
                     " on " + t.interface + " (" + (t.old.generic ? "generic" : "native") +
                     " mode)");
    attachments_.push_back(std::move(attached).value());
    takeovers_.erase(takeovers_.begin());
  }
  return Ok{};
}

Result<PublishReport> FastPath::publish(const zone::ZoneSet& zones,
                                        const answer::Responder& responder) {
  PublishReport report;
  AnswerCompiler compiler(responder);
  auto entries = compiler.compile(zones, &report.compiled);
  PolicyTables policy;
  PolicyCompiler(responder).compile(zones, entries, policy, &report.policy);
  const policy::GslbEngine* engine = policy::gslb_engine(zones);
  // The geolocation table before the generation that reads it; only when one does (a large
  // database takes a second or more to write).
  const geo::GeoDatabase* db = engine ? engine->table().geo() : nullptr;
  if (policy.needs_geo && (!geo_written_ || db != geo_published_)) {
    auto geo = compile_geo_table(db);
    if (!geo) return geo.error();
    if (auto s = writer_.publish_geo(*geo); !s) return s.error();
    geo_published_ = db;
    geo_written_ = true;
    report.geo_prefixes = geo->size();
  }
  if (const policy::HealthView* view = engine ? engine->table().health() : nullptr)
    for (uint32_t slot = 0; slot < view->size(); ++slot)
      if (auto s = update_health(*view, slot); !s) return s.error();
  auto published = writer_.publish(entries, policy);
  if (!published) return published.error();
  report.published = *published;
  {
    // From now on the maps hold this daemon's answers: its heartbeat may make them live, before
    // the takeover below puts this program on the interfaces.
    std::lock_guard<std::mutex> lock(heartbeat_mutex_);
    published_ = true;
    beat();
  }
  // The maps hold this configuration's answers: only now may this program answer in place of
  // an earlier meridiand's.
  if (auto s = take_over(&report.notes); !s) return s.error();
  recheck_interfaces(&report);
  return report;
}

Status FastPath::update_health(const policy::HealthView& view, uint32_t slot) {
  std::lock_guard<std::mutex> lock(health_mutex_);
  return writer_.write_health(slot, view.healthy(slot));
}

void FastPath::recheck_interfaces(PublishReport* report) {
  for (auto& a : attachments_) {
    const std::string& name = a->interface();
    const int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
    if (ifindex == a->ifindex()) continue;
    const std::string was = " (it was ifindex " + std::to_string(a->ifindex()) + ")";
    if (ifindex == 0) {
      report->warnings.push_back("XDP: interface " + name + " is gone" + was +
                                 "; its program went with it. Once it is back, reload "
                                 "(SIGHUP) to attach the program again; until then userspace "
                                 "answers whatever arrives on it");
      continue;
    }
    const std::string back = "XDP: interface " + name + " was deleted and created again" + was;
    const std::string now =
        " (ifindex " + std::to_string(a->ifindex()) + ", now " + std::to_string(ifindex) + ")";
    auto existing = XdpAttachment::inspect(name);
    if (!existing) {
      report->warnings.push_back(
          back + "; not attached, userspace serves it: " + existing.error().to_string());
      continue;
    }
    if (existing->program_id != 0) {
      report->warnings.push_back(back + " and carries XDP program \"" + existing->name + "\" (id " +
                                 std::to_string(existing->program_id) +
                                 "); not attached, userspace serves it");
      continue;
    }
    std::string fallback;
    auto attached = XdpAttachment::attach(program_->program_fd(), name, mode_, &fallback);
    if (!fallback.empty()) report->warnings.push_back(fallback);
    if (!attached) {
      report->warnings.push_back(
          back + "; not attached, userspace serves it: " + attached.error().to_string());
      continue;
    }
    if (keep_attached_) (*attached)->keep_attached();
    report->notes.push_back("XDP program attached to " + name + " (" +
                            ((*attached)->generic() ? "generic" : "native") +
                            " mode): the interface was deleted and created again" + now);
    a = std::move(attached).value();
  }
}

}  // namespace meridian::fastpath
