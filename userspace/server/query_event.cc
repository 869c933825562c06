// QueryEvent from a query and the Responder's AnswerInfo.
#include "server/query_event.h"

#include "dns/types.h"
#include "dns/wire_reader.h"

namespace meridian::server {

void fill_query_event(QueryEvent& event, std::span<const uint8_t> query,
                      const answer::AnswerInfo& info, const sockaddr_storage& client,
                      answer::Transport transport, bool rrl_slipped) {
  event.client = client;
  event.transport = transport;
  event.question = info.question;
  event.query = query;
  event.qtype = info.question ? info.qtype : 0;
  event.rcode = info.rcode;
  event.truncated = info.truncated || rrl_slipped;
  event.rrl_slipped = rrl_slipped;
  event.ecs = info.ecs;
  event.zone_origin = info.zone ? &info.zone->origin() : nullptr;
}

std::optional<dns::Name> query_name(const QueryEvent& event) {
  if (!event.question) return std::nullopt;
  dns::WireReader reader(event.query);
  reader.seek(dns::kHeaderSize);
  dns::Name name = dns::Name::read(reader);
  if (!reader.ok()) return std::nullopt;
  return name;
}

}  // namespace meridian::server
