// The registry rows of the shipped networks, one file per network (tools/common/rows/<id>.cpp),
// listed in order by default_registry() (registry.cpp), plus what several rows share. A new
// network adds its file, its declaration here and one line in default_registry().
#pragma once

#include <string>

#include "tools/common/registry.h"

namespace vc::app {

ModelEntry tsn_row();
ModelEntry nonlocal_row();

/// The Paddle name map of the Non-local row (released `nonlocal_kinetics` names -> ours).
NameMap nonlocal_paddle_map(const Config& cfg);

// --- shared by the rows of the Kinetics networks ---------------------------------------------

/// ImageNet ResNet weights (a torchvision state dict) into the model's `backbone.*`; the
/// classifier (fc.*) is skipped. Throws ConfigError when the model has no "backbone".
void load_resnet_pretrain(models::VideoModelImpl& model, const std::string& path);

/// [2, seg_num, 3*seglen, 32, 32] of the mode's section (tiny frames: any size >= 32 works for a
/// ResNet).
models::ModelInput kinetics_example(const Config& cfg, Mode mode);

}  // namespace vc::app
