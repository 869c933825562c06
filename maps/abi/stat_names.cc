// Counter names, one per enum mdn_stat value, in enum order.
#include "abi/stat_names.h"

#include <array>

namespace meridian::abi {

namespace {

constexpr std::array<const char*, MDN_STAT_COUNT> kNames = {
    "packets",           "answered",      "pass_not_ip",    "pass_not_udp",   "pass_tcp",
    "pass_not_dns_port", "pass_fragment", "pass_malformed", "pass_not_query", "pass_unknown_option",
    "pass_edns_version", "pass_class",    "pass_name_miss", "pass_too_big",   "pass_no_data",
    "pass_ipv6_ext",     "error_adjust",  "error_store",    "hit_a",          "hit_aaaa",
    "hit_cname",         "hit_mx",        "hit_txt",        "hit_ns",         "hit_soa",
    "hit_srv",           "hit_other",     "hit_policy",     "pass_policy",    "rrl_dropped",
    "rrl_slipped",       "hit_nxdomain",  "hit_nodata",     "qlog_lost",      "pass_stale",
};

}  // namespace

const char* stat_name(size_t index) {
  return index < kNames.size() ? kNames[index] : "unknown";
}

}  // namespace meridian::abi
