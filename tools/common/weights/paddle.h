// Reading PaddlePaddle Fluid weights (spec §7): the per-variable directories that
// fluid.io.save_persistables / save_params write (what the 2019 model tarballs hold), and the
// single-file `.pdparams` of fluid.save / paddle.save (from v1.6). Names come back exactly as
// Paddle wrote them (`conv1_weights`, `fc_0.w_0`, `@LR_DECAY_COUNTER@`, optimizer accumulators
// included); name_map.h turns them into ours.
#pragma once

#include <string>

#include "tools/common/weights/state_dict.h"

namespace vc::app {

/// Reads Paddle weights, sorted by variable name for a directory, in file order for .pdparams.
///
/// `dir_or_file` is one of
///  - a directory: every regular file in it is one variable named by the file name (names may
///    contain '.' and '@'), a serialized LoDTensor (spec §7, little-endian): uint32 version 0,
///    uint64 lod_level and per level (uint64 byte size, offsets), uint32 tensor version 0, int32
///    desc size, a proto2 TensorDesc (data_type varint; dims as unpacked or packed int64), then
///    the C-order data. Element types BOOL, INT16, INT32, INT64, FP16, FP32, FP64, UINT8, INT8.
///    LoD offsets are validated and dropped (parameters have none). A sub-directory is an error
///    (Paddle never writes one; it usually means the parent of the weight folder was given), as
///    is an empty directory;
///  - a `.pdparams` file (or a path prefix P with P.pdparams present, as fluid.load takes): a
///    pickle of {name: numpy array} (protocol 2 as Paddle 1.6-1.8 wrote it; later protocols work
///    too), possibly nesting the dict under "state_dict"; Paddle 2's bookkeeping entries
///    ("StructuredToParameterName@@", ...) are skipped and (name, array) tuples are accepted.
///
/// Throws vc::app::IoError naming the file and variable: missing path, wrong version, absurd or
/// negative sizes/dims, unknown data type, data shorter than the dims imply (truncated), bytes
/// after the data, a pickle entry that is not an array.
StateDict read_paddle_weights(const std::string& dir_or_file);

/// Parses one serialized LoDTensor (a per-variable file's contents). `name` is used in errors
/// only. Throws vc::app::IoError.
torch::Tensor parse_paddle_lod_tensor(const std::string& bytes, const std::string& name);

}  // namespace vc::app
