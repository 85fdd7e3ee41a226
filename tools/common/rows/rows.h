// The registry rows of the shipped networks, one file per network (tools/common/rows/<id>.cpp),
// listed in order by default_registry() (registry.cpp), plus what several rows share. A new
// network adds its file, its declaration here and one line in default_registry().
#pragma once

#include <string>

#include "tools/common/registry.h"

namespace vc::app {

ModelEntry tsn_row();
ModelEntry tsm_row();

// --- shared by the rows of the Kinetics networks ---------------------------------------------

/// ImageNet ResNet weights (a torchvision state dict) into the model's `backbone.*`; the
/// classifier (fc.*) is skipped. Throws ConfigError when the model has no "backbone".
void load_resnet_pretrain(models::VideoModelImpl& model, const std::string& path);

/// [2, seg_num, 3*seglen, 32, 32] of the mode's section (tiny frames: any size >= 32 works for a
/// ResNet).
models::ModelInput kinetics_example(const Config& cfg, Mode mode);

/// The official PyTorch TSM checkpoints (mit-han-lab/temporal-shift-module: ResNet with
/// `place='blockres'`, `module.base_model.layer1.0.conv1.net.weight`, `module.new_fc.*`, under
/// "state_dict"; "module." optional) into a network with a trunk "backbone." and a classifier
/// "fc.". Recognised by `base_model.layer1.0.conv1.net.weight`. Implies
/// MODEL.shift_direction=torch and MODEL.dropout_impl=upscale_in_train. A block whose conv1 is
/// not shifted (the official ResNet-101's every-other-block placement) does not map (error).
WeightFamily pytorch_tsm_family();

/// mmaction2's ResNet TSN (`shifted` false) or ResNetTSM (`shifted` true) recognisers:
/// `backbone.conv1.conv.weight`, `backbone.conv1.bn.*`, `backbone.layer1.0.conv1.conv.weight`
/// (TSM: `...conv1.conv.net.weight`, the shift wraps conv1's conv), `...downsample.conv/bn.*`,
/// `cls_head.fc_cls.*`, under "state_dict" (with "meta"). The TSM family implies
/// MODEL.shift_direction=torch and MODEL.dropout_impl=upscale_in_train; the TSN one nothing.
WeightFamily mmaction2_resnet_family(bool shifted);

}  // namespace vc::app
