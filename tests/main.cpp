// Shared GoogleTest main: tests named *_CUDA run only when LibTorch sees a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!torch::cuda::is_available()) {
    std::string filter = ::testing::GTEST_FLAG(filter);
    if (filter.find('-') == std::string::npos) {
      filter += "-*_CUDA";
    } else {
      filter += ":*_CUDA";
    }
    ::testing::GTEST_FLAG(filter) = filter;
  }
  return RUN_ALL_TESTS();
}
