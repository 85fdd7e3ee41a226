// make_demo_data: writes a small labelled synthetic video dataset (coloured
// moving shapes) for smoke-testing and demoing the training pipeline.
//
// Output layout in --out DIR:
//   videos/<class>/<class>_<kkk>.mp4   one clip per (class, k)
//   label_map.txt                      one class name per line (line i = label i)
//   train.list / val.list / test.list  "videos/<class>/<file> <label>" (relative to DIR)
//   infer.list                         same clips as test.list, without labels
//
// --kind shapes (default): each class is a distinct shape + colour combination that bounces
// around the frame along a random trajectory. Per clip the size, start position, velocity,
// rotation, background shade/tint/gradient/noise and the shape colour are jittered. Every class
// cue is invariant to horizontal flips and visible in any single frame, so a few frames sampled
// anywhere in the clip suffice.
//
// --kind motion: four classes that differ ONLY in the order of the frames: a random scene of
// shapes moving up, the same kind of scene moving down (the frames of an "up" clip played
// backwards), zooming in (grow) and zooming out (shrink, a "grow" clip played backwards). No
// single frame tells the class, and a horizontal flip keeps it, so a network that averages
// per-frame features (TSN) is at chance within each pair while one that sees temporal order
// (TSM, StNet, Non-local) can learn it.
//
// --kind yt8m: no videos but YouTube-8M frame-level features (tools/demo/yt8m_demo.h): TFRecord
// shards of SequenceExamples with a learnable multi-label structure, list files and a
// vocabulary.csv, for Attention Cluster, Attention LSTM and NeXtVLAD.
//
// Output is deterministic for a given seed (up to the video encoder). Only
// OpenCV and the torch-free TFRecord writer are used (no LibTorch).

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "datareader/rng.h"
#include "tools/demo/yt8m_demo.h"

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------
// Options / CLI
// ---------------------------------------------------------------------------

struct Options {
  std::string out;
  int clips_per_class = 10;
  int frames = 48;
  int width = 160;
  int height = 120;
  double fps = 24.0;
  std::uint64_t seed = 0;
  std::string kind = "shapes";  // "shapes", "motion" or "yt8m"
  bool frames_given = false;
  int videos = 600;    // yt8m
  int classes = 16;    // yt8m
  int min_frames = 8;  // yt8m
  int shards = 2;      // yt8m: train shards
};

// Parses argv with CLI11. Returns nullopt and sets *code when the program should exit (--help: 0,
// usage error: 2, already printed).
std::optional<Options> parse_args(int argc, char** argv, int* code) {
  Options o;
  CLI::App app{
      "Writes a small labelled synthetic video dataset (6 classes of coloured moving shapes) "
      "into DIR: videos/<class>/<class>_<k>.mp4, label_map.txt, train.list, val.list, test.list "
      "(\"<relative path> <label>\"), infer.list (test clips, no labels). Clips are split per "
      "class 60% / 20% / 20% (train / val / test).",
      "make_demo_data"};
  app.add_option("--out", o.out, "output directory (created if missing)")
      ->required()
      ->check([](const std::string& v) { return v.empty() ? "--out needs a directory" : ""; });
  app.add_option("--clips-per-class", o.clips_per_class, "clips per class")
      ->check(CLI::Range(3, 100000))
      ->capture_default_str();
  app.add_option("--frames", o.frames, "frames per clip")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  // Video encoders (mp4v, avc1, 4:2:0 MJPG) need even frame dimensions.
  auto even = [](const std::string& v) {
    return std::stoi(v) % 2 ? std::string("must be even, got ") + v : std::string();
  };
  app.add_option("--width", o.width, "frame width, even")
      ->check(CLI::Range(32, 4096))
      ->check(even)
      ->capture_default_str();
  app.add_option("--height", o.height, "frame height, even")
      ->check(CLI::Range(32, 4096))
      ->check(even)
      ->capture_default_str();
  app.add_option("--fps", o.fps, "frames per second, (0, 240]")
      ->check(CLI::Range(1e-9, 240.0))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_option("--kind", o.kind,
                 "shapes: 6 classes of shape + colour (visible in any frame); motion: 4 classes "
                 "that differ only in the direction of motion (up, down, grow, shrink: the same "
                 "kind of frames in different orders); yt8m: YouTube-8M frame-level features "
                 "(TFRecord shards of SequenceExamples, multi-label, --videos / --classes / "
                 "--min-frames / --frames as the longest video, default 40)")
      ->check(CLI::IsMember({"shapes", "motion", "yt8m"}))
      ->capture_default_str();
  app.add_option("--videos", o.videos, "yt8m: videos in all (60/20/20 train/val/test)")
      ->check(CLI::Range(10, 10000000))
      ->capture_default_str();
  app.add_option("--classes", o.classes, "yt8m: classes")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  app.add_option("--min-frames", o.min_frames, "yt8m: frames of the shortest video")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--shards", o.shards, "yt8m: TFRecord files of the train split")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *code = app.exit(e);
    if (*code != 0) *code = 2;
    return std::nullopt;
  }
  o.frames_given = app.count("--frames") > 0;
  return o;
}

