// Runs build/bin/{make_demo_data,train,test,infer} the way a user does, on a tiny synthetic
// dataset, and checks outputs, exit codes, error messages, resume equivalence and SIGINT.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/temp_dir.h"
#include "tools/common/checkpoint.h"
#include "tools/common/state_dict.h"

namespace {

namespace fs = std::filesystem;
using vc::testing::read_text;
using vc::testing::run_command;
using vc::testing::write_text;

const std::string kBin = std::string(VC_BINARY_DIR) + "/bin/";

// One dataset + config for all tests of this file (generation takes ~1 s).
class Executables : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vc::testing::TempDir();
    auto r = run_command(kBin + "make_demo_data --out " + data() +
                         " --clips-per-class 3 --frames 16 --width 64 --height 48 --seed 1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    write_text(config(),
               "MODEL:\n  name: TSN\n  num_classes: 6\n  num_layers: 18\n  seg_num: 2\n"
               "  short_size: 40\n  target_size: 32\n  scale_mode: short_side\n"
               "  num_reader_threads: 2\n  label_map: " +
                   data() +
                   "/label_map.txt\n"
                   "TRAIN:\n  epoch: 2\n  batch_size: 4\n  learning_rate: 0.01\n"
                   "  decay_epochs: [1]\n  filelist: " +
                   data() +
                   "/train.list\n"
                   "VALID:\n  batch_size: 4\n  filelist: " +
                   data() +
                   "/val.list\n"
                   "TEST:\n  seg_num: 3\n  batch_size: 5\n  filelist: " +
                   data() +
                   "/test.list\n"
                   "INFER:\n  batch_size: 2\n  filelist: " +
                   data() + "/infer.list\n");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string data() { return *dir_ / "demo"; }
  static std::string config() { return *dir_ / "tiny.yaml"; }
  static std::string path(const std::string& name) { return *dir_ / name; }
  static std::string train_cmd(const std::string& save_dir, const std::string& extra = "") {
    return kBin + "train --model-name=tsn --config=" + config() + " --save-dir=" + save_dir +
           " --threads=1 --seed=3 --log-interval=1 " + extra;
  }
  static std::size_t lines_of(const std::string& file) {
    std::ifstream in(file);
    std::size_t n = 0;
    std::string l;
    while (std::getline(in, l))
      if (!l.empty() && l[0] != '#') ++n;
    return n;
  }
  static vc::testing::TempDir* dir_;
};
vc::testing::TempDir* Executables::dir_ = nullptr;

// The "class":K values of a results file, in order (the ranking of every sample).
std::vector<std::string> ranked_classes(const std::string& jsonl) {
  std::vector<std::string> out;
  const std::string key = "\"class\":";
  for (std::size_t p = jsonl.find(key); p != std::string::npos; p = jsonl.find(key, p + 1)) {
    out.push_back(jsonl.substr(p + key.size(), jsonl.find_first_of(",}", p) - p - key.size()));
  }
  return out;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  auto ca = vc::app::load_checkpoint(a);
  auto cb = vc::app::load_checkpoint(b);
  ASSERT_EQ(ca.model.size(), cb.model.size());
  for (std::size_t i = 0; i < ca.model.size(); ++i) {
    EXPECT_EQ(ca.model[i].first, cb.model[i].first);
    EXPECT_TRUE(torch::equal(ca.model[i].second, cb.model[i].second))
        << ca.model[i].first << " differs between " << a << " and " << b;
  }
  EXPECT_EQ(ca.global_step, cb.global_step);
  EXPECT_EQ(ca.epoch, cb.epoch);
}

