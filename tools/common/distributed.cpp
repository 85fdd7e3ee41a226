#include "tools/common/distributed.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

#include "tools/common/distributed_comm.h"
#include "tools/common/errors.h"
#include "tools/common/logging.h"

namespace vc::app::dist {
namespace {

using Clock = std::chrono::steady_clock;

struct State {
  WorldEnv env;
  std::unique_ptr<Comm> comm;
  c10::intrusive_ptr<c10d::Store> store;
  torch::Device device{torch::kCPU};
  double timeout_s = 0.0;
  std::string where;  // "127.0.0.1:29500"
};

State& state() {
  static State s;
  return s;
}

// The message of a c10d / Gloo exception, without backtrace or final full stop.
std::string error_text(const std::exception& e) {
  std::string m = e.what();
  if (auto c = dynamic_cast<const c10::Error*>(&e)) m = c->what_without_backtrace();
  while (!m.empty() && (m.back() == '.' || m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// An integer environment variable; `fallback` when unset.
int64_t env_int(const char* name, int64_t fallback, int64_t min, int64_t max) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v, &end, 10);
  if (errno != 0 || *end != '\0' || x < min || x > max) {
    throw ConfigError(fmt::format("environment variable {}='{}': expected an integer in [{}, {}]",
                                  name, v, min, max));
  }
  return static_cast<int64_t>(x);
}

std::string env_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

void wait_all(std::vector<c10::intrusive_ptr<c10d::Work>>& works, const std::string& what) {
  try {
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    const State& s = state();
    throw DistError(fmt::format(
        "{} failed on rank {} of {} ({}): {}; another worker has probably died or hangs "
        "(collective timeout {} s, --dist-timeout)",
        what, s.env.rank, s.env.world_size, s.comm ? s.comm->name() : "?", error_text(e),
        s.timeout_s));
  }
}

Comm& comm() {
  if (!state().comm) throw DistError("distributed: no process group (dist::init not called)");
  return *state().comm;
}

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

// A TCP port that is free now on 127.0.0.1 (the launcher's MASTER_PORT).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw IoError("--nproc-per-node: cannot open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw IoError("--nproc-per-node: cannot bind a socket on 127.0.0.1 to find a free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// The launcher's children, for the signal handler (async-signal-safe: a fixed array).
constexpr int kMaxWorkers = 1024;
pid_t g_children[kMaxWorkers];
std::atomic<int> g_num_children{0};
extern "C" void forward_signal(int sig) {
  const int n = g_num_children.load();
  for (int i = 0; i < n; ++i)
    if (g_children[i] > 0) ::kill(g_children[i], sig);
}

}  // namespace

WorldEnv read_env() {
  WorldEnv e;
  e.world_set = std::getenv("WORLD_SIZE") != nullptr;
  e.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  if (e.world_size > 1 && std::getenv("RANK") == nullptr) {
    throw ConfigError(fmt::format("WORLD_SIZE={} but RANK is not set", e.world_size));
  }
  e.rank = env_int("RANK", 0, 0, e.world_size - 1);
  e.local_rank = env_int("LOCAL_RANK", e.rank, 0, e.world_size - 1);
  e.local_world_size = env_int("LOCAL_WORLD_SIZE", e.world_size, 1, e.world_size);
  e.master_addr = env_str("MASTER_ADDR");
  e.port = static_cast<int>(env_int("MASTER_PORT", 0, 1, 65535));
  if (e.world_size > 1 && e.master_addr.empty()) {
    throw ConfigError(fmt::format(
        "WORLD_SIZE={}: MASTER_ADDR is not set (the address of rank 0's host)", e.world_size));
  }
  if (e.world_size > 1 && e.port == 0) {
    throw ConfigError(fmt::format("WORLD_SIZE={}: MASTER_PORT is not set", e.world_size));
  }
  e.agent_store = env_str("TORCHELASTIC_USE_AGENT_STORE") == "True";
  if (e.agent_store) {
    e.restart_count = env_str("TORCHELASTIC_RESTART_COUNT");
    if (e.restart_count.empty()) e.restart_count = "0";
  }
  return e;
}

torch::Device init(const CliOptions& opts, torch::Device device) {
  State& s = state();
  s.env = read_env();
  s.device = device;
  const WorldEnv& e = s.env;
  // A one-worker group only when asked for (WORLD_SIZE=1 and an explicit --dist-backend: the
  // smoke run of a backend, docs/gpu.md); otherwise one process runs alone.
  if (e.world_size <= 1 && !(e.world_set && opts.dist_backend != "auto")) return device;
  if (e.master_addr.empty() || e.port == 0) {
    throw ConfigError("WORLD_SIZE=1 with --dist-backend=" + opts.dist_backend +
                      " (a one-worker process group): MASTER_ADDR and MASTER_PORT must be set");
  }
  std::string backend = opts.dist_backend;
  if (backend == "auto") backend = device.is_cuda() ? "nccl" : "gloo";
  if (backend != "gloo" && backend != "nccl") {
    throw ConfigError("--dist-backend: expected auto, gloo or nccl, got '" + backend + "'");
  }
  if (backend == "nccl" && !device.is_cuda()) {
    throw ConfigError(
        "--dist-backend=nccl needs CUDA workers (--device=cuda); use gloo on the CPU");
  }
#ifndef VC_WITH_NCCL
  if (backend == "nccl") {
    throw ConfigError(
        "--dist-backend=nccl: this build has no NCCL (its LibTorch has no CUDA); build against a "
        "CUDA LibTorch (docs/gpu.md) or use --dist-backend=gloo");
  }
#endif
  if (device.is_cuda() && !device.has_index()) {
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(e.local_rank));
  }
  s.device = device;
  s.timeout_s = opts.dist_timeout_s;
  s.where = fmt::format("{}:{}", e.master_addr, e.port);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.dist_timeout_s * 1000));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(e.port);
    so.isServer = e.rank == 0 && !e.agent_store;
    so.numWorkers = static_cast<std::size_t>(e.world_size);
    so.waitWorkers = !e.agent_store;
    so.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(e.master_addr, so);
    if (e.agent_store) {
      store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + e.restart_count, store);
    }
    store->setTimeout(timeout);
    s.store = store;
    if (backend == "gloo") {
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      const std::string ifname = env_str("GLOO_SOCKET_IFNAME");
      if (!ifname.empty()) {
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (is_loopback(e.master_addr)) {
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(e.rank),
                                                            static_cast<int>(e.world_size), o);
      s.comm = std::make_unique<PgComm<c10d::ProcessGroupGloo>>(pg, "gloo");
    } else {
#ifdef VC_WITH_NCCL
      s.comm = make_nccl_comm(store, static_cast<int>(e.rank), static_cast<int>(e.world_size),
                              timeout, device.index());
#endif
    }
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& ex) {
    s.comm.reset();
    s.store.reset();
    throw DistError(fmt::format(
        "rendezvous at MASTER_ADDR:MASTER_PORT = {} did not complete within {} s (this is rank "
        "{} of WORLD_SIZE {}): {}. Are all {} workers started, with the same MASTER_ADDR and "
        "MASTER_PORT, and can they reach {}? (--dist-timeout sets the limit)",
        s.where, opts.dist_timeout_s, e.rank, e.world_size, error_text(ex), e.world_size, s.where));
  }
  log_info("distributed: " + describe() +
           fmt::format(", local rank {} of {}, device {}", e.local_rank, e.local_world_size,
                       device.str()));
  return device;
}

