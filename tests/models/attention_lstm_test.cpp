// Attention LSTM and its peephole LSTM: Fluid's dynamic_lstm step by step on each sequence alone
// (forward and reverse, the reverse starting at the last VALID frame), padding never read and
// zero in the outputs, gradients; the network's shapes, naming, parameter count worked out from
// spec §6.2, a video's scores alone vs batched with longer ones, lengths vs mask, dropout
// conventions and bad inputs.
#include "models/attention_lstm/attention_lstm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "models/common/peephole_lstm.h"

namespace vc::models {
namespace {

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

// The lstm op written out for one sequence x [L, 4H] in double precision (spec §1.12).
torch::Tensor naive_lstm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                         bool reverse) {
  const int64_t len = x.size(0);
  const int64_t h = w.size(0);
  const torch::Tensor bd = b.to(torch::kDouble)[0];
  const torch::Tensor wd = w.to(torch::kDouble);
  torch::Tensor hs = torch::zeros({len, h}, torch::kDouble);
  torch::Tensor hp = torch::zeros({h}, torch::kDouble);
  torch::Tensor cp = torch::zeros({h}, torch::kDouble);
  for (int64_t k = 0; k < len; ++k) {
    const int64_t step = reverse ? len - 1 - k : k;
    const torch::Tensor a =
        x[step].to(torch::kDouble) + torch::matmul(hp, wd) + bd.slice(0, 0, 4 * h);
    const torch::Tensor cand = torch::tanh(a.slice(0, 0, h));
    const torch::Tensor i = torch::sigmoid(a.slice(0, h, 2 * h) + bd.slice(0, 4 * h, 5 * h) * cp);
    const torch::Tensor f =
        torch::sigmoid(a.slice(0, 2 * h, 3 * h) + bd.slice(0, 5 * h, 6 * h) * cp);
    cp = cand * i + cp * f;
    const torch::Tensor o = torch::sigmoid(a.slice(0, 3 * h) + bd.slice(0, 6 * h) * cp);
    hp = o * torch::tanh(cp);
    hs[step] = hp;
  }
  return hs.to(torch::kFloat);
}

TEST(PeepholeLstm, MatchesTheLstmOpPerSequenceInBothDirections) {
  torch::manual_seed(1);
  for (const bool reverse : {false, true}) {
    PeepholeLstm lstm(PeepholeLstmOptions().hidden_size(5).reverse(reverse));
    {
      torch::NoGradGuard g;
      lstm->bias.uniform_(-1, 1);  // gate biases and peepholes non-zero
    }
    const torch::Tensor lengths = torch::tensor(std::vector<int64_t>{3, 6, 1, 6, 4});
    torch::Tensor x = torch::randn({5, 6, 20});
    const torch::Tensor out = lstm->forward(x, lengths);  // [5, 6, 5]
    ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 6, 5}));
    for (int64_t n = 0; n < 5; ++n) {
      const int64_t len = lengths[n].item<int64_t>();
      const torch::Tensor want =
          naive_lstm(x[n].slice(0, 0, len), lstm->weight, lstm->bias, reverse);
      EXPECT_LT(max_diff(out[n].slice(0, 0, len), want), 1e-5)
          << "sequence " << n << " reverse " << reverse;
      if (len < 6) {
        EXPECT_EQ(out[n].slice(0, len).abs().max().item<double>(), 0.0);  // padding
      }
    }
    // Padding never enters a state: garbage there changes nothing.
    torch::Tensor garbage = x.clone();
    garbage[0].slice(0, 3).fill_(1e3);
    garbage[2].slice(0, 1).fill_(-1e3);
    EXPECT_EQ(max_diff(lstm->forward(garbage, lengths), out), 0.0);
  }
}