TEST_F(Executables, TrainTestInferEndToEnd) {
  const std::string ck = path("e2e");
  auto r = run_command(train_cmd(ck));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"TSN_epoch0.pt", "TSN_epoch1.pt", "latest.pt", "best.pt", "train.log"})
    EXPECT_TRUE(fs::exists(ck + "/" + f)) << f << "\n" << r.output;
  EXPECT_NE(r.output.find("[TRAIN] epoch 0/2 iter 0/"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("clips/s ETA"), std::string::npos);
  EXPECT_NE(r.output.find("[VALID] epoch 1: loss"), std::string::npos);
  EXPECT_NE(r.output.find("LR schedule: lr piecewise"), std::string::npos);
  // No --pretrain: the run says loudly that it starts from random weights.
  EXPECT_NE(r.output.find("starts from RANDOM weights"), std::string::npos) << r.output;

  const std::string out = path("e2e_test");
  r = run_command(kBin + "test --model-name=TSN --config=" + config() + " --weights=" + ck +
                  "/latest.pt --save-dir=" + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[TEST] finished: loss"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mean_class_acc"), std::string::npos);
  // Every test video is evaluated (no dropped partial batch): 6 classes x 1 clip = 6 > batch 5.
  const std::size_t n_test = lines_of(data() + "/test.list");
  EXPECT_EQ(lines_of(out + "/test_results.jsonl"), n_test);
  EXPECT_NE(
      r.output.find("(" + std::to_string(n_test) + " of " + std::to_string(n_test) + " samples"),
      std::string::npos)
      << r.output;
  const std::string cm = read_text(out + "/confusion_matrix.csv");
  EXPECT_EQ(std::count(cm.begin(), cm.end(), '\n'), 7);  // header + 6 classes
  EXPECT_NE(read_text(out + "/test_results.jsonl").find("\"topk\":[{\"class\":"),
            std::string::npos);
  // test runs the fast inference path by default (a batch of 5 and the last one of 1: two
  // traces); with TEST.fast_inference=false it runs eager and ranks every video the same.
  EXPECT_NE(r.output.find("fast inference path"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("max |fast - eager|"), std::string::npos) << r.output;
  const std::string eager_out = path("e2e_test_eager");
  r = run_command(kBin + "test --model-name=TSN --config=" + config() + " --weights=" + ck +
                  "/latest.pt --save-dir=" + eager_out + " --set TEST.fast_inference=false");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("eager inference"), std::string::npos) << r.output;
  EXPECT_EQ(ranked_classes(read_text(out + "/test_results.jsonl")),
            ranked_classes(read_text(eager_out + "/test_results.jsonl")));

  // infer: a missing file on line 2 is reported with its line; the others are still predicted.
  const std::string list = data() + "/infer_with_missing.list";  // beside the clips it names
  std::ifstream in(data() + "/infer.list");
  std::string first, rest, l;
  std::getline(in, first);
  while (std::getline(in, l)) rest += l + "\n";
  write_text(list, first + "\n" + path("no_such_video.mp4") + "\n" + rest);
  const std::string iout = path("e2e_infer");
  r = run_command(kBin + "infer --model_name=TSN --config=" + config() + " --weights=" + ck +
                  "/TSN_epoch1.pt --filelist=" + list + " --infer_topk=2 --save_dir=" + iout);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no_such_video.mp4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("line 2"), std::string::npos) << r.output;
  const std::string jl = read_text(iout + "/TSN_infer.jsonl");
  EXPECT_EQ(lines_of(iout + "/TSN_infer.jsonl"), lines_of(list));  // predictions + 1 error row
  EXPECT_NE(jl.find("\"error\""), std::string::npos);
  EXPECT_NE(jl.find("\"name\":\""), std::string::npos);
}

