// Paddle Fluid weights (spec §7): LoDTensor files, hand-parsed (the TensorDesc protobuf has two
// fields, so no libprotobuf), and .pdparams pickles through pickle.h.
#include "tools/common/weights/paddle.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "datareader/errors.h"
#include "datareader/pickle.h"
#include "tools/common/errors.h"

namespace vc::app {

namespace pickle = vc::data::pickle;

namespace {

namespace fs = std::filesystem;

// Limits beyond which a header field is corrupt rather than big.
constexpr uint64_t kMaxLodLevels = 32;
constexpr int32_t kMaxDescSize = 1 << 16;
constexpr size_t kMaxRank = 32;

struct PaddleType {
  const char* name;
  torch::ScalarType dtype;
  size_t size;
};

// VarType.Type element types (framework.proto).
const PaddleType* paddle_type(int64_t code) {
  static const PaddleType kBool{"BOOL", torch::kBool, 1}, kInt16{"INT16", torch::kShort, 2},
      kInt32{"INT32", torch::kInt, 4}, kInt64{"INT64", torch::kLong, 8},
      kFp16{"FP16", torch::kHalf, 2}, kFp32{"FP32", torch::kFloat, 4},
      kFp64{"FP64", torch::kDouble, 8}, kUint8{"UINT8", torch::kByte, 1},
      kInt8{"INT8", torch::kChar, 1};
  switch (code) {
    case 0:
      return &kBool;
    case 1:
      return &kInt16;
    case 2:
      return &kInt32;
    case 3:
      return &kInt64;
    case 4:
      return &kFp16;
    case 5:
      return &kFp32;
    case 6:
      return &kFp64;
    case 20:
      return &kUint8;
    case 21:
      return &kInt8;
    default:
      return nullptr;
  }
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::ostringstream s;
  s << "[";
  for (size_t k = 0; k < dims.size(); ++k) s << (k ? ", " : "") << dims[k];
  s << "]";
  return s.str();
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// Sequential little-endian reads over one file's bytes; errors name the variable.
class Reader {
 public:
  Reader(const std::string& bytes, std::string where) : b_(bytes), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& what) const { throw IoError(where_ + ": " + what); }
  size_t left() const { return b_.size() - pos_; }
  size_t pos() const { return pos_; }

  uint64_t le(size_t n, const char* field) {
    if (left() < n) {
      fail(std::string("truncated file: it ends inside the ") + field + " (byte " +
           std::to_string(pos_) + " of " + std::to_string(b_.size()) + ")");
    }
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(b_[pos_ + k])) << (8 * k);
    }
    pos_ += n;
    return v;
  }
  const char* take(size_t n) {
    const char* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  const std::string& b_;
  std::string where_;
  size_t pos_ = 0;
};

// Protobuf varint inside [p, end); false on overrun or more than 10 bytes.
bool varint(const char*& p, const char* end, uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p >= end) return false;
    const auto byte = static_cast<uint8_t>(*p++);
    out |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

// TensorDesc { required Type data_type = 1; repeated int64 dims = 2; } (proto2).
void parse_tensor_desc(const char* p, const char* end, const Reader& r, int64_t& data_type,
                       std::vector<int64_t>& dims) {
  bool have_type = false;
  const auto bad = [&](const std::string& what) { r.fail("malformed TensorDesc: " + what); };
  while (p < end) {
    uint64_t tag = 0;
    if (!varint(p, end, tag)) bad("truncated field tag");
    const uint64_t field = tag >> 3, wire = tag & 7;
    if (field == 1 && wire == 0) {
      uint64_t v = 0;
      if (!varint(p, end, v)) bad("truncated data_type");
      data_type = static_cast<int64_t>(v);
      have_type = true;
    } else if (field == 2 && wire == 0) {  // unpacked dims (proto2 default)
      uint64_t v = 0;
      if (!varint(p, end, v)) bad("truncated dims");
      dims.push_back(static_cast<int64_t>(v));
    } else if (field == 2 && wire == 2) {  // packed dims
      uint64_t len = 0;
      if (!varint(p, end, len) || len > static_cast<uint64_t>(end - p)) bad("truncated dims");
      const char* packed_end = p + len;
      while (p < packed_end) {
        uint64_t v = 0;
        if (!varint(p, packed_end, v)) bad("truncated packed dims");
        dims.push_back(static_cast<int64_t>(v));
      }
    } else if (wire == 0) {  // unknown fields are skipped
      uint64_t v = 0;
      if (!varint(p, end, v)) bad("truncated field " + std::to_string(field));
    } else if (wire == 1 || wire == 5) {
      const size_t n = wire == 1 ? 8 : 4;
      if (static_cast<size_t>(end - p) < n) bad("truncated field " + std::to_string(field));
      p += n;
    } else if (wire == 2) {
      uint64_t len = 0;
      if (!varint(p, end, len) || len > static_cast<uint64_t>(end - p)) {
        bad("truncated field " + std::to_string(field));
      }
      p += len;
    } else {
      bad("unsupported wire type " + std::to_string(wire) + " (field " + std::to_string(field) +
          ")");
    }
    if (dims.size() > kMaxRank) bad("more than " + std::to_string(kMaxRank) + " dims");
  }
  if (!have_type) bad("no data_type");
}

torch::Tensor parse_lod_tensor(const std::string& bytes, const std::string& where) {
  if (!host_is_little_endian()) {
    throw IoError(where + ": reading Paddle tensors needs a little-endian host");
  }
  Reader r(bytes, where);
  const uint64_t version = r.le(4, "LoDTensor version");
  if (version != 0) {
    r.fail("unsupported LoDTensor version " + std::to_string(version) +
           " (expected 0; is this a Paddle per-variable weight file?)");
  }
  const uint64_t lod_level = r.le(8, "lod_level");
  if (lod_level > kMaxLodLevels) {
    r.fail("absurd lod_level " + std::to_string(lod_level) + " (corrupt header?)");
  }
  for (uint64_t level = 0; level < lod_level; ++level) {
    const uint64_t size = r.le(8, "LoD level size");
    if (size % 8 != 0 || size > r.left()) {
      r.fail("LoD level " + std::to_string(level) + " claims " + std::to_string(size) +
             " bytes of offsets, the file has " + std::to_string(r.left()) + " left" +
             (size % 8 ? " (not a multiple of 8)" : " (truncated file)"));
    }
    uint64_t previous = 0;
    for (uint64_t k = 0; k < size / 8; ++k) {
      const uint64_t offset = r.le(8, "LoD offsets");
      if (offset < previous) r.fail("LoD level " + std::to_string(level) + " is not ascending");
      previous = offset;
    }
  }
  const uint64_t tensor_version = r.le(4, "tensor version");
  if (tensor_version != 0) {
    r.fail("unsupported tensor version " + std::to_string(tensor_version) + " (expected 0)");
  }
  const auto desc_size = static_cast<int32_t>(r.le(4, "TensorDesc size"));
  if (desc_size < 0 || desc_size > kMaxDescSize) {
    r.fail("absurd TensorDesc size " + std::to_string(desc_size) + " (corrupt header?)");
  }
  if (static_cast<size_t>(desc_size) > r.left()) {
    r.fail("truncated file: the TensorDesc needs " + std::to_string(desc_size) +
           " bytes, the file has " + std::to_string(r.left()) + " left");
  }
  const char* desc = r.take(static_cast<size_t>(desc_size));
  int64_t code = -1;
  std::vector<int64_t> dims;
  parse_tensor_desc(desc, desc + desc_size, r, code, dims);
  const PaddleType* type = paddle_type(code);
  if (!type) {
    r.fail("unknown or unsupported data type " + std::to_string(code) +
           " (supported: BOOL=0, INT16=1, INT32=2, INT64=3, FP16=4, FP32=5, FP64=6, UINT8=20, "
           "INT8=21)");
  }
  // numel, guarding the multiplication against overflow (absurd dims).
  for (int64_t d : dims) {
    if (d < 0) r.fail("negative dimension in dims " + dims_str(dims));
  }
  const std::string described = "dims " + dims_str(dims) + " " + type->name;
  const bool empty = std::find(dims.begin(), dims.end(), 0) != dims.end();
  constexpr uint64_t kMaxBytes = uint64_t{1} << 48;
  uint64_t numel = empty ? 0 : 1;
  for (int64_t d : dims) {
    if (empty) break;
    if (static_cast<uint64_t>(d) > kMaxBytes / type->size / numel) {
      r.fail("absurd " + described + " (over 2^48 bytes; corrupt header?)");
    }
    numel *= static_cast<uint64_t>(d);
  }
  const uint64_t nbytes = numel * type->size;
  if (nbytes > r.left()) {
    r.fail("truncated file: " + described + " need " + std::to_string(nbytes) +
           " bytes of data, the file has " + std::to_string(r.left()));
  }
  if (r.left() != nbytes) {
    r.fail(std::to_string(r.left() - nbytes) + " trailing bytes after the data (" + described +
           " need " + std::to_string(nbytes) + ")");
  }
  torch::Tensor t = torch::empty(dims, torch::TensorOptions().dtype(type->dtype));
  if (type->dtype == torch::kBool) {
    const char* src = r.take(nbytes);
    auto* dst = t.data_ptr<bool>();
    for (size_t k = 0; k < nbytes; ++k) dst[k] = src[k] != 0;
  } else if (nbytes) {
    std::memcpy(t.data_ptr(), r.take(nbytes), nbytes);
  }
  return t;
}

std::string read_file(const std::string& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(where + ": file cannot be opened");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(where + ": read failed");
  return data;
}

StateDict read_directory(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_directory()) {
      throw IoError("Paddle weight directory '" + dir + "' holds a sub-directory '" + name +
                    "'; a Paddle weight folder holds one file per variable and no folders "
                    "(was its parent folder given?)");
    }
    if (!it->is_regular_file()) {
      throw IoError("Paddle weight directory '" + dir + "': '" + name + "' is not a regular file");
    }
    names.push_back(name);
  }
  if (ec) throw IoError("cannot list Paddle weight directory '" + dir + "': " + ec.message());
  if (names.empty()) throw IoError("Paddle weight directory '" + dir + "' holds no variables");
  std::sort(names.begin(), names.end());
  StateDict sd;
  sd.reserve(names.size());
  for (const auto& name : names) {
    const std::string path = (fs::path(dir) / name).string();
    const std::string where = "Paddle variable '" + name + "' (" + path + ")";
    sd.emplace_back(name, parse_lod_tensor(read_file(path, where), where));
  }
  return sd;
}

