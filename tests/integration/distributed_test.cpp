// Data-parallel training and evaluation (tools/common/distributed.*, docs/distributed.md):
// 2 CPU worker processes on loopback (Gloo) against 1 process, through build/bin/{train,test}.
//  - equivalence: 2 workers x B/2 give the weights of 1 worker x B after one step and after an
//    epoch of several steps (whose last global batch leaves rank 1 an empty slice); resume with
//    a different worker count continues the same run;
//  - distributed test = single-process test (metrics, per-video ranking, all videos once);
//  - faults: a killed worker stops the others in bounded time (explicit RANK env, and the
//    --nproc-per-node launcher); a rendezvous that never completes names address and port;
//  - torchrun (python3 -m torch.distributed.run, through torchrun_shim.py) when it is installed.
// The equivalence cases are a table (kCases): a network is one row (model id, data, config).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "tests/support/temp_dir.h"
#include "tools/common/checkpoint.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using vc::testing::read_text;
using vc::testing::run_command;
using vc::testing::write_text;

const std::string kBin = std::string(VC_BINARY_DIR) + "/bin/";

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Starts `cmd` through /bin/sh (exec'ed, so the pid is the program's), output to `log`.
pid_t spawn(const std::string& cmd, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string full = "exec " + cmd + " > " + log + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  return pid;
}

