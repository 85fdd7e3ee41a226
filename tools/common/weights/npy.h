// NumPy .npy files (format versions 1.0, 2.0 and 3.0): what `numpy.save` writes, e.g. the
// original's PCA eigenvalues of YouTube-8M (`yt8m_pca/eigenvals.npy`, float32 [2048, 1]) that
// NeXtVLAD scales its rgb input with. Part of vc_weights.
#pragma once

#include <torch/torch.h>

#include <string>

namespace vc::app {

/// Reads a .npy file into a CPU tensor of its dtype and shape. Accepted element types: float32,
/// float64, int8, uint8, int16, int32, int64, bool (either byte order; big-endian values are
/// swapped); C or Fortran order. Throws vc::app::IoError naming the file on: a missing file, a
/// bad magic string or version, a header that is not the expected dict, an unsupported dtype
/// (object arrays, strings, complex...), data shorter or longer than the shape implies.
torch::Tensor read_npy(const std::string& path);

}  // namespace vc::app
