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
  bool blas_pool = false;
};

const Runtime& runtime() {
  static const Runtime r = [] {
    Runtime out;
    out.omp_set_num_threads = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    out.omp_get_max_threads = reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    const auto parallel = reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    const auto threads = reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    // openblas_get_parallel: 0 sequential, 1 pthreads, 2 OpenMP.
    out.blas_pool = parallel != nullptr && threads != nullptr && parallel() == 1 && threads() > 1;
    return out;
  }();
  return r;
}

}  // namespace

bool blas_has_own_thread_pool() { return runtime().blas_pool; }

SerialElementwiseScope::SerialElementwiseScope() {
  const Runtime& r = runtime();
  if (!r.blas_pool || r.omp_set_num_threads == nullptr || r.omp_get_max_threads == nullptr) return;
  const int now = r.omp_get_max_threads();
  if (now <= 1) return;
  saved_ = now;
  r.omp_set_num_threads(1);
}

SerialElementwiseScope::~SerialElementwiseScope() {
  if (saved_ > 0) runtime().omp_set_num_threads(saved_);
}

}  // namespace vc::models
