#include "datareader/ffmpeg_decoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <unordered_map>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "datareader/resize.h"
#include "datareader/rotation.h"

namespace vc::data {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// --- RAII ------------------------------------------------------------------------------------
struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFree>;

std::string av_err(int e) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(e, buf, sizeof(buf));
  return buf;
}

// Internal: the packet sequence read after a seek does not match the index.
struct LostPosition {};

// One video packet of the index, in decode (file) order.
struct PacketInfo {
  int64_t pts = AV_NOPTS_VALUE, dts = AV_NOPTS_VALUE, pos = -1;
  int size = 0;
  bool key = false;
  bool discard = false;  // AV_PKT_FLAG_DISCARD (e.g. before an mp4 edit list): no frame
  int64_t frame = -1;    // presentation-order frame index (-1 when discard)
};

class FfmpegSource final : public VideoSource {
 public:
  FfmpegSource(std::string path, const FfmpegDecoderOptions& opts)
      : path_(std::move(path)), opts_(opts) {
    if (opts_.timeout_s > 0) {
      deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(opts_.timeout_s));
      has_deadline_ = true;
    }
  }

  void open() {
    open_input();
    open_codec();
    build_index();
  }

  int64_t frame_count() const override { return static_cast<int64_t>(frame_to_packet_.size()); }
  // Upright (rotated) size: what read() returns and what scaling is computed from.
  cv::Size frame_size() const override {
    return native_.empty() ? native_ : rotated_size(native_, rotation_);
  }
  FrameReadResult read(const std::vector<int64_t>& sorted_indices) override {
    return read_scaled(sorted_indices, cv::Size());
  }
  FrameReadResult read_scaled(const std::vector<int64_t>& sorted_indices,
                              cv::Size out_size) override;

 private:
  static int interrupt_cb(void* self) {
    return static_cast<FfmpegSource*>(self)->expired() ? 1 : 0;
  }
  bool expired() const { return has_deadline_ && Clock::now() > deadline_; }
  void check_deadline(const char* where) const {
    if (expired()) {
      throw DecodeError(path_, "decode timeout",
                        std::string("exceeded ") + std::to_string(opts_.timeout_s) + " s " + where);
    }
  }

  void open_input();
  void open_codec();
  void build_index();
  int read_video_packet(AVPacket* pkt);
  int64_t locate(const AVPacket* pkt) const;
  bool matches(const AVPacket* pkt, int64_t d) const;
  void position_at(int64_t d, FrameReadResult& r);
  void reopen_at(int64_t d, FrameReadResult& r);
  void decode_targets(const std::vector<int64_t>& targets, bool from_start, cv::Size out_size,
                      std::unordered_map<int64_t, cv::Mat>& got, FrameReadResult& r);
  int64_t keyframe_for(int64_t frame) const;
  cv::Mat convert(const AVFrame* f, cv::Size out_size);
  cv::Mat resized(const cv::Mat& m, cv::Size out);

  std::string path_;
  FfmpegDecoderOptions opts_;
  Clock::time_point deadline_{};
  bool has_deadline_ = false;

  FormatPtr fmt_;
  CodecPtr codec_;
  SwsPtr sws_;
  std::vector<uint8_t> scratch_;
  int stream_ = -1;
  cv::Size native_;   // decoded (coded) size, before rotation
  int rotation_ = 0;  // clockwise degrees that make frames upright (datareader/rotation.h)
  std::unique_ptr<BilinearResizer> resizer_;  // the last sizes used

  std::vector<PacketInfo> pk_;            // decode order
  std::vector<int64_t> frame_to_packet_;  // presentation index -> decode index
  std::vector<int64_t> keys_;             // decode indices of keyframe packets (ascending)
  bool pts_mode_ = false;                 // frames identified by pts (else by output order)
  bool order_mode_seekable_ = false;      // order mode and the codec never reorders frames
  std::unordered_map<int64_t, int64_t> pts_to_frame_;
  std::unordered_map<int64_t, int64_t> pos_to_packet_;

  // Read state: packets of the index [0, next_) have been read since the last positioning.
  int64_t next_ = 0;
  PacketPtr pending_;  // a packet read while positioning, not yet consumed
  bool has_pending_ = false;
  bool used_ = false;
};

