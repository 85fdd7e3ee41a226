// The NCCL process group (CUDA workers). Compiled only when the found LibTorch has CUDA
// (tools/CMakeLists.txt: VC_WITH_NCCL); the Debian LibTorch of the CI is CPU-only, so this file
// is built only by users of a CUDA LibTorch (docs/gpu.md).
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "tools/common/distributed_comm.h"

namespace vc::app::dist {

std::unique_ptr<Comm> make_nccl_comm(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                     int size, std::chrono::milliseconds timeout,
                                     int device_index) {
  // NCCL binds a communicator to the current device: one GPU per worker, cuda:LOCAL_RANK.
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device_index));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout =
      timeout;  // enforced with TORCH_NCCL_BLOCKING_WAIT=1 / NCCL_ASYNC_ERROR_HANDLING
  auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
  return std::make_unique<PgComm<c10d::ProcessGroupNCCL>>(pg, "nccl");
}

}  // namespace vc::app::dist
