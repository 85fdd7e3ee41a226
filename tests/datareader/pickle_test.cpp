// The pickle interpreter of the data layer on Python-2 cPickle'd numpy data, malformed streams and
// file errors. (The canary on LibTorch's own unpickler is tests/tools/weights_canary_test.cpp.)
#include "datareader/pickle.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <functional>
#include <string>

#include "datareader/errors.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/paddle_fixtures.h"

namespace vc::data {
namespace {

using namespace std::string_literals;
using pickle::PickleError;
using pickle::Value;
using pickle::ValuePtr;

using vc::testing::message_of;

ValuePtr unpickle_string(const std::string& s) { return pickle::unpickle(s.data(), s.size()); }

TEST(Pickle, ReadsPython2CPickleOfYoutube8mRecords) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const ValuePtr root = pickle::read_pickle_file(vc::testing::paddle_fixtures() + "/yt8m_py2.pkl");
  ASSERT_TRUE(root->is(Value::Kind::kList)) << root->kind_name();
  ASSERT_EQ(root->items.size(), 2u);
  const Value& r0 = *root->items[0];
  ASSERT_NE(r0.find("video"), nullptr);
  EXPECT_EQ(r0.find("video")->as_string("video"), std::string("vid\xff"
                                                              "1"));  // py2 str bytes
  const torch::Tensor feature = r0.find("feature")->as_tensor("feature");
  EXPECT_EQ(feature.scalar_type(), torch::kByte);
  EXPECT_TRUE(r0.find("feature")->from_numpy);
  EXPECT_TRUE(feature.equal(torch::arange(24, torch::kByte).reshape({3, 8})));
  const torch::Tensor audio = r0.find("audio")->as_tensor("audio");
  EXPECT_TRUE(
      audio.equal((torch::arange(12, torch::kLong) * 7 % 256).to(torch::kByte).reshape({3, 4})));
  const auto& labels = r0.find("label")->as_sequence("label");
  ASSERT_EQ(labels.size(), 3u);
  EXPECT_EQ(labels[2]->as_int("label"), 3000);
  EXPECT_EQ(r0.find("nframes")->as_int("nframes"), 3);

  const Value& r1 = *root->items[1];
  EXPECT_EQ(r1.find("feature")->as_tensor("feature").sizes(), (std::vector<int64_t>{0, 8}));
  EXPECT_TRUE(r1.find("label")->as_sequence("label").empty());
  const torch::Tensor big = r1.find("big_endian")->as_tensor("big_endian");
  EXPECT_EQ(big.scalar_type(), torch::kDouble);
  EXPECT_EQ(big[0].item<double>(), 1.5);
  EXPECT_EQ(big[1].item<double>(), -2.25);
  EXPECT_EQ(big[2].item<double>(), 3e100);
  const torch::Tensor fortran = r1.find("fortran")->as_tensor("fortran");
  EXPECT_EQ(fortran.scalar_type(), torch::kInt);
  EXPECT_TRUE(fortran.equal(torch::arange(6, torch::kInt).reshape({2, 3})));
  const auto& s = r1.find("scalars")->as_sequence("scalars");
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(s[0]->as_number("f"), 0.5);
  EXPECT_EQ(s[1]->as_int("i"), -7);
  EXPECT_EQ(s[2]->as_int("i"), 70000);
  EXPECT_EQ(s[3]->as_int("i"), -(int64_t{1} << 40));
  EXPECT_TRUE(s[4]->is(Value::Kind::kBool) && s[4]->b);
  EXPECT_TRUE(s[5]->is(Value::Kind::kNone));
  EXPECT_EQ(s[6]->as_string("u"), "caf\xc3\xa9");  // unicode comes back as UTF-8
}

TEST(Pickle, HandAssembledOpcodes) {
  // {"a": [1, 2.5, b"\x00\xff"]} with Python 3 protocol-2 bytes: _codecs.encode("\x00\xff",
  // "latin1") where the str is UTF-8 "\x00\xc3\xbf".
  const std::string p =
      "\x80\x02}q\x00X\x01\x00\x00\x00"
      "a"
      "](K\x01G\x40\x04\x00\x00\x00\x00\x00\x00"
      "c_codecs\nencode\n"
      "X\x03\x00\x00\x00\x00\xc3\xbf"
      "X\x06\x00\x00\x00"
      "latin1\x86R"
      "es."s;
  const ValuePtr v = unpickle_string(p);
  const Value* a = v->find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items.size(), 3u);
  EXPECT_EQ(a->items[0]->as_int("x"), 1);
  EXPECT_EQ(a->items[1]->as_number("x"), 2.5);
  EXPECT_TRUE(a->items[2]->is(Value::Kind::kBytes));
  EXPECT_EQ(a->items[2]->s, "\x00\xff"s);
}

