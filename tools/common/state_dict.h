// Moved: the weight readers live in tools/common/weights/ (library vc_weights).
#pragma once

#include "tools/common/weights/state_dict.h"  // IWYU pragma: export
