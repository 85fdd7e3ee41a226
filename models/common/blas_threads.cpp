#include "models/common/blas_threads.h"

#include <dlfcn.h>

namespace vc::models {
namespace {

// Looked up in the loaded libraries (LibTorch links libgomp and the BLAS), so nothing here
// links against them directly and any other BLAS or threading runtime simply disables this.
using IntFn = int (*)();
using SetFn = void (*)(int);

struct Runtime {
  SetFn omp_set_num_threads = nullptr;
  IntFn omp_get_max_threads = nullptr;
  IntFn openblas_get_parallel = nullptr;
  IntFn openblas_get_num_threads = nullptr;
  SetFn openblas_set_num_threads = nullptr;
  // openblas_get_parallel: 0 sequential, 1 pthreads, 2 OpenMP.
  bool pthread_blas() const {
    return openblas_get_parallel != nullptr && openblas_get_num_threads != nullptr &&
           openblas_get_parallel() == 1;
  }
  bool blas_pool() const { return pthread_blas() && openblas_get_num_threads() > 1; }
};

const Runtime& runtime() {
  static const Runtime r = [] {
    Runtime out;
    out.omp_set_num_threads = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    out.omp_get_max_threads = reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    out.openblas_get_parallel =
        reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    out.openblas_get_num_threads =
        reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    out.openblas_set_num_threads =
        reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    return out;
  }();
  return r;
}

}  // namespace

bool blas_has_own_thread_pool() { return runtime().blas_pool(); }

bool set_blas_threads(int threads) {
  const Runtime& r = runtime();
  if (threads < 1 || !r.pthread_blas() || r.openblas_set_num_threads == nullptr) return false;
  r.openblas_set_num_threads(threads);
  return true;
}

SerialElementwiseScope::SerialElementwiseScope() {
  const Runtime& r = runtime();
  if (!r.blas_pool() || r.omp_set_num_threads == nullptr || r.omp_get_max_threads == nullptr)
    return;
  const int now = r.omp_get_max_threads();
  if (now <= 1) return;
  saved_ = now;
  r.omp_set_num_threads(1);
}

SerialElementwiseScope::~SerialElementwiseScope() {
  if (saved_ > 0) runtime().omp_set_num_threads(saved_);
}

}  // namespace vc::models
