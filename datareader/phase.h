// The four run modes of the original (train / valid / test / infer): one enum for the readers
// (vc::data::Phase) and the application layer (vc::app::Mode is the same type).
#pragma once

namespace vc::data {

enum class Phase { kTrain = 0, kValid = 1, kTest = 2, kInfer = 3 };
/// "train" / "valid" / "test" / "infer".
const char* to_string(Phase p);

}  // namespace vc::data
