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

}  // namespace vc::app
