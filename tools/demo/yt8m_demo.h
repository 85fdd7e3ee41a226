// make_demo_data --kind yt8m: a small synthetic frame-level YouTube-8M dataset written as real
// TFRecord shards of tf.train.SequenceExample records (datareader/yt8m_example.h), with a
// learnable multi-label structure, for the quickstart and the tests of the three YouTube-8M
// networks. No LibTorch.
#pragma once

#include <cstdint>
#include <string>

namespace vc::demo {

struct Yt8mDemoOptions {
  std::string out;     ///< output directory (created)
  int videos = 600;    ///< videos in all (split 60/20/20 train/val/test)
  int classes = 16;    ///< classes (num_classes of the demo configs)
  int min_frames = 8;  ///< frames per video, uniform in [min_frames, max_frames]
  int max_frames = 40;
  int train_shards = 2;  ///< TFRecord files of the train split (val and test: one each)
  std::uint64_t seed = 0;
};

/// Writes <out>/{train_000.tfrecord, ..., val_000.tfrecord, test_000.tfrecord}, train.list /
/// val.list / test.list / infer.list (shard names, relative to the list's folder), and
/// vocabulary.csv (the official column layout: Index,TrainVideoCount,KnowledgeGraphId,Name,...).
/// Prints one summary line. Throws std::runtime_error naming the file on an I/O failure.
void write_yt8m_demo(const Yt8mDemoOptions& o);

}  // namespace vc::demo
