// LibTorch's intra-op OpenMP team and a BLAS that runs its own thread pool (Debian's OpenBLAS is
// the pthread build: libopenblas0-pthread) share the cores without knowing of each other. After
// every parallel element-wise op, libgomp's idle team threads spin for milliseconds waiting for
// the next region; in a loop that alternates small matmuls (OpenBLAS threads) and element-wise
// ops (OpenMP team) — a recurrence — the spinning threads take the cores OpenBLAS's threads
// need. Measured on Attention LSTM's training step, 2 cores: 24-42 s with both pools, 12-26 s
// with the element-wise ops on the calling thread (docs/benchmarks.md).
#pragma once

namespace vc::models {

/// True when the BLAS that LibTorch calls runs matmuls on its own pool of more than one thread
/// (OpenBLAS built with pthreads, detected at run time through its `openblas_get_parallel` /
/// `openblas_get_num_threads`); false for an OpenMP or sequential BLAS (MKL, OpenBLAS-openmp),
/// which share the OpenMP team.
bool blas_has_own_thread_pool();

/// Sizes that pool to `threads` (LibTorch's set_num_threads sizes only its OpenMP team, so a
/// 1-thread run on a 2-core machine still ran its matmuls, and 1x1 convolutions, on two threads
/// of OpenBLAS's, and two data-parallel workers four). Returns false, changing nothing, for a
/// BLAS without its own pool or threads < 1.
bool set_blas_threads(int threads);

/// While alive, LibTorch's element-wise ops started from THIS thread run on it alone (its
/// OpenMP `nthreads` setting set to 1, restored on destruction), when blas_has_own_thread_pool();
/// otherwise it does nothing. Other threads are not affected; matmuls keep all of the BLAS's
/// threads.
class SerialElementwiseScope {
 public:
  SerialElementwiseScope();
  ~SerialElementwiseScope();
  SerialElementwiseScope(const SerialElementwiseScope&) = delete;
  SerialElementwiseScope& operator=(const SerialElementwiseScope&) = delete;

 private:
  int saved_ = 0;  // the thread's OpenMP nthreads before, 0 when nothing was changed
};

}  // namespace vc::models