StateDict read_pdparams(const std::string& path) {
  const std::string where = "Paddle weights '" + path + "'";
  pickle::ValuePtr root;
  try {
    root = pickle::read_pickle_file(path);
  } catch (const vc::data::DataError& e) {  // the data layer's file error, same message
    throw IoError(e.what());
  }
  if (!root->is(pickle::Value::Kind::kDict)) {
    throw IoError(where + ": the pickle holds a " + root->kind_name() +
                  ", expected a dict of name -> numpy array");
  }
  const pickle::Value* dict = root.get();
  if (const pickle::Value* inner = root->find("state_dict")) {
    if (inner->is(pickle::Value::Kind::kDict)) dict = inner;
  }
  StateDict sd;
  sd.reserve(dict->entries.size());
  for (const auto& kv : dict->entries) {
    if (!kv.first->is_string()) {
      throw IoError(where + ": a key is a " + kv.first->kind_name() + ", expected a name");
    }
    const std::string& name = kv.first->s;
    if (name == "UnpackBigParamInfor@@") {
      throw IoError(where +
                    ": parameters split by paddle.save (UnpackBigParamInfor@@, over 4 "
                    "GB) are not supported");
    }
    if (name.size() > 2 && name.compare(name.size() - 2, 2, "@@") == 0) continue;  // bookkeeping
    const pickle::Value* v = kv.second.get();
    // paddle.save of raw Tensors pickles them as (name, array).
    if (v->is(pickle::Value::Kind::kTuple) && v->items.size() == 2 && v->items[0]->is_string() &&
        v->items[1]->is(pickle::Value::Kind::kTensor)) {
      v = v->items[1].get();
    }
    if (!v->is(pickle::Value::Kind::kTensor)) {
      throw IoError(where + ": variable '" + name + "' is a " + v->kind_name() +
                    ", expected a numpy array");
    }
    sd.emplace_back(name, v->tensor);
  }
  return sd;
}

}  // namespace

