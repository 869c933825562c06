// Checks the map layouts in maps/meridian_maps.h as the BPF compiler laid them out (read from the
// built object's BTF) against the C++ compiler's view of the same header: sizes and every field
// offset must agree, or the kernel and meridiand would read each other's bytes differently.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "meridian_maps.h"
#include "meridian_xdp.skel.h"

namespace {

struct ObjectCloser {
  void operator()(bpf_object* obj) const { bpf_object__close(obj); }
};

// Layout of one struct as BTF describes it: size and byte offset of each member by name.
struct BtfLayout {
  size_t size = 0;
  std::map<std::string, size_t> offsets;
};

class BtfLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    size_t size = 0;
    const void* elf = meridian_xdp::elf_bytes(&size);
    // Opening (not loading) the embedded object needs no privileges.
    object_.reset(bpf_object__open_mem(elf, size, nullptr));
    ASSERT_NE(object_, nullptr) << "cannot open the embedded XDP object";
    btf_ = bpf_object__btf(object_.get());
    ASSERT_NE(btf_, nullptr) << "the XDP object carries no BTF";
  }

  BtfLayout layout(const char* struct_name) const {
    BtfLayout out;
    const int id = btf__find_by_name_kind(btf_, struct_name, BTF_KIND_STRUCT);
    if (id < 0) return out;
    const btf_type* t = btf__type_by_id(btf_, id);
    out.size = t->size;
    const btf_member* m = btf_members(t);
    for (unsigned i = 0; i < btf_vlen(t); ++i, ++m)
      out.offsets[btf__name_by_offset(btf_, m->name_off)] = btf_member_bit_offset(t, i) / 8;
    return out;
  }

  std::unique_ptr<bpf_object, ObjectCloser> object_;
  const btf* btf_ = nullptr;
};

TEST_F(BtfLayoutTest, AnswerValue) {
  const BtfLayout l = layout("mdn_answer");
  ASSERT_EQ(l.size, sizeof(mdn_answer)) << "mdn_answer missing from BTF or of another size";
  EXPECT_EQ(l.offsets.size(), 11u);
  EXPECT_EQ(l.offsets.at("flags"), offsetof(mdn_answer, flags));
  EXPECT_EQ(l.offsets.at("ancount"), offsetof(mdn_answer, ancount));
  EXPECT_EQ(l.offsets.at("nscount"), offsetof(mdn_answer, nscount));
  EXPECT_EQ(l.offsets.at("arcount"), offsetof(mdn_answer, arcount));
  EXPECT_EQ(l.offsets.at("length"), offsetof(mdn_answer, length));
  EXPECT_EQ(l.offsets.at("kind"), offsetof(mdn_answer, kind));
  EXPECT_EQ(l.offsets.at("shuffle"), offsetof(mdn_answer, shuffle));
  EXPECT_EQ(l.offsets.at("shuffle_at"), offsetof(mdn_answer, shuffle_at));
  EXPECT_EQ(l.offsets.at("reserved"), offsetof(mdn_answer, reserved));
  EXPECT_EQ(l.offsets.at("csum"), offsetof(mdn_answer, csum));
  EXPECT_EQ(l.offsets.at("data"), offsetof(mdn_answer, data));
}

TEST_F(BtfLayoutTest, ControlValue) {
  const BtfLayout l = layout("mdn_control");
  ASSERT_EQ(l.size, sizeof(mdn_control));
  EXPECT_EQ(l.offsets.size(), 4u);
  EXPECT_EQ(l.offsets.at("generation"), offsetof(mdn_control, generation));
  EXPECT_EQ(l.offsets.at("qlog_sample"), offsetof(mdn_control, qlog_sample));
  EXPECT_EQ(l.offsets.at("heartbeat_ns"), offsetof(mdn_control, heartbeat_ns));
  EXPECT_EQ(l.offsets.at("stale_after_ns"), offsetof(mdn_control, stale_after_ns));
}

template <typename Key>
void expect_name_key(const BtfLayout& l, const char* name) {
  ASSERT_EQ(l.size, sizeof(Key)) << name;
  EXPECT_EQ(l.offsets.size(), 2u) << name;
  EXPECT_EQ(l.offsets.at("qtype"), offsetof(Key, qtype)) << name;
  EXPECT_EQ(l.offsets.at("name"), offsetof(Key, name)) << name;
}

TEST_F(BtfLayoutTest, NameKeys) {
  expect_name_key<mdn_name_key0>(layout("mdn_name_key0"), "mdn_name_key0");
  expect_name_key<mdn_name_key1>(layout("mdn_name_key1"), "mdn_name_key1");
  expect_name_key<mdn_name_key2>(layout("mdn_name_key2"), "mdn_name_key2");
  expect_name_key<mdn_name_key3>(layout("mdn_name_key3"), "mdn_name_key3");
}

