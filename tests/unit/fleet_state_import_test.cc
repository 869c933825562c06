// The import's transactions (fleet/state_import.h): everything in one when it fits etcd's limits,
// else batches within both limits and the head alone, last; a value no transaction can hold is
// refused with its key.
#include "fleet/state_import.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::fleet {
namespace {

ImportPlan plan_of(size_t keys, size_t value_bytes) {
  ImportPlan plan;
  for (size_t i = 0; i < keys; ++i)
    plan.puts.push_back(
        EtcdOp::put("/m/state/zones/Z" + std::to_string(i), std::string(value_bytes, 'x')));
  plan.head = EtcdOp::put("/m/state/head", "{}");
  return plan;
}

size_t bytes_of(const std::vector<EtcdOp>& ops) {
  size_t n = 0;
  for (const auto& op : ops) n += op.key.size() + op.value.size();
  return n;
}

TEST(StateImportTest, EverythingInOneTransactionWhenItFits) {
  auto txns = import_transactions(plan_of(127, 100), ImportLimits{});
  ASSERT_TRUE(txns.ok()) << txns.error().to_string();
  ASSERT_EQ(txns->size(), 1u);
  EXPECT_EQ(txns->front().size(), 128u);
  EXPECT_EQ(txns->front().back().key, "/m/state/head");
}

TEST(StateImportTest, PastMaxOpsBatchesThenTheHeadAlone) {
  // 128 keys and the head do not fit 128 operations.
  auto txns = import_transactions(plan_of(128, 100), ImportLimits{});
  ASSERT_TRUE(txns.ok());
  ASSERT_EQ(txns->size(), 3u);
  // A batch is compared on its own keys and the head: at most max_ops - 1 keys.
  EXPECT_EQ((*txns)[0].size(), 127u);
  EXPECT_EQ((*txns)[1].size(), 1u);
  ASSERT_EQ((*txns)[2].size(), 1u);
  EXPECT_EQ((*txns)[2][0].key, "/m/state/head");
  size_t keys = 0;
  for (size_t i = 0; i + 1 < txns->size(); ++i) {
    for (const auto& op : (*txns)[i]) EXPECT_NE(op.key, "/m/state/head");
    keys += (*txns)[i].size();
  }
  EXPECT_EQ(keys, 128u);
}

TEST(StateImportTest, PastMaxBytesBatchesWithinTheLimit) {
  ImportLimits limits{128, 10000};
  auto txns = import_transactions(plan_of(10, 3000), limits);
  ASSERT_TRUE(txns.ok());
  // Three values of ~3 KB per 10 KB batch (3 + 3 + 3 + 1), then the head.
  ASSERT_EQ(txns->size(), 5u);
  for (const auto& t : *txns) EXPECT_LE(bytes_of(t), limits.max_bytes);
}

TEST(StateImportTest, AValueLargerThanATransactionIsRefusedWithItsKey) {
  auto txns = import_transactions(plan_of(3, 20000), ImportLimits{128, 10000});
  ASSERT_FALSE(txns.ok());
  EXPECT_EQ(txns.error().where, "/m/state/zones/Z0");
  EXPECT_NE(txns.error().what.find("--max-request-bytes"), std::string::npos);
}

TEST(StateImportTest, AnEmptyDatabaseIsTheHeadAlone) {
  auto txns = import_transactions(plan_of(0, 0), ImportLimits{});
  ASSERT_TRUE(txns.ok());
  ASSERT_EQ(txns->size(), 1u);
  EXPECT_EQ(txns->front().size(), 1u);
}

}  // namespace
}  // namespace meridian::fleet
