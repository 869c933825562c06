// Counter names, one per enum mdn_stat value, in enum order.
#include "abi/stat_names.h"

#include <array>

namespace meridian::abi {

namespace {

constexpr std::array<const char*, MDN_STAT_COUNT> kNames = {
    "packets",
    "answered",
    "pass_not_ip",
    "pass_not_udp",
    "pass_tcp",
    "pass_not_dns_port",
    "pass_fragment",
    "pass_malformed",
    "pass_not_query",
    "pass_unknown_option",
    "pass_edns_version",
    "pass_class",
    "pass_name_miss",
    "pass_too_big",
    "pass_no_data",
    "pass_ipv6_ext",
    "pass_frame_grow",
    "error_store",
    "hit_a",
    "hit_aaaa",
    "hit_cname",
    "hit_mx",
    "hit_txt",
    "hit_ns",
    "hit_soa",
    "hit_srv",
    "hit_other",
    "hit_policy",
    "pass_policy",
    "rrl_dropped",
    "rrl_slipped",
    "hit_nxdomain",
    "hit_nodata",
    "qlog_lost",
    "pass_stale",
};

}  // namespace

const char* stat_name(size_t index) {
  return index < kNames.size() ? kNames[index] : "unknown";
}

bool is_query_pass(size_t index) {
  switch (index) {
    case MDN_STAT_PASS_MALFORMED:
    case MDN_STAT_PASS_NOT_QUERY:
    case MDN_STAT_PASS_UNKNOWN_OPTION:
    case MDN_STAT_PASS_EDNS_VERSION:
    case MDN_STAT_PASS_CLASS:
    case MDN_STAT_PASS_NAME_MISS:
    case MDN_STAT_PASS_TOO_BIG:
    case MDN_STAT_PASS_NO_DATA:
    case MDN_STAT_PASS_FRAME_GROW:
    case MDN_STAT_PASS_POLICY:
    case MDN_STAT_PASS_STALE:
      return true;
    default:
      return false;
  }
}

}  // namespace meridian::abi
