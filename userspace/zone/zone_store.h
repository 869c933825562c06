// ZoneStore: holds the current ZoneSet snapshot; readers take a reference-counted snapshot per
// query batch, a reload swaps in a whole new snapshot atomically.
#pragma once

#include <atomic>
#include <memory>

#include "zone/zone_set.h"

namespace meridian::zone {

class ZoneStore {
 public:
  ZoneStore() : current_(std::make_shared<const ZoneSet>()) {}

  std::shared_ptr<const ZoneSet> snapshot() const {
    return current_.load(std::memory_order_acquire);
  }
  void replace(std::shared_ptr<const ZoneSet> next) {
    current_.store(std::move(next), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const ZoneSet>> current_;
};

}  // namespace meridian::zone
