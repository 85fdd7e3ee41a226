// Writes a Fluid per-variable weight directory (spec §7: one serialized float32 LoDTensor per
// variable, named by the variable) for the Attention Cluster and NeXtVLAD row tests.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace vc::test {

inline void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  s += static_cast<char>(v);
}

template <class T>
void put_raw(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

/// Writes `t` (float32) as `dir/name`.
inline void write_paddle_var(const std::string& dir, const std::string& name,
                             const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat32).contiguous();
  std::string desc;
  desc += '\x08';
  put_varint(desc, 5);  // FP32
  for (int64_t d : c.sizes()) {
    desc += '\x10';
    put_varint(desc, static_cast<uint64_t>(d));
  }
  std::string out;
  put_raw<uint32_t>(out, 0);  // LoDTensor version
  put_raw<uint64_t>(out, 0);  // lod_level
  put_raw<uint32_t>(out, 0);  // Tensor version
  put_raw<int32_t>(out, static_cast<int32_t>(desc.size()));
  out += desc;
  out.append(static_cast<const char*>(c.data_ptr()), c.numel() * sizeof(float));
  std::ofstream(dir + "/" + name, std::ios::binary) << out;
}

}  // namespace vc::test