void FfmpegSource::open_input() {
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw DecodeError(path_, "cannot open video", "out of memory");
  raw->interrupt_callback.callback = &FfmpegSource::interrupt_cb;
  raw->interrupt_callback.opaque = this;
  int e = avformat_open_input(&raw, path_.c_str(), nullptr, nullptr);  // frees raw on failure
  if (e < 0) {
    check_deadline("opening");
    throw DecodeError(path_, "cannot open video", av_err(e));
  }
  fmt_.reset(raw);
  e = avformat_find_stream_info(fmt_.get(), nullptr);
  check_deadline("probing streams");
  if (e < 0) throw DecodeError(path_, "cannot open video", "stream info: " + av_err(e));
  e = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (e < 0) throw DecodeError(path_, "cannot open video", "no video stream");
  stream_ = e;
  for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_) fmt_->streams[i]->discard = AVDISCARD_ALL;
  }
}

void FfmpegSource::open_codec() {
  const AVCodecParameters* par = fmt_->streams[stream_]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) {
    throw DecodeError(path_, "cannot open video",
                      std::string("no decoder for codec ") + avcodec_get_name(par->codec_id));
  }
  codec_.reset(avcodec_alloc_context3(codec));
  if (!codec_) throw DecodeError(path_, "cannot open video", "out of memory");
  int e = avcodec_parameters_to_context(codec_.get(), par);
  if (e < 0) throw DecodeError(path_, "cannot open video", "codec parameters: " + av_err(e));
  codec_->thread_count = std::max(1, opts_.threads);
  codec_->pkt_timebase = fmt_->streams[stream_]->time_base;
  e = avcodec_open2(codec_.get(), codec, nullptr);
  if (e < 0) throw DecodeError(path_, "cannot open video", "opening the codec: " + av_err(e));
  if (par->width > 0 && par->height > 0 && par->width < 65536 && par->height < 65536) {
    native_ = cv::Size(par->width, par->height);
  }
  rotation_ = stream_upright_rotation(fmt_->streams[stream_]);
}

int FfmpegSource::read_video_packet(AVPacket* pkt) {
  for (;;) {
    check_deadline("demuxing");
    av_packet_unref(pkt);
    const int e = av_read_frame(fmt_.get(), pkt);
    if (e < 0) {
      check_deadline("demuxing");
      return e;
    }
    if (pkt->stream_index == stream_ && pkt->size > 0) return 0;
  }
}

