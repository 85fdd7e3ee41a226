// Label maps: every accepted format on tiny fixtures written here, the errors (file and line), and
// the real Kinetics / YouTube-8M files in ../shared/data when present.
#include "tools/common/label_map.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tools/common/errors.h"

namespace {

using vc::app::class_name;
using vc::app::IoError;
using vc::app::LabelMap;
using vc::app::load_label_map;
using vc::app::read_label_map;
using vc::testing::TempDir;
using vc::testing::write_text;
using Names = std::vector<std::string>;

struct Fixture {
  TempDir dir;
  LabelMap load(const std::string& name, const std::string& text) {
    write_text(dir / name, text);
    return load_label_map(dir / name);
  }
  /// The error message of loading `text` from file `name` ("(no error)" when it loads).
  std::string error(const std::string& name, const std::string& text) {
    try {
      load(name, text);
    } catch (const IoError& e) {
      return e.what();
    }
    return "(no error)";
  }
};

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST(LabelMap, OneNamePerLine) {
  Fixture f;
  auto m = f.load("k.txt",
                  "\xEF\xBB\xBF"
                  "abseiling\r\nair drumming  \r\narm wrestling\r\n\r\n\n");
  EXPECT_EQ(m.format, "names");
  EXPECT_EQ(m.names, (Names{"abseiling", "air drumming", "arm wrestling"}));
  // The old entry point keeps working.
  EXPECT_EQ(read_label_map(f.dir / "k.txt"), m.names);
}

TEST(LabelMap, BlankLineBeforeTheLastNameIsAnError) {
  Fixture f;
  const std::string e = f.error("k.txt", "a\nb\n\nc\n");
  EXPECT_CONTAINS(e, f.dir / "k.txt:3");
  EXPECT_CONTAINS(e, "blank line");
  EXPECT_CONTAINS(f.error("k.txt", "   \n\n"), "no class names");
  EXPECT_CONTAINS(f.error("k.txt", ""), "no class names");
}

TEST(LabelMap, IndexThenName) {
  Fixture f;
  auto m = f.load("k.txt", "2 arm wrestling\n0 abseiling\n1\tair drumming\n");
  EXPECT_EQ(m.format, "index name");
  EXPECT_EQ(m.names, (Names{"abseiling", "air drumming", "arm wrestling"}));
}

TEST(LabelMap, NameThenIndex) {
  Fixture f;
  auto m = f.load("k.txt", "air drumming 1\nabseiling 0\nFIFA 15   2\n");
  EXPECT_EQ(m.format, "name index");
  EXPECT_EQ(m.names, (Names{"abseiling", "air drumming", "FIFA 15"}));
}

TEST(LabelMap, DetectionIsFileWide) {
  Fixture f;
  // One line without a trailing number: plain names, numbers stay part of the names.
  auto m = f.load("k.txt", "FIFA 15\nMinecraft\nNBA 2K16\n");
  EXPECT_EQ(m.format, "names");
  EXPECT_EQ(m.names, (Names{"FIFA 15", "Minecraft", "NBA 2K16"}));
  m = f.load("k.txt", "3 Doors Down\nabseiling\n");
  EXPECT_EQ(m.format, "names");
  EXPECT_EQ(m.names[0], "3 Doors Down");
}

TEST(LabelMap, IndexErrorsNameFileAndLine) {
  Fixture f;
  std::string e = f.error("k.txt", "0 a\n1 b\n1 c\n");
  EXPECT_CONTAINS(e, f.dir / "k.txt:3");
  EXPECT_CONTAINS(e, "duplicate index 1");
  EXPECT_CONTAINS(e, "k.txt:2");  // where it was first given
  e = f.error("k.txt", "0 a\n3 b\n1 c\n");
  EXPECT_CONTAINS(e, f.dir / "k.txt:2");
  EXPECT_CONTAINS(e, "index 3 is out of range");
  EXPECT_CONTAINS(e, "index 2 is missing");
  // UCF-101 style classInd.txt (1-based) gets a hint.
  e = f.error("classInd.txt", "1 ApplyEyeMakeup\n2 ApplyLipstick\n");
  EXPECT_CONTAINS(e, "classInd.txt:2");
  EXPECT_CONTAINS(e, "must start at 0");
  e = f.error("k.txt", "a 0\nb 99999999999999999999999\n");
  EXPECT_CONTAINS(e, "k.txt:2");
  EXPECT_CONTAINS(e, "too large");
}

TEST(LabelMap, JsonList) {
  Fixture f;
  auto m = f.load("k.json", " [\"abseiling\", \"air drumming\",\n \"arm wrestling\"]\n");
  EXPECT_EQ(m.format, "json list");
  EXPECT_EQ(m.names, (Names{"abseiling", "air drumming", "arm wrestling"}));
  std::string e = f.error("k.json", "[\"a\", 3]");
  EXPECT_CONTAINS(e, "element 1");
  EXPECT_CONTAINS(e, "expected a class name");
  EXPECT_CONTAINS(f.error("k.json", "[\"a\", \"  \"]"), "element 1: empty class name");
  e = f.error("k.json", "[\"a\",\n\"b\"\n\"c\"]");
  EXPECT_CONTAINS(e, f.dir / "k.json:3");
  EXPECT_CONTAINS(e, "invalid JSON");
  EXPECT_CONTAINS(f.error("k.json", "[\"a\"] x"), "invalid JSON");
}

TEST(LabelMap, JsonObjects) {
  Fixture f;
  auto m = f.load("k.json", R"({"air drumming": 1, "abseiling": 0})");
  EXPECT_EQ(m.format, "json name->index");
  EXPECT_EQ(m.names, (Names{"abseiling", "air drumming"}));
  m = f.load("k.json", R"({"1": "air drumming", "0": "abseiling"})");
  EXPECT_EQ(m.format, "json index->name");
  EXPECT_EQ(m.names, (Names{"abseiling", "air drumming"}));
  std::string e = f.error("k.json", R"({"a": 0, "b": 0})");
  EXPECT_CONTAINS(e, "duplicate index 0");
  EXPECT_CONTAINS(e, "key \"b\"");
  EXPECT_CONTAINS(f.error("k.json", R"({"a": 0, "b": 2})"), "index 1 is missing");
  EXPECT_CONTAINS(f.error("k.json", R"({"a": "x", "b": 2})"), "JSON object label map must map");
  EXPECT_CONTAINS(f.error("k.json", R"({"0": "a", "x": "b"})"), "JSON object label map must map");
}

// A tiny vocabulary in the YouTube-8M layout: quoted commas, doubled quotes, a line break inside
// a quoted field, an empty name (falls back to KnowledgeGraphId), CRLF line ends, rows out of
// index order.
const char* kVocab =
    "Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl,Vertical1,WikiDescription\r\n"
    "0,788288,/m/03bt1gh,Game,https://en.wikipedia.org/wiki/Game,Games,\"A game is structured "
    "form of play, usually undertaken for enjoyment.\"\r\n"
    "2,12912,/m/0dxrf,,,Food & Drink,\r\n"
    "1,1000,/m/01,\"Nike, Inc.\",u,Shopping,\"Said \"\"Just do it\"\",\nand more.\"\r\n"
    "3,999,/m/02,\"Toys \"\"R\"\" Us\",u,Shopping,plain\r\n";

TEST(LabelMap, YouTube8mVocabularyCsv) {
  Fixture f;
  auto m = f.load("vocabulary.csv", kVocab);
  EXPECT_EQ(m.format, "csv");
  EXPECT_EQ(m.names, (Names{"Game", "Nike, Inc.", "/m/0dxrf", "Toys \"R\" Us"}));
  // Detected from the header without the .csv extension too.
  EXPECT_EQ(f.load("vocab.txt", kVocab).format, "csv");
  // No index column: the row order.
  m = f.load("v.csv", "id_x,name\nfoo,\"b, c\"\nbar,a\n");
  EXPECT_EQ(m.names, (Names{"b, c", "a"}));
  m = f.load("v.csv", "id,name\n1,b\n0,a\n");
  EXPECT_EQ(m.names, (Names{"a", "b"}));
}

TEST(LabelMap, CsvErrorsNameFileAndLine) {
  Fixture f;
  const std::string head = "Index,Name,Note\n";
  std::string e = f.error("v.csv", head + "0,a,x\n1,b\"c,y\n");
  EXPECT_CONTAINS(e, "v.csv:3");
  EXPECT_CONTAINS(e, "bad CSV quote");
  e = f.error("v.csv", head + "0,\"a\"b,x\n");
  EXPECT_CONTAINS(e, "v.csv:2");
  EXPECT_CONTAINS(e, "after the closing quote");
  e = f.error("v.csv", head + "0,a,\"two\nlines\"\n1,\"b,x\n");
  EXPECT_CONTAINS(e, "v.csv:4");  // the line where the unterminated quote opened
  EXPECT_CONTAINS(e, "never closed");
  e = f.error("v.csv", head + "0,a,\"two\nlines\"\n1,b\n");
  EXPECT_CONTAINS(e, "v.csv:4");  // line numbers count the break inside the quoted field
  EXPECT_CONTAINS(e, "2 fields, the header has 3");
  e = f.error("v.csv", head + "0,a,x\n\n1,b,y\n");
  EXPECT_CONTAINS(e, "v.csv:3: blank line");
  e = f.error("v.csv", head + "0,a,x\n0,b,y\n");
  EXPECT_CONTAINS(e, "v.csv:3: duplicate index 0 (already given at ");
  e = f.error("v.csv", head + "0,a,x\nx1,b,y\n");
  EXPECT_CONTAINS(e, "v.csv:3: index 'x1'");
  e = f.error("v.csv", head + "0,,x\n");
  EXPECT_CONTAINS(e, "v.csv:2: empty class name");
  e = f.error("v.csv", "Index,Label\n0,a\n");
  EXPECT_CONTAINS(e, "v.csv:1");
  EXPECT_CONTAINS(e, "'Name' column");
  EXPECT_CONTAINS(f.error("v.csv", "Index,Name\n"), "no classes");
  // A trailing blank line is fine.
  EXPECT_EQ(f.load("v.csv", head + "0,a,x\n\n").names, Names{"a"});
}

TEST(LabelMap, MissingFileAndClassName) {
  try {
    load_label_map("/nonexistent/labels.txt");
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_CONTAINS(e.what(), "/nonexistent/labels.txt");
  }
  const Names names = {"a", "b"};
  EXPECT_EQ(class_name(names, 1), "b");
  EXPECT_EQ(class_name(names, 2), "2");
  EXPECT_EQ(class_name(names, -1), "-1");
  EXPECT_EQ(class_name({}, 0), "0");
}

// Real files (../shared/data, see its README); skipped with a message when absent.

std::string shared(const std::string& rel) { return VC_SOURCE_DIR "/../shared/data/" + rel; }

#define REQUIRE_SHARED(rel)                                      \
  if (!std::filesystem::exists(shared(rel)))                     \
  GTEST_SKIP() << "real label file not found at " << shared(rel) \
               << " (see ../shared/data/README.md); skipping"

TEST(LabelMapReal, Kinetics400And600) {
  REQUIRE_SHARED("labels/kinetics400.txt");
  auto m = load_label_map(shared("labels/kinetics400.txt"));
  EXPECT_EQ(m.format, "names");
  ASSERT_EQ(m.names.size(), 400u);
  EXPECT_EQ(m.names[0], "abseiling");
  EXPECT_EQ(m.names[6], "arm wrestling");       // data README: arm_wrestling.mp4 is class 6
  EXPECT_EQ(m.names[129], "flipping pancake");  // and flipping_pancake.mkv class 129
  EXPECT_EQ(m.names[399], "zumba");
  REQUIRE_SHARED("labels/kinetics600.txt");
  m = load_label_map(shared("labels/kinetics600.txt"));
  EXPECT_EQ(m.format, "names");
  EXPECT_EQ(m.names.size(), 600u);
}

TEST(LabelMapReal, YouTube8mVocabulary) {
  REQUIRE_SHARED("yt8m/vocabulary.csv");
  auto m = load_label_map(shared("yt8m/vocabulary.csv"));
  EXPECT_EQ(m.format, "csv");
  ASSERT_EQ(m.names.size(), 3862u);
  EXPECT_EQ(m.names[0], "Game");
  EXPECT_EQ(m.names[1], "Video game");
  EXPECT_EQ(m.names[2], "Vehicle");
  EXPECT_EQ(m.names[120], "/m/0dxrf");  // empty Name -> KnowledgeGraphId
  std::size_t with_comma = 0, with_quote = 0;
  for (const auto& n : m.names) {
    EXPECT_FALSE(n.empty());
    with_comma += n.find(',') != std::string::npos;
    with_quote += n.find('"') != std::string::npos;
  }
  EXPECT_GT(with_comma, 0u);  // e.g. "Nike, Inc."
  EXPECT_GT(with_quote, 0u);  // e.g. Toys "R" Us
  EXPECT_NE(std::find(m.names.begin(), m.names.end(), "Nike, Inc."), m.names.end());
  EXPECT_NE(std::find(m.names.begin(), m.names.end(), "Toys \"R\" Us"), m.names.end());
}

}  // namespace