torch::Tensor parse_paddle_lod_tensor(const std::string& bytes, const std::string& name) {
  return parse_lod_tensor(bytes, "Paddle variable '" + name + "'");
}

StateDict read_paddle_weights(const std::string& dir_or_file) {
  std::error_code ec;
  fs::path path(dir_or_file);
  if (fs::is_directory(path, ec)) return read_directory(dir_or_file);
  if (!fs::exists(path, ec)) {
    const fs::path with_ext = dir_or_file + ".pdparams";
    if (fs::is_regular_file(with_ext, ec)) return read_pdparams(with_ext.string());
    throw IoError("Paddle weights '" + dir_or_file +
                  "' do not exist (expected a per-variable directory or a .pdparams file)");
  }
  const std::string where = "Paddle weights '" + dir_or_file + "'";
  std::ifstream probe(dir_or_file, std::ios::binary);
  if (!probe) throw IoError(where + ": file cannot be opened");
  char first = 0;
  probe.read(&first, 1);
  if (probe.gcount() != 1 || static_cast<uint8_t>(first) != 0x80) {
    throw IoError(where +
                  ": not a .pdparams pickle (a per-variable Paddle checkpoint is read by giving "
                  "its directory)");
  }
  return read_pdparams(dir_or_file);
}

}  // namespace vc::app
