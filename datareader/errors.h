// The errors of the data contract (datareader/dataset.h re-exports them). Kept free of LibTorch
// so that the libFuzzer harnesses (tests/fuzz) build the list and decoder sources without it.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace vc::data {

/// Every data-layer failure (bad list, undecodable video, bad option, bad sample) is a DataError
/// whose message names the file (and list line / value where there is one).
class DataError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

/// A per-sample failure (missing/undecodable file, bad record, ...). what() = "<path> (list line
/// N): <reason> (<detail>)"; reason() is a short category usable as a counter key ("file not
/// found", "cannot open video", "no decodable frames", ...). The loader skips and counts it.
class SampleError : public DataError {
 public:
  SampleError(const std::string& path, std::size_t line_no, const std::string& reason,
              const std::string& detail)
      : DataError(path + " (list line " + std::to_string(line_no) + "): " + reason +
                  (detail.empty() ? "" : " (" + detail + ")")),
        path_(path),
        line_no_(line_no),
        reason_(reason) {}
  const std::string& path() const { return path_; }
  std::size_t line_no() const { return line_no_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  std::size_t line_no_;
  std::string reason_;
};

}  // namespace vc::data
