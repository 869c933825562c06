// QueryEvent: what the server tells its observer (query logs, counters) about each query it
// answered.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "answer/responder.h"
#include "dns/message.h"
#include "dns/name.h"

namespace meridian::server {

struct QueryEvent {
  sockaddr_storage client{};  // the resolver's address and port
  answer::Transport transport = answer::Transport::kUdp;
  bool question = false;           // the question parsed: qtype is its, qname() reads it
  std::span<const uint8_t> query;  // the query as received (valid during the call only)
  uint16_t qtype = 0;
  uint16_t rcode = 0;                 // the reply's (12 bits, with EDNS's extended rcode)
  bool truncated = false;             // TC: the answer did not fit, or the reply was slipped
  bool rrl_slipped = false;           // rate limited: a TC=1 reply was sent instead of the answer
  std::optional<dns::EcsOption> ecs;  // the query's ECS option, if well formed
  // The origin of the zone that answered; null when none did (REFUSED, FORMERR, ...). Valid
  // during the call only.
  const dns::Name* zone_origin = nullptr;
};

// The question's name, case as sent, read from the query on demand (only a query log needs it,
// counters do not); nullopt when the question did not parse.
std::optional<dns::Name> query_name(const QueryEvent& event);

// Called on the worker threads, concurrently, once per query answered (after its reply was
// queued): it must be thread-safe and quick.
using QueryObserver = std::function<void(const QueryEvent&)>;

// Fills `event` for `query`, answered as `info` says, from `client` over `transport`.
void fill_query_event(QueryEvent& event, std::span<const uint8_t> query,
                      const answer::AnswerInfo& info, const sockaddr_storage& client,
                      answer::Transport transport, bool rrl_slipped);

}  // namespace meridian::server
