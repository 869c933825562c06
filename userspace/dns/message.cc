// Message parsing with error classification, and the record/OPT writers.
#include "dns/message.h"

#include "dns/rdata.h"
#include "dns/wire_reader.h"
#include "dns/wire_writer.h"

namespace meridian::dns {

const char* parse_error_name(ParseError e) {
  switch (e) {
    case ParseError::kNone:
      return "none";
    case ParseError::kTooShort:
      return "too-short";
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadName:
      return "bad-name";
    case ParseError::kBadPointer:
      return "bad-pointer";
    case ParseError::kBadRdata:
      return "bad-rdata";
    case ParseError::kTrailingData:
      return "trailing-data";
    case ParseError::kMultipleOpt:
      return "multiple-opt";
    case ParseError::kOptNotRoot:
      return "opt-not-root";
    case ParseError::kOptNotInAdditional:
      return "opt-not-in-additional";
    case ParseError::kBadOption:
      return "bad-option";
    case ParseError::kBadEcs:
      return "bad-ecs";
    case ParseError::kBadCookie:
      return "bad-cookie";
  }
  return "unknown";
}

namespace {

// Classifies why a name at `pos` failed to read: truncation, a pointer problem, or a bad label.
ParseError classify_name_error(std::span<const uint8_t> msg, size_t pos) {
  size_t lowest = pos;
  size_t total = 0;
  for (int guard = 0; guard < 256; ++guard) {
    if (pos >= msg.size()) return ParseError::kTruncated;
    const uint8_t len = msg[pos];
    if (len == 0) return ParseError::kBadName;  // read failed for length reasons
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= msg.size()) return ParseError::kTruncated;
      const size_t target = static_cast<size_t>(((len & 0x3f) << 8) | msg[pos + 1]);
      if (target >= lowest) return ParseError::kBadPointer;
      lowest = target;
      pos = target;
      continue;
    }
    if (len & 0xc0) return ParseError::kBadName;
    total += 1 + len;
    if (total + 1 > kMaxNameWire) return ParseError::kBadName;
    if (pos + 1 + len > msg.size()) return ParseError::kTruncated;
    pos += 1 + len;
  }
  return ParseError::kBadPointer;
}

ParseError parse_ecs(std::span<const uint8_t> data, EcsOption& ecs) {
  if (data.size() < 4) return ParseError::kBadEcs;
  ecs.family = static_cast<uint16_t>((data[0] << 8) | data[1]);
  ecs.source_prefix = data[2];
  ecs.scope_prefix = data[3];
  const size_t max_bits = ecs.family == 1 ? 32 : ecs.family == 2 ? 128 : 0;
  if (max_bits == 0 || ecs.source_prefix > max_bits) return ParseError::kBadEcs;
  const size_t alen = data.size() - 4;
  if (alen != (static_cast<size_t>(ecs.source_prefix) + 7) / 8) return ParseError::kBadEcs;
  if (alen > 0 && (ecs.source_prefix & 7) != 0) {
    const uint8_t mask = static_cast<uint8_t>(0xff >> (ecs.source_prefix & 7));
    if (data[3 + alen] & mask) return ParseError::kBadEcs;
  }
  ecs.address_length = static_cast<uint8_t>(alen);
  for (size_t i = 0; i < alen; ++i) ecs.address[i] = data[4 + i];
  return ParseError::kNone;
}

ParseError parse_opt_rdata(std::span<const uint8_t> rdata, Edns& edns) {
  WireReader r(rdata);
  while (!r.at_end()) {
    const uint16_t code = r.u16();
    const uint16_t len = r.u16();
    auto data = r.bytes(len);
    if (!r.ok()) return ParseError::kBadOption;
    switch (code) {
      case edns_option::ECS: {
        if (edns.ecs) return ParseError::kBadEcs;  // two ECS options
        EcsOption ecs;
        if (ParseError e = parse_ecs(data, ecs); e != ParseError::kNone) return e;
        edns.ecs = ecs;
        break;
      }
      case edns_option::COOKIE:
        if (len != 8 && (len < 16 || len > 40)) return ParseError::kBadCookie;
        if (!edns.cookie) edns.cookie = std::vector<uint8_t>(data.begin(), data.end());
        break;
      case edns_option::NSID:
        edns.nsid_requested = true;
        break;
      case edns_option::PADDING:
        edns.padding_present = true;
        break;
      default:
        edns.other_options.push_back(EdnsOptionRaw{code, {data.begin(), data.end()}});
        break;
    }
  }
  return ParseError::kNone;
}

}  // namespace