// ---------------------------------------------------------------------------
// Deterministic randomness (independent of the standard library's
// distribution implementations).
// ---------------------------------------------------------------------------

// The SplitMix64 stream (the mixer is the datareader's, vc::data::mix64): the demo dataset of a
// seed is the same as before the mixer was shared.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(vc::data::mix64(seed)) {}
  std::uint64_t next() {
    const std::uint64_t z = vc::data::mix64(state_);  // = finalise(state + golden ratio)
    state_ += 0x9E3779B97F4A7C15ULL;
    return z;
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int randint(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  double sign() { return (next() & 1) ? 1.0 : -1.0; }

 private:
  std::uint64_t state_;
};

std::uint64_t mix(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  return vc::data::mix64(vc::data::mix64(seed ^ 0xD1B54A32D192ED03ULL) + a * 0x100000001B3ULL + b);
}

// ---------------------------------------------------------------------------
// Classes
// ---------------------------------------------------------------------------

enum class Shape { Circle, Square, Triangle, Cross, Ring, Bars };

struct ClassSpec {
  const char* name;
  Shape shape;
  cv::Scalar bgr;  // base colour (BGR)
  bool rotates;    // spins in the image plane (keeps the cue flip-invariant)
};

// Distinct shape + colour per class. Every cue survives a horizontal flip.
const std::array<ClassSpec, 6> kClasses = {{
    {"circle", Shape::Circle, cv::Scalar(40, 40, 225), false},      // red
    {"square", Shape::Square, cv::Scalar(50, 200, 50), true},       // green
    {"triangle", Shape::Triangle, cv::Scalar(230, 110, 30), true},  // blue
    {"cross", Shape::Cross, cv::Scalar(30, 220, 235), true},        // yellow
    {"ring", Shape::Ring, cv::Scalar(220, 50, 220), false},         // magenta
    {"bars", Shape::Bars, cv::Scalar(230, 230, 40), false},         // cyan
}};

struct ClipParams {
  double radius;         // half extent of the shape in pixels
  double x, y;           // start centre
  double vx, vy;         // velocity, pixels per frame
  double angle, omega;   // rotation (radians) and angular speed per frame
  cv::Scalar colour;     // jittered shape colour
  cv::Scalar bg_top;     // background colour at the top row
  cv::Scalar bg_bottom;  // background colour at the bottom row
  double noise_sigma;    // per-pixel Gaussian noise
  double pulse_amp;      // relative size pulsation amplitude
  double pulse_freq;     // pulsation frequency (radians per frame)
};

ClipParams sample_clip(const ClassSpec& spec, const Options& o, Rng& rng) {
  ClipParams p;
  const double m = std::min(o.width, o.height);
  p.radius = m * rng.uniform(0.20, 0.30);
  const double margin = p.radius * 1.05 + 1.0;
  p.x = rng.uniform(margin, std::max(margin, o.width - margin));
  p.y = rng.uniform(margin, std::max(margin, o.height - margin));
  const double speed = m * rng.uniform(0.008, 0.03);
  const double dir = rng.uniform(0.0, 2.0 * kPi);
  p.vx = speed * std::cos(dir);
  p.vy = speed * std::sin(dir);
  p.angle = rng.uniform(0.0, 2.0 * kPi);
  p.omega = spec.rotates ? rng.sign() * rng.uniform(0.01, 0.06) : 0.0;
  for (int c = 0; c < 3; ++c)
    p.colour[c] = std::clamp(spec.bgr[c] + rng.uniform(-25.0, 25.0), 0.0, 255.0);
  const double shade = rng.uniform(25.0, 110.0);
  const double grad = rng.uniform(-30.0, 30.0);
  for (int c = 0; c < 3; ++c) {
    const double tint = rng.uniform(-10.0, 10.0);
    p.bg_top[c] = std::clamp(shade + tint - grad / 2, 0.0, 255.0);
    p.bg_bottom[c] = std::clamp(shade + tint + grad / 2, 0.0, 255.0);
  }
  p.noise_sigma = rng.uniform(0.0, 10.0);
  p.pulse_amp = rng.uniform(0.0, 0.12);
  p.pulse_freq = rng.uniform(0.05, 0.25);
  return p;
}

cv::Point to_fixed(double x, double y) {
  // 4 fractional bits for sub-pixel anti-aliased drawing.
  return cv::Point(static_cast<int>(std::lround(x * 16.0)),
                   static_cast<int>(std::lround(y * 16.0)));
}
constexpr int kShift = 4;

void fill_polygon(cv::Mat& img, const std::vector<cv::Point2d>& pts, const cv::Scalar& col) {
  std::vector<cv::Point> fixed;
  fixed.reserve(pts.size());
  for (const auto& p : pts) fixed.push_back(to_fixed(p.x, p.y));
  const cv::Point* data = fixed.data();
  const int n = static_cast<int>(fixed.size());
  cv::fillPoly(img, &data, &n, 1, col, cv::LINE_AA, kShift);
}

// Points of a polygon given in unit coordinates, rotated by `angle`, scaled by
// `r` and centred on (cx, cy).
std::vector<cv::Point2d> place(const std::vector<cv::Point2d>& unit, double cx, double cy, double r,
                               double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  std::vector<cv::Point2d> out;
  out.reserve(unit.size());
  for (const auto& u : unit)
    out.emplace_back(cx + r * (c * u.x - s * u.y), cy + r * (s * u.x + c * u.y));
  return out;
}

void draw_shape(cv::Mat& img, Shape shape, double cx, double cy, double r, double angle,
                const cv::Scalar& col) {
  switch (shape) {
    case Shape::Circle:
      cv::circle(img, to_fixed(cx, cy), static_cast<int>(std::lround(r * 16.0)), col, cv::FILLED,
                 cv::LINE_AA, kShift);
      break;
    case Shape::Ring: {
      const double thick = std::max(2.0, r * 0.35);
      const double mid = r - thick / 2;
      cv::circle(img, to_fixed(cx, cy), static_cast<int>(std::lround(mid * 16.0)), col,
                 static_cast<int>(std::lround(thick)), cv::LINE_AA, kShift);
      break;
    }
    case Shape::Square: {
      const double h = 0.8;  // half side, so the corners stay within ~r
      fill_polygon(img, place({{-h, -h}, {h, -h}, {h, h}, {-h, h}}, cx, cy, r, angle), col);
      break;
    }
    case Shape::Triangle: {
      std::vector<cv::Point2d> unit;
      for (int k = 0; k < 3; ++k) {
        const double a = -kPi / 2 + k * 2.0 * kPi / 3.0;
        unit.emplace_back(std::cos(a), std::sin(a));
      }
      fill_polygon(img, place(unit, cx, cy, r, angle), col);
      break;
    }
    case Shape::Cross: {
      const double w = 0.28;  // half arm width
      const std::vector<cv::Point2d> unit = {{-w, -1}, {w, -1}, {w, -w},  {1, -w},
                                             {1, w},   {w, w},  {w, 1},   {-w, 1},
                                             {-w, w},  {-1, w}, {-1, -w}, {-w, -w}};
      fill_polygon(img, place(unit, cx, cy, r, angle), col);
      break;
    }
    case Shape::Bars: {
      // Three horizontal bars stacked vertically (no rotation: stays horizontal).
      const double bar_h = 0.36;
      for (int k = -1; k <= 1; ++k) {
        const double yc = k * 0.68;
        fill_polygon(img,
                     place({{-1, yc - bar_h / 2},
                            {1, yc - bar_h / 2},
                            {1, yc + bar_h / 2},
                            {-1, yc + bar_h / 2}},
                           cx, cy, r, 0.0),
                     col);
      }
      break;
    }
  }
}

void render_clip(const ClassSpec& spec, const ClipParams& p, const Options& o,
                 std::uint64_t noise_seed, std::vector<cv::Mat>& frames) {
  frames.clear();
  cv::Mat background(o.height, o.width, CV_8UC3);
  for (int y = 0; y < o.height; ++y) {
    const double t = o.height > 1 ? static_cast<double>(y) / (o.height - 1) : 0.0;
    const cv::Scalar c = p.bg_top * (1.0 - t) + p.bg_bottom * t;
    background.row(y).setTo(c);
  }
  cv::RNG cvrng(noise_seed);
  cv::Mat noise(o.height, o.width, CV_16SC3);
  double x = p.x, y = p.y, vx = p.vx, vy = p.vy, angle = p.angle;
  for (int f = 0; f < o.frames; ++f) {
    cv::Mat frame = background.clone();
    const double r = p.radius * (1.0 + p.pulse_amp * std::sin(p.pulse_freq * f));
    draw_shape(frame, spec.shape, x, y, r, angle, p.colour);
    if (p.noise_sigma > 0.5) {
      cvrng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(p.noise_sigma));
      cv::Mat f16;
      frame.convertTo(f16, CV_16SC3);
      f16 += noise;
      f16.convertTo(frame, CV_8UC3);  // saturating
    }
    frames.push_back(frame);

    // Advance, bouncing off the walls (bounding radius includes the pulse).
    const double br = p.radius * (1.0 + p.pulse_amp);
    x += vx;
    y += vy;
    angle += p.omega;
    const double lo_x = br, hi_x = o.width - br, lo_y = br, hi_y = o.height - br;
    if (hi_x > lo_x) {
      if (x < lo_x) {
        x = 2 * lo_x - x;
        vx = std::abs(vx);
      }
      if (x > hi_x) {
        x = 2 * hi_x - x;
        vx = -std::abs(vx);
      }
      x = std::clamp(x, lo_x, hi_x);
    }
    if (hi_y > lo_y) {
      if (y < lo_y) {
        y = 2 * lo_y - y;
        vy = std::abs(vy);
      }
      if (y > hi_y) {
        y = 2 * hi_y - y;
        vy = -std::abs(vy);
      }
      y = std::clamp(y, lo_y, hi_y);
    }
  }
}