TEST(PeepholeLstm, WithoutPeepholesAndGradients) {
  torch::manual_seed(2);
  PeepholeLstm lstm(PeepholeLstmOptions().hidden_size(4).use_peepholes(false));
  EXPECT_EQ(lstm->bias.sizes(), (std::vector<int64_t>{1, 16}));
  torch::Tensor x = torch::randn({3, 5, 16}, torch::requires_grad());
  const torch::Tensor lengths = torch::tensor(std::vector<int64_t>{5, 2, 4});
  const torch::Tensor out = lstm->forward(x, lengths);
  // Equal to the peephole op with zero peepholes.
  torch::Tensor b7 = torch::cat({lstm->bias.detach(), torch::zeros({1, 12})}, 1);
  for (int64_t n = 0; n < 3; ++n) {
    const int64_t len = lengths[n].item<int64_t>();
    EXPECT_LT(max_diff(out[n].slice(0, 0, len), naive_lstm(x[n].slice(0, 0, len).detach(),
                                                           lstm->weight.detach(), b7, false)),
              1e-5);
  }
  out.sum().backward();
  EXPECT_GT(lstm->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(lstm->bias.grad().abs().sum().item<double>(), 0.0);
  // No gradient reaches padded inputs.
  EXPECT_EQ(x.grad()[1].slice(0, 2).abs().max().item<double>(), 0.0);
  EXPECT_GT(x.grad()[1].slice(0, 0, 2).abs().max().item<double>(), 0.0);
}

// The fused recurrence (one autograd node, written-out backward, the default) against the same
// recurrence step by step under autograd: outputs and the gradients of the inputs, the weight
// and every part of the bias (gates and peepholes), in double precision, both directions, with
// and without peepholes, ragged lengths, and a loss that weighs every output differently.
TEST(PeepholeLstm, FusedBackwardEqualsPerStepAutograd) {
  torch::manual_seed(5);
  for (const bool reverse : {false, true}) {
    for (const bool peep : {true, false}) {
      auto make = [&](bool fused) {
        PeepholeLstm lstm(
            PeepholeLstmOptions().hidden_size(6).reverse(reverse).use_peepholes(peep).fused(fused));
        lstm->to(torch::kDouble);
        return lstm;
      };
      PeepholeLstm fused = make(true);
      PeepholeLstm stepwise = make(false);
      {
        torch::NoGradGuard g;
        fused->bias.uniform_(-1, 1);
        stepwise->weight.copy_(fused->weight);
        stepwise->bias.copy_(fused->bias);
      }
      const torch::Tensor lengths = torch::tensor(std::vector<int64_t>{4, 7, 1, 7, 2, 5});
      const torch::Tensor x0 = torch::randn({6, 7, 24}, torch::kDouble);
      const torch::Tensor weights = torch::randn({6, 7, 6}, torch::kDouble);
      torch::Tensor xa = x0.clone().requires_grad_(true);
      torch::Tensor xb = x0.clone().requires_grad_(true);
      const torch::Tensor ya = fused->forward(xa, lengths);
      const torch::Tensor yb = stepwise->forward(xb, lengths);
      EXPECT_LT(max_diff(ya, yb), 1e-12) << "reverse " << reverse << " peep " << peep;
      (ya * weights).sum().backward();
      (yb * weights).sum().backward();
      EXPECT_LT(max_diff(xa.grad(), xb.grad()), 1e-12) << "reverse " << reverse;
      EXPECT_LT(max_diff(fused->weight.grad(), stepwise->weight.grad()), 1e-12);
      EXPECT_LT(max_diff(fused->bias.grad(), stepwise->bias.grad()), 1e-12);
      EXPECT_GT(fused->weight.grad().abs().min().item<double>(), 0.0);
      if (peep) {  // the three peephole vectors get gradients
        EXPECT_GT(fused->bias.grad().slice(1, 24).abs().min().item<double>(), 0.0);
      }
    }
  }
}

// One step only (every sequence of length 1): no recurrent matmul, zero weight gradient.
TEST(PeepholeLstm, FusedSingleStep) {
  torch::manual_seed(6);
  PeepholeLstm lstm(PeepholeLstmOptions().hidden_size(3));
  torch::Tensor x = torch::randn({4, 1, 12}, torch::requires_grad());
  const torch::Tensor y = lstm->forward(x, torch::ones({4}, torch::kLong));
  y.sum().backward();
  EXPECT_EQ(lstm->weight.grad().abs().max().item<double>(), 0.0);
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
  EXPECT_LT(
      max_diff(y[2], naive_lstm(x[2].detach(), lstm->weight.detach(), lstm->bias.detach(), false)),
      1e-6);
}

TEST(PeepholeLstm, PackIndexAndBadLengths) {
  const PackedIndex f =
      pack_index(torch::tensor(std::vector<int64_t>{2, 3, 1}), 4, false, torch::kCPU);
  EXPECT_EQ(f.batch_sizes, (std::vector<int64_t>{3, 2, 1}));
  // Sorted by length: row 1 (3), row 0 (2), row 2 (1); padded row = n * 4 + frame.
  EXPECT_TRUE(torch::equal(f.index, torch::tensor(std::vector<int64_t>{4, 0, 8, 5, 1, 6})));
  const PackedIndex r =
      pack_index(torch::tensor(std::vector<int64_t>{2, 3, 1}), 4, true, torch::kCPU);
  EXPECT_TRUE(torch::equal(r.index, torch::tensor(std::vector<int64_t>{6, 1, 8, 5, 0, 4})));
  EXPECT_THROW(pack_index(torch::tensor(std::vector<int64_t>{2, 0}), 4, false, torch::kCPU),
               std::invalid_argument);
  EXPECT_THROW(pack_index(torch::tensor(std::vector<int64_t>{5}), 4, false, torch::kCPU),
               std::invalid_argument);
  EXPECT_THROW(sequence_lengths(torch::Tensor(), torch::zeros({2, 4}), 2, 4, "x"),
               std::invalid_argument);
  EXPECT_TRUE(
      torch::equal(sequence_lengths(torch::Tensor(),
                                    torch::tensor({{1.f, 1.f, 0.f}, {1.f, 0.f, 0.f}}), 2, 3, "x"),
                   torch::tensor(std::vector<int64_t>{2, 1})));
}

AttentionLstmOptions tiny() {
  return AttentionLstmOptions().num_classes(7).embedding_size(8).lstm_size(6).fc1_size(12).fc2_size(
      10);
}

ModelInput padded_batch(const torch::Tensor& lengths, int64_t t) {
  const int64_t n = lengths.size(0);
  const torch::Tensor mask =
      (torch::arange(t).unsqueeze(0) < lengths.unsqueeze(1)).to(torch::kFloat);
  return ModelInput({{"rgb", torch::randn({n, t, 1024}) * mask.unsqueeze(2)},
                     {"audio", torch::randn({n, t, 128}) * mask.unsqueeze(2)},
                     {"mask", mask},
                     {"lengths", lengths}});
}

TEST(AttentionLstm, ShapesNamesAndGradients) {
  torch::manual_seed(3);
  AttentionLstm net(tiny());
  const ModelInput in = padded_batch(torch::tensor(std::vector<int64_t>{5, 2}), 5);
  const torch::Tensor logits = net->forward(in);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 7}));
  torch::Tensor target = torch::zeros({2, 7});
  target[0][1] = 1;
  torch::binary_cross_entropy_with_logits(logits, target).backward();
  std::vector<std::string> names;
  for (const auto& p : net->named_parameters()) {
    names.push_back(p.key());
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  const std::vector<std::string> branch = {
      "input_fc.weight",         "input_fc.bias",         "lstm_forward_fc.weight",
      "lstm_forward_fc.bias",    "lstm_forward.weight",   "lstm_forward.bias",
      "lstm_backward_fc.weight", "lstm_backward_fc.bias", "lstm_backward.weight",
      "lstm_backward.bias",      "attention_fc.weight",   "attention_fc.bias"};
  std::vector<std::string> want;
  for (const char* m : {"rgb.", "audio."})
    for (const auto& b : branch) want.push_back(m + b);
  for (const char* h :
       {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "logit.weight", "logit.bias"})
    want.push_back(h);
  EXPECT_EQ(names, want);
  EXPECT_FALSE(net->supports_traced_inference());
}