bool active() { return static_cast<bool>(state().comm); }
int64_t rank() { return state().env.rank; }
int64_t world_size() { return active() ? state().env.world_size : 1; }
bool is_main() { return state().env.rank == 0; }

std::string describe() {
  const State& s = state();
  if (!active()) return "single process";
  return fmt::format("rank {} of {} ({}, {})", s.env.rank, s.env.world_size, s.comm->name(),
                     s.where);
}

void barrier(const std::string& what) {
  if (!active()) return;
  std::vector<c10::intrusive_ptr<c10d::Work>> w{comm().barrier()};
  wait_all(w, "barrier (" + what + ")");
}

int finish(int code) {
  State& s = state();
  if (!active()) return code;
  if (code != 0) {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  s.comm.reset();
  s.store.reset();
  return code;
}

int64_t local_batch(int64_t global, const std::string& key) {
  const int64_t w = world_size();
  if (global % w != 0) {
    throw ConfigError(fmt::format(
        "{} = {} is the global batch and must divide evenly over the {} workers ({} % {} = {}); "
        "use a multiple of {}",
        key, global, w, global, w, global % w, w));
  }
  return global / w;
}

void shard_train(data::LoaderOptions& lo, const std::string& key) {
  if (!active()) return;
  const int64_t global = lo.batch_size;
  lo.batch_size = local_batch(global, key);
  lo.shard = data::Shard{rank(), world_size(), data::Shard::Layout::kBatchSlices, global};
}

void shard_eval(data::LoaderOptions& lo) {
  if (!active()) return;
  lo.shard = data::Shard{rank(), world_size(), data::Shard::Layout::kBlocks, lo.batch_size};
}

void broadcast_module(torch::nn::Module& module) {
  if (!active()) return;
  torch::NoGradGuard no_grad;
  // One flat buffer per (dtype, device): a handful of broadcasts instead of one per tensor.
  std::map<std::pair<int, std::string>, std::vector<torch::Tensor>> groups;
  for (const auto& t : module.parameters()) {
    groups[{static_cast<int>(t.scalar_type()), t.device().str()}].push_back(t);
  }
  for (const auto& t : module.buffers()) {
    groups[{static_cast<int>(t.scalar_type()), t.device().str()}].push_back(t);
  }
  std::vector<torch::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& [key, tensors] : groups) {
    std::vector<torch::Tensor> parts;
    for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}));
    std::vector<torch::Tensor> one{torch::cat(parts)};
    flats.push_back(one[0]);
    works.push_back(comm().broadcast(one));
  }
  wait_all(works, "broadcast of the parameters and buffers from rank 0");
  std::size_t g = 0;
  for (auto& [key, tensors] : groups) {
    int64_t off = 0;
    for (auto& t : tensors) {
      t.detach().copy_(flats[g].narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
    ++g;
  }
}

std::vector<std::string> gather_bytes(const std::string& mine, const std::string& what) {
  if (!active()) return {mine};
  const int64_t w = world_size();
  const torch::Device dev = state().device;
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  std::vector<torch::Tensor> len_in{torch::full({1}, static_cast<int64_t>(mine.size()), i64)};
  std::vector<std::vector<torch::Tensor>> len_out(1);
  for (int64_t r = 0; r < w; ++r) len_out[0].push_back(torch::zeros({1}, i64));
  std::vector<c10::intrusive_ptr<c10d::Work>> w1{comm().allgather(len_out, len_in)};
  wait_all(w1, "gather of the sizes of " + what);
  std::vector<int64_t> lens;
  int64_t max_len = 0;
  for (const auto& t : len_out[0]) {
    lens.push_back(t.cpu().item<int64_t>());
    max_len = std::max(max_len, lens.back());
  }
  std::vector<std::string> out;
  if (max_len == 0) {
    if (is_main()) out.assign(static_cast<std::size_t>(w), std::string());
    return out;
  }
  torch::Tensor buf = torch::zeros({max_len}, torch::kUInt8);
  std::memcpy(buf.data_ptr<uint8_t>(), mine.data(), mine.size());
  const auto u8 = torch::TensorOptions().dtype(torch::kUInt8).device(dev);
  std::vector<torch::Tensor> in{buf.to(dev)};
  std::vector<std::vector<torch::Tensor>> all(1);
  for (int64_t r = 0; r < w; ++r) all[0].push_back(torch::zeros({max_len}, u8));
  std::vector<c10::intrusive_ptr<c10d::Work>> w2{comm().allgather(all, in)};
  wait_all(w2, "gather of " + what);
  if (!is_main()) return out;
  for (int64_t r = 0; r < w; ++r) {
    const torch::Tensor t = all[0][static_cast<std::size_t>(r)].cpu().contiguous();
    out.emplace_back(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()),
                     static_cast<std::size_t>(lens[static_cast<std::size_t>(r)]));
  }
  return out;
}