// ---------------------------------------------------------------------------
// --kind motion: the classes differ only by the direction of motion
// ---------------------------------------------------------------------------

const std::array<const char*, 4> kMotionClasses = {"up", "down", "grow", "shrink"};

// A random still scene larger than the frame: background gradient and 6-10 shapes of random kind,
// colour, size and angle.
cv::Mat motion_canvas(int width, int height, Rng& rng) {
  cv::Mat canvas(height, width, CV_8UC3);
  const double shade = rng.uniform(25.0, 110.0), grad = rng.uniform(-40.0, 40.0);
  cv::Scalar top, bottom;
  for (int c = 0; c < 3; ++c) {
    const double tint = rng.uniform(-12.0, 12.0);
    top[c] = std::clamp(shade + tint - grad / 2, 0.0, 255.0);
    bottom[c] = std::clamp(shade + tint + grad / 2, 0.0, 255.0);
  }
  for (int y = 0; y < height; ++y) {
    const double t = height > 1 ? static_cast<double>(y) / (height - 1) : 0.0;
    canvas.row(y).setTo(top * (1.0 - t) + bottom * t);
  }
  const double m = std::min(width, height);
  const int shapes = rng.randint(6, 10);
  for (int i = 0; i < shapes; ++i) {
    const ClassSpec& spec = kClasses[static_cast<std::size_t>(rng.randint(0, 5))];
    cv::Scalar col;
    for (int c = 0; c < 3; ++c) col[c] = rng.uniform(60.0, 255.0);
    draw_shape(canvas, spec.shape, rng.uniform(0.0, width), rng.uniform(0.0, height),
               m * rng.uniform(0.06, 0.16), rng.uniform(0.0, 2.0 * kPi), col);
  }
  return canvas;
}