// The routing-policy values: every member's offset, and the nested group layout.
#define EXPECT_MEMBER(layout, type, member) \
  EXPECT_EQ((layout).offsets.at(#member), offsetof(type, member)) << #type "." #member

TEST_F(BtfLayoutTest, PolicyValues) {
  const BtfLayout fragment = layout("mdn_fragment");
  ASSERT_EQ(fragment.size, sizeof(mdn_fragment));
  EXPECT_EQ(fragment.offsets.size(), 7u);
  EXPECT_MEMBER(fragment, mdn_fragment, ancount);
  EXPECT_MEMBER(fragment, mdn_fragment, nscount);
  EXPECT_MEMBER(fragment, mdn_fragment, length);
  EXPECT_MEMBER(fragment, mdn_fragment, csum);
  EXPECT_MEMBER(fragment, mdn_fragment, data);

  const BtfLayout entry = layout("mdn_group_entry");
  ASSERT_EQ(entry.size, sizeof(mdn_group_entry));
  EXPECT_MEMBER(entry, mdn_group_entry, group);
  EXPECT_MEMBER(entry, mdn_group_entry, nodata);
  const BtfLayout group = layout("mdn_group");
  ASSERT_EQ(group.size, sizeof(mdn_group));
  EXPECT_MEMBER(group, mdn_group, policy);
  EXPECT_MEMBER(group, mdn_group, all_down);
  EXPECT_MEMBER(group, mdn_group, count);
  EXPECT_MEMBER(group, mdn_group, collection);
  EXPECT_MEMBER(group, mdn_group, candidates);
  const BtfLayout cand = layout("mdn_candidate");
  ASSERT_EQ(cand.size, sizeof(mdn_candidate));
  EXPECT_MEMBER(cand, mdn_candidate, record_set);
  EXPECT_MEMBER(cand, mdn_candidate, health);
  EXPECT_MEMBER(cand, mdn_candidate, location);
  EXPECT_MEMBER(cand, mdn_candidate, point);
  EXPECT_MEMBER(cand, mdn_candidate, weight);
  EXPECT_MEMBER(cand, mdn_candidate, role);
  EXPECT_MEMBER(cand, mdn_candidate, bias);

  const BtfLayout key = layout("mdn_prefix_key");
  ASSERT_EQ(key.size, sizeof(mdn_prefix_key));
  EXPECT_MEMBER(key, mdn_prefix_key, prefixlen);
  EXPECT_MEMBER(key, mdn_prefix_key, table);
  EXPECT_MEMBER(key, mdn_prefix_key, family);
  EXPECT_MEMBER(key, mdn_prefix_key, addr);
  const BtfLayout value = layout("mdn_prefix_value");
  ASSERT_EQ(value.size, sizeof(mdn_prefix_value));
  EXPECT_MEMBER(value, mdn_prefix_value, client);
  EXPECT_MEMBER(value, mdn_prefix_value, value);
  EXPECT_MEMBER(value, mdn_prefix_value, scope);
  const BtfLayout client = layout("mdn_client");
  ASSERT_EQ(client.size, sizeof(mdn_client));
  EXPECT_MEMBER(client, mdn_client, continent);
  EXPECT_MEMBER(client, mdn_client, country);
  EXPECT_MEMBER(client, mdn_client, subdivision);
  EXPECT_MEMBER(client, mdn_client, has_point);
  EXPECT_MEMBER(client, mdn_client, point);
  EXPECT_MEMBER(client, mdn_client, latency_profile);
  const BtfLayout latency = layout("mdn_latency_key");
  ASSERT_EQ(latency.size, sizeof(mdn_latency_key));
  EXPECT_MEMBER(latency, mdn_latency_key, profile);
  EXPECT_MEMBER(latency, mdn_latency_key, region);
}

// The negative entry's part of mdn_answer.data (bpf/negative.h reads it at MDN_NEG_AT).
TEST_F(BtfLayoutTest, NegativeValue) {
  const BtfLayout neg = layout("mdn_negative");
  ASSERT_EQ(neg.size, sizeof(mdn_negative));
  EXPECT_EQ(neg.offsets.size(), 12u);
  EXPECT_MEMBER(neg, mdn_negative, types);
  EXPECT_MEMBER(neg, mdn_negative, nodata);
  EXPECT_MEMBER(neg, mdn_negative, npointers);
  EXPECT_MEMBER(neg, mdn_negative, nx_length);
  EXPECT_MEMBER(neg, mdn_negative, nx_flags);
  EXPECT_MEMBER(neg, mdn_negative, nx_nscount);
  EXPECT_MEMBER(neg, mdn_negative, nx_qname_len);
  EXPECT_MEMBER(neg, mdn_negative, nx_csum);
  EXPECT_MEMBER(neg, mdn_negative, pointers);
  EXPECT_MEMBER(neg, mdn_negative, unsafe);
  EXPECT_MEMBER(neg, mdn_negative, nx_data);
  EXPECT_EQ(MDN_NEG_AT + sizeof(mdn_negative), static_cast<size_t>(MDN_ANSWER_MAX));
}

// The query log event (bpf/query_log.h writes it to mdn_qlog; XdpQueryLogReader reads it).
TEST_F(BtfLayoutTest, QueryLogEvent) {
  const BtfLayout e = layout("mdn_qlog_event");
  ASSERT_EQ(e.size, sizeof(mdn_qlog_event)) << "mdn_qlog_event missing from BTF or of another size";
  EXPECT_EQ(e.offsets.size(), 13u);
  EXPECT_MEMBER(e, mdn_qlog_event, timestamp_ns);
  EXPECT_MEMBER(e, mdn_qlog_event, family);
  EXPECT_MEMBER(e, mdn_qlog_event, kind);
  EXPECT_MEMBER(e, mdn_qlog_event, rcode);
  EXPECT_MEMBER(e, mdn_qlog_event, ecs_family);
  EXPECT_MEMBER(e, mdn_qlog_event, ecs_source);
  EXPECT_MEMBER(e, mdn_qlog_event, pad);
  EXPECT_MEMBER(e, mdn_qlog_event, qtype);
  EXPECT_MEMBER(e, mdn_qlog_event, client);
  EXPECT_MEMBER(e, mdn_qlog_event, ecs_addr);
  EXPECT_MEMBER(e, mdn_qlog_event, name_len);
  EXPECT_MEMBER(e, mdn_qlog_event, pad2);
  EXPECT_MEMBER(e, mdn_qlog_event, qname);
}

}  // namespace