void FfmpegSource::build_index() {
  PacketPtr pkt(av_packet_alloc());
  if (!pkt) throw DecodeError(path_, "cannot open video", "out of memory");
  // Demux only: no decoding. A read error other than EOF (truncated / corrupt tail) ends the
  // index where the readable packets end.
  while (read_video_packet(pkt.get()) >= 0) {
    PacketInfo p;
    p.pts = pkt->pts;
    p.dts = pkt->dts;
    p.pos = pkt->pos;
    p.size = pkt->size;
    p.key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    p.discard = (pkt->flags & AV_PKT_FLAG_DISCARD) != 0;
    pk_.push_back(p);
  }
  av_packet_unref(pkt.get());
  // Presentation order: by pts when every frame packet has a distinct pts, else packet order.
  std::vector<std::pair<int64_t, int64_t>> by_pts;  // (pts, decode index)
  pts_mode_ = true;
  for (int64_t d = 0; d < static_cast<int64_t>(pk_.size()); ++d) {
    if (pk_[d].discard) continue;
    if (pk_[d].pts == AV_NOPTS_VALUE) pts_mode_ = false;
    by_pts.emplace_back(pk_[d].pts, d);
  }
  if (pts_mode_) {
    std::stable_sort(by_pts.begin(), by_pts.end());
    for (std::size_t i = 1; i < by_pts.size(); ++i) {
      if (by_pts[i].first == by_pts[i - 1].first) pts_mode_ = false;
    }
  }
  if (!pts_mode_) {
    std::stable_sort(by_pts.begin(), by_pts.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    // Order mode (e.g. AVI, no pts): frame n is the n-th picture the decoder outputs. After a
    // seek that count only stays exact when the codec cannot reorder frames (no B-frames):
    // otherwise decode from the first packet.
    const AVCodecDescriptor* desc = avcodec_descriptor_get(codec_->codec_id);
    const bool reorders = !desc || (desc->props & AV_CODEC_PROP_REORDER) ||
                          fmt_->streams[stream_]->codecpar->video_delay > 0;
    order_mode_seekable_ = !reorders;
  }
  frame_to_packet_.reserve(by_pts.size());
  for (std::size_t i = 0; i < by_pts.size(); ++i) {
    const int64_t d = by_pts[i].second;
    pk_[d].frame = static_cast<int64_t>(i);
    frame_to_packet_.push_back(d);
    if (pts_mode_) pts_to_frame_[by_pts[i].first] = static_cast<int64_t>(i);
  }
  for (int64_t d = 0; d < static_cast<int64_t>(pk_.size()); ++d) {
    if (pk_[d].key) keys_.push_back(d);
    if (pk_[d].pos >= 0) {
      auto [it, inserted] = pos_to_packet_.emplace(pk_[d].pos, d);
      if (!inserted) it->second = -1;  // ambiguous position: not usable
    }
  }
  if (frame_to_packet_.empty()) {
    throw DecodeError(path_, "no decodable frames", "the video stream has no packets");
  }
  next_ = static_cast<int64_t>(pk_.size());  // the demuxer is at the end
  pending_.reset(av_packet_alloc());
  if (!pending_) throw DecodeError(path_, "cannot open video", "out of memory");
}

bool FfmpegSource::matches(const AVPacket* pkt, int64_t d) const {
  if (d < 0 || d >= static_cast<int64_t>(pk_.size())) return false;
  const PacketInfo& p = pk_[d];
  if (p.pos >= 0 && pkt->pos >= 0 && p.pos != pkt->pos) return false;
  return p.pts == pkt->pts && p.dts == pkt->dts && p.size == pkt->size;
}

int64_t FfmpegSource::locate(const AVPacket* pkt) const {
  if (pkt->pos >= 0) {
    auto it = pos_to_packet_.find(pkt->pos);
    if (it != pos_to_packet_.end() && it->second >= 0 && matches(pkt, it->second)) {
      return it->second;
    }
  }
  // Slow path: search by timestamps (positions missing or ambiguous).
  for (int64_t d = 0; d < static_cast<int64_t>(pk_.size()); ++d) {
    if (matches(pkt, d)) return d;
  }
  return -1;
}

// Reads from the start of a freshly opened input, dropping packets until the next one is `d`.
void FfmpegSource::reopen_at(int64_t d, FrameReadResult& r) {
  fmt_.reset();
  open_input();
  ++r.seeks;
  next_ = 0;
  has_pending_ = false;
  // Packets [0, d) are read and dropped; `d` is a keyframe (or the first packet).
  while (next_ < d) {
    if (read_video_packet(pending_.get()) < 0) throw LostPosition{};
    if (!matches(pending_.get(), next_)) throw LostPosition{};
    ++next_;
  }
}

// Leaves the demuxer so that the next packet read is `d` (a keyframe or 0); flushes the codec.
void FfmpegSource::position_at(int64_t d, FrameReadResult& r) {
  avcodec_flush_buffers(codec_.get());
  has_pending_ = false;
  const PacketInfo& p = pk_[d];
  int64_t ts = p.dts != AV_NOPTS_VALUE ? p.dts : p.pts;
  if (p.pts != AV_NOPTS_VALUE && p.pts < ts) ts = p.pts;
  bool ok =
      ts != AV_NOPTS_VALUE && av_seek_frame(fmt_.get(), stream_, ts, AVSEEK_FLAG_BACKWARD) >= 0;
  check_deadline("seeking");
  if (ok) {
    ++r.seeks;
    // The demuxer lands on a keyframe at or before `d`: drop packets until `d`.
    ok = false;
    while (read_video_packet(pending_.get()) >= 0) {
      const int64_t at = locate(pending_.get());
      if (at < 0 || at > d) break;  // lost, or landed after the target
      if (at == d) {
        ok = true;
        break;
      }
    }
  }
  if (ok) {
    has_pending_ = true;
    next_ = d;
    return;
  }
  reopen_at(d, r);
}

// Latest keyframe K with K <= decode index of `frame` whose picture is not presented after
// `frame` (so that `frame` is not a leading picture of K's open GOP); 0 when none.
int64_t FfmpegSource::keyframe_for(int64_t frame) const {
  const int64_t d = frame_to_packet_[frame];
  auto it = std::upper_bound(keys_.begin(), keys_.end(), d);
  while (it != keys_.begin()) {
    --it;
    const int64_t k = *it;
    if (!pts_mode_) return k;
    if (pk_[k].pts <= pk_[d].pts) return k;
  }
  return 0;
}

cv::Mat FfmpegSource::resized(const cv::Mat& m, cv::Size out) {
  if (!resizer_ || resizer_->in_size() != m.size() || resizer_->out_size() != out) {
    resizer_ = std::make_unique<BilinearResizer>(m.size(), out);
  }
  return resizer_->resize(m);
}

// YUV -> RGB at the decoded size, then upright, then the reader's one resize to `out_size`
// (datareader/resize.h; empty: the upright native size) -- the same pixels as the OpenCV decoder
// and frame folders give for the same frame.
cv::Mat FfmpegSource::convert(const AVFrame* f, cv::Size out_size) {
  if (native_.empty()) native_ = cv::Size(f->width, f->height);
  // Colour conversion only (no scaling): SWS_BICUBIC as OpenCV's FFmpeg backend, which makes the
  // two decoders' frames identical (unscaled, the flag only selects the chroma filter).
  sws_.reset(sws_getCachedContext(sws_.release(), f->width, f->height,
                                  static_cast<AVPixelFormat>(f->format), f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!sws_) {
    throw DecodeError(path_, "decoding failed",
                      std::string("cannot convert pixel format ") +
                          (av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format))
                               ? av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format))
                               : "?"));
  }
  // swscale's SIMD writers may store past the end of a row and want aligned rows: convert into
  // a padded, 64-byte aligned scratch buffer (then copied out, or read by the rotation / resize).
  const int stride = (f->width * 3 + 63) / 64 * 64 + 64;
  const std::size_t need = static_cast<std::size_t>(stride) * (f->height + 2) + 64;
  if (scratch_.size() < need) scratch_.assign(need, 0);
  uint8_t* base =
      reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch_.data()) + 63) / 64 * 64);
  uint8_t* dst[4] = {base, nullptr, nullptr, nullptr};
  int dst_stride[4] = {stride, 0, 0, 0};
  sws_scale(sws_.get(), f->data, f->linesize, 0, f->height, dst, dst_stride);
  cv::Mat rgb(cv::Size(f->width, f->height), CV_8UC3, base, static_cast<std::size_t>(stride));
  // A frame whose size differs from the first one's (a mid-stream change) is resized to it.
  if (rgb.size() != native_) rgb = resized(rgb, native_);
  rgb = rotate_clockwise(rgb, rotation_);
  if (!out_size.empty() && out_size != rgb.size()) return resized(rgb, out_size);
  return rgb.data == base ? rgb.clone() : rgb;  // own the pixels (not the scratch buffer)
}