// Waits for `pid` at most `seconds`; its exit code (128 + signal), or -1 on timeout (then the
// process is killed).
int wait_for(pid_t pid, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

// Polls until `file` contains `text` (at most `seconds`).
bool wait_for_text(const std::string& file, const std::string& text, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (read_text(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// max |a - b| <= rtol * max |b|, per tensor of the two checkpoints; false with the first that
// differs in `why`.
bool same_weights(const std::string& a, const std::string& b, double rtol, std::string* why) {
  const auto ca = vc::app::load_checkpoint(a), cb = vc::app::load_checkpoint(b);
  if (ca.model.size() != cb.model.size()) return *why = "tensor counts differ", false;
  // Each tensor relative to its own largest value, with a floor of rtol x the checkpoint's
  // largest value: a parameter whose gradient is zero in exact arithmetic (Attention LSTM's
  // attention-fc bias: the softmax over frames ignores a shared shift) moves only by rounding
  // noise, which an adaptive optimizer (RMSProp) scales up to ~1e-6, differently per run.
  double global = 0.0;
  for (const auto& [name, t] : cb.model)
    if (t.numel() > 0) global = std::max(global, t.abs().max().item<double>());
  for (std::size_t i = 0; i < ca.model.size(); ++i) {
    const torch::Tensor x = ca.model[i].second.to(torch::kDouble);
    const torch::Tensor y = cb.model[i].second.to(torch::kDouble);
    if (ca.model[i].first != cb.model[i].first || x.sizes() != y.sizes()) {
      return *why = "tensor " + std::to_string(i) + " differs in name or shape", false;
    }
    if (x.numel() == 0) continue;
    const double diff = (x - y).abs().max().item<double>();
    const double scale = y.abs().max().item<double>();
    if (diff > rtol * std::max(scale, global)) {
      std::ostringstream os;
      os << ca.model[i].first << ": max |a-b| " << diff << " vs max |b| " << scale
         << " (largest weight " << global << ")";
      *why = os.str();
      return false;
    }
  }
  return true;
}

// The largest difference between two checkpoints' tensors (to check that training moved them).
double max_change(const std::string& a, const std::string& b) {
  const auto ca = vc::app::load_checkpoint(a), cb = vc::app::load_checkpoint(b);
  double m = 0.0;
  for (std::size_t i = 0; i < ca.model.size(); ++i) {
    if (!ca.model[i].second.is_floating_point()) continue;
    m = std::max(m, (ca.model[i].second.to(torch::kDouble) - cb.model[i].second.to(torch::kDouble))
                        .abs()
                        .max()
                        .item<double>());
  }
  return m;
}

// One network of the equivalence tests: writes its data and config into `dir` and returns the
// config path. Requirements on the config: TRAIN.batch_size even, BN-free or TRAIN.freeze_bn,
// dropout 0 (per-worker masks differ by design), TRAIN and TEST lists with a short last batch.
struct Case {
  std::string name;   // test name suffix
  std::string model;  // --model-name
  std::string id;     // registry id: checkpoints are <id>_epoch<E>.pt
  std::function<std::string(const std::string& dir)> setup;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string tsn_setup(const std::string& dir) {
  const std::string data = dir + "/demo";
  auto r = run_command(kBin + "make_demo_data --out " + data +
                       " --clips-per-class 5 --frames 8 --width 48 --height 40 --seed 5");
  if (r.exit_code != 0) throw std::runtime_error("make_demo_data failed: " + r.output);
  const std::string cfg = dir + "/tsn.yaml";
  write_text(cfg,
             "MODEL:\n  name: TSN\n  num_classes: 6\n  num_layers: 18\n  seg_num: 2\n"
             "  short_size: 36\n  target_size: 32\n  scale_mode: short_side\n"
             "  num_reader_threads: 1\n"
             "TRAIN:\n  epoch: 1\n  batch_size: 4\n  learning_rate: 0.01\n"
             "  decay_epochs: [1]\n  freeze_bn: true\n  filelist: " +
                 data + "/train.list\nTEST:\n  batch_size: 5\n  filelist: " + data +
                 "/test.list\n");
  return cfg;
}

// Attention LSTM: variable-length feature batches (the workers' slices pad differently) and a
// loss summed over the batch (gradients added, not averaged). 30 synthetic YouTube-8M videos:
// 18 train shards of one video each (a list line = a sample, as the cases need), 6 test videos.
// Momentum SGD, not the original's RMSProp: RMSProp would hide a wrong gradient scale.
std::string attention_lstm_setup(const std::string& dir) {
  const std::string data = dir + "/demo";
  auto r = run_command(kBin + "make_demo_data --kind yt8m --out " + data +
                       " --videos 30 --shards 18 --classes 16 --min-frames 3 --frames 12 --seed 5");
  if (r.exit_code != 0) throw std::runtime_error("make_demo_data failed: " + r.output);
  const std::string cfg = dir + "/attention_lstm.yaml";
  write_text(cfg,
             "MODEL:\n  name: AttentionLSTM\n  num_classes: 16\n  embedding_size: 8\n"
             "  lstm_size: 8\n  fc1_size: 16\n  fc2_size: 16\n  drop_rate: 0.0\n"
             "  num_reader_threads: 1\n"
             "TRAIN:\n  epoch: 1\n  batch_size: 4\n  learning_rate: 0.01\n"
             "  lr_policy: constant\n  optimizer: momentum\n  l2_weight_decay: 0.0\n"
             "  filelist: " +
                 data + "/train.list\nTEST:\n  batch_size: 5\n  filelist: " + data +
                 "/test.list\n");
  return cfg;
}

const std::vector<Case> kCases = {
    {"TSN", "tsn", "TSN", tsn_setup},
    {"AttentionLSTM", "attentionlstm", "AttentionLSTM", attention_lstm_setup},
};

class Distributed : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<vc::testing::TempDir>("dist");
    config_ = GetParam().setup(dir_->str());
  }
  std::string path(const std::string& name) const { return *dir_ / name; }
  std::string tool_cmd(const std::string& tool, const std::string& out,
                       const std::string& extra) const {
    return kBin + tool + " --model-name=" + GetParam().model + " --config=" + config_ +
           " --save-dir=" + out + " --threads=1 --seed=3 --log-interval=1 " +
           (tool == "train" ? "--valid-interval=0 " : "") + extra;
  }
  // A train run; returns its output; fails the test on a non-zero exit.
  std::string train(const std::string& out, const std::string& extra) const {
    auto r = run_command(tool_cmd("train", out, extra));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }
  std::unique_ptr<vc::testing::TempDir> dir_;
  std::string config_;
};

TEST_P(Distributed, OneStepTwoWorkersEqualOneWorker) {
  // A list of exactly one global batch: one step.
  const std::string list = read_text(fs::path(config_).parent_path() / "demo/train.list");
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) pos = list.find('\n', pos) + 1;
  write_text(path("demo/one.list"), list.substr(0, pos));  // paths relative to the list
  const std::string set = " --set TRAIN.filelist=" + path("demo/one.list");
  train(path("one1"), set);
  const std::string out2 = train(path("one2"), set + " --nproc-per-node 2");
  std::string why;
  EXPECT_TRUE(same_weights(path("one2/") + GetParam().id + "_epoch0.pt",
                           path("one1/") + GetParam().id + "_epoch0.pt", 1e-5, &why))
      << why << "\n"
      << out2;
  EXPECT_NE(out2.find("2 workers x 2"), std::string::npos) << out2;
}

TEST_P(Distributed, SeveralStepsEvaluationAndResume) {
  // 18 samples, global batch 4: 5 steps, the last one 2 samples (rank 1's slice is empty).
  const std::string m = GetParam().id;
  train(path("a1"), "--epoch 2");
  const std::string out2 = train(path("a2"), "--epoch 1 --nproc-per-node 2");
  std::string why;
  EXPECT_TRUE(
      same_weights(path("a2/") + m + "_epoch0.pt", path("a1/") + m + "_epoch0.pt", 1e-5, &why))
      << why << "\n"
      << out2;
  EXPECT_GT(max_change(path("a1/") + m + "_epoch0.pt", path("a1/") + m + "_epoch1.pt"), 1e-4)
      << "training did not move the weights: the comparison would prove nothing";
  // Rank 0 alone logs progress and writes checkpoints.
  EXPECT_EQ(out2.find("[rank 1] [TRAIN]"), std::string::npos) << out2;
  std::size_t n_epoch_lines = 0;
  for (std::size_t p = out2.find("[TRAIN] epoch 0 finished"); p != std::string::npos;
       p = out2.find("[TRAIN] epoch 0 finished", p + 1))
    ++n_epoch_lines;
  EXPECT_EQ(n_epoch_lines, 1u) << out2;
  EXPECT_NE(out2.find("all-reduce"), std::string::npos) << out2;

  // Resume with another worker count: 2 workers' epoch 0, then epoch 1 alone = 1 worker x 2.
  train(path("r1"), "--epoch 2 --resume " + path("a2/") + m + "_epoch0.pt");
  EXPECT_TRUE(
      same_weights(path("r1/") + m + "_epoch1.pt", path("a1/") + m + "_epoch1.pt", 1e-5, &why))
      << why;
  // ... and 1 worker's epoch 0, then epoch 1 with 2 workers.
  train(path("r2"), "--epoch 2 --nproc-per-node 2 --resume " + path("a1/") + m + "_epoch0.pt");
  EXPECT_TRUE(
      same_weights(path("r2/") + m + "_epoch1.pt", path("a1/") + m + "_epoch1.pt", 1e-5, &why))
      << why;

  // Distributed evaluation of a checkpoint = single-process evaluation: every video once, the
  // same ranking, the same metrics.
  const std::string w = " --weights " + path("a1/") + m + "_epoch1.pt";
  auto t1 = run_command(tool_cmd("test", path("t1"), w));
  ASSERT_EQ(t1.exit_code, 0) << t1.output;
  auto t2 = run_command(tool_cmd("test", path("t2"), w + " --nproc-per-node 2"));
  ASSERT_EQ(t2.exit_code, 0) << t2.output;
  const auto j1 = nlohmann::json::parse(read_text(path("t1/test_metrics.json")));
  const auto j2 = nlohmann::json::parse(read_text(path("t2/test_metrics.json")));
  ASSERT_EQ(j1.size(), j2.size()) << j1.dump() << "\n" << j2.dump();
  for (auto it = j1.begin(); it != j1.end(); ++it) {
    ASSERT_TRUE(j2.contains(it.key())) << it.key();
    if (it.key().find("loss") != std::string::npos) {
      // The same batches of the same logits; a batch's forward pass may round differently.
      EXPECT_NEAR(it->get<double>(), j2[it.key()].get<double>(), 1e-6 * it->get<double>());
    } else {
      EXPECT_EQ(*it, j2[it.key()]) << it.key();
    }
  }
  // The per-video results: the same videos in the same order with the same ranking.
  const auto lines = [](const std::string& file) {
    std::vector<std::string> ids;
    std::ifstream in(file);
    for (std::string l; std::getline(in, l);) {
      if (l.empty() || l[0] != '{') continue;
      const auto j = nlohmann::json::parse(l);
      std::string rank;
      for (const auto& [k, v] : j.items()) {
        if (k != "topk") {
          rank += k + "=" + v.dump() + ";";
          continue;
        }
        for (const auto& c : v) rank += c.at("class").dump() + ",";  // the ranking, not the scores
      }
      ids.push_back(rank);
    }
    return ids;
  };
  const auto r1 = lines(path("t1/test_results.jsonl")), r2 = lines(path("t2/test_results.jsonl"));
  EXPECT_EQ(r1.size(), static_cast<std::size_t>(j1["samples"].get<int64_t>()));
  EXPECT_EQ(r1, r2);
}

INSTANTIATE_TEST_SUITE_P(Networks, Distributed, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

// Faults, on TSN.
class DistributedFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vc::testing::TempDir("distfault");
    config_ = tsn_setup(dir_->str());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string path(const std::string& name) { return *dir_ / name; }
  static std::string train_cmd(const std::string& out, const std::string& extra) {
    return kBin + "train --model-name=tsn --config=" + config_ + " --save-dir=" + out +
           " --threads=1 --seed=3 --log-interval=1 --valid-interval=0 " + extra;
  }
  static vc::testing::TempDir* dir_;
  static std::string config_;
};
vc::testing::TempDir* DistributedFaults::dir_ = nullptr;
std::string DistributedFaults::config_;

std::string worker_env(int rank, int world, int port) {
  return "env MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
         " WORLD_SIZE=" + std::to_string(world) + " RANK=" + std::to_string(rank) +
         " LOCAL_RANK=" + std::to_string(rank) + " LOCAL_WORLD_SIZE=" + std::to_string(world) + " ";
}

TEST_F(DistributedFaults, KilledWorkerStopsTheOtherInBoundedTime) {
  const int port = free_port();
  const std::string extra = "--epoch 1000 --dist-timeout 60";
  const pid_t r0 = spawn(worker_env(0, 2, port) + train_cmd(path("k"), extra), path("k0.log"));
  const pid_t r1 = spawn(worker_env(1, 2, port) + train_cmd(path("k"), extra), path("k1.log"));
  ASSERT_TRUE(wait_for_text(path("k0.log"), "[TRAIN] epoch 0/1000 iter 1/", 300))
      << read_text(path("k0.log")) << read_text(path("k1.log"));
  ::kill(r1, SIGKILL);
  const auto t0 = Clock::now();
  EXPECT_EQ(wait_for(r1, 30), 128 + SIGKILL);
  const int code = wait_for(r0, 60);  // far below the 60 s collective timeout + a step
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string log = read_text(path("k0.log"));
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, -1) << "rank 0 still running " << s << " s after rank 1 was killed\n" << log;
  EXPECT_NE(log.find("another worker has probably died"), std::string::npos) << log;
  std::cout << "rank 0 exited " << s << " s after rank 1 was killed\n";
}

TEST_F(DistributedFaults, LauncherStopsTheOthersWhenAWorkerDies) {
  const pid_t launcher = spawn(
      train_cmd(path("l"), "--epoch 1000 --nproc-per-node 2 --dist-timeout 60"), path("l.log"));
  ASSERT_TRUE(wait_for_text(path("l.log"), "[TRAIN] epoch 0/1000 iter 1/", 300))
      << read_text(path("l.log"));
  const std::string children = read_text("/proc/" + std::to_string(launcher) + "/task/" +
                                         std::to_string(launcher) + "/children");
  std::vector<pid_t> pids;
  std::istringstream in(children);
  for (pid_t p; in >> p;) pids.push_back(p);
  ASSERT_EQ(pids.size(), 2u) << children;
  ::kill(pids[1], SIGKILL);
  const int code = wait_for(launcher, 60);
  const std::string log = read_text(path("l.log"));
  EXPECT_EQ(code, 128 + SIGKILL) << log;
  EXPECT_NE(log.find("was killed by signal 9"), std::string::npos) << log;
  EXPECT_NE(::kill(pids[0], 0), 0) << "rank 0 survived its launcher";
}

TEST_F(DistributedFaults, RendezvousTimeoutNamesAddressAndPort) {
  for (int rank : {0, 1}) {  // the TCPStore server waiting for workers; a client with no server
    const int port = free_port();
    const auto t0 = Clock::now();
    auto r = run_command(worker_env(rank, 2, port) +
                         train_cmd(path("rv"), "--epoch 1 --dist-timeout 3"));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("rendezvous at MASTER_ADDR:MASTER_PORT = 127.0.0.1:" +
                            std::to_string(port) + " did not complete within 3 s"),
              std::string::npos)
        << r.output;
    EXPECT_LT(s, 60.0) << r.output;
  }
}

