// TensorBoardWriter: the event file's name and framing, the first file_version event and the
// scalar events, read back by an independent Python reader (tests/integration/read_tfevents.py:
// its own TFRecord framing + python3-protobuf); a second writer in the same second and folder
// gets its own file.
#include "tools/common/tensorboard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datareader/tfrecord.h"
#include "tests/support/temp_dir.h"
#include "tools/common/errors.h"

namespace {

namespace fs = std::filesystem;
using vc::app::TensorBoardWriter;
using vc::testing::run_command;
using vc::testing::TempDir;

TEST(TensorBoardWriter, WritesFileVersionThenScalarsThatPythonReads) {
  TempDir dir("tensorboard");
  const std::string sub = dir / "run/tensorboard";
  std::string path;
  {
    TensorBoardWriter w(sub);
    path = w.path();
    EXPECT_EQ(fs::path(path).parent_path(), fs::path(sub));
    EXPECT_EQ(fs::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u) << path;
    w.add_scalars({{"train/loss", 2.5}, {"train/lr", 0.01}}, 0);
    w.add_scalar("valid/top1", 37.5, 7, 1234.5);
    w.flush();
    // Flushed: a reader sees the events while the writer is open.
    vc::data::tfrecord::RecordReader r(path);
    std::string rec;
    int n = 0;
    while (r.next(&rec)) ++n;
    EXPECT_EQ(n, 4);
    EXPECT_TRUE(r.issues().empty());
  }
  // Same folder, same second: a new file, the first one intact.
  TensorBoardWriter again(sub);
  EXPECT_NE(again.path(), path);

  auto py =
      run_command("/usr/bin/python3 " VC_SOURCE_DIR "/tests/integration/read_tfevents.py " + path);
  if (py.exit_code == 77) GTEST_SKIP() << py.output;
  ASSERT_EQ(py.exit_code, 0) << py.output;
  std::vector<nlohmann::json> ev;
  std::istringstream in(py.output);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) ev.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(ev.size(), 4u) << py.output;
  EXPECT_EQ(ev[0]["file_version"], "brain.Event:2");
  EXPECT_GT(ev[0]["wall_time"].get<double>(), 1.5e9);  // seconds since the epoch
  EXPECT_EQ(ev[1]["tag"], "train/loss");
  EXPECT_EQ(ev[1]["value"].get<double>(), 2.5);
  EXPECT_EQ(ev[1]["step"], 0);
  EXPECT_EQ(ev[2]["tag"], "train/lr");
  EXPECT_EQ(ev[2]["value"].get<double>(), static_cast<double>(0.01f));  // float32
  EXPECT_EQ(ev[1]["wall_time"], ev[2]["wall_time"]);
  EXPECT_EQ(ev[3]["tag"], "valid/top1");
  EXPECT_EQ(ev[3]["value"].get<double>(), 37.5);
  EXPECT_EQ(ev[3]["step"], 7);
  EXPECT_EQ(ev[3]["wall_time"].get<double>(), 1234.5);
}

TEST(TensorBoardWriter, UnwritableFolderIsAnIoErrorNamingIt) {
  TempDir dir("tensorboard");
  vc::testing::write_text(dir / "file", "x");  // a file where the folder should be
  try {
    TensorBoardWriter w(dir / "file/tensorboard");
    FAIL() << "no error";
  } catch (const vc::app::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "file/tensorboard"), std::string::npos) << e.what();
  }
}

}  // namespace
