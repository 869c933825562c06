// Explain: one query evaluated against the pinned maps exactly as the XDP program evaluates it.
// This file takes the request apart (name, type, client address or ECS), finds the entry and
// hands it to the policy (explain_policy.cc) or negative (explain_negative.cc) explanation; the
// heartbeat decides last. The text form is explain_text.cc.
#include "inspect/explain.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "abi/heartbeat.h"
#include "abi/name_classes.h"
#include "dns/name.h"
#include "dns/types.h"
#include "inspect/explain_parts.h"
#include "inspect/map_decode.h"
#include "meridian_maps.h"

namespace meridian::inspect {

using json = nlohmann::ordered_json;

namespace detail {

NameMaps::NameMaps(const PinnedMaps& maps, uint32_t gen) {
  for (int c = 0; c < MDN_NAME_CLASSES; ++c) {
    auto outer = maps.map("mdn_names" + std::to_string(c));
    if (outer) inner_[c] = inner_map(outer->get(), gen);
  }
}

bool NameMaps::complete() const {
  return std::all_of(std::begin(inner_), std::end(inner_),
                     [](const MapFd& fd) { return fd.valid(); });
}

std::optional<mdn_answer> NameMaps::find(uint16_t qtype, const std::string& key) const {
  const int c = abi::name_class(key.size());
  if (c < 0 || !inner_[c].valid()) return std::nullopt;
  std::vector<uint8_t> k(2 + abi::name_class_size(c), 0);
  k[0] = static_cast<uint8_t>(qtype >> 8);
  k[1] = static_cast<uint8_t>(qtype);
  std::memcpy(k.data() + 2, key.data(), key.size());
  mdn_answer a;
  if (bpf_map_lookup_elem(inner_[c].get(), k.data(), &a) != 0) return std::nullopt;
  return a;
}

void pass_up(json& out, const std::string& reason) {
  out["verdict"] = "passed to userspace";
  out["reason"] = reason;
}

void answer(json& out, uint16_t flags, json records) {
  out["verdict"] = "answer";
  out["rcode"] = dns::rcode_to_text(flags & 0xf);
  out["aa"] = (flags & 0x0400) != 0;
  out["records"] = std::move(records);
}

}  // namespace detail

namespace {

// Parses "ADDR" into a prefix key's family and address.
bool parse_address(const std::string& text, mdn_prefix_key& key) {
  key = mdn_prefix_key{};
  if (inet_pton(AF_INET, text.c_str(), key.addr) == 1) {
    key.family = MDN_FAMILY_IPV4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), key.addr) == 1) {
    key.family = MDN_FAMILY_IPV6;
    return true;
  }
  return false;
}

// The explanation from the maps' data, as if meridiand's heartbeat were fresh.
Result<json> explain_data(const PinnedMaps& maps, const ExplainRequest& req) {
  auto usage = [](const std::string& what) {
    return with_code(make_error(what), Failure::kNotFound);
  };
  std::string text = req.name;
  if (text.empty() || text.back() != '.') text += '.';
  auto qname = dns::Name::from_text(text);
  if (!qname) return usage("not a domain name: " + req.name);
  auto qtype = dns::type_from_text(req.type);
  if (!qtype || *qtype == 0) return usage("unknown type: " + req.type);

  // The client address as the program takes it: ECS with a source prefix > 0, else the
  // packet's source address.
  detail::ExplainClient cl;
  json client = json::object();
  if (req.ecs) {
    const auto slash = req.ecs->find('/');
    mdn_prefix_key k;
    if (slash == std::string::npos || !parse_address(req.ecs->substr(0, slash), k))
      return usage("--ecs wants ADDRESS/LENGTH: " + *req.ecs);
    uint32_t len = 0;
    try {
      len = static_cast<uint32_t>(std::stoul(req.ecs->substr(slash + 1)));
    } catch (const std::exception&) {
      return usage("--ecs wants ADDRESS/LENGTH: " + *req.ecs);
    }
    if (len > mdn_family_bits(k.family)) return usage("--ecs prefix length too long: " + *req.ecs);
    cl.have_ecs = true;
    if (len > 0) {
      // A client sends only the source prefix's bits (RFC 7871): the rest are zero.
      for (uint32_t bit = len; bit < 128; ++bit)
        k.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
      cl.key = k;
      cl.source = len;
      cl.usable_ecs = true;
      client = {{"address", detail::client_prefix_text(k, len)}, {"from", "ECS"}};
    }
  }
  if (!cl.usable_ecs) {
    if (!req.client)
      return usage("--client ADDRESS is needed (or --ecs with a source prefix longer than 0)");
    if (!parse_address(*req.client, cl.key)) return usage("not an address: " + *req.client);
    cl.source = mdn_family_bits(cl.key.family);
    client = {{"address", *req.client}, {"from", "source address"}};
  }

  auto gen = maps.live_generation();
  if (!gen)
    return with_code(make_error("cannot read mdn_control in " + maps.dir()), Failure::kUnavailable);
  detail::NameMaps names(maps, *gen);
  if (!names.complete())
    return with_code(make_error("the name maps of generation " + std::to_string(*gen) +
                                " are missing in " + maps.dir() + " (no data published yet?)"),
                     Failure::kUnavailable);
  json out = {{"query", {{"name", qname->to_text()}, {"type", dns::type_to_text(*qtype)}}},
              {"client", client},
              {"generation", *gen}};
  const std::string key = qname->key();
  auto entry = names.find(*qtype, key);
  if (entry && entry->kind == MDN_ANSWER_STATIC) {
    out["entry"] = {{"kind", "static"}};
    if (entry->shuffle)
      out["entry"]["shuffled_records"] = entry->shuffle;  // sent in a random order (rule 1)
    out["ecs_scope"] = cl.have_ecs ? json(0) : json(nullptr);
    detail::answer(
        out, entry->flags,
        decode_sections(*qname, *qtype, entry->ancount, entry->nscount, entry->arcount,
                        std::span(entry->data, std::min<uint16_t>(entry->length, MDN_ANSWER_MAX))));
    return out;
  }
  if (entry && entry->kind == MDN_ANSWER_POLICY) {
    detail::explain_policy(out, maps, *gen, *entry, *qname, *qtype, cl);
    return out;
  }
  detail::explain_negative(out, names, *qname, *qtype);
  if (out["verdict"] == "answer") out["ecs_scope"] = cl.have_ecs ? json(0) : json(nullptr);
  return out;
}

}  // namespace

Result<json> explain(const PinnedMaps& maps, const ExplainRequest& req) {
  auto out = explain_data(maps, req);
  if (!out) return out;
  // A stale heartbeat sends every query up before the name lookup (bpf/dns_reply.h).
  auto control = maps.control();
  const auto beat = abi::heartbeat_of(control.value_or(mdn_control{}), abi::monotonic_ns());
  if (beat.stale) {
    for (const char* key : {"rcode", "aa", "records", "ecs_scope"}) out->erase(key);
    char reason[128];
    std::snprintf(reason, sizeof reason,
                  "meridiand's heartbeat is %.1f s old, past stale_after (%.0f s)",
                  beat.age_seconds, beat.stale_after_seconds);
    detail::pass_up(*out, reason);
  }
  return out;
}

}  // namespace meridian::inspect
