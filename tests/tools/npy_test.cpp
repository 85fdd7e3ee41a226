// tools/common/weights/npy.h: .npy files written here byte by byte (versions 1 and 2, C and
// Fortran order, both byte orders), by numpy itself (/usr/bin/python3, skipped when absent), the
// real YouTube-8M PCA eigenvalues when ../shared/data has them, and every malformed case.
#include "tools/common/weights/npy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"
#include "tools/common/errors.h"

namespace vc::app {
namespace {

using vc::testing::TempDir;

// A version-1 (or 2) .npy: magic, version, header length, header padded to 64, data.
std::string npy_bytes(const std::string& dict, const std::string& data, int version = 1) {
  std::string header = dict;
  const std::size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  const std::size_t n = header.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (version != 1) {
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 24) & 0xff);
  }
  return out + header + data;
}

std::string floats_le(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::size_t i = 0;
  for (float f : v) std::memcpy(&s[4 * i++], &f, 4);
  return s;
}

std::string write(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

void expect_error(const std::string& path, const std::string& needle) {
  try {
    read_npy(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(Npy, ReadsFloat32COrderVersion1And2) {
  TempDir dir;
  const std::string data = floats_le({1, 2, 3, 4, 5, 6});
  for (int version : {1, 2}) {
    const std::string p = write(
        dir, "a" + std::to_string(version) + ".npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, version));
    torch::Tensor t = read_npy(p);
    EXPECT_EQ(t.scalar_type(), torch::kFloat32);
    ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3}));
    EXPECT_FLOAT_EQ(t[1][0].item<float>(), 4.0f);
    EXPECT_FLOAT_EQ(t[0][2].item<float>(), 3.0f);
  }
}

TEST(Npy, FortranOrderAndBigEndian) {
  TempDir dir;
  // Column-major [2, 3]: storage 1 4 2 5 3 6 is the matrix [[1, 2, 3], [4, 5, 6]].
  torch::Tensor f =
      read_npy(write(dir, "f.npy",
                     npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                               floats_le({1, 4, 2, 5, 3, 6}))));
  EXPECT_TRUE(torch::equal(f, torch::tensor({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}})));
  const std::string be("\x00\x00\x00\x00\x00\x00\x01\x02", 8);  // int64 258, big-endian
  torch::Tensor b = read_npy(write(
      dir, "b.npy", npy_bytes("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", be)));
  EXPECT_EQ(b.scalar_type(), torch::kInt64);
  EXPECT_EQ(b[0].item<int64_t>(), 258);
  torch::Tensor s =
      read_npy(write(dir, "s.npy",
                     npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                               std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8))));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_DOUBLE_EQ(s.item<double>(), 1.0);
}

TEST(Npy, MalformedFilesAreErrorsNamingTheFile) {
  TempDir dir;
  expect_error(dir.file("missing.npy"), "cannot open");
  expect_error(write(dir, "magic.npy", "hello world, not numpy"), "magic");
  expect_error(write(dir, "version.npy",
                     std::string("\x93NUMPY\x09\x00\x10\x00", 10) + std::string(16, ' ')),
               "version 9");
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expect_error(write(dir, "short.npy", npy_bytes(dict, floats_le({1, 2, 3}))),
               "needs 24 data bytes, the file has 12");
  expect_error(write(dir, "long.npy", npy_bytes(dict, floats_le({1, 2, 3, 4, 5, 6, 7}))),
               "the file has 28");
  expect_error(write(dir, "obj.npy",
                     npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", "")),
               "unsupported dtype '|O'");
  expect_error(write(dir, "nodescr.npy", npy_bytes("{'shape': (1,), }", floats_le({1}))),
               "no 'descr'");
  expect_error(write(dir, "trunc.npy", std::string("\x93NUMPY\x01\x00\xff\x00", 10)),
               "truncated header");
}

TEST(Npy, AgreesWithNumpy) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "skipped: /usr/bin/python3 cannot import numpy";
  }
  TempDir dir;
  const std::string d = dir.str();
  const std::string cmd =
      "/usr/bin/python3 -c \"import numpy as np; a = np.arange(24, dtype=np.float64).reshape(2, "
      "3, 4) / 7; np.save('" +
      d + "/c.npy', a); np.save('" + d + "/f.npy', np.asfortranarray(a)); np.save('" + d +
      "/u.npy', np.arange(5, dtype=np.uint8)); np.save('" + d + "/b.npy', a.astype('>f4'))\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  torch::Tensor want = torch::arange(24, torch::kFloat64).reshape({2, 3, 4}) / 7;
  EXPECT_TRUE(torch::equal(read_npy(d + "/c.npy"), want));
  EXPECT_TRUE(torch::equal(read_npy(d + "/f.npy"), want));
  EXPECT_TRUE(torch::allclose(read_npy(d + "/b.npy").to(torch::kFloat64), want, 1e-6));
  EXPECT_TRUE(torch::equal(read_npy(d + "/u.npy"), torch::arange(5).to(torch::kUInt8)));
}

TEST(Npy, RealYoutube8mEigenvalues) {
  const std::string path = std::string(VC_SOURCE_DIR) + "/../shared/data/yt8m/pca_eigenvals.npy";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "skipped: " << path << " is absent";
  torch::Tensor e = read_npy(path);
  EXPECT_EQ(e.scalar_type(), torch::kFloat32);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2048, 1}));
  // spec §6.3: first values 14.7385, 8.3404, 7.0332.
  EXPECT_NEAR(e[0][0].item<float>(), 14.7385f, 1e-3);
  EXPECT_NEAR(e[1][0].item<float>(), 8.3404f, 1e-3);
  EXPECT_NEAR(e[2][0].item<float>(), 7.0332f, 1e-3);
}

}  // namespace
}  // namespace vc::app