GradientSync::GradientSync(std::vector<torch::Tensor> params, bool loss_sums_batch,
                           int64_t bucket_bytes)
    : params_(std::move(params)), loss_sums_batch_(loss_sums_batch) {
  int64_t bytes = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i];
    const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !buckets_.empty() && bytes + b <= bucket_bytes &&
                      params_[buckets_.back().front()].scalar_type() == p.scalar_type() &&
                      params_[buckets_.back().front()].device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(i);
    bytes += b;
  }
}

GradientSync::Step GradientSync::all_reduce(int64_t local_samples, double local_loss, bool stop) {
  if (!active()) return Step{local_samples, local_loss, stop};
  const auto t0 = Clock::now();
  torch::NoGradGuard no_grad;
  const std::size_t np = params_.size();
  // meta: per parameter "gradient defined here", then samples, loss * samples, stop.
  torch::Tensor meta = torch::zeros({static_cast<int64_t>(np) + 3}, torch::kFloat64);
  auto m = meta.accessor<double, 1>();
  for (std::size_t i = 0; i < np; ++i) m[static_cast<int64_t>(i)] = params_[i].grad().defined();
  m[static_cast<int64_t>(np)] = static_cast<double>(local_samples);
  // Mean losses are weighted by their samples; summed ones add up as they are.
  const double weight = loss_sums_batch_ ? 1.0 : static_cast<double>(local_samples);
  m[static_cast<int64_t>(np) + 1] = local_samples > 0 ? local_loss * weight : 0.0;
  m[static_cast<int64_t>(np) + 2] = stop ? 1.0 : 0.0;
  std::vector<std::vector<torch::Tensor>> flat(buckets_.size() + 1);
  flat[0] = {meta.to(state().device)};
  std::vector<c10::intrusive_ptr<c10d::Work>> works{comm().allreduce(flat[0])};
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    int64_t n = 0;
    for (std::size_t i : buckets_[b]) n += params_[i].numel();
    const torch::Tensor& first = params_[buckets_[b].front()];
    torch::Tensor f = torch::zeros({n}, first.options().requires_grad(false));
    if (local_samples > 0) {
      int64_t off = 0;
      for (std::size_t i : buckets_[b]) {
        const torch::Tensor& g = params_[i].grad();
        if (g.defined()) f.narrow(0, off, g.numel()).copy_(g.reshape({-1}));
        off += params_[i].numel();
      }
      if (!loss_sums_batch_) f.mul_(weight);  // sum_r n_r * g_r / sum_r n_r below
    }
    flat[b + 1] = {f};
    works.push_back(comm().allreduce(flat[b + 1]));
  }
  wait_all(works, "all-reduce of the gradients");
  const torch::Tensor total = flat[0][0].cpu();
  const auto t = total.accessor<double, 1>();
  Step step;
  step.samples = static_cast<int64_t>(t[static_cast<int64_t>(np)] + 0.5);
  const double divisor = loss_sums_batch_ ? 1.0 : static_cast<double>(step.samples);
  step.loss = step.samples > 0 ? t[static_cast<int64_t>(np) + 1] / divisor : 0.0;
  step.stop = t[static_cast<int64_t>(np) + 2] > 0.0;
  if (step.samples > 0) {
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      const torch::Tensor& f = flat[b + 1][0];
      if (divisor != 1.0) f.div_(divisor);
      int64_t off = 0;
      for (std::size_t i : buckets_[b]) {
        torch::Tensor& p = params_[i];
        const int64_t n = p.numel();
        if (t[static_cast<int64_t>(i)] > 0.0) {  // defined on some worker
          const torch::Tensor g = f.narrow(0, off, n).view(p.sizes());
          if (p.grad().defined()) {
            p.mutable_grad().copy_(g);
          } else {
            p.mutable_grad() = g.clone();
          }
        }
        off += n;
      }
    }
  }
  seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
  return step;
}

