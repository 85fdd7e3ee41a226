// Proof that the core is generic: a test-only eighth network, defined entirely in this file —
// its dataset (variable-length two-modality feature sequences, multi-label targets), its model
// (masked pooling over the padded batch), its metric meter, its key table and its registry row —
// runs through the same train / test / infer loops as the shipped networks, given only a
// Registry that holds its row. Nothing outside this file knows it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "datareader/dataset.h"
#include "datareader/file_list.h"
#include "datareader/loader.h"
#include "metrics/meter.h"
#include "models/video_model.h"
#include "tests/support/temp_dir.h"
#include "tools/common/cli.h"
#include "tools/common/registry.h"
#include "tools/common/runner.h"

namespace {

namespace fs = std::filesystem;
using vc::testing::read_text;
using vc::testing::TempDir;
using vc::testing::write_text;

constexpr int64_t kRgb = 6, kAudio = 3, kClasses = 5;

// --- its files: one torch.save'd dict {"rgb": [T, 6], "audio": [T, 3]} per video; list lines
// "<file> <class>[,<class>...]".
void write_video(const std::string& path, int64_t frames, const std::vector<int64_t>& classes) {
  auto rgb = torch::randn({frames, kRgb}) * 0.1;
  auto audio = torch::randn({frames, kAudio}) * 0.1;
  for (int64_t c : classes) {  // the classes leave a trace the network can learn
    rgb.select(1, c % kRgb) += 1.0;
    audio.select(1, c % kAudio) += 0.5;
  }
  c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
  d.insert("rgb", rgb);
  d.insert("audio", audio);
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// --- its dataset
class FeatureDataset : public vc::data::Dataset {
 public:
  FeatureDataset(std::string list, bool require_label) : list_(std::move(list)) {
    std::ifstream in(list_);
    if (!in) throw vc::data::DataError("cannot read " + list_);
    std::string line;
    std::size_t no = 0;
    while (std::getline(in, line)) {
      ++no;
      std::istringstream ls(line);
      Entry e;
      std::string labels;
      ls >> e.path >> labels;
      if (e.path.empty()) continue;
      e.path = vc::data::resolve_relative_to(list_, e.path);
      e.line = no;
      std::istringstream ss(labels);
      std::string tok;
      while (std::getline(ss, tok, ',')) e.classes.push_back(std::stoll(tok));
      if (require_label && e.classes.empty()) {
        skipped_.push_back(list_ + ":" + std::to_string(no) + ": missing labels");
        continue;
      }
      e.labelled = !e.classes.empty();
      entries_.push_back(e);
    }
  }
  std::size_t size() const override { return entries_.size(); }
  vc::data::Sample get(std::size_t i, uint64_t) const override {
    const Entry& e = entries_.at(i);
    std::ifstream in(e.path, std::ios::binary);
    if (!in) throw vc::data::SampleError(e.path, e.line, "file not found", "");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto d = torch::pickle_load(bytes).toGenericDict();
    vc::data::Sample s;
    s.inputs["rgb"] = d.at("rgb").toTensor();      // [T, 6]
    s.inputs["audio"] = d.at("audio").toTensor();  // [T, 3]
    s.target = vc::data::Target::multi(e.classes, kClasses, e.labelled);
    s.id = fs::path(e.path).stem().string();
    s.source = list_;
    s.line_no = e.line;
    s.index = i;
    return s;
  }
  vc::data::SampleRef ref(std::size_t i) const override {
    return {entries_.at(i).path, list_, entries_.at(i).line};
  }
  const std::vector<std::string>& skipped_lines() const override { return skipped_; }
  vc::data::CollatePolicy collate_policy() const override {
    return vc::data::CollatePolicy::pad({"rgb", "audio"});
  }
  std::string describe() const override {
    return "feature list " + list_ + ": " + std::to_string(entries_.size()) + " videos";
  }

 private:
  struct Entry {
    std::string path;
    std::size_t line = 0;
    std::vector<int64_t> classes;
    bool labelled = false;
  };
  std::string list_;
  std::vector<Entry> entries_;
  std::vector<std::string> skipped_;
};

// --- its model: per-modality fc, masked mean over the valid frames, fc to logits.
// Inputs: "rgb" [N, T, 6], "audio" [N, T, 3], "mask" [N, T] -> logits [N, 5].
class FeatNetImpl : public vc::models::VideoModelImpl {
 public:
  explicit FeatNetImpl(int64_t hidden) {
    rgb_fc = register_module("rgb_fc", torch::nn::Linear(kRgb, hidden));
    audio_fc = register_module("audio_fc", torch::nn::Linear(kAudio, hidden));
    fc = register_module("fc", torch::nn::Linear(2 * hidden, kClasses));
  }
  torch::Tensor forward(const vc::models::ModelInput& in) override {
    const torch::Tensor& mask = in.at("mask");               // [N, T]
    auto x = torch::cat({torch::tanh(rgb_fc(in.at("rgb"))),  // [N, T, H]
                         torch::tanh(audio_fc(in.at("audio")))},
                        2);                                  // [N, T, 2H]
    auto m = mask.unsqueeze(2);                              // [N, T, 1]
    auto pooled = (x * m).sum(1) / m.sum(1).clamp_min(1.0);  // [N, 2H]
    return fc(pooled);                                       // [N, 5]
  }
  torch::nn::Linear rgb_fc{nullptr}, audio_fc{nullptr}, fc{nullptr};
};
TORCH_MODULE(FeatNet);

// --- its meter: loss and Hit@1 (the top class is one of the video's classes), primary hit1.
class HitMeter : public vc::metrics::Meter {
 public:
  void update(const at::Tensor& logits, const at::Tensor& target, double loss) override {
    const auto top = logits.argmax(1);  // [N]
    for (int64_t i = 0; i < logits.size(0); ++i) {
      hits_ += target[i][top[i].item<int64_t>()].item<float>() > 0.5f;
    }
    loss_ += loss * static_cast<double>(logits.size(0));
    n_ += logits.size(0);
  }
  void reset() override { n_ = hits_ = 0, loss_ = 0; }
  int64_t count() const override { return n_; }
  std::vector<std::pair<std::string, double>> values() const override {
    return {{"loss", n_ ? loss_ / static_cast<double>(n_) : 0.0},
            {"hit1", n_ ? 100.0 * static_cast<double>(hits_) / static_cast<double>(n_) : 0.0}};
  }
  std::string primary() const override { return "hit1"; }
  std::unique_ptr<Meter> clone_empty() const override { return std::make_unique<HitMeter>(); }

 private:
  int64_t n_ = 0, hits_ = 0;
  double loss_ = 0;
};

// --- its key table and registry row
const vc::app::KeyTable& feat_keys() {
  static const vc::app::KeyTable t{
      "FEAT8",
      "The test-only eighth network.",
      {{"hidden", vc::app::KeyScope::kModel, int64_t{8}, 1, 1024, {}, "hidden width", {}}},
      {{"TRAIN.optimizer", std::string("adam")}, {"TRAIN.lr_policy", std::string("constant")}},
      nullptr};
  return t;
}

vc::app::ModelEntry feat_row() {
  vc::app::ModelEntry e;
  e.id = "FEAT8";
  e.summary = "test-only: two-modality feature sequences, multi-label";
  e.key_tables = {&feat_keys()};
  e.make_model = [](const vc::app::Config& cfg, vc::app::Mode) -> vc::models::VideoModelPtr {
    return FeatNet(cfg.model.i("hidden")).ptr();
  };
  e.make_dataset = [](const vc::app::Config&, vc::app::Mode m, const std::string& list) {
    return std::make_shared<FeatureDataset>(list, m != vc::app::Mode::kInfer);
  };
  e.task =
      vc::app::multi_label_task([](const vc::app::Config&) -> std::unique_ptr<vc::metrics::Meter> {
        return std::make_unique<HitMeter>();
      });
  e.example_input = [](const vc::app::Config&, vc::app::Mode) {
    vc::models::ModelInput in;
    in.set("rgb", torch::randn({2, 4, kRgb}));
    in.set("audio", torch::randn({2, 4, kAudio}));
    in.set("mask", torch::ones({2, 4}));
    return in;
  };
  return e;
}

vc::app::Registry registry_with_feat8() {
  std::vector<vc::app::ModelEntry> rows = vc::app::default_registry().rows();
  rows.push_back(feat_row());
  return vc::app::Registry(std::move(rows));
}

struct Fixture {
  TempDir tmp;
  std::string config;
  Fixture() {
    torch::manual_seed(7);
    std::string train, val, infer;
    for (int i = 0; i < 24; ++i) {
      const std::vector<int64_t> classes = {i % kClasses, (i + 2) % kClasses};
      const std::string file = "v" + std::to_string(i) + ".pt";
      write_video(tmp / file, 3 + i % 9, classes);  // 3..11 frames: batches need padding
      const std::string line =
          file + " " + std::to_string(classes[0]) + "," + std::to_string(classes[1]) + "\n";
      (i < 16 ? train : val) += line;
      if (i >= 20) infer += file + "\n";
    }
    infer += "missing.pt\n";
    write_text(tmp / "train.list", train);
    write_text(tmp / "val.list", val);
    write_text(tmp / "infer.list", infer);
    config = tmp / "feat8.yaml";
    write_text(config,
               "MODEL:\n  name: FEAT8\n  num_classes: 5\n  hidden: 8\n"
               "  num_reader_threads: 2\nTRAIN:\n  epoch: 3\n  batch_size: 4\n"
               "  learning_rate: 0.05\n  l2_weight_decay: 0\n  filelist: \"" +
                   (tmp / "train.list") + "\"\nVALID:\n  batch_size: 3\n  filelist: \"" +
                   (tmp / "val.list") + "\"\nTEST:\n  batch_size: 3\n  filelist: \"" +
                   (tmp / "val.list") + "\"\nINFER:\n  batch_size: 2\n  filelist: \"" +
                   (tmp / "infer.list") + "\"\n");
  }
  vc::app::CliOptions opts(vc::app::Tool tool) const {
    vc::app::CliOptions o;
    o.tool = tool;
    o.model_name = "feat8";
    o.config = config;
    o.log_interval = 1;
    o.threads = 1;
    return o;
  }
};

TEST(EighthNetwork, TrainsTestsAndInfersThroughTheGenericLoops) {
  Fixture fx;
  const auto registry = registry_with_feat8();
  auto tr = fx.opts(vc::app::Tool::kTrain);
  tr.save_dir = fx.tmp / "ckpt";
  ASSERT_EQ(vc::app::run_train(tr, registry), 0);
  for (const char* f : {"FEAT8_epoch2.pt", "latest.pt", "best.pt", "train.log"}) {
    EXPECT_TRUE(fs::exists(fs::path(tr.save_dir) / f)) << f;
  }
  const std::string log = read_text(fx.tmp / "ckpt/train.log");
  EXPECT_NE(log.find("optimizer adam"), std::string::npos) << log;  // the row's default
  EXPECT_NE(log.find("sigmoid cross-entropy"), std::string::npos);
  EXPECT_NE(log.find("hit1"), std::string::npos);
  EXPECT_EQ(log.find("RANDOM weights"), std::string::npos);  // no pretrain to miss

  auto te = fx.opts(vc::app::Tool::kTest);
  te.weights = fx.tmp / "ckpt/best.pt";
  te.save_dir = fx.tmp / "test";
  ASSERT_EQ(vc::app::run_test(te, registry), 0);
  const std::string results = read_text(fx.tmp / "test/test_results.jsonl");
  EXPECT_NE(results.find("\"labels\":["), std::string::npos) << results;
  EXPECT_FALSE(fs::exists(fx.tmp / "test/confusion_matrix.csv"));  // multi-label: none
  const std::string metrics = read_text(fx.tmp / "test/test_metrics.json");
  EXPECT_NE(metrics.find("\"primary_metric\": \"hit1\""), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"samples\": 8"), std::string::npos) << metrics;

  auto in = fx.opts(vc::app::Tool::kInfer);
  in.weights = fx.tmp / "ckpt/latest.pt";
  in.save_dir = fx.tmp / "infer";
  ASSERT_EQ(vc::app::run_infer(in, registry), 0);
  const std::string jl = read_text(fx.tmp / "infer/FEAT8_infer.jsonl");
  EXPECT_NE(jl.find("\"labels\":null"), std::string::npos) << jl;
  EXPECT_NE(jl.find("missing.pt"), std::string::npos) << jl;  // the error row
  EXPECT_NE(jl.find("\"error\""), std::string::npos) << jl;
}

TEST(EighthNetwork, PaddingIsMaskedAVideoScoresTheSameAloneOrBatched) {
  Fixture fx;
  torch::manual_seed(3);
  FeatNet net(8);
  net->eval();
  auto ds = std::make_shared<FeatureDataset>(fx.tmp / "train.list", true);
  // Sample 0 has 3 frames; batched with samples of 4..8 frames it is padded to 8.
  auto alone = vc::data::collate({ds->get(0, 0)}, ds->collate_policy());
  std::vector<vc::data::Sample> many;
  for (std::size_t i : {0, 1, 5}) many.push_back(ds->get(i, 0));
  auto batched = vc::data::collate(std::move(many), ds->collate_policy());
  ASSERT_EQ(batched.inputs.at("rgb").size(1), 8);
  EXPECT_EQ(batched.inputs.at("lengths")[0].item<int64_t>(), 3);
  torch::NoGradGuard ng;
  auto a = net->forward(vc::models::ModelInput(alone.inputs));       // [1, 5]
  auto b = net->forward(vc::models::ModelInput(batched.inputs))[0];  // [5]
  EXPECT_TRUE(torch::allclose(a[0], b, 1e-6, 1e-6)) << a << b;
  // And through the loader with shuffling and threads.
  vc::data::LoaderOptions lo;
  lo.batch_size = 5;
  lo.num_threads = 2;
  vc::data::Loader loader(ds, lo);
  int batches = 0;
  while (auto batch = loader.next()) {
    ++batches;
    EXPECT_EQ(batch->target.sizes(), (std::vector<int64_t>{batch->size(), kClasses}));
    EXPECT_EQ(batch->input("mask").sum().item<int64_t>(),
              batch->input("lengths").sum().item<int64_t>());
  }
  EXPECT_EQ(batches, 4);  // 16 videos in batches of 5
}

}  // namespace
