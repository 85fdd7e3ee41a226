// PARITY: Attention LSTM against an independent PyTorch reference written from spec §6.2 / §1.12
// (tests/models/attention_lstm_reference.py), which runs every video unpadded over its own
// frames: a padded batch of five videos of lengths 12, 3, 7, 1, 9 (garbage in the padding),
// eval mode, both dropout conventions, and a fixed-length batch without a mask. Same weights
// (the reference's, under our names); max |dlogit| < 1e-4.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/attention_lstm/attention_lstm.h"
#include "tests/models/test_util.h"
#include "tools/common/weights/state_dict.h"

namespace vc::models {
namespace {

std::string reference_dir() {
  static const std::string dir = vc::test::cached_script_output("attention_lstm_reference.py");
  return dir;
}

#define VC_REQUIRE_REFERENCE()             \
  VC_REQUIRE_TORCHVISION();                \
  const std::string ref = reference_dir(); \
  ASSERT_FALSE(ref.empty()) << "tests/models/attention_lstm_reference.py failed"

std::map<std::string, torch::Tensor> read(const std::string& path) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : app::read_state_dict(path)) out[name] = t;
  return out;
}

AttentionLstm reference_net(const std::string& ref, DropoutImpl dropout) {
  AttentionLstm net(AttentionLstmOptions()
                        .num_classes(20)
                        .embedding_size(32)
                        .lstm_size(24)
                        .fc1_size(64)
                        .fc2_size(48)
                        .dropout_impl(dropout));
  app::load_state_dict(*net, app::read_state_dict(ref + "/weights.pt"), app::LoadOptions{},
                       "weights.pt");
  net->eval();
  return net;
}

ModelInput input_of(const std::string& path) {
  ModelInput in;
  for (const auto& [name, t] : read(path)) in.set(name, t);
  return in;
}

TEST(AttentionLstmParity, PaddedBatchAgainstThePerVideoReference) {
  VC_REQUIRE_REFERENCE();
  torch::NoGradGuard g;
  const auto expected = read(ref + "/expected.pt");
  const ModelInput in = input_of(ref + "/input.pt");
  AttentionLstm fluid = reference_net(ref, DropoutImpl::kDowngradeInInfer);
  const double d = (fluid->forward(in) - expected.at("padded")).abs().max().item<double>();
  std::cout << "AttentionLSTM padded batch (lengths 12, 3, 7, 1, 9) vs reference: max |dlogit| = "
            << d << "\n";
  EXPECT_LT(d, 1e-4);
  // The mask alone (no lengths) gives the same.
  const ModelInput mask_only(
      {{"rgb", in.at("rgb")}, {"audio", in.at("audio")}, {"mask", in.at("mask")}});
  EXPECT_LT((fluid->forward(mask_only) - expected.at("padded")).abs().max().item<double>(), 1e-4);
  AttentionLstm inverted = reference_net(ref, DropoutImpl::kUpscaleInTrain);
  const double du =
      (inverted->forward(in) - expected.at("padded_upscale")).abs().max().item<double>();
  std::cout << "AttentionLSTM padded batch, upscale_in_train dropout: max |dlogit| = " << du
            << "\n";
  EXPECT_LT(du, 1e-4);
}

TEST(AttentionLstmParity, FixedLengthBatchWithoutMask) {
  VC_REQUIRE_REFERENCE();
  torch::NoGradGuard g;
  AttentionLstm net = reference_net(ref, DropoutImpl::kDowngradeInInfer);
  const double d =
      (net->forward(input_of(ref + "/fixed.pt")) - read(ref + "/expected.pt").at("fixed"))
          .abs()
          .max()
          .item<double>();
  std::cout << "AttentionLSTM fixed-length batch vs reference: max |dlogit| = " << d << "\n";
  EXPECT_LT(d, 1e-4);
}

}  // namespace
}  // namespace vc::models
