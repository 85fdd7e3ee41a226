// Reader families: the key table of each reader and its dataset factory, used by the registry
// rows of the networks that read that kind of data. A new reader family adds a pair here; a new
// network on an existing family only names it.
#pragma once

#include <memory>
#include <string>

#include "tools/common/config.h"

namespace vc::data {
class Dataset;
}

namespace vc::app {

/// Kinetics-style video lists (TSN, TSM, StNet): format, sampling, scaling, cropping,
/// normalisation and decoder keys.
const KeyTable& kinetics_reader_keys();
/// A KineticsDataset over `list` for `mode` (inputs {"video": [seg_num, 3*seglen, H, W]}).
std::shared_ptr<const data::Dataset> make_kinetics_dataset(const Config& cfg, Mode mode,
                                                           const std::string& list);

/// Non-local video lists (spec §3.3): crop, sampling, scale jitter, scalar mean/std on 0-255
/// values, multi-view (num_clips x num_crops) test/infer and decoder keys.
const KeyTable& nonlocal_reader_keys();
/// A NonlocalDataset over `list` for `mode` (inputs {"video": [3, L, crop, crop]}, or
/// [V, 3, L, crop, crop] with V = num_clips x num_crops views in TEST / INFER).
std::shared_ptr<const data::Dataset> make_nonlocal_dataset(const Config& cfg, Mode mode,
                                                           const std::string& list);

/// YouTube-8M features (spec §3.1; Attention Cluster, Attention LSTM, NeXtVLAD): list files of
/// TFRecord shards (frame-level SequenceExample), HDF5 shards written by tools/yt8m_convert, or
/// the original's .pkl files, told apart per list entry. Keys (MODEL scope, network rows override
/// the defaults): `max_frames` (300: truncation), `dequantize` (true: x*4/255 + 4/512 - 2;
/// false: the raw 0..255 values as float, NeXtVLAD dequantizes in the graph), `seg_num` (0: all
/// frames, padded batches with "mask" / "lengths"; > 0: that many frames sampled as Attention
/// Cluster does), `eval_sampling` (`center` | `random`: the sampling of seg_num outside training).
const KeyTable& feature_reader_keys();
/// A FeatureDataset over `list` for `mode`: inputs {"rgb": float32 [T, 1024], "audio": float32
/// [T, 128]}, multi-hot targets over MODEL.num_classes; collated padded with "mask" [N, T] and
/// "lengths" [N] when seg_num is 0.
std::shared_ptr<const data::Dataset> make_feature_dataset(const Config& cfg, Mode mode,
                                                          const std::string& list);
}  // namespace vc::app