ParseResult parse_message(std::span<const uint8_t> wire) {
  ParseResult res;
  Message& m = res.message;
  if (wire.size() < kHeaderSize) {
    res.error = ParseError::kTooShort;
    return res;
  }
  WireReader r(wire);
  m.header.id = r.u16();
  m.header.flags = r.u16();
  m.header.qdcount = r.u16();
  m.header.ancount = r.u16();
  m.header.nscount = r.u16();
  m.header.arcount = r.u16();
  res.header_ok = true;

  auto fail = [&](ParseError e, size_t at) {
    res.error = e;
    res.error_offset = at;
    return res;
  };

  // Each question needs at least 5 bytes, each RR 11: counts larger than the packet can hold
  // are caught before any allocation.
  const size_t min_needed = size_t{m.header.qdcount} * 5 +
                            (size_t{m.header.ancount} + m.header.nscount + m.header.arcount) * 11;
  if (min_needed > r.remaining()) return fail(ParseError::kTruncated, r.position());

  m.questions.reserve(m.header.qdcount);
  for (uint16_t i = 0; i < m.header.qdcount; ++i) {
    const size_t at = r.position();
    Question q;
    q.qname = Name::read(r);
    if (!r.ok()) return fail(classify_name_error(wire, at), at);
    q.qtype = r.u16();
    q.qclass = r.u16();
    if (!r.ok()) return fail(ParseError::kTruncated, at);
    m.questions.push_back(std::move(q));
  }
  m.question_end = r.position();

  auto read_section = [&](uint16_t count, std::vector<ResourceRecord>& out,
                          bool additional) -> ParseError {
    for (uint16_t i = 0; i < count; ++i) {
      const size_t at = r.position();
      res.error_offset = at;
      ResourceRecord rr;
      rr.owner = Name::read(r);
      if (!r.ok()) return classify_name_error(wire, at);
      rr.type = r.u16();
      rr.rclass = r.u16();
      rr.ttl = r.u32();
      const uint16_t rdlength = r.u16();
      if (!r.ok() || rdlength > r.remaining()) return ParseError::kTruncated;
      if (rr.type == rrtype::OPT) {
        if (!additional) return ParseError::kOptNotInAdditional;
        if (m.edns) return ParseError::kMultipleOpt;
        if (!rr.owner.is_root()) return ParseError::kOptNotRoot;
        Edns edns;
        edns.udp_payload = rr.rclass;
        edns.extended_rcode = static_cast<uint8_t>(rr.ttl >> 24);
        edns.version = static_cast<uint8_t>((rr.ttl >> 16) & 0xff);
        edns.flags = static_cast<uint16_t>(rr.ttl & 0xffff);
        auto rdata = r.bytes(rdlength);
        if (ParseError e = parse_opt_rdata(rdata, edns); e != ParseError::kNone) {
          m.edns = std::move(edns);  // known to be an EDNS query: the FORMERR carries OPT
          return e;
        }
        m.edns = std::move(edns);
        continue;
      }
      rr.rdata = read_rdata(r, rr.type, rdlength);
      if (!r.ok()) return ParseError::kBadRdata;
      out.push_back(std::move(rr));
    }
    return ParseError::kNone;
  };

  if (ParseError e = read_section(m.header.ancount, m.answers, false); e != ParseError::kNone)
    return fail(e, res.error_offset);
  if (ParseError e = read_section(m.header.nscount, m.authority, false); e != ParseError::kNone)
    return fail(e, res.error_offset);
  if (ParseError e = read_section(m.header.arcount, m.additional, true); e != ParseError::kNone)
    return fail(e, res.error_offset);
  if (!r.at_end()) return fail(ParseError::kTrailingData, r.position());
  res.error_offset = 0;
  return res;
}

void write_header(WireWriter& writer, const Header& h) {
  writer.u16(h.id);
  writer.u16(h.flags);
  writer.u16(h.qdcount);
  writer.u16(h.ancount);
  writer.u16(h.nscount);
  writer.u16(h.arcount);
}

void write_record(WireWriter& writer, const Name& owner, uint16_t type, uint16_t rclass,
                  uint32_t ttl, std::span<const uint8_t> rdata) {
  writer.name(owner, true);
  writer.u16(type);
  writer.u16(rclass);
  writer.u32(ttl);
  write_rdata(writer, type, rdata);
}

void write_record(WireWriter& writer, const ResourceRecord& rr) {
  write_record(writer, rr.owner, rr.type, rr.rclass, rr.ttl, rr.rdata);
}

size_t opt_size(const ReplyEdns& edns) {
  size_t n = 11;
  if (edns.ecs) n += 4 + 4 + edns.ecs->address_length;
  if (edns.cookie) n += 4 + edns.cookie->size();
  if (edns.nsid) n += 4 + edns.nsid->size();
  return n;
}

// Option order: ECS, COOKIE, NSID. The XDP fast path writes the same order.
void write_opt(WireWriter& writer, const ReplyEdns& edns) {
  writer.u8(0);  // root owner
  writer.u16(rrtype::OPT);
  writer.u16(edns.udp_payload);
  writer.u8(edns.extended_rcode);
  writer.u8(0);  // version
  writer.u16(edns.do_bit ? kEdnsDoBit : 0);
  writer.u16(static_cast<uint16_t>(opt_size(edns) - 11));
  if (edns.ecs) {
    const EcsOption& e = *edns.ecs;
    writer.u16(edns_option::ECS);
    writer.u16(static_cast<uint16_t>(4 + e.address_length));
    writer.u16(e.family);
    writer.u8(e.source_prefix);
    writer.u8(e.scope_prefix);
    writer.bytes(std::span<const uint8_t>(e.address.data(), e.address_length));
  }
  if (edns.cookie) {
    writer.u16(edns_option::COOKIE);
    writer.u16(static_cast<uint16_t>(edns.cookie->size()));
    writer.bytes(*edns.cookie);
  }
  if (edns.nsid) {
    writer.u16(edns_option::NSID);
    writer.u16(static_cast<uint16_t>(edns.nsid->size()));
    writer.bytes(*edns.nsid);
  }
}

}  // namespace meridian::dns
