// Name size classes, in the order of the MDN_NAME_CLASS constants.
#include "abi/name_classes.h"

#include <array>

namespace meridian::abi {

namespace {

constexpr std::array<size_t, MDN_NAME_CLASSES> kClassSizes = {MDN_NAME_CLASS0, MDN_NAME_CLASS1,
                                                              MDN_NAME_CLASS2, MDN_NAME_CLASS3};

}  // namespace

int name_class(size_t wire_length) {
  for (int c = 0; c < MDN_NAME_CLASSES; ++c)
    if (wire_length <= kClassSizes[c]) return c;
  return -1;
}

size_t name_class_size(int c) {
  return kClassSizes.at(static_cast<size_t>(c));
}

}  // namespace meridian::abi
