// Explain for names without an entry of their type: NODATA and NXDOMAIN replayed from the
// negative entries with the program's own rules (maps/meridian_negative.h, as bpf/negative.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "dns/types.h"
#include "inspect/explain_parts.h"
#include "inspect/map_decode.h"
#include "meridian_negative.h"

namespace meridian::inspect::detail {

using json = nlohmann::ordered_json;

namespace {

mdn_negative negative_of(const mdn_answer& a) {
  mdn_negative n{};
  std::memcpy(&n, a.data + MDN_NEG_AT, sizeof(n));
  return n;
}

}  // namespace

void explain_negative(json& out, const NameMaps& names, const dns::Name& qname, uint16_t qtype) {
  const std::string key = qname.key();
  if (mdn_neg_special_qtype(qtype))
    return pass_up(out,
                   "name miss: " + dns::type_to_text(qtype) + " queries are answered by userspace");
  if (auto a = names.find(0, key)) {
    const mdn_negative n = negative_of(*a);
    out["entry"] = {{"kind", "negative"}, {"name_exists", true}};
    if (!mdn_neg_has_nodata(&*a, &n))
      return pass_up(out, "name miss: the name exists but has no NODATA answer in the maps");
    if (mdn_neg_lists_type(&n, qtype))
      return pass_up(out, "name miss: the name has " + dns::type_to_text(qtype) +
                              " data whose answer stayed in userspace");
    out["negative"] = "NODATA";
    return answer(out, a->flags,
                  decode_sections(qname, qtype, a->ancount, a->nscount, a->arcount,
                                  std::span(a->data, a->length)));
  }
  // The walk up to the closest encloser, one label per step, in a buffer laid out as the
  // program's key (room for the word moves of mdn_neg_strip_label).
  uint8_t name[MDN_NAME_CLASS3 + 8] = {};
  std::memcpy(name, key.data(), std::min(key.size(), sizeof(name) - 8));
  uint32_t len = static_cast<uint32_t>(key.size());
  __u64 child = 0;
  std::optional<mdn_answer> found;
  for (int step = 0; step < MDN_NEG_WALK_STEPS && !found; ++step) {
    len = mdn_neg_strip_label(name, len, &child);
    if (!len) break;
    found = names.find(0, std::string(reinterpret_cast<const char*>(name), len));
  }
  if (!found)
    return pass_up(out, "name miss: neither the name nor an ancestor within " +
                            std::to_string(MDN_NEG_WALK_STEPS) + " labels is in the maps");
  const std::string encloser = wire_name_text(std::span<const uint8_t>(name, len));
  out["entry"] = {{"kind", "negative"}, {"name_exists", false}, {"closest_encloser", encloser}};
  const mdn_negative n = negative_of(*found);
  const uint32_t nx_length = mdn_neg_nx_length(&*found, &n);
  if (!nx_length)
    return pass_up(
        out, "name miss: the closest encloser " + encloser + " has no NXDOMAIN answer in the maps");
  if (mdn_neg_child_unsafe(&n, child))
    return pass_up(out,
                   "name miss: a name in the NXDOMAIN answer would compress against this "
                   "query's labels");
  std::vector<uint8_t> data(n.nx_data, n.nx_data + nx_length);
  const int delta = static_cast<int>(key.size()) - static_cast<int>(n.nx_qname_len);
  for (uint32_t i = 0; i < n.npointers && i < MDN_NEG_POINTERS; ++i) {
    const uint32_t at = n.pointers[i];
    if (at + 2 > data.size()) return pass_up(out, "name miss: bad NXDOMAIN entry");
    const uint32_t nv =
        mdn_neg_moved_pointer(static_cast<uint32_t>(data[at]) << 8 | data[at + 1], delta);
    if (!nv) return pass_up(out, "name miss: bad NXDOMAIN entry");
    data[at] = static_cast<uint8_t>(nv >> 8);
    data[at + 1] = static_cast<uint8_t>(nv);
  }
  out["negative"] = "NXDOMAIN";
  answer(out, n.nx_flags, decode_sections(qname, qtype, 0, n.nx_nscount, 0, data));
}

}  // namespace meridian::inspect::detail
