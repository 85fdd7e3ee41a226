// The registry rows of the shipped networks, one file per network (tools/common/rows/<id>.cpp),
// listed in order by default_registry() (registry.cpp), plus what several rows share. A new
// network adds its file, its declaration here and one line in default_registry().
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tools/common/registry.h"

namespace vc::app {

ModelEntry tsn_row();
ModelEntry tsm_row();
ModelEntry stnet_row();
ModelEntry nonlocal_row();
ModelEntry attention_cluster_row();
ModelEntry attention_lstm_row();
ModelEntry nextvlad_row();

/// The Paddle name map of the Non-local row (released `nonlocal_kinetics` names -> ours).
NameMap nonlocal_paddle_map(const Config& cfg);
/// The Paddle name map of the Attention Cluster row (released `attention_cluster_youtube8m`,
/// spec §6.1, §7): satt{0,1}.{conv.weight, conv.bias, shift_w, shift_b} keep their names,
/// {fc1, fc2, logistic}.weights [in, out] -> .weight (transposed), .bias -> .bias.
NameMap attention_cluster_paddle_map(const Config& cfg);
/// The Paddle name map of the AttentionLSTM row (released `attention_lstm_youtube8m`, spec §6.2):
/// fc_0..fc_7 -> {rgb,audio}.{input_fc, lstm_forward_fc, lstm_backward_fc, attention_fc}
/// (transposed), lstm_0..lstm_3 -> {rgb,audio}.lstm_{forward,backward}.{weight,bias} (Fluid's
/// layout kept), fc_8..fc_10 -> fc1, fc2, logit (transposed); optimizer state ignored.
NameMap attention_lstm_paddle_map(const Config& cfg);
/// The Paddle name map of the NeXtVLAD row (released `nextvlad_youtube8m`, spec §6.3, §7):
/// {video,audio}_fc_expansion_{w,b}, _fc_group_attention_{w,b} -> <unit>.<fc>.{weight
/// (transposed), bias}; _cluster_weights, _cluster_weights2 as is; batch_norm_0..5.{w_0, b_0,
/// w_1, w_2} -> video.cluster_bn, video.vlad_bn, audio.cluster_bn, audio.vlad_bn, hidden1_bn,
/// gating_bn .{weight, bias, running_mean, running_var}; hidden1_fc_weights, gating_fc{1,2}_
/// weights, logits_clf_weights (transposed), logits_clf_bias; eigen_param, defaulting to
/// MODEL.eigen_file's multiplier when the weights lack it. Reads MODEL.eigen_file (ConfigError
/// when missing and not `none`).
NameMap nextvlad_paddle_map(const Config& cfg);

// --- shared by the rows of the Kinetics networks ---------------------------------------------

/// ImageNet ResNet weights into the model's `backbone.*`: a torchvision state dict, or Paddle's
/// `ResNet50_pretrained` (a per-variable directory or .pdparams, spec §6.4, mapped with
/// paddle_resnet_map at the backbone's depth); the classifier (fc.* / fc_0.*) is skipped. Throws
/// ConfigError when the model has no "backbone".
void load_resnet_pretrain(models::VideoModelImpl& model, const std::string& path);

/// True when `path` is Paddle weights: a directory, a `.pdparams` file or a prefix P with
/// P.pdparams present (what test/infer --weights also take).
bool is_paddle_weights_path(const std::string& path);

/// ImageNet ResNet weights under torchvision names without the classifier (conv1.weight,
/// bn1.*, layer1.0.conv1.weight, ...): a torchvision state dict (fc.* dropped), or Paddle weights
/// (is_paddle_weights_path) whose variables containing any of `skip_paddle` (e.g. "fc_0") are
/// dropped and the rest mapped by paddle_resnet_map("", depth). Paddle variables that are not
/// part of a ResNet-`depth` are an error naming them; depth <= 0 with Paddle weights is a
/// ConfigError.
StateDict read_resnet_pretrain(const std::string& path, int64_t depth,
                               const std::vector<std::string>& skip_paddle);

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
// --- shared by the rows of the YouTube-8M networks ------------------------------------------
/// Two samples of YouTube-8M features as the feature reader yields them under the config's
/// MODEL.seg_num / MODEL.dequantize (readers.h feature_reader_keys): {"rgb" [2, T, 1024],
/// "audio" [2, T, 128]} with T = seg_num, or, with seg_num 0, lengths 7 and 4 zero-padded to 7
/// with "mask" [2, 7] and "lengths" [2].
models::ModelInput yt8m_example(const Config& cfg, Mode mode);

// --- StNet (tools/common/rows/stnet.cpp), exposed for its tests -----------------------------

/// The Paddle auto names of StNet's two temporal BN layers, `batch_norm_<first>` and
/// `batch_norm_<second>`: the global counter after the trunk's BN layers built before each
/// block (spec §6.7: 24 and 44 for ResNet-50). Throws ConfigError for an unknown depth.
std::pair<int, int> stnet_paddle_batch_norm_ids(int depth);

/// Paddle StNet names (spec §6.7, §7) -> ours: the ResNet names of paddle_resnet_map under
/// "backbone.", conv3d_{0,1}.{w_0,b_0} -> temporal_res{3,4}.conv.{weight,bias},
/// batch_norm_<id>.{w_0,b_0,w_1,w_2} -> temporal_res{3,4}.bn.{weight,bias,running_mean,
/// running_var} (ids of stnet_paddle_batch_norm_ids; batch_norm_0 / _1 accepted too, spec §10),
/// xception_<layer>.{w_0,b_0} -> xception.<layer>.{weight,bias} (BN: w_0 scale, b_0 offset,
/// w_1 mean, w_2 variance), fc_0.w_0 -> fc.weight (transposed), fc_0.b_0 -> fc.bias.
NameMap stnet_paddle_map(int depth);

}  // namespace vc::app
