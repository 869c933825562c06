// Name size classes: which of the program's name maps (mdn_names0..3) holds a wire name.
#pragma once

#include <cstddef>

#include "meridian_maps.h"

namespace meridian::abi {

// Size class of a wire name length (1..255): the name map it lives in; -1 when none fits.
int name_class(size_t wire_length);
// The name bytes of a key in class `name_class` (0..3, as name_class() returns it).
size_t name_class_size(int name_class);

}  // namespace meridian::abi