// Frames of motion class `cls` (0 up, 1 down, 2 grow, 3 shrink). "down" and "shrink" are "up" and
// "grow" clips played backwards; the per-frame noise is drawn afterwards so that it does not move.
void render_motion_clip(int cls, const Options& o, Rng& rng, std::vector<cv::Mat>& frames) {
  frames.clear();
  const int n = o.frames;
  const bool vertical = cls < 2;
  // Translation: the window slides down a taller canvas, so the content moves up.
  const double speed = std::min(o.width, o.height) * rng.uniform(0.015, 0.03);  // px per frame
  const int travel = static_cast<int>(std::ceil(speed * std::max(0, n - 1)));
  const cv::Mat canvas = vertical ? motion_canvas(o.width, o.height + travel + 1, rng)
                                  : motion_canvas(o.width, o.height, rng);
  // Zoom: the window shrinks from the whole frame to 1/zoom of it about a random centre.
  const double zoom = rng.uniform(1.5, 2.2);
  const double cx = o.width * rng.uniform(0.4, 0.6), cy = o.height * rng.uniform(0.4, 0.6);
  const bool flip = rng.uniform() < 0.5;
  for (int f = 0; f < n; ++f) {
    const double t = n > 1 ? static_cast<double>(f) / (n - 1) : 0.0;
    cv::Mat frame;
    if (vertical) {
      // Sub-pixel vertical offset through an affine warp (bilinear).
      const double y0 = speed * f;
      cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, 0, 0, 1, -y0);
      cv::warpAffine(canvas, frame, m, cv::Size(o.width, o.height), cv::INTER_LINEAR,
                     cv::BORDER_REFLECT);
    } else {
      const double s = std::pow(zoom, t);  // magnification
      cv::Mat m = (cv::Mat_<double>(2, 3) << s, 0, cx - s * cx, 0, s, cy - s * cy);
      cv::warpAffine(canvas, frame, m, cv::Size(o.width, o.height), cv::INTER_LINEAR,
                     cv::BORDER_REFLECT);
    }
    if (flip) cv::flip(frame, frame, 1);
    frames.push_back(frame);
  }
  if (cls == 1 || cls == 3) std::reverse(frames.begin(), frames.end());
  const double sigma = rng.uniform(0.0, 8.0);
  if (sigma > 0.5) {
    cv::RNG cvrng(rng.next());
    cv::Mat noise(o.height, o.width, CV_16SC3), f16;
    for (cv::Mat& frame : frames) {
      cvrng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(sigma));
      frame.convertTo(f16, CV_16SC3);
      f16 += noise;
      f16.convertTo(frame, CV_8UC3);  // saturating
    }
  }
}

