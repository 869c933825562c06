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
  event.question = false;
  event.qname = dns::Name();
  if (info.question) {
    // Read again here rather than kept by the Responder: only observed queries pay for it.
    dns::WireReader reader(query);
    reader.seek(dns::kHeaderSize);
    dns::Name name = dns::Name::read(reader);
    if (reader.ok()) {
      event.question = true;
      event.qname = std::move(name);
    }
  }
  event.qtype = event.question ? info.qtype : 0;
  event.rcode = info.rcode;
  event.truncated = info.truncated || rrl_slipped;
  event.rrl_slipped = rrl_slipped;
  event.ecs = info.ecs;
  event.zone_origin = info.zone ? &info.zone->origin() : nullptr;
}

}  // namespace meridian::server
