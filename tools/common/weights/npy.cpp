#include "tools/common/weights/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <vector>

#include "tools/common/errors.h"

namespace vc::app {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw IoError(path + ": not a readable .npy file: " + what);
}

struct Dtype {
  torch::ScalarType type;
  std::size_t size;
};

// descr is e.g. '<f4', '|u1', '>i8', '?'.
Dtype parse_descr(const std::string& path, const std::string& descr, bool& big_endian) {
  if (descr.size() < 2) fail(path, "unsupported dtype '" + descr + "'");
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  big_endian = order == '>';
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    fail(path, "unsupported dtype '" + descr + "'");
  }
  if (kind == "f4") return {torch::kFloat32, 4};
  if (kind == "f8") return {torch::kFloat64, 8};
  if (kind == "i1") return {torch::kInt8, 1};
  if (kind == "u1") return {torch::kUInt8, 1};
  if (kind == "i2") return {torch::kInt16, 2};
  if (kind == "i4") return {torch::kInt32, 4};
  if (kind == "i8") return {torch::kInt64, 8};
  if (kind == "b1") return {torch::kBool, 1};
  fail(path, "unsupported dtype '" + descr +
                 "' (supported: float32, float64, int8, uint8, int16, int32, int64, bool)");
}

}  // namespace

torch::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open .npy file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    fail(path, "missing the \\x93NUMPY magic string");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(path, "truncated header");
    for (int i = 3; i >= 0; --i) {
      header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    }
    offset = 12;
  } else {
    fail(path, "unsupported format version " + std::to_string(major));
  }
  if (bytes.size() < offset + header_len) fail(path, "truncated header");
  const std::string header = bytes.substr(offset, header_len);
  offset += header_len;

  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) {
    fail(path, "header has no 'descr': " + header);
  }
  const std::string descr = m[1];
  if (!std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*(True|False))"))) {
    fail(path, "header has no 'fortran_order': " + header);
  }
  const bool fortran = m[1] == "True";
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) {
    fail(path, "header has no 'shape': " + header);
  }
  std::vector<int64_t> shape;
  {
    std::string dims = m[1];
    std::replace(dims.begin(), dims.end(), ',', ' ');
    std::istringstream ss(dims);
    std::string tok;
    while (ss >> tok) {
      if (tok.find_first_not_of("0123456789") != std::string::npos || tok.size() > 12) {
        fail(path, "bad shape in header: " + header);
      }
      shape.push_back(std::stoll(tok));
    }
  }
  bool big_endian = false;
  const Dtype dt = parse_descr(path, descr, big_endian);
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d != 0 && numel > (int64_t{1} << 40) / d) fail(path, "absurd shape in header: " + header);
    numel *= d;
  }
  const std::size_t need = static_cast<std::size_t>(numel) * dt.size;
  const std::size_t have = bytes.size() - offset;
  if (have != need) {
    fail(path, "shape " + torch::str(c10::IntArrayRef(shape)) + " of " + descr + " needs " +
                   std::to_string(need) + " data bytes, the file has " + std::to_string(have));
  }
  std::vector<int64_t> storage_shape = shape;
  if (fortran) std::reverse(storage_shape.begin(), storage_shape.end());
  torch::Tensor t = torch::empty(storage_shape, torch::TensorOptions().dtype(dt.type));
  if (need > 0) std::memcpy(t.data_ptr(), bytes.data() + offset, need);
  if (big_endian && dt.size > 1) {
    auto* p = static_cast<unsigned char*>(t.data_ptr());
    for (int64_t i = 0; i < numel; ++i) std::reverse(p + i * dt.size, p + (i + 1) * dt.size);
  }
  if (fortran && shape.size() > 1) {
    std::vector<int64_t> perm(shape.size());
    for (std::size_t i = 0; i < perm.size(); ++i)
      perm[i] = static_cast<int64_t>(perm.size() - 1 - i);
    t = t.permute(perm).contiguous();
  }
  return t;
}

}  // namespace vc::app