// Decodes the frames `targets` (ascending presentation indices), storing converted frames in
// `got`. Seeks to the keyframe before a target unless decoding forward reaches it (or
// from_start: one pass from the first packet, no seek).
void FfmpegSource::decode_targets(const std::vector<int64_t>& targets, bool from_start,
                                  cv::Size out_size, std::unordered_map<int64_t, cv::Mat>& got,
                                  FrameReadResult& r) {
  std::vector<char> needed(frame_to_packet_.size(), 0);
  for (int64_t t : targets) needed[t] = 1;
  const int64_t last_target = targets.back();
  int64_t remaining = 0;
  for (int64_t t : targets) remaining += got.count(t) ? 0 : 1;

  FramePtr frame(av_frame_alloc());
  if (!frame) throw DecodeError(path_, "decoding failed", "out of memory");
  bool in_run = false, drained = false;
  int64_t run_start = 0;    // decode index the current run started at (next_ = its end)
  int64_t run_frame0 = 0;   // order mode: presentation index of the run's first output
  int64_t run_outputs = 0;  // order mode: frames output since the run started
  const bool skip = opts_.skip_nonref && pts_mode_;

  auto take = [&](AVFrame* f) {
    ++r.pictures_decoded;
    int64_t idx = -1;
    if (pts_mode_) {
      int64_t ts = f->pts != AV_NOPTS_VALUE ? f->pts : f->best_effort_timestamp;
      auto it = pts_to_frame_.find(ts);
      if (it != pts_to_frame_.end()) idx = it->second;
    } else {
      idx = run_frame0 + run_outputs++;
    }
    if (idx >= 0 && idx < static_cast<int64_t>(needed.size()) && needed[idx] && !got.count(idx)) {
      got.emplace(idx, convert(f, out_size));
      --remaining;
    }
    av_frame_unref(f);
  };
  auto receive_all = [&]() {
    for (;;) {
      const int e = avcodec_receive_frame(codec_.get(), frame.get());
      if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return;
      if (e < 0) return;  // a decoding error: that picture is lost, go on
      take(frame.get());
    }
  };

  const bool seek_ok = opts_.allow_seek && !from_start && (pts_mode_ || order_mode_seekable_);
  // Whether the first still-missing target after targets[ti] is reached by going on with the
  // current run (its keyframe is among the packets already sent) rather than by a seek.
  auto next_continues_run = [&](std::size_t ti) {
    for (std::size_t k = ti + 1; k < targets.size(); ++k) {
      if (got.count(targets[k])) continue;
      const int64_t s = keyframe_for(targets[k]);
      return s >= run_start && s <= next_;
    }
    return false;
  };

  for (std::size_t ti = 0; ti < targets.size(); ++ti) {
    const int64_t t = targets[ti];
    if (remaining == 0) break;
    if (got.count(t)) continue;
    const int64_t start = seek_ok ? keyframe_for(t) : 0;
    if (in_run && start >= run_start && start <= next_) {
      // The current run passes through t's keyframe: decode forward, no seek. If it already
      // reached the end of the stream, `t` is not decodable from there.
      if (drained) continue;
    } else {
      position_at(start, r);
      in_run = true;
      drained = false;
      run_start = start;
      run_outputs = 0;
      run_frame0 = 0;
      // Order mode: the run's first output is the first frame packet's picture.
      for (int64_t q = start; q < static_cast<int64_t>(pk_.size()); ++q) {
        if (pk_[q].frame >= 0) {
          run_frame0 = pk_[q].frame;
          break;
        }
      }
    }
    // Feed packets until `t` comes out (or the stream ends).
    while (!got.count(t) && !drained) {
      check_deadline("decoding");
      int e = 0;
      if (has_pending_) {
        has_pending_ = false;
      } else {
        e = read_video_packet(pending_.get());
        if (e >= 0 && !matches(pending_.get(), next_)) throw LostPosition{};
      }
      if (e < 0) {
        avcodec_send_packet(codec_.get(), nullptr);  // drain
        receive_all();
        drained = true;
        break;
      }
      const PacketInfo& p = pk_[next_];
      const bool want =
          p.frame >= 0 && p.frame <= last_target && needed[p.frame] && !got.count(p.frame);
      codec_->skip_frame = (skip && !want) ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      ++next_;
      ++r.packets_sent;
      e = avcodec_send_packet(codec_.get(), pending_.get());
      av_packet_unref(pending_.get());
      if (e < 0 && e != AVERROR(EAGAIN)) {
        // A corrupt packet: skip it (its picture is lost) and go on.
        receive_all();
        continue;
      }
      receive_all();
      if (seek_ok && !got.count(t) && next_ - 1 == frame_to_packet_[t] && !next_continues_run(ti)) {
        // Every packet `t` depends on is sent and the run ends here: drain the codec rather than
        // feed the packets its reorder delay would pull in (up to has_b_frames reference
        // pictures decoded for nothing). The next target repositions, which flushes the codec.
        avcodec_send_packet(codec_.get(), nullptr);
        receive_all();
        drained = true;
      }
    }
  }
  codec_->skip_frame = AVDISCARD_DEFAULT;
}