TEST(Pickle, MalformedAndUnsupportedStreamsAreErrors) {
  EXPECT_THROW(unpickle_string("\x80\x02}q\x00X\x05\x00\x00\x00"
                               "ab"s),
               PickleError);                                           // truncated string
  EXPECT_THROW(unpickle_string("\x80\x02K\x01K\x02."s), PickleError);  // two values at STOP
  EXPECT_THROW(unpickle_string("\x80\x02h\x05."s), PickleError);       // memo unset
  // A list that holds itself (l = []; l.append(l), and via DUP) is refused (found by fuzz_pkl:
  // shared pointers would never free it), also when the error comes later in the stream.
  for (const std::string& p : {"\x80\x02]q\x00h\x00"
                               "a."s,
                               "\x80\x02]2a."s, "\x80\x02]2a\xff"s}) {
    EXPECT_THROW(unpickle_string(p), PickleError);
  }
  EXPECT_NE(message_of([] {
              unpickle_string(
                  "\x80\x02]q\x00h\x00"
                  "a."s);
            }).find("holds itself"),
            std::string::npos);
  // ... also when nothing refers to it any more: popped, or its memo slot overwritten (found
  // by fuzz_pkl on 2026-12-04: the cycle left the stack and the memo and leaked).
  for (const std::string& p : {"\x80\x02](2e0N."s,
                               "\x80\x02]q\x01(2eK\x02q\x01"
                               "00N."s}) {
    EXPECT_NE(message_of([&] { unpickle_string(p); }).find("holds itself"), std::string::npos) << p;
  }
  // Shared (not recursive) objects are fine: [x, x]
  EXPECT_EQ(unpickle_string("\x80\x02](]q\x01h\x01"
                            "e."s)
                ->items.size(),
            2u);
  const std::string os_system = message_of([] {
    unpickle_string(
        "\x80\x02"
        "cos\nsystem\nX\x02\x00\x00\x00"
        "ls\x85R."s);
  });
  EXPECT_NE(os_system.find("'os.system'"), std::string::npos) << os_system;
  const std::string opcode = message_of([] { unpickle_string("\x80\x02\xff."s); });
  EXPECT_NE(opcode.find("opcode 0xff"), std::string::npos) << opcode;
  const std::string persid = message_of([] { unpickle_string("\x80\x02K\x01Q."s); });
  EXPECT_NE(persid.find("persistent id"), std::string::npos) << persid;
  EXPECT_THROW(Value().as_tensor("x"), PickleError);
  const std::string kind = message_of([] {
    Value v;
    v.kind = Value::Kind::kList;
    v.as_int("nframes");
  });
  EXPECT_NE(kind.find("nframes is a list, expected an int"), std::string::npos) << kind;
}

TEST(Pickle, FileErrorsNameTheFile) {
  vc::testing::TempDir dir;
  const std::string missing = dir / "nope.pkl";
  const std::string m = message_of([&] { pickle::read_pickle_file(missing); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;
  EXPECT_THROW(pickle::read_pickle_file(missing), DataError);
  const std::string junk = dir / "junk.pkl";
  vc::testing::write_text(junk, "\x80\x02]q\x00(K\x01"s);
  const std::string j = message_of([&] { pickle::read_pickle_file(junk); });
  EXPECT_NE(j.find(junk), std::string::npos) << j;
  EXPECT_NE(j.find("truncated"), std::string::npos) << j;
}

}  // namespace
}  // namespace vc::data