// ---------------------------------------------------------------------------
// Video I/O
// ---------------------------------------------------------------------------

struct Container {
  const char* fourcc;  // 4 characters
  const char* ext;
  const char* desc;
};

const std::array<Container, 3> kContainers = {{
    {"mp4v", ".mp4", "MPEG-4 Part 2 (mp4v) in .mp4"},
    {"avc1", ".mp4", "H.264 (avc1) in .mp4"},
    {"MJPG", ".avi", "Motion JPEG (MJPG) in .avi"},
}};

int fourcc_of(const Container& c) {
  return cv::VideoWriter::fourcc(c.fourcc[0], c.fourcc[1], c.fourcc[2], c.fourcc[3]);
}

bool write_video(const fs::path& path, const Container& c, const std::vector<cv::Mat>& frames,
                 const Options& o) {
  cv::VideoWriter writer;
  if (!writer.open(path.string(), cv::CAP_FFMPEG, fourcc_of(c), o.fps, cv::Size(o.width, o.height),
                   true))
    return false;
  if (!writer.isOpened()) return false;
  for (const auto& f : frames) writer.write(f);
  writer.release();
  return true;
}

// Reads the whole clip back; returns the number of decoded frames (or -1 when
// the file cannot be opened) and fills `size` with the decoded frame size.
int count_frames(const fs::path& path, cv::Size& size) {
  cv::VideoCapture cap(path.string(), cv::CAP_FFMPEG);
  if (!cap.isOpened()) return -1;
  int n = 0;
  cv::Mat frame;
  while (cap.read(frame)) {
    if (frame.empty()) break;
    size = frame.size();
    ++n;
  }
  return n;
}

