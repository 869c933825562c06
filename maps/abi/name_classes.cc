// Name size classes: C++ names for the rule in meridian_maps.h (mdn_name_class), which the XDP
// program runs too.
#include "abi/name_classes.h"

#include <cstdint>

namespace meridian::abi {

int name_class(size_t wire_length) {
  if (wire_length > MDN_NAME_CLASS3) return -1;
  return static_cast<int>(mdn_name_class(static_cast<uint32_t>(wire_length)));
}

size_t name_class_size(int name_class) {
  return mdn_name_class_size(static_cast<uint32_t>(name_class));
}

}  // namespace meridian::abi
