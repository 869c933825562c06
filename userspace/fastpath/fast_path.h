// FastPath: the daemon's handle on the XDP fast path — the loaded program, its attachments and
// publication of the zones' answers — behind three calls: start, publish, and destruction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "answer/responder.h"
#include "common/result.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/map_writer.h"
#include "fastpath/policy_compiler.h"
#include "fastpath/xdp_attachment.h"
#include "fastpath/xdp_program.h"
#include "policy/gslb_inputs.h"
#include "zone/zone_set.h"

namespace meridian::fastpath {

struct FastPathSettings {
  std::vector<std::string> interfaces;
  AttachMode mode = AttachMode::kAuto;
  std::string pin_dir;  // bpffs directory for the maps; empty: not pinned
  uint32_t max_entries_per_class = 1u << 20;
  std::vector<uint16_t> dns_ports = {53};
  uint16_t advertised_udp_payload = 1232;
  bool keep_attached_on_exit = false;  // leave the program answering after meridiand exits
  // Heartbeat age past which the program passes every query up (0: never), see set_stale_after.
  std::chrono::milliseconds stale_after{30000};
};

struct PublishReport {
  CompileStats compiled;
  PolicyCompileStats policy;
  size_t geo_prefixes = 0;  // entries written to the geolocation table (0: unchanged)
  PublishResult published;
  // Lines to log: takeovers of programs left by an earlier meridiand, done after this publish,
  // and interfaces attached again after they were deleted and created again.
  std::vector<std::string> notes;
  // Lines to log as warnings: interfaces gone, or back but not attached.
  std::vector<std::string> warnings;
};

// Mounts bpffs when this mount namespace has none and creates the pin directory (mode 0700),
// which must then be a directory. FastPath::start does it too.
Status prepare_pin_dir(const std::string& pin_dir);

class FastPath {
 public:
  // Loads the program and attaches it to every interface. An interface that already carries
  // the fast path (left attached by an earlier meridiand) is not attached yet: the old program
  // keeps answering until the first publish() has filled this program's maps, which then puts
  // this program in its place (takeover). An interface with any other XDP program is an error:
  // it is never replaced. `warnings` collects what to log.
  static Result<std::unique_ptr<FastPath>> start(const FastPathSettings& settings,
                                                 std::vector<std::string>* warnings);
  ~FastPath();  // stops the heartbeat, then detaches (unless kept)
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  // Compiles the answers of `zones` with `responder` and publishes them atomically, then takes
  // over the interfaces still carrying an earlier meridiand's program (see start()). Then checks
  // the interfaces: one deleted since is reported, one deleted and created again under the same
  // name gets the program attached again (nothing watches the links between publishes).
  Result<PublishReport> publish(const zone::ZoneSet& zones, const answer::Responder& responder);

  // Writes the current state of `slot` in `view` to the health map: called after each change
  // of the view. Reads the view under the lock, so a publish copying every slot at the same time
  // can never leave an older state behind.
  Status update_health(const policy::HealthView& view, uint32_t slot);

  // Response rate limiting in the program: the same settings as the userspace server's.
  Status configure_rrl(const mdn_rrl_config& config, const std::vector<policy::IpPrefix>& allow) {
    return writer_.write_rrl(config, allow);
  }

  // Query log sampling: the program writes one XDP answer in `one_in_n` (0: off) to the ring
  // buffer query_log_ring_fd(). Publishes keep it; a pinned mdn_control also keeps it across
  // restarts, so call this at every start, with 0 too.
  Status set_query_log_sample(uint32_t one_in_n) { return writer_.set_query_log_sample(one_in_n); }
  // The mdn_qlog ring buffer (BPF_MAP_TYPE_RINGBUF of struct mdn_qlog_event), for an
  // XdpQueryLogReader; owned by the program, valid while this FastPath lives.
  int query_log_ring_fd() const { return program_->map_fds().qlog; }

  // The heartbeat (docs/fastpath.md, "A dead daemon's fast path"): from the first publish on, a
  // thread writes CLOCK_MONOTONIC and `stale_after` to mdn_control every min(1 s, stale_after/3);
  // once the program finds it older than stale_after it passes every query up. Not before the
  // first publish: a program left by a dead meridiand, stale already, must not answer its old
  // data again while this one starts. Stops with this FastPath, so a program kept attached after
  // exit goes stale too. A new value is written at once (reloads); 0: never stale.
  void set_stale_after(std::chrono::milliseconds stale_after);
  // mdn_control as the program reads it: generation, query log rate, heartbeat.
  Result<mdn_control> control() const { return writer_.read_control(); }

  Result<std::array<uint64_t, MDN_STAT_COUNT>> stats() const { return writer_.read_stats(); }
  const std::vector<std::unique_ptr<XdpAttachment>>& attachments() const { return attachments_; }

 private:
  struct Takeover {
    std::string interface;
    InterfaceXdp old;
  };
  Status take_over(std::vector<std::string>* notes);
  void recheck_interfaces(PublishReport* report);
  // Writes the heartbeat now (after the first publish only; heartbeat_mutex_ held); logs when
  // writing starts or stops failing.
  void beat();
  void run_heartbeat();

  FastPath(std::unique_ptr<XdpProgram> program, uint32_t max_entries)
      : program_(std::move(program)), writer_(program_->map_fds(), max_entries) {}

  std::unique_ptr<XdpProgram> program_;
  MapWriter writer_;
  std::vector<std::unique_ptr<XdpAttachment>> attachments_;
  std::vector<Takeover> takeovers_;  // interfaces waiting for the first publish
  bool keep_attached_ = false;
  // The GeoIP database whose table is in the maps (written again only when it changes).
  const geo::GeoDatabase* geo_published_ = nullptr;
  bool geo_written_ = false;
  std::mutex health_mutex_;
  AttachMode mode_ = AttachMode::kAuto;  // for attaching again to a recreated interface
  // The heartbeat thread and what it writes (under heartbeat_mutex_).
  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_wake_;
  std::chrono::milliseconds stale_after_{30000};
  bool published_ = false;    // the first publish is done: beat
  bool heartbeat_ok_ = true;  // the last write worked (failures are logged when they start)
  bool stopping_ = false;
  std::thread heartbeat_;
};

}  // namespace meridian::fastpath