TEST(AttentionLstm, FullSizeParameterCountAndInitFromTheSpec) {
  torch::manual_seed(6);
  AttentionLstm net;  // spec §6.2 sizes
  // Per modality of width d: fc d->512, two fc 512->4096, two LSTMs (w [1024, 4096], b [1, 7168]),
  // attention fc 2048->1. Head: 4096->8192, 8192->4096, 4096->3862.
  auto branch = [](int64_t d) {
    return (d * 512 + 512) + 2 * (512 * 4096 + 4096) + 2 * (1024 * 4096 + 7168) + (2048 + 1);
  };
  const int64_t head = (4096 * 8192 + 8192) + (8192 * 4096 + 4096) + (4096 * 3862 + 3862);
  int64_t count = 0;
  for (const auto& p : net->parameters()) count += p.numel();
  EXPECT_EQ(count, branch(1024) + branch(128) + head);
  EXPECT_EQ(net->branches[0]->lstm_forward->bias.sizes(), (std::vector<int64_t>{1, 7168}));
  EXPECT_EQ(net->branches[1]->lstm_backward->weight.sizes(), (std::vector<int64_t>{1024, 4096}));
  // Xavier uniform (limit sqrt(6 / (fan_in + fan_out))), biases 0. The bound is drawn in float32,
  // whose rounding of the limit may exceed the double one by 1 ulp: compare with that slack.
  const double lstm_limit = std::sqrt(6.0 / (1024 + 4096));
  const double ulp = 1.0 + 1e-6;
  EXPECT_LE(net->branches[0]->lstm_forward->weight.abs().max().item<double>(), lstm_limit * ulp);
  EXPECT_GT(net->branches[0]->lstm_forward->weight.abs().max().item<double>(), 0.99 * lstm_limit);
  const double fc1_limit = std::sqrt(6.0 / (4096 + 8192));
  EXPECT_LE(net->fc1->weight.abs().max().item<double>(), fc1_limit * ulp);
  EXPECT_GT(net->fc1->weight.abs().max().item<double>(), 0.99 * fc1_limit);
  for (const auto& p : net->named_parameters())
    if (p.key().size() > 4 && p.key().substr(p.key().size() - 4) == "bias") {
      EXPECT_EQ(p.value().abs().max().item<double>(), 0.0) << p.key();
    }
}