TEST_F(Executables, ResumeEndsWithTheSameWeights) {
  auto r = run_command(train_cmd(path("straight")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(train_cmd(path("stopped"), "--epoch=1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(train_cmd(path("stopped"), "--resume=" + path("stopped") + "/latest.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from"), std::string::npos) << r.output;
  expect_same_weights(path("straight") + "/TSN_epoch1.pt", path("stopped") + "/TSN_epoch1.pt");
}

TEST_F(Executables, SigintSavesAndResumesExactly) {
  auto r = run_command(train_cmd(path("ref")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Start training, wait for the first logged iteration, then Ctrl-C.
  const std::string log = path("sigint.out");
  const std::string cmd = train_cmd(path("int")) + " > " + log + " 2>&1";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (read_text(log).find("iter 1/") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << read_text(log);
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_text(log);
  ASSERT_TRUE(fs::exists(path("int") + "/TSN_interrupted.pt")) << read_text(log);
  EXPECT_NE(read_text(log).find("interrupted: saved"), std::string::npos);
  r = run_command(train_cmd(path("int"), "--resume=" + path("int") + "/TSN_interrupted.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same_weights(path("ref") + "/TSN_epoch1.pt", path("int") + "/TSN_epoch1.pt");
}

TEST_F(Executables, PretrainTakesATorchvisionStateDict) {
  // The file exactly as PyTorch users have it: torch.save(model.state_dict()) (an OrderedDict).
  const std::string r18 = path("resnet18.pth"), r50 = path("resnet50.pth");
  auto r = run_command(
      "/usr/bin/python3 -c \"import torch, torchvision; torch.manual_seed(0); "
      "torch.save(torchvision.models.resnet18().state_dict(), '" +
      r18 +
      "'); "
      "torch.save(torchvision.models.resnet50().state_dict(), '" +
      r50 + "')\"");
  if (r.exit_code != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot write torchvision weights: " << r.output;
  // LR 0: the trained checkpoint must hold exactly the ImageNet conv weights.
  r = run_command(train_cmd(path("pre"), "--epoch=1 --pretrain=" + r18 +
                                             " --set TRAIN.learning_rate=0 --valid-interval=0"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("loaded pretrained weights from " + r18), std::string::npos) << r.output;
  auto file = vc::app::read_state_dict(r18);
  auto ck = vc::app::load_checkpoint(path("pre") + "/TSN_epoch0.pt");
  int compared = 0;
  for (const auto& [name, t] : file) {
    if (name.find("conv") == std::string::npos) continue;
    for (const auto& [cname, ct] : ck.model) {
      if (cname != "backbone." + name) continue;
      EXPECT_TRUE(torch::equal(t, ct)) << name;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 17);  // conv1 + 16 convs of the 8 basic blocks
  // A ResNet-50 file into a ResNet-18 config: a clear list of what does not fit.
  r = run_command(train_cmd(path("pre50"), "--epoch=1 --pretrain=" + r50));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(r50), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unexpected in the file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("shape mismatch"), std::string::npos) << r.output;
}

TEST_F(Executables, ErrorsNameWhatIsWrongAndExitNonZero) {
  auto r = run_command(kBin + "train --model-name=RESNET --config=" + config());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown model name 'RESNET' (known: TSN"), std::string::npos)
      << r.output;
  r = run_command(kBin + "train --model-name=TSN --config=/no/where.yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/no/where.yaml"), std::string::npos) << r.output;
  r = run_command(kBin + "test --model-name=TSN --config=" + config() + " --weights=/no/w.pt");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/no/w.pt"), std::string::npos) << r.output;
  r = run_command(kBin + "infer --model-name=TSN --config=" + config() +
                  " --weights=/no/w.pt --filelist=/no/list.txt");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/no/list.txt"), std::string::npos) << r.output;
  r = run_command(kBin + "train --model-name=TSN --config=" + config() +
                  " --set TRAIN.batch_size=0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("TRAIN.batch_size"), std::string::npos) << r.output;
  r = run_command(kBin + "train --model-name=TSN --config=" + config() + " --pretrain=/no/r50.pth");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/no/r50.pth"), std::string::npos) << r.output;
  r = run_command(kBin + "train --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--model_name"), std::string::npos) << r.output;
}

// The original's released-weight formats go straight into test (and through convert_weights
// into a checkpoint): a Paddle ResNet-18 TSN directory with random values, written by the
// spec-following writer of tests/tools, scores the same as its converted checkpoint, and the
// converted tensors are the Paddle arrays (fc transposed) when read back by Python.
TEST_F(Executables, PaddleWeightsTestAndConvert) {
  const std::string pd = path("paddle_tsn18");
  const std::string py = path("write_pd.py");
  write_text(py,
             "import sys, numpy as np\n"
             "sys.path.insert(0, '" +
                 std::string(VC_SOURCE_DIR) +
                 "/tests/tools')\n"
                 "import write_paddle_weights as w\n"
                 "arrays = w.resnet_arrays(18, 6, 5)\n"
                 "for k in arrays:\n"
                 "    if k.endswith('_variance'): arrays[k] = np.abs(arrays[k]) + 0.5\n"
                 "    elif k.endswith('_weights') or k.startswith('fc_'): arrays[k] *= 0.05\n"
                 "w.write_dir('" +
                 pd +
                 "', arrays)\n"
                 "np.save('" +
                 path("fc_0.w_0.npy") + "', arrays['fc_0.w_0'])\n");
  auto r = run_command("/usr/bin/python3 " + py);
  if (r.exit_code != 0) GTEST_SKIP() << "/usr/bin/python3 with numpy unavailable: " << r.output;

  r = run_command(kBin + "test --model-name=TSN --config=" + config() + " --weights=" + pd +
                  " --save-dir=" + path("pd_test") + " --threads=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("loaded Paddle weights from " + pd), std::string::npos) << r.output;
  r = run_command(kBin + "convert_weights --model-name=TSN --config=" + config() +
                  " --weights=" + pd + " --output=" + path("pd.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(kBin + "test --model-name=TSN --config=" + config() + " --weights=" +
                  path("pd.pt") + " --save-dir=" + path("pd_conv_test") + " --threads=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_text(path("pd_test/test_results.jsonl")),
            read_text(path("pd_conv_test/test_results.jsonl")));

  write_text(path("check_pd.py"),
             "import torch, numpy as np\n"
             "c = torch.load('" +
                 path("pd.pt") +
                 "')\n"
                 "w = torch.from_numpy(np.load('" +
                 path("fc_0.w_0.npy") +
                 "'))\n"
                 "assert torch.equal(c['model']['fc.weight'], w.t()), 'fc not transposed'\n"
                 "print('paddle-ok')\n");
  r = run_command("/usr/bin/python3 " + path("check_pd.py"));
  EXPECT_NE(r.output.find("paddle-ok"), std::string::npos) << r.output;

  // A Paddle directory of another depth names the variables that do not fit.
  write_text(py + "50", "import sys\nsys.path.insert(0, '" + std::string(VC_SOURCE_DIR) +
                            "/tests/tools')\nimport write_paddle_weights as w\n"
                            "w.write_dir('" +
                            path("paddle_tsn50") + "', w.resnet_arrays(50, 6, 5))\n");
  ASSERT_EQ(run_command("/usr/bin/python3 " + py + "50").exit_code, 0);
  r = run_command(kBin + "test --model-name=TSN --config=" + config() + " --weights=" +
                  path("paddle_tsn50") + " --save-dir=" + path("pd50") + " --threads=1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("res2a_branch2c_weights"), std::string::npos) << r.output;
}

// The words of a log line after `marker`, split on blanks.
std::vector<std::string> words_after(const std::string& line, const std::string& marker) {
  std::istringstream in(line.substr(line.find(marker) + marker.size()));
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// `name value name value ...` from words[from] up to a word starting with `stop` (or the end).
std::vector<std::pair<std::string, double>> name_values(const std::vector<std::string>& words,
                                                        std::size_t from, const std::string& stop) {
  std::vector<std::pair<std::string, double>> out;
  for (std::size_t i = from; i + 1 < words.size() && words[i].rfind(stop, 0) != 0; i += 2)
    out.emplace_back(words[i], std::stod(words[i + 1]));
  return out;
}

// Training writes TensorBoard events under <save_dir>/tensorboard; an independent Python reader
// (tests/integration/read_tfevents.py: its own TFRecord framing + python3-protobuf) finds one
// event per logged step and metric with the values the log printed, per-epoch train and
// validation metrics, and nothing when TRAIN.tensorboard is false.
TEST_F(Executables, TensorBoardEventsMatchTheLog) {
  const std::string ck = path("tb");
  auto r = run_command(train_cmd(ck));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(ck + "/tensorboard"))
    files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename().string().rfind("events.out.tfevents.", 0), 0u)
      << files[0];
  EXPECT_NE(r.output.find("TensorBoard events: " + files[0]), std::string::npos) << r.output;
  auto py = run_command("/usr/bin/python3 " VC_SOURCE_DIR "/tests/integration/read_tfevents.py " +
                        files[0]);
  if (py.exit_code == 77) GTEST_SKIP() << py.output;
  ASSERT_EQ(py.exit_code, 0) << py.output;
  std::vector<nlohmann::json> events;
  {
    std::istringstream in(py.output);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) events.push_back(nlohmann::json::parse(l));
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].value("file_version", ""), "brain.Event:2");

  // The log: "[TRAIN] epoch E/2 iter I/NB loss X top1 ... lr L data ...", one per step
  // (--log-interval=1), then "[TRAIN] epoch E finished: loss X ..." and "[VALID] epoch E: ...".
  std::vector<std::vector<std::pair<std::string, double>>> steps;  // logged values + lr
  std::map<int, std::vector<std::pair<std::string, double>>> epoch_train, epoch_valid;
  std::istringstream log(r.output);
  for (std::string l; std::getline(log, l);) {
    if (l.find("[TRAIN] epoch ") != std::string::npos && l.find(" iter ") != std::string::npos) {
      const auto w = words_after(l, "[TRAIN] epoch ");  // E/2 iter I/NB loss X ... lr L data ...
      auto v = name_values(w, 3, "lr");
      const auto lr = std::find(w.begin(), w.end(), "lr");
      ASSERT_NE(lr, w.end()) << l;
      v.emplace_back("lr", std::stod(*(lr + 1)));
      steps.push_back(v);
    } else if (l.find(" finished: ") != std::string::npos &&
               l.find("[TRAIN] epoch ") != std::string::npos) {
      const auto w = words_after(l, "[TRAIN] epoch ");  // E finished: loss X ... (N samples)
      epoch_train[std::stoi(w[0])] = name_values(w, 2, "(");
    } else if (l.find("[VALID] epoch ") != std::string::npos) {
      const auto w = words_after(l, "[VALID] epoch ");  // E: loss X ... (N samples)
      epoch_valid[std::stoi(w[0])] = name_values(w, 1, "(");
    }
  }
  ASSERT_GT(steps.size(), 2u) << r.output;
  ASSERT_EQ(epoch_train.size(), 2u) << r.output;
  ASSERT_FALSE(epoch_valid.empty()) << r.output;

  // Printed precision: the loss with 6 decimals, metrics with 2, lr with 6 significant digits;
  // TensorBoard stores float32.
  auto close = [](const std::string& name, double logged, double event) {
    const double tol = (name.find("loss") != std::string::npos ? 5e-7
                        : name.find("lr") != std::string::npos ? 5e-6 * std::abs(logged)
                                                               : 5e-3) +
                       1e-6 * std::abs(logged);
    return std::abs(logged - event) <= tol;
  };
  // Events by (tag, step), in file order.
  std::map<std::string, std::vector<std::pair<int64_t, double>>> by_tag;
  for (std::size_t i = 1; i < events.size(); ++i) {
    ASSERT_TRUE(events[i].contains("tag")) << events[i].dump();
    by_tag[events[i]["tag"].get<std::string>()].emplace_back(events[i]["step"].get<int64_t>(),
                                                             events[i]["value"].get<double>());
  }
  for (const auto& [name, value] : steps[0]) {
    const std::string tag = "train/" + name;
    ASSERT_EQ(by_tag[tag].size(), steps.size()) << tag;
    for (std::size_t s = 0; s < steps.size(); ++s) {
      EXPECT_EQ(by_tag[tag][s].first, static_cast<int64_t>(s)) << tag;  // the global step
      const auto logged = std::find_if(steps[s].begin(), steps[s].end(),
                                       [&](const auto& kv) { return kv.first == name; });
      ASSERT_NE(logged, steps[s].end()) << name << " missing in logged step " << s;
      EXPECT_TRUE(close(name, logged->second, by_tag[tag][s].second))
          << tag << " step " << s << ": log " << logged->second << ", event "
          << by_tag[tag][s].second;
    }
  }
  EXPECT_EQ(by_tag.count("train/loss"), 1u);
  EXPECT_EQ(by_tag.count("train/lr"), 1u);
  for (const auto& [prefix, per_epoch] : {std::make_pair(std::string("epoch/train_"), epoch_train),
                                          std::make_pair(std::string("valid/"), epoch_valid)}) {
    for (const auto& [name, value] : per_epoch.begin()->second) {
      const auto& ev = by_tag[prefix + name];
      ASSERT_EQ(ev.size(), per_epoch.size()) << prefix + name;
      std::size_t k = 0;
      for (const auto& [epoch, values] : per_epoch) {
        EXPECT_EQ(ev[k].first, epoch) << prefix + name;
        const auto logged = std::find_if(values.begin(), values.end(),
                                         [&](const auto& kv) { return kv.first == name; });
        ASSERT_NE(logged, values.end());
        EXPECT_TRUE(close(name, logged->second, ev[k].second))
            << prefix + name << " epoch " << epoch << ": log " << logged->second << ", event "
            << ev[k].second;
        ++k;
      }
    }
  }
  // Every tag is one of those checked above.
  const std::size_t per_step = steps[0].size();
  const std::size_t per_train_epoch = epoch_train.begin()->second.size();
  const std::size_t per_valid = epoch_valid.begin()->second.size();
  EXPECT_EQ(events.size() - 1, steps.size() * per_step + epoch_train.size() * per_train_epoch +
                                   epoch_valid.size() * per_valid);

  // Disabled: no folder.
  r = run_command(train_cmd(path("tb_off"), "--epoch=1 --set TRAIN.tensorboard=false"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(path("tb_off") + "/tensorboard"));
  EXPECT_EQ(r.output.find("TensorBoard events"), std::string::npos);
}

}  // namespace
