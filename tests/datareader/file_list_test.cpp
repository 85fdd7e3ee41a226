#include <gtest/gtest.h>

#include "datareader/file_list.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {
using testing::TempDir;
using testing::write_file;

bool any_contains(const std::vector<std::string>& v, const std::string& needle) {
  for (const auto& s : v) {
    if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(FileList, ParsesLabelsCommentsBlankCrlfAndTrailingSpace) {
  TempDir tmp;
  const std::string list = tmp.file("lists/train.list");
  write_file(list,
             "# a comment\n"
             "a.mp4 3\r\n"
             "\n"
             "   \t \n"
             "sub/b.avi 0   \t\n"
             "/abs/c.mkv 399\n"
             "  # indented comment\n"
             "d.mov 7");  // no final newline
  const ListParseResult r = parse_file_list(list, true, 400);
  ASSERT_EQ(r.entries.size(), 4u);
  EXPECT_TRUE(r.skipped.empty());
  EXPECT_EQ(r.entries[0].path, tmp.file("lists/a.mp4"));
  EXPECT_EQ(r.entries[0].label, 3);
  EXPECT_EQ(r.entries[0].line_no, 2u);
  EXPECT_EQ(r.entries[1].path, tmp.file("lists/sub/b.avi"));
  EXPECT_EQ(r.entries[1].label, 0);
  EXPECT_EQ(r.entries[1].line_no, 5u);
  EXPECT_EQ(r.entries[2].path, "/abs/c.mkv");
  EXPECT_EQ(r.entries[2].label, 399);
  EXPECT_EQ(r.entries[3].path, tmp.file("lists/d.mov"));
  EXPECT_EQ(r.entries[3].label, 7);
  EXPECT_EQ(r.entries[3].line_no, 8u);
}

TEST(FileList, RelativePathsResolveAgainstListFolderNotCwd) {
  TempDir tmp;
  const std::string list = tmp.file("x/y/val.list");
  write_file(list, "../videos/v.mp4 1\n./w.mp4 2\n");
  const ListParseResult r = parse_file_list(list, true, 0);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].path, tmp.file("x/videos/v.mp4"));
  EXPECT_EQ(r.entries[1].path, tmp.file("x/y/w.mp4"));
}

TEST(FileList, BadLabelsSkipWithListAndLineInMessage) {
  TempDir tmp;
  const std::string list = tmp.file("bad.list");
  write_file(list,
             "ok.mp4 1\n"                    // 1
             "nolabel.mp4\n"                 // 2 missing
             "x.mp4 abc\n"                   // 3 non-integer
             "y.mp4 1.5\n"                   // 4 non-integer
             "z.mp4 -2\n"                    // 5 negative
             "w.mp4 400\n"                   // 6 out of range
             "v.mp4 2 extra\n"               // 7 too many columns
             "u.mp4 99999999999999999999\n"  // 8 overflow
             "good.mp4 399\n");              // 9
  const ListParseResult r = parse_file_list(list, true, 400);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].line_no, 1u);
  EXPECT_EQ(r.entries[1].line_no, 9u);
  ASSERT_EQ(r.skipped.size(), 7u);
  EXPECT_EQ(r.skipped[0].rfind(list + ":2: ", 0), 0u) << r.skipped[0];
  EXPECT_TRUE(any_contains(r.skipped, list + ":2: missing label"));
  EXPECT_TRUE(any_contains(r.skipped, list + ":3: label 'abc' is not an integer"));
  EXPECT_TRUE(any_contains(r.skipped, list + ":4: label '1.5' is not an integer"));
  EXPECT_TRUE(any_contains(r.skipped, list + ":5: label -2 is negative"));
  EXPECT_TRUE(any_contains(r.skipped, list + ":6: label 400 out of range [0, 400)"));
  EXPECT_TRUE(any_contains(r.skipped, list + ":7: expected '<path> <label>'"));
  EXPECT_TRUE(any_contains(r.skipped, list + ":8: label '99999999999999999999' is not an integer"));
}

TEST(FileList, LabelOptionalWhenNotRequired) {
  TempDir tmp;
  const std::string list = tmp.file("infer.list");
  write_file(list, "a.mp4\nb.mp4 5\n");
  const ListParseResult r = parse_file_list(list, false, 0);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].label, -1);
  EXPECT_EQ(r.entries[1].label, 5);
  // num_classes <= 0: no upper bound.
  write_file(list, "a.mp4 100000\n");
  EXPECT_EQ(parse_file_list(list, true, 0).entries.at(0).label, 100000);
}

TEST(FileList, MissingListFileThrowsNamingPath) {
  const std::string missing = "/nonexistent_dir_vc/never.list";
  try {
    parse_file_list(missing, true, 400);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  TempDir tmp;
  EXPECT_THROW(parse_file_list(tmp.str(), true, 400), DataError);  // a directory
}

TEST(FileList, EmptyFileGivesNoEntries) {
  TempDir tmp;
  write_file(tmp.file("e.list"), "");
  const ListParseResult r = parse_file_list(tmp.file("e.list"), true, 400);
  EXPECT_TRUE(r.entries.empty());
  EXPECT_TRUE(r.skipped.empty());
}

}  // namespace
}  // namespace vc::data
