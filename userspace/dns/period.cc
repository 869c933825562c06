// The one reader of "1h30m"-style periods, for master-file TTLs and SOA timers.
#include "dns/period.h"

#include <cctype>

namespace meridian::dns {

PeriodStatus parse_period_seconds(std::string_view text, bool unit_needs_number,
                                  uint32_t* seconds) {
  uint64_t total = 0, cur = 0;
  bool digits = false;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      cur = cur * 10 + static_cast<uint64_t>(c - '0');
      digits = true;
      if (cur > 0xffffffffull) return PeriodStatus::kTooLarge;
      continue;
    }
    uint64_t mult = 0;
    switch (std::tolower(static_cast<unsigned char>(c))) {
      case 's':
        mult = 1;
        break;
      case 'm':
        mult = 60;
        break;
      case 'h':
        mult = 3600;
        break;
      case 'd':
        mult = 86400;
        break;
      case 'w':
        mult = 604800;
        break;
      default:
        return PeriodStatus::kBad;
    }
    if (unit_needs_number && !digits) return PeriodStatus::kBad;
    total += cur * mult;
    cur = 0;
    digits = false;
  }
  total += cur;
  if (total > 0xffffffffull) return PeriodStatus::kTooLarge;
  *seconds = static_cast<uint32_t>(total);
  return PeriodStatus::kOk;
}

}  // namespace meridian::dns
