// RDATA wire handling: expansion of embedded names on read, RFC 3597 compression on write.
#include "dns/rdata.h"

#include "dns/types.h"
#include "dns/wire_reader.h"
#include "dns/wire_writer.h"

namespace meridian::dns {

namespace {

void append(std::vector<uint8_t>& out, const Name& n) {
  auto w = n.wire();
  out.insert(out.end(), w.begin(), w.end());
}

void append_bytes(std::vector<uint8_t>& out, std::span<const uint8_t> b) {
  out.insert(out.end(), b.begin(), b.end());
}

}  // namespace

std::vector<uint8_t> read_rdata(WireReader& reader, uint16_t type, uint16_t rdlength) {
  const size_t start = reader.position();
  const size_t end = start + rdlength;
  if (rdlength > reader.remaining()) {
    reader.fail();
    return {};
  }
  std::vector<uint8_t> out;
  auto name_field = [&] {
    Name n = Name::read(reader);
    if (reader.ok()) append(out, n);
  };
  switch (type) {
    case rrtype::A:
      if (rdlength != 4) reader.fail();
      append_bytes(out, reader.bytes(rdlength));
      break;
    case rrtype::AAAA:
      if (rdlength != 16) reader.fail();
      append_bytes(out, reader.bytes(rdlength));
      break;
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
      name_field();
      break;
    case rrtype::MX:
      append_bytes(out, reader.bytes(2));
      name_field();
      break;
    case rrtype::SRV:
      append_bytes(out, reader.bytes(6));
      name_field();
      break;
    case rrtype::SOA:
      name_field();
      name_field();
      append_bytes(out, reader.bytes(20));
      break;
    case rrtype::TXT: {
      if (rdlength == 0) reader.fail();
      while (reader.ok() && reader.position() < end) {
        const uint8_t len = reader.u8();
        out.push_back(len);
        append_bytes(out, reader.bytes(len));
      }
      break;
    }
    default:
      append_bytes(out, reader.bytes(rdlength));
      break;
  }
  if (reader.ok() && reader.position() != end) reader.fail();
  if (!reader.ok()) return {};
  return out;
}

void write_rdata(WireWriter& writer, uint16_t type, std::span<const uint8_t> rdata) {
  // Layout of the compressible types: bytes before the names, how many names, bytes after.
  size_t prefix = 0, suffix = 0;
  int count = 0;
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
      count = 1;
      break;
    case rrtype::MX:
      prefix = 2;
      count = 1;
      break;
    case rrtype::SOA:
      count = 2;
      suffix = 20;
      break;
    default:
      break;
  }
  std::vector<Name> names;
  if (count > 0) {
    WireReader r(rdata);
    r.skip(prefix);
    for (int i = 0; i < count && r.ok(); ++i) names.push_back(Name::read(r));
    r.skip(suffix);
    if (!r.ok() || !r.at_end()) names.clear();  // not well formed: written as opaque bytes
  }
  const size_t len_at = writer.size();
  writer.u16(0);
  const size_t start = writer.size();
  if (names.empty()) {
    writer.bytes(rdata);
  } else {
    writer.bytes(rdata.subspan(0, prefix));
    for (const Name& n : names) writer.name(n, true);
    writer.bytes(rdata.subspan(rdata.size() - suffix));
  }
  if (!writer.overflow()) writer.patch_u16(len_at, static_cast<uint16_t>(writer.size() - start));
}

std::optional<Name> rdata_target_name(uint16_t type, std::span<const uint8_t> rdata) {
  size_t skip = 0;
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
      skip = 0;
      break;
    case rrtype::MX:
      skip = 2;
      break;
    case rrtype::SRV:
      skip = 6;
      break;
    default:
      return std::nullopt;
  }
  if (rdata.size() <= skip) return std::nullopt;
  WireReader r(rdata.subspan(skip));
  Name n = Name::read(r);
  if (!r.ok()) return std::nullopt;
  return n;
}

std::optional<SoaFields> parse_soa(std::span<const uint8_t> rdata) {
  WireReader r(rdata);
  SoaFields soa;
  soa.mname = Name::read(r);
  soa.rname = Name::read(r);
  soa.serial = r.u32();
  soa.refresh = r.u32();
  soa.retry = r.u32();
  soa.expire = r.u32();
  soa.minimum = r.u32();
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return soa;
}

std::vector<uint8_t> build_soa(const SoaFields& soa) {
  std::vector<uint8_t> out;
  append(out, soa.mname);
  append(out, soa.rname);
  for (uint32_t v : {soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum})
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  return out;
}

}  // namespace meridian::dns
