// HealthView: check id -> slot registration (locked, rare) and lock-free state reads per query.
#include "policy/gslb_inputs.h"

namespace meridian::policy {

HealthView::HealthView(uint32_t capacity)
    : capacity_(capacity), states_(new std::atomic<uint8_t>[capacity]) {
  for (uint32_t i = 0; i < capacity_; ++i) states_[i].store(1, std::memory_order_relaxed);
}

uint32_t HealthView::slot_of(const std::string& check_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(check_id);
  if (it != slots_.end()) return it->second;
  const uint32_t slot = used_.load(std::memory_order_relaxed);
  if (slot >= capacity_) return kNoSlot;
  slots_.emplace(check_id, slot);
  used_.store(slot + 1, std::memory_order_release);
  return slot;
}

std::optional<uint32_t> HealthView::find(const std::string& check_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(check_id);
  if (it == slots_.end()) return std::nullopt;
  return it->second;
}

void HealthView::set(const std::string& check_id, bool healthy) {
  const uint32_t slot = slot_of(check_id);
  if (slot == kNoSlot) return;
  states_[slot].store(healthy ? 1 : 0, std::memory_order_relaxed);
}

}  // namespace meridian::policy