bool verify_video(const fs::path& path, const Options& o, std::string& why) {
  cv::Size size;
  const int n = count_frames(path, size);
  if (n < 0) {
    why = "cannot be opened with cv::VideoCapture";
    return false;
  }
  if (n != o.frames) {
    why = "decoded " + std::to_string(n) + " frames, expected " + std::to_string(o.frames);
    return false;
  }
  if (size != cv::Size(o.width, o.height)) {
    why = "decoded frame size " + std::to_string(size.width) + "x" + std::to_string(size.height) +
          ", expected " + std::to_string(o.width) + "x" + std::to_string(o.height);
    return false;
  }
  return true;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << text;
  out.close();
  if (!out) throw std::runtime_error("error while writing " + path.string());
}

std::string clip_name(const char* cls, int k, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%03d", k);
  return std::string(cls) + buf + ext;
}

int run(const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path root(o.out);
  std::error_code ec;
  fs::create_directories(root / "videos", ec);
  if (ec)
    throw std::runtime_error("cannot create " + (root / "videos").string() + ": " + ec.message());

  // Pick the first container that can be written and read back, probing with
  // the first real clip.
  const bool motion = o.kind == "motion";
  const int num_classes = static_cast<int>(motion ? kMotionClasses.size() : kClasses.size());
  auto class_name = [&](int c) {
    return motion ? kMotionClasses[static_cast<std::size_t>(c)] : kClasses[c].name;
  };
  std::vector<cv::Mat> frames;
  int container = -1;

  struct Entry {
    std::string rel;
    int label;
  };
  std::vector<Entry> train, val, test;

  for (int c = 0; c < num_classes; ++c) {
    const char* name = class_name(c);
    const fs::path cls_dir = root / "videos" / name;
    fs::create_directories(cls_dir, ec);
    if (ec) throw std::runtime_error("cannot create " + cls_dir.string() + ": " + ec.message());

    std::vector<std::string> rels;
    for (int k = 0; k < o.clips_per_class; ++k) {
      Rng rng(mix(o.seed, static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(k)));
      if (motion) {
        render_motion_clip(c, o, rng, frames);
      } else {
        const ClassSpec& spec = kClasses[c];
        const ClipParams p = sample_clip(spec, o, rng);
        render_clip(spec, p, o, rng.next(), frames);
      }

      if (container < 0) {
        std::string last_why;
        for (int i = 0; i < static_cast<int>(kContainers.size()); ++i) {
          const fs::path path = cls_dir / clip_name(name, k, kContainers[i].ext);
          std::string why;
          if (!write_video(path, kContainers[i], frames, o)) {
            why = "cv::VideoWriter could not open the file";
          } else if (verify_video(path, o, why)) {
            container = i;
            break;
          }
          fs::remove(path, ec);
          std::cerr << "warning: cannot use " << kContainers[i].desc << " (" << why << ")";
          if (i + 1 < static_cast<int>(kContainers.size()))
            std::cerr << "; falling back to " << kContainers[i + 1].desc;
          std::cerr << "\n";
          last_why = why;
        }
        if (container < 0)
          throw std::runtime_error("no usable video writer (tried mp4v, avc1, MJPG): " + last_why);
        rels.push_back("videos/" + std::string(name) + "/" +
                       clip_name(name, k, kContainers[container].ext));
        continue;
      }

      const std::string file = clip_name(name, k, kContainers[container].ext);
      if (!write_video(cls_dir / file, kContainers[container], frames, o))
        throw std::runtime_error("cv::VideoWriter could not open " + (cls_dir / file).string());
      rels.push_back("videos/" + std::string(name) + "/" + file);
    }

    // Deterministic per-class split: shuffle with the seed, then 60/20/20.
    std::vector<int> order(o.clips_per_class);
    for (int k = 0; k < o.clips_per_class; ++k) order[k] = k;
    Rng srng(mix(o.seed, 0xC1A55ULL, static_cast<std::uint64_t>(c)));
    for (int k = o.clips_per_class - 1; k > 0; --k) std::swap(order[k], order[srng.randint(0, k)]);
    const int n = o.clips_per_class;
    const int n_val = std::max(1, static_cast<int>(std::lround(0.2 * n)));
    const int n_test = std::max(1, static_cast<int>(std::lround(0.2 * n)));
    const int n_train = n - n_val - n_test;  // >= 1 since n >= 3
    std::vector<int> tr(order.begin(), order.begin() + n_train);
    std::vector<int> va(order.begin() + n_train, order.begin() + n_train + n_val);
    std::vector<int> te(order.begin() + n_train + n_val, order.end());
    for (auto* v : {&tr, &va, &te}) std::sort(v->begin(), v->end());
    for (int k : tr) train.push_back({rels[k], c});
    for (int k : va) val.push_back({rels[k], c});
    for (int k : te) test.push_back({rels[k], c});
  }

  // Validate every clip by reading it back.
  int verified = 0;
  for (const auto* list : {&train, &val, &test}) {
    for (const auto& e : *list) {
      std::string why;
      if (!verify_video(root / e.rel, o, why))
        throw std::runtime_error("written clip " + (root / e.rel).string() +
                                 " cannot be read back: " + why);
      ++verified;
    }
  }

  std::string label_map;
  for (int c = 0; c < num_classes; ++c) label_map += std::string(class_name(c)) + "\n";
  write_text(root / "label_map.txt", label_map);
  auto to_text = [](const std::vector<Entry>& v, bool labels) {
    std::string s;
    for (const auto& e : v)
      s += labels ? e.rel + " " + std::to_string(e.label) + "\n" : e.rel + "\n";
    return s;
  };
  write_text(root / "train.list", to_text(train, true));
  write_text(root / "val.list", to_text(val, true));
  write_text(root / "test.list", to_text(test, true));
  write_text(root / "infer.list", to_text(test, false));

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "make_demo_data: wrote %d clips (%d classes x %d, %d frames %dx%d @ %g fps, %s; "
      "train/val/test = %zu/%zu/%zu) to %s in %.2f s\n",
      verified, num_classes, o.clips_per_class, o.frames, o.width, o.height, o.fps,
      kContainers[container].fourcc, train.size(), val.size(), test.size(), root.string().c_str(),
      secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int code = 0;
  const std::optional<Options> o = parse_args(argc, argv, &code);
  if (!o) return code;
  try {
    if (o->kind == "yt8m") {
      vc::demo::Yt8mDemoOptions y;
      y.out = o->out;
      y.videos = o->videos;
      y.classes = o->classes;
      y.min_frames = o->min_frames;
      y.train_shards = o->shards;
      y.max_frames = o->frames_given ? o->frames : 40;
      y.seed = o->seed;
      vc::demo::write_yt8m_demo(y);
      return 0;
    }
    return run(*o);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
