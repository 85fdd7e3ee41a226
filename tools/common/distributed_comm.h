// Internal to distributed.cpp / distributed_nccl.cpp: the collectives the run loops use, behind
// one interface whatever the c10d class (ProcessGroupGloo, ProcessGroupNCCL; a ProcessGroup in
// LibTorch 1.13, a Backend in 2.x: the same method signatures, hence the template).
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace vc::app::dist {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& t) = 0;  // sum
  virtual c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& t) = 0;  // from 0
  virtual c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out,
                                                   std::vector<at::Tensor>& in) = 0;
  virtual c10::intrusive_ptr<c10d::Work> barrier() = 0;
  virtual std::string name() const = 0;
};

template <class PG>
class PgComm : public Comm {
 public:
  PgComm(c10::intrusive_ptr<PG> pg, std::string name)
      : pg_(std::move(pg)), name_(std::move(name)) {}
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& t) override {
    return pg_->allreduce(t, c10d::AllreduceOptions{});
  }
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& t) override {
    return pg_->broadcast(t, c10d::BroadcastOptions{});
  }
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out,
                                           std::vector<at::Tensor>& in) override {
    return pg_->allgather(out, in, c10d::AllgatherOptions{});
  }
  c10::intrusive_ptr<c10d::Work> barrier() override { return pg_->barrier(c10d::BarrierOptions{}); }
  std::string name() const override { return name_; }

 private:
  c10::intrusive_ptr<PG> pg_;
  std::string name_;
};

#ifdef VC_WITH_NCCL
/// distributed_nccl.cpp: sets the current CUDA device to `device_index` and creates the NCCL
/// process group.
std::unique_ptr<Comm> make_nccl_comm(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                     int size, std::chrono::milliseconds timeout, int device_index);
#endif

}  // namespace vc::app::dist