TEST(AttentionLstm, AVideoScoresTheSameAloneOrBatchedWithLongerOnes) {
  torch::manual_seed(4);
  AttentionLstm net(tiny());
  net->eval();
  torch::NoGradGuard g;
  const torch::Tensor lengths = torch::tensor(std::vector<int64_t>{3, 9, 1, 6});
  const ModelInput batch = padded_batch(lengths, 11);  // no video fills T
  const torch::Tensor together = net->forward(batch);
  for (int64_t n = 0; n < 4; ++n) {
    const int64_t len = lengths[n].item<int64_t>();
    // Alone and unpadded, without lengths or mask.
    const ModelInput alone({{"rgb", batch.at("rgb")[n].slice(0, 0, len).unsqueeze(0)},
                            {"audio", batch.at("audio")[n].slice(0, 0, len).unsqueeze(0)}});
    EXPECT_LT(max_diff(net->forward(alone)[0], together[n]), 1e-5) << "video " << n;
  }
  // Garbage in the padding changes nothing; the mask alone gives the same as lengths.
  ModelInput garbage = batch;
  garbage.set("rgb", batch.at("rgb") + 1e3 * (1 - batch.at("mask")).unsqueeze(2));
  garbage.set("audio", batch.at("audio") - 1e3 * (1 - batch.at("mask")).unsqueeze(2));
  EXPECT_EQ(max_diff(net->forward(garbage), together), 0.0);
  const ModelInput mask_only(
      {{"rgb", batch.at("rgb")}, {"audio", batch.at("audio")}, {"mask", batch.at("mask")}});
  EXPECT_EQ(max_diff(net->forward(mask_only), together), 0.0);
}

TEST(AttentionLstm, DropoutConventions) {
  torch::manual_seed(5);
  AttentionLstm fluid(tiny().drop_rate(0.5));
  AttentionLstm inverted(tiny().drop_rate(0.5).dropout_impl(DropoutImpl::kUpscaleInTrain));
  AttentionLstm none(tiny().drop_rate(0.0));
  torch::NoGradGuard g;
  {  // same weights everywhere
    std::map<std::string, torch::Tensor> src;
    for (const auto& p : fluid->named_parameters()) src[p.key()] = p.value();
    for (auto* net : {&inverted, &none})
      for (auto& p : (*net)->named_parameters()) p.value().copy_(src.at(p.key()));
  }
  for (auto* net : {&fluid, &inverted, &none}) (*net)->eval();
  const ModelInput in = padded_batch(torch::tensor(std::vector<int64_t>{4, 2}), 4);
  // Eval: inverted dropout is the identity; Fluid's scales the LSTM outputs by 0.5, which
  // changes the logits.
  EXPECT_EQ(max_diff(inverted->forward(in), none->forward(in)), 0.0);
  EXPECT_GT(max_diff(fluid->forward(in), none->forward(in)), 1e-4);
  // Train: random masks, outputs differ between calls.
  fluid->train();
  EXPECT_GT(max_diff(fluid->forward(in), fluid->forward(in)), 0.0);
  EXPECT_THROW(AttentionLstm(tiny().drop_rate(1.0)), std::invalid_argument);
}

TEST(AttentionLstm, BadInputsAreErrors) {
  AttentionLstm net(tiny());
  torch::NoGradGuard g;
  ModelInput in = padded_batch(torch::tensor(std::vector<int64_t>{3, 2}), 3);
  ModelInput zero = in;
  zero.set("lengths", torch::tensor(std::vector<int64_t>{3, 0}));
  EXPECT_THROW(net->forward(zero), std::invalid_argument);
  ModelInput too_long = in;
  too_long.set("lengths", torch::tensor(std::vector<int64_t>{4, 1}));
  EXPECT_THROW(net->forward(too_long), std::invalid_argument);
  ModelInput wrong = in;
  wrong.set("audio", torch::zeros({2, 3, 127}));
  EXPECT_THROW(net->forward(wrong), std::invalid_argument);
  ModelInput other_t = in;
  other_t.set("audio", torch::zeros({2, 4, 128}));
  EXPECT_THROW(net->forward(other_t), std::invalid_argument);
  EXPECT_THROW(net->forward(ModelInput({{"rgb", in.at("rgb")}})), std::invalid_argument);
  EXPECT_THROW(AttentionLstm(tiny().feature_dims({1024})), std::invalid_argument);
  EXPECT_THROW(AttentionLstm(tiny().lstm_size(0)), std::invalid_argument);
}

}  // namespace
}  // namespace vc::models