FrameReadResult FfmpegSource::read_scaled(const std::vector<int64_t>& sorted_indices,
                                          cv::Size out_size) {
  if (used_) throw DecodeError(path_, "decoding failed", "read() called twice on one source");
  used_ = true;
  FrameReadResult r;
  const int64_t n = frame_count();
  r.frames_decoded = n;
  std::vector<int64_t> targets;
  for (int64_t i : sorted_indices) {
    if (i < 0) throw DecodeError(path_, "decoding failed", "negative frame index");
    if (!targets.empty() && i <= targets.back()) {
      throw DecodeError(path_, "decoding failed", "frame indices not ascending/unique");
    }
    if (i >= n) {
      r.ended_early = true;
      break;
    }
    targets.push_back(i);
  }
  if (targets.empty()) return r;

  std::unordered_map<int64_t, cv::Mat> got;
  bool lost = false;
  try {
    decode_targets(targets, !opts_.allow_seek, out_size, got, r);
  } catch (const LostPosition&) {
    // The packets read after a seek did not match the index: redo from the start.
    got.clear();
    lost = true;
  }
  bool missing = false;
  for (int64_t t : targets) missing = missing || !got.count(t);
  if (missing && (opts_.allow_seek || lost)) {
    // A picture that did not come out after a seek (e.g. a decoder that drops frames until it
    // sees a recovery point): one sequential pass from the first packet for what is missing.
    std::vector<int64_t> rest;
    for (int64_t t : targets)
      if (!got.count(t)) rest.push_back(t);
    try {
      decode_targets(rest, true, out_size, got, r);
    } catch (const LostPosition&) {
      throw DecodeError(path_, "decoding failed", "demuxer packet order is not reproducible");
    }
  }
  if (got.empty()) {
    throw DecodeError(path_, "no decodable frames",
                      std::to_string(n) + " packets, none of the requested frames decoded");
  }
  // A requested frame that could not be decoded is replaced by the nearest decoded one
  // (the previous one when there is one).
  r.frames.reserve(targets.size());
  for (int64_t t : targets) {
    auto it = got.find(t);
    if (it != got.end()) {
      r.frames.push_back(it->second);
      continue;
    }
    ++r.substituted;
    int64_t best = -1;
    for (const auto& [idx, m] : got) {
      const bool better = best < 0 || std::llabs(idx - t) < std::llabs(best - t) ||
                          (std::llabs(idx - t) == std::llabs(best - t) && idx < best);
      if (better) best = idx;
    }
    r.frames.push_back(got.at(best));
  }
  return r;
}

