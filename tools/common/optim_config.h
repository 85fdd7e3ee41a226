// The common optimizer and LR-schedule keys (common_keys(), TRAIN section) turned into the plain
// options of optimizer.h.
#pragma once

#include <cstdint>

#include "tools/common/config.h"
#include "tools/common/optimizer.h"

namespace vc::app {

/// TRAIN.optimizer and its hyper-parameters.
OptimizerOptions optimizer_options(const SectionConfig& train);

/// Iterations per epoch as the original computed them for LR boundaries:
/// int(total_videos / batch_size + 1), total_videos = TRAIN.total_videos or, when 0,
/// `train_list_size` (spec §6.5).
int64_t lr_iterations_per_epoch(const SectionConfig& train, int64_t train_list_size);

/// TRAIN.lr_policy with its keys: `piecewise_epoch` (decay_epochs x iterations per epoch, or
/// the TSN rule [epoch/3, 2*epoch/3] when decay_epochs is empty), `piecewise_iter`
/// (decay_iterations), `exponential` (staircase, every decay_steps iterations; 0 = one epoch;
/// decay_examples > 0: every decay_examples // batch_size iterations; decay_max_iterations > 0:
/// as a piecewise schedule whose last boundary is below it, spec §6.3),
/// `constant`; warmup_epochs x iterations per epoch of linear warmup.
LrScheduleOptions lr_schedule_options(const SectionConfig& train, int64_t train_list_size);

}  // namespace vc::app
