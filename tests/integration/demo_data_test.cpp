// make_demo_data --kind motion: four classes whose only cue is the direction of motion. Checks the
// layout and, on the decoded clips, that "up" content moves up, "down" down, "grow" magnifies and
// "shrink" shrinks (measured with OpenCV, independently of the generator's code).
// make_demo_data --kind yt8m: the TFRecord shards parse with an independent Python reader and the
// multi-label structure is learnable (yt8m_demo_check.py); same seed, same bytes.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace {

using vc::testing::read_text;
using vc::testing::run_command;

const std::string kBin = std::string(VC_BINARY_DIR) + "/bin/";

std::vector<cv::Mat> read_gray(const std::string& path) {
  cv::VideoCapture cap(path);
  std::vector<cv::Mat> out;
  cv::Mat f, g;
  while (cap.read(f)) {
    cv::cvtColor(f, g, cv::COLOR_BGR2GRAY);
    g.convertTo(g, CV_32F);
    out.push_back(g.clone());
  }
  return out;
}

// Mean vertical shift (pixels, + = content moves down) between frames k and k+step.
double vertical_motion(const std::vector<cv::Mat>& frames, int step) {
  double sum = 0;
  int n = 0;
  for (std::size_t k = 0; k + step < frames.size(); k += step) {
    sum += cv::phaseCorrelate(frames[k], frames[k + step]).y;
    ++n;
  }
  return n ? sum / n : 0.0;
}

// Magnification from the first to the last frame: ratio of the best-matching central crop size.
// Scores each candidate scale s by how well the centre 1/s of the first frame, enlarged by s,
// matches the last frame (and vice versa); > 1 = zoom in (grow).
double magnification(const std::vector<cv::Mat>& frames) {
  const cv::Mat& a = frames.front();
  const cv::Mat& b = frames.back();
  auto err = [](const cv::Mat& small_view, const cv::Mat& big, double s) {
    const cv::Size sz = small_view.size();
    const int w = static_cast<int>(sz.width / s), h = static_cast<int>(sz.height / s);
    cv::Mat centre = small_view(cv::Rect((sz.width - w) / 2, (sz.height - h) / 2, w, h)), up;
    cv::resize(centre, up, sz, 0, 0, cv::INTER_LINEAR);
    return cv::norm(up, big, cv::NORM_L1);
  };
  // Compare the best zoom-in explanation with the best zoom-out one (zoom centre is near the
  // middle; the error at the right scale is much lower than at the wrong one).
  double best_in = 1e300, best_out = 1e300;
  for (double s = 1.3; s <= 2.4; s += 0.05) {
    best_in = std::min(best_in, err(a, b, s));
    best_out = std::min(best_out, err(b, a, s));
  }
  return best_out / best_in;
}

TEST(DemoData, MotionKindClassesDifferByDirection) {
  vc::testing::TempDir dir;
  const std::string out = dir / "motion";
  auto r = run_command(kBin + "make_demo_data --kind motion --out " + out +
                       " --clips-per-class 3 --frames 24 --width 96 --height 72 --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_text(out + "/label_map.txt"), "up\ndown\ngrow\nshrink\n");
  const std::string train = read_text(out + "/train.list");
  EXPECT_NE(train.find("videos/down/down_"), std::string::npos) << train;
  for (int k = 0; k < 3; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "_%03d.mp4", k);
    const auto up = read_gray(out + "/videos/up/up" + name);
    const auto down = read_gray(out + "/videos/down/down" + name);
    const auto grow = read_gray(out + "/videos/grow/grow" + name);
    const auto shrink = read_gray(out + "/videos/shrink/shrink" + name);
    ASSERT_EQ(up.size(), 24u);
    ASSERT_EQ(shrink.size(), 24u);
    EXPECT_LT(vertical_motion(up, 2), -1.0) << "clip " << k;  // content moves up
    EXPECT_GT(vertical_motion(down, 2), 1.0) << "clip " << k;
    EXPECT_GT(magnification(grow), 1.5) << "clip " << k;
    EXPECT_LT(magnification(shrink), 1 / 1.5) << "clip " << k;
  }
}

TEST(DemoData, Yt8mKindIsReadableAndLearnable) {
  vc::testing::TempDir dir;
  const std::string out = dir / "yt8m";
  auto r = run_command(kBin + "make_demo_data --kind yt8m --classes 16 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f :
       {"train_000.tfrecord", "train_001.tfrecord", "val_000.tfrecord", "test_000.tfrecord",
        "train.list", "val.list", "test.list", "infer.list", "vocabulary.csv"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;
  EXPECT_EQ(read_text(out + "/train.list"), "train_000.tfrecord\ntrain_001.tfrecord\n");
  const std::string vocab = read_text(out + "/vocabulary.csv");
  EXPECT_EQ(vocab.rfind("Index,TrainVideoCount,KnowledgeGraphId,Name,", 0), 0u) << vocab;
  EXPECT_NE(vocab.find("\n15,"), std::string::npos) << vocab;

  // Deterministic: the same seed writes the same bytes.
  const std::string again = dir / "yt8m_again";
  r = run_command(kBin + "make_demo_data --kind yt8m --classes 16 --out " + again);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_text(out + "/train_000.tfrecord"), read_text(again + "/train_000.tfrecord"));

  r = run_command("/usr/bin/python3 " + std::string(VC_SOURCE_DIR) +
                  "/tests/integration/yt8m_demo_check.py " + out + " 16");
  if (r.exit_code == 77) GTEST_SKIP() << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(DemoData, UnknownKindIsAUsageError) {
  vc::testing::TempDir dir;
  auto r = run_command(kBin + "make_demo_data --kind spinning --out " + (dir / "x"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--kind"), std::string::npos) << r.output;
}

}  // namespace