double GradientSync::take_seconds() {
  const double s = seconds_;
  seconds_ = 0.0;
  return s;
}

std::optional<int> launch_local_workers(int64_t nproc, int argc, char** argv) {
  if (nproc <= 1) return std::nullopt;
  if (std::getenv("RANK") != nullptr) {
    // A worker of this launcher (which passes its own argv on) needs no warning.
    if (std::getenv("VIDEOCLS_LAUNCHED") == nullptr && env_int("RANK", 0, 0, 1 << 20) == 0) {
      log_warn(fmt::format(
          "--nproc-per-node={} ignored: RANK is set, this process is a worker of a launcher "
          "(torchrun, Slurm)",
          nproc));
    }
    return std::nullopt;
  }
  if (nproc > kMaxWorkers) {
    throw ConfigError(fmt::format("--nproc-per-node={}: at most {}", nproc, kMaxWorkers));
  }
  const std::string addr = std::getenv("MASTER_ADDR") ? env_str("MASTER_ADDR") : "127.0.0.1";
  const int port = std::getenv("MASTER_PORT")
                       ? static_cast<int>(env_int("MASTER_PORT", 0, 1, 65535))
                       : free_port();
  log_info(fmt::format("launching {} workers (MASTER_ADDR={} MASTER_PORT={})", nproc, addr, port));
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  std::vector<pid_t> pids;
  for (int64_t i = 0; i < nproc; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      forward_signal(SIGKILL);
      throw IoError("--nproc-per-node: fork failed for worker " + std::to_string(i));
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher dies -> the workers stop
      if (::getppid() != parent) std::_Exit(1);
      ::setpgid(0, 0);  // a terminal's Ctrl-C reaches the launcher only, which passes it on once
      const std::string n = std::to_string(nproc), r = std::to_string(i);
      ::setenv("MASTER_ADDR", addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("WORLD_SIZE", n.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", n.c_str(), 1);
      ::setenv("RANK", r.c_str(), 1);
      ::setenv("LOCAL_RANK", r.c_str(), 1);
      ::setenv("VIDEOCLS_LAUNCHED", "1", 1);
      ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
      ::execv("/proc/self/exe", argv);
      std::perror("--nproc-per-node: exec /proc/self/exe");
      std::_Exit(127);
    }
    pids.push_back(pid);
    g_children[i] = pid;
    g_num_children.store(static_cast<int>(i + 1));
  }
  (void)argc;
  std::signal(SIGINT, forward_signal);
  std::signal(SIGTERM, forward_signal);
  std::map<pid_t, int64_t> rank_of;
  for (std::size_t i = 0; i < pids.size(); ++i) rank_of[pids[i]] = static_cast<int64_t>(i);
  int result = 0;
  std::size_t alive = pids.size();
  bool stopping = false;
  Clock::time_point kill_at;
  while (alive > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, stopping ? WNOHANG : 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pid == 0) {  // stopping: the others have not exited yet
      if (Clock::now() >= kill_at) {
        for (pid_t p : pids)
          if (p > 0) ::kill(p, SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    auto it = rank_of.find(pid);
    if (it == rank_of.end()) continue;
    --alive;
    const auto idx = static_cast<std::size_t>(it->second);
    pids[idx] = -1;
    g_children[idx] = -1;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0) continue;
    if (result == 0) result = code;
    // 130: the worker stopped after SIGINT (all workers stop at the same step); let the others
    // finish writing their checkpoint.
    if (code == 130 || stopping) continue;
    log_warn(
        fmt::format("worker rank {} (pid {}) {}: stopping the other {} worker(s)", it->second, pid,
                    WIFEXITED(status) ? "exited with code " + std::to_string(code)
                                      : "was killed by signal " + std::to_string(WTERMSIG(status)),
                    alive));
    for (pid_t p : pids)
      if (p > 0) ::kill(p, SIGTERM);
    stopping = true;
    kill_at = Clock::now() + std::chrono::seconds(10);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  g_num_children.store(0);
  return result;
}

}  // namespace vc::app::dist
