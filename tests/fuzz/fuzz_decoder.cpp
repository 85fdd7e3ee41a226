// libFuzzer target: bytes -> a temporary video file (.mp4, .avi or .mkv, chosen by the first
// byte) -> VideoDecoder::open + frame_count + read() of a few indices, as the Kinetics reader does.
// A DataError (DecodeError) is the expected outcome for a bad file; anything else (a crash, a
// sanitizer report, another exception type, a hang past libFuzzer's -timeout) is a finding.
// The decoder is chosen by VC_FUZZ_DECODER=ffmpeg|opencv (default: ffmpeg, the Kinetics reader's
// default). Build and run: see tests/fuzz/README.md.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "datareader/ffmpeg_decoder.h"
#include "datareader/video_decoder.h"

namespace {

std::shared_ptr<const vc::data::VideoDecoder> decoder() {
  static const std::shared_ptr<const vc::data::VideoDecoder> d = [] {
    const char* which = std::getenv("VC_FUZZ_DECODER");
    if (which && std::string(which) == "opencv") return vc::data::opencv_video_decoder();
    vc::data::FfmpegDecoderOptions o;
    o.timeout_s = 10.0;  // below libFuzzer's -timeout so a slow file is a DecodeError, not a hang
    return vc::data::ffmpeg_video_decoder(o);
  }();
  return d;
}

std::string temp_base() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string((tmp && *tmp) ? tmp : "/tmp") + "/vc_fuzz_decoder_" +
         std::to_string(::getpid());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* kExt[] = {".mp4", ".avi", ".mkv"};
  static const std::string base = temp_base();
  const std::string path = base + (size ? kExt[data[0] % 3] : ".mp4");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    std::unique_ptr<vc::data::VideoSource> src = decoder()->open(path);
    const int64_t n = src->frame_count();
    if (n < 1) {
      std::fprintf(stderr, "open() succeeded with frame_count %lld\n", static_cast<long long>(n));
      std::abort();
    }
    // Indices as the sampler makes them: first, middle, last (sorted, unique), capped so a file
    // that declares billions of frames does not make the harness walk them.
    std::vector<int64_t> idx{0};
    const int64_t last = std::min<int64_t>(n - 1, 300);
    if (last / 2 > 0) idx.push_back(last / 2);
    if (last > last / 2) idx.push_back(last);
    const vc::data::FrameReadResult r = src->read(idx);
    if (r.frames.size() > idx.size()) std::abort();
    for (const cv::Mat& f : r.frames) {
      if (f.empty() || f.type() != CV_8UC3) {
        std::fprintf(stderr, "read() returned an empty or non-RGB frame\n");
        std::abort();
      }
    }
    if (r.frames.size() < idx.size() && !r.ended_early) {
      std::fprintf(stderr, "read() returned fewer frames without ended_early\n");
      std::abort();
    }
  } catch (const vc::data::DataError&) {
    // expected for bad input
  }
  std::remove(path.c_str());
  return 0;
}
