// Route 53 JSON text for tests and benches: one record set with a single value, the SOA, NS and
// name server address of a zone, and the list of sets as a ResourceRecordSets document.
#pragma once

#include <string>
#include <vector>

namespace meridian::testing {

// {"Name": name, "Type": type, "TTL": 60, <extra>, "ResourceRecords": [{"Value": value}]};
// `extra` holds the routing-policy fields ("SetIdentifier", "Weight", ...).
inline std::string route53_set(const std::string& name, const std::string& extra,
                               const std::string& value, const std::string& type = "A") {
  return R"({"Name": ")" + name + R"(", "Type": ")" + type + R"(", "TTL": 60, )" + extra +
         R"(, "ResourceRecords": [{"Value": ")" + value + R"("}]})";
}

// SOA, NS (ns1.<origin>) and ns1's address for `origin` ("example.com.").
inline std::vector<std::string> route53_apex(const std::string& origin,
                                             const std::string& ns_address) {
  return {R"({"Name": ")" + origin + R"(", "Type": "SOA", "TTL": 900, "ResourceRecords": [{"Value":
         "ns1.)" +
              origin + " hostmaster." + origin + R"( 1 7200 900 1209600 300"}]})",
          R"({"Name": ")" + origin + R"(", "Type": "NS", "TTL": 3600,
          "ResourceRecords": [{"Value": "ns1.)" +
              origin + R"("}]})",
          R"({"Name": "ns1.)" + origin + R"(", "Type": "A", "TTL": 3600,
          "ResourceRecords": [{"Value": ")" +
              ns_address + R"("}]})"};
}

inline std::string route53_document(const std::vector<std::string>& sets) {
  std::string out = R"({"ResourceRecordSets": [)";
  for (size_t i = 0; i < sets.size(); ++i) out += (i ? ",\n" : "") + sets[i];
  return out + "]}";
}

}  // namespace meridian::testing