class FfmpegDecoder final : public VideoDecoder {
 public:
  explicit FfmpegDecoder(FfmpegDecoderOptions opts)
      : opts_(std::move(opts)), folders_(opencv_video_decoder(opts_.frame_pattern)) {
    static std::once_flag quiet;
    // Hostile files make FFmpeg log a line per broken packet; failures are reported as
    // DecodeError instead.
    std::call_once(quiet, [] { av_log_set_level(AV_LOG_FATAL); });
  }
  std::string name() const override { return "ffmpeg"; }

  std::unique_ptr<VideoSource> open(const std::string& path) const override {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw DecodeError(path, "file not found");
    if (fs::is_directory(path, ec)) return folders_->open(path);
    if (!fs::is_regular_file(path, ec)) {
      // FIFOs / devices could block forever inside a read() no timeout can interrupt.
      throw DecodeError(path, "cannot open video", "not a regular file");
    }
    const auto size = fs::file_size(path, ec);
    if (ec) throw DecodeError(path, "cannot stat file", ec.message());
    if (size == 0) throw DecodeError(path, "empty file", "0 bytes");
    // (again at every open: OpenCV's FFmpeg backend resets the shared level when it opens.)
    av_log_set_level(AV_LOG_FATAL);
    auto src = std::make_unique<FfmpegSource>(path, opts_);
    src->open();
    return src;
  }

 private:
  FfmpegDecoderOptions opts_;
  std::shared_ptr<const VideoDecoder> folders_;
};

}  // namespace

std::shared_ptr<const VideoDecoder> ffmpeg_video_decoder(const FfmpegDecoderOptions& opts) {
  return std::make_shared<FfmpegDecoder>(opts);
}

std::shared_ptr<const VideoDecoder> make_video_decoder(const std::string& name, double timeout_s) {
  if (name == "ffmpeg") {
    FfmpegDecoderOptions o;
    o.timeout_s = timeout_s;
    return ffmpeg_video_decoder(o);
  }
  if (name == "opencv") return opencv_video_decoder();
  throw DataError("unknown video decoder '" + name + "' (expected ffmpeg or opencv)");
}

}  // namespace vc::data