TEST_F(DistributedFaults, EnvironmentErrorsNameTheVariable) {
  auto r = run_command("env WORLD_SIZE=2 RANK=5 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 " +
                       train_cmd(path("e"), "--epoch 1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("RANK='5'"), std::string::npos) << r.output;
  r = run_command(
      "env WORLD_SIZE=3 RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) +
      " " + train_cmd(path("e"), "--epoch 1 --dist-timeout 1"));
  EXPECT_NE(r.exit_code, 0);
}

TEST_F(DistributedFaults, GlobalBatchMustDivideOverWorkers) {
  auto r = run_command(train_cmd(path("d"), "--epoch 1 --nproc-per-node 2 --batch-size 5"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("TRAIN.batch_size = 5 is the global batch and must divide evenly over "
                          "the 2 workers"),
            std::string::npos)
      << r.output;
}

TEST_F(DistributedFaults, OneWorkerProcessGroupWithExplicitBackend) {
  // WORLD_SIZE=1 + --dist-backend: the smoke run of a backend (docs/gpu.md, NCCL on CUDA).
  auto r = run_command(worker_env(0, 1, free_port()) +
                       train_cmd(path("one"), "--epoch 1 --dist-backend gloo"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("distributed: rank 0 of 1 (gloo, 127.0.0.1:"), std::string::npos)
      << r.output;
  EXPECT_TRUE(fs::exists(path("one/TSN_epoch0.pt")));
}

TEST_F(DistributedFaults, TorchrunLaunchesWorkers) {
  if (run_command("/usr/bin/python3 -m torch.distributed.run --help").exit_code != 0) {
    GTEST_SKIP() << "python3 -m torch.distributed.run (python3-torch) is not installed";
  }
  const int port = free_port();
  // torchrun_shim.py: torchrun itself, with a fix for Debian's torch 1.13 on Python 3.11.
  auto r = run_command("/usr/bin/python3 " + std::string(VC_SOURCE_DIR) +
                       "/tests/integration/torchrun_shim.py --nnodes=1 --nproc_per_node=2 "
                       "--master_addr=127.0.0.1 --master_port=" +
                       std::to_string(port) + " --no_python " + train_cmd(path("tr"), "--epoch 1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto single = run_command(train_cmd(path("tr1"), "--epoch 1"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  std::string why;
  EXPECT_TRUE(same_weights(path("tr/TSN_epoch0.pt"), path("tr1/TSN_epoch0.pt"), 1e-5, &why))
      << why << "\n"
      << r.output;
}

}  // namespace
