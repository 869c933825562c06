// Responder: the authoritative answer logic. Turns one query message into one reply message (or a
// decision to drop it) from a ZoneSet snapshot, exactly as docs/conformance.md describes.
// Routing-policy groups are answered through the GslbEngine attached to the snapshot
// (userspace/policy, docs/gslb.md); without one they answer as if they had no data.
// No exceptions, no locks; safe to call concurrently from many workers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <sys/socket.h>

#include "dns/message.h"
#include "zone/zone_set.h"

namespace meridian::answer {

struct ResponderConfig {
  uint16_t advertised_udp_payload = 1232;    // our OPT payload size; also caps UDP replies
  std::optional<std::vector<uint8_t>> nsid;  // returned when a client asks (RFC 5001)
  // Spec rule 1: the values of a simple RRset answering the query come in a random order in
  // each answer. Off only for tests and tools that need one fixed byte sequence per answer.
  bool shuffle_rrsets = true;
};

enum class Transport : uint8_t { kUdp, kTcp };

struct QueryContext {
  Transport transport = Transport::kUdp;
  sockaddr_storage client{};  // resolver source address (family AF_INET/AF_INET6)
};

enum class Disposition : uint8_t { kReply, kDrop };

// What happened, for stats and logs. Stable values.
struct AnswerInfo {
  uint16_t rcode = 0;
  uint16_t qtype = 0;
  bool truncated = false;
  bool authoritative = false;
  // A routing policy took part (directly or through a CNAME/alias): the answer may differ per
  // client, so it must never be cached or compiled as one answer for everyone.
  bool policy = false;
  // For query logs: the question parsed (qtype is its type; its QNAME reads with Name::read at
  // offset 12); the zone that answered, if one did (it lives in the ZoneSet the reply was built
  // from); the query's ECS option, if well formed.
  bool question = false;
  const zone::Zone* zone = nullptr;
  std::optional<dns::EcsOption> ecs;
};

class Responder {
 public:
  explicit Responder(ResponderConfig config) : config_(std::move(config)) {}

  // Builds the reply to `query` into `reply` (cleared first). Returns kDrop when no reply must be
  // sent (shorter than a header, QR=1). `info`, when given, describes the outcome.
  Disposition respond(const zone::ZoneSet& zones, std::span<const uint8_t> query,
                      const QueryContext& ctx, std::vector<uint8_t>& reply,
                      AnswerInfo* info = nullptr) const;

  const ResponderConfig& config() const { return config_; }

 private:
  ResponderConfig config_;
};

}  // namespace meridian::answer
