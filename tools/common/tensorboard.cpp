#include "tools/common/tensorboard.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <system_error>

#include "datareader/errors.h"
#include "datareader/tfrecord.h"
#include "tensorboard/event.pb.h"
#include "tools/common/errors.h"

namespace vc::app {
namespace {

namespace fs = std::filesystem;

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create TensorBoard folder '" + dir + "': " + ec.message());
  const double now = unix_time_now();
  const std::string base =
      (fs::path(dir) /
       ("events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + host_name()))
          .string();
  path_ = base;
  for (int k = 1; fs::exists(path_); ++k) path_ = base + "." + std::to_string(k);
  try {
    writer_ = std::make_unique<data::tfrecord::RecordWriter>(path_);
    tensorboard::Event e;
    e.set_wall_time(now);
    e.set_step(0);
    e.set_file_version("brain.Event:2");
    writer_->write(e.SerializeAsString());
    writer_->flush();
  } catch (const data::DataError& err) {
    throw IoError(std::string("TensorBoard event file: ") + err.what());
  }
}

TensorBoardWriter::~TensorBoardWriter() = default;

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step,
                                   double wall_time) {
  tensorboard::Event e;
  e.set_wall_time(wall_time < 0 ? unix_time_now() : wall_time);
  e.set_step(step);
  tensorboard::Summary::Value* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  try {
    writer_->write(e.SerializeAsString());
  } catch (const data::DataError& err) {
    throw IoError(std::string("TensorBoard event file: ") + err.what());
  }
}

void TensorBoardWriter::add_scalars(const std::vector<std::pair<std::string, double>>& values,
                                    int64_t step) {
  const double now = unix_time_now();
  for (const auto& [tag, value] : values) add_scalar(tag, value, step, now);
}

void TensorBoardWriter::flush() {
  try {
    writer_->flush();
  } catch (const data::DataError& err) {
    throw IoError(std::string("TensorBoard event file: ") + err.what());
  }
}

}  // namespace vc::app
