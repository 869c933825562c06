// The canonical form: sorted where the config's order does not matter to answers.
#include "fleet/local_inputs.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace meridian::fleet {

std::string local_inputs_digest(const config::DaemonConfig& c) {
  using nlohmann::json;
  json cidr = json::object();
  for (const auto& [id, blocks] : c.cidr_collections) {
    json list = json::array();
    for (const auto& b : blocks) list.push_back(json::array({b.prefix, b.location}));
    cidr[id] = list;
  }
  json latency = json::array();
  for (const auto& row : c.latency_table)
    latency.push_back(json::array({row.prefix, row.region, row.ms}));
  json regions = json::array();
  for (const auto& r : c.regions) regions.push_back(json::array({r.name, r.latitude, r.longitude}));
  std::sort(regions.begin(), regions.end());
  json all_down = json::array();
  for (const auto& d : c.all_down)
    all_down.push_back(json::array({d.name.to_text(), d.type, static_cast<int>(d.mode)}));
  std::sort(all_down.begin(), all_down.end());
  const auto& r = c.rrl;
  json rrl = json::array({r.responses_per_second, r.burst, r.slip, r.ipv4_prefix_length,
                          r.ipv6_prefix_length, r.allow, r.table_size});
  const std::string text = json{
      {"cidr_collections", cidr},
      {"latency_table", latency},
      {"regions", regions},
      {"all_down", all_down},
      {"rrl", rrl}}.dump();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < 8 && i < length; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

}  // namespace meridian::fleet
