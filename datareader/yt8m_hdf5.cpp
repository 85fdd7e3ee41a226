// The HDF5 feature store (see yt8m_hdf5.h and docs/formats/yt8m_hdf5.md), on HDF5's C API.
#include "datareader/yt8m_hdf5.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "datareader/errors.h"

namespace vc::data::yt8m_h5 {

namespace {

// HDF5 prints its error stack to stderr by default; our errors say what failed instead.
void quiet_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// Serialises HDF5 calls where the library does not do it itself.
#ifdef H5_HAVE_THREADSAFE
struct NoLock {};
NoLock hdf5_lock() { return {}; }
#else
std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}
std::lock_guard<std::mutex> hdf5_lock() { return std::lock_guard<std::mutex>(hdf5_mutex()); }
#endif

// An HDF5 identifier closed by `close` when it goes out of scope.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

Handle checked(hid_t id, herr_t (*close)(hid_t), const std::string& path, const std::string& what) {
  if (id < 0) throw DataError(path + ": HDF5: cannot " + what);
  return Handle(id, close);
}

void check(herr_t r, const std::string& path, const std::string& what) {
  if (r < 0) throw DataError(path + ": HDF5: cannot " + what);
}

// A variable-length UTF-8 string type (what h5py writes for str).
Handle vlen_str_type(const std::string& path) {
  Handle t = checked(H5Tcopy(H5T_C_S1), H5Tclose, path, "copy the string type");
  check(H5Tset_size(t.get(), H5T_VARIABLE), path, "make a variable-length string type");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), path, "set UTF-8 on the string type");
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writer

struct Writer::State {
  std::string path;
  int64_t chunk_rows = 64;
  Handle file, rgb, audio;
  std::vector<std::string> ids;
  std::vector<int64_t> labels;
  std::vector<int64_t> label_offsets{0};
  std::vector<int64_t> frame_offsets{0};
  bool closed = false;
};

namespace {

Handle create_frames(hid_t file, const char* name, int64_t width, int64_t chunk_rows,
                     const std::string& path) {
  const hsize_t dims[2] = {0, static_cast<hsize_t>(width)};
  const hsize_t maxdims[2] = {H5S_UNLIMITED, static_cast<hsize_t>(width)};
  const hsize_t chunk[2] = {static_cast<hsize_t>(chunk_rows), static_cast<hsize_t>(width)};
  Handle space = checked(H5Screate_simple(2, dims, maxdims), H5Sclose, path, "create a dataspace");
  Handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path, "create a property list");
  check(H5Pset_chunk(dcpl.get(), 2, chunk), path, std::string("set the chunks of ") + name);
  return checked(
      H5Dcreate2(file, name, H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      H5Dclose, path, std::string("create dataset '") + name + "'");
}

void append_rows(hid_t ds, const uint8_t* data, int64_t first, int64_t rows, int64_t width,
                 const std::string& path, const char* name) {
  const hsize_t extent[2] = {static_cast<hsize_t>(first + rows), static_cast<hsize_t>(width)};
  check(H5Dset_extent(ds, extent), path, std::string("extend '") + name + "'");
  Handle fspace = checked(H5Dget_space(ds), H5Sclose, path, "get a dataspace");
  const hsize_t start[2] = {static_cast<hsize_t>(first), 0};
  const hsize_t count[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(width)};
  check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), path,
        "select rows");
  Handle mspace =
      checked(H5Screate_simple(2, count, nullptr), H5Sclose, path, "create a dataspace");
  check(H5Dwrite(ds, H5T_NATIVE_UINT8, mspace.get(), fspace.get(), H5P_DEFAULT, data), path,
        std::string("write '") + name + "'");
}

void write_int64(hid_t file, const char* name, const std::vector<int64_t>& v,
                 const std::string& path) {
  const hsize_t dims[1] = {static_cast<hsize_t>(v.size())};
  Handle space = checked(H5Screate_simple(1, dims, nullptr), H5Sclose, path, "create a dataspace");
  Handle ds = checked(
      H5Dcreate2(file, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose, path, std::string("create dataset '") + name + "'");
  if (!v.empty()) {
    check(H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), path,
          std::string("write '") + name + "'");
  }
}

void write_str_attr(hid_t obj, const char* name, const std::string& value,
                    const std::string& path) {
  Handle type = vlen_str_type(path);
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, path, "create a dataspace");
  Handle attr = checked(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, path, std::string("create attribute '") + name + "'");
  const char* p = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &p), path, std::string("write attribute '") + name + "'");
}

void write_int_attr(hid_t obj, const char* name, int64_t value, const std::string& path) {
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, path, "create a dataspace");
  Handle attr = checked(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, path, std::string("create attribute '") + name + "'");
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), path,
        std::string("write attribute '") + name + "'");
}

}  // namespace

Writer::Writer(const std::string& path, int64_t chunk_rows) : st_(std::make_unique<State>()) {
  quiet_hdf5();
  auto lock = hdf5_lock();
  (void)lock;
  st_->path = path;
  if (chunk_rows < 1) {
    throw DataError(path + ": HDF5 writer: chunk_rows must be >= 1, got " +
                    std::to_string(chunk_rows));
  }
  st_->chunk_rows = chunk_rows;
  st_->file = checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
                      path, "create the file");
  st_->rgb = create_frames(st_->file.get(), "rgb", kRgbWidth, chunk_rows, path);
  st_->audio = create_frames(st_->file.get(), "audio", kAudioWidth, chunk_rows, path);
  write_str_attr(st_->file.get(), "format", kFormat, path);
  write_int_attr(st_->file.get(), "version", kVersion, path);
}

Writer::~Writer() {
  try {
    close();
  } catch (const std::exception&) {
    // close() reports; a destructor may not throw.
  }
}

void Writer::append(const std::string& id, const std::vector<int64_t>& labels, const uint8_t* rgb,
                    const uint8_t* audio, int64_t num_frames) {
  if (st_->closed) throw DataError(st_->path + ": HDF5 writer: append after close");
  if (num_frames < 0) {
    throw DataError(st_->path + ": HDF5 writer: video '" + id + "' has " +
                    std::to_string(num_frames) + " frames");
  }
  auto lock = hdf5_lock();
  (void)lock;
  const int64_t first = st_->frame_offsets.back();
  if (num_frames > 0) {
    append_rows(st_->rgb.get(), rgb, first, num_frames, kRgbWidth, st_->path, "rgb");
    append_rows(st_->audio.get(), audio, first, num_frames, kAudioWidth, st_->path, "audio");
  }
  st_->ids.push_back(id);
  st_->labels.insert(st_->labels.end(), labels.begin(), labels.end());
  st_->label_offsets.push_back(static_cast<int64_t>(st_->labels.size()));
  st_->frame_offsets.push_back(first + num_frames);
}

void Writer::close() {
  if (st_->closed) return;
  st_->closed = true;
  auto lock = hdf5_lock();
  (void)lock;
  const std::string& path = st_->path;
  const hid_t file = st_->file.get();
  {
    Handle type = vlen_str_type(path);
    const hsize_t dims[1] = {static_cast<hsize_t>(st_->ids.size())};
    Handle space =
        checked(H5Screate_simple(1, dims, nullptr), H5Sclose, path, "create a dataspace");
    Handle ds = checked(
        H5Dcreate2(file, "ids", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        H5Dclose, path, "create dataset 'ids'");
    std::vector<const char*> ptrs;
    ptrs.reserve(st_->ids.size());
    for (const auto& s : st_->ids) ptrs.push_back(s.c_str());
    if (!ptrs.empty()) {
      check(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), path,
            "write 'ids'");
    }
  }
  write_int64(file, "labels", st_->labels, path);
  write_int64(file, "label_offsets", st_->label_offsets, path);
  write_int64(file, "frame_offsets", st_->frame_offsets, path);
  st_->rgb.reset();
  st_->audio.reset();
  const herr_t r = H5Fclose(st_->file.get());
  st_->file = Handle();
  check(r, path, "close the file");
}

std::size_t Writer::videos() const { return st_->ids.size(); }
const std::string& Writer::path() const { return st_->path; }

// ---------------------------------------------------------------------------------------------
// Reader

struct Reader::State {
  std::string path;
  Handle file, rgb, audio;
  std::vector<std::string> ids;
  std::vector<int64_t> labels, label_offsets, frame_offsets;
};

namespace {

Handle open_dataset(hid_t file, const char* name, const std::string& path) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    throw DataError(path + ": not a videocls YouTube-8M HDF5 shard: no dataset '" + name +
                    "' (docs/formats/yt8m_hdf5.md; a file whose writer did not finish has no "
                    "index datasets)");
  }
  return checked(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose, path,
                 std::string("open dataset '") + name + "'");
}

std::vector<hsize_t> dims_of(hid_t ds, const std::string& path, const char* name) {
  Handle space = checked(H5Dget_space(ds), H5Sclose, path, "get a dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) throw DataError(path + ": HDF5: bad rank of '" + name + "'");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  return d;
}

std::string dims_text(const std::vector<hsize_t>& d) {
  std::string s = "[";
  for (std::size_t k = 0; k < d.size(); ++k) s += (k ? ", " : "") + std::to_string(d[k]);
  return s + "]";
}

std::vector<int64_t> read_int64(hid_t file, const char* name, const std::string& path) {
  Handle ds = open_dataset(file, name, path);
  const auto d = dims_of(ds.get(), path, name);
  if (d.size() != 1) {
    throw DataError(path + ": dataset '" + name + "' has shape " + dims_text(d) +
                    ", expected one dimension");
  }
  Handle type = checked(H5Dget_type(ds.get()), H5Tclose, path, "get a type");
  if (H5Tget_class(type.get()) != H5T_INTEGER) {
    throw DataError(path + ": dataset '" + name + "' is not of an integer type");
  }
  std::vector<int64_t> v(d[0]);
  if (!v.empty()) {
    check(H5Dread(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), path,
          std::string("read '") + name + "'");
  }
  return v;
}

// Variable-length (h5py's str) or fixed-length (numpy 'S') strings.
std::vector<std::string> read_strings(hid_t file, const char* name, const std::string& path) {
  Handle ds = open_dataset(file, name, path);
  const auto d = dims_of(ds.get(), path, name);
  if (d.size() != 1) {
    throw DataError(path + ": dataset '" + name + "' has shape " + dims_text(d) +
                    ", expected one dimension");
  }
  Handle ftype = checked(H5Dget_type(ds.get()), H5Tclose, path, "get a type");
  if (H5Tget_class(ftype.get()) != H5T_STRING) {
    throw DataError(path + ": dataset '" + name + "' does not hold strings");
  }
  std::vector<std::string> out(d[0]);
  if (out.empty()) return out;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle mtype = vlen_str_type(path);
    std::vector<char*> ptrs(out.size(), nullptr);
    check(H5Dread(ds.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), path,
          std::string("read '") + name + "'");
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = ptrs[k] ? ptrs[k] : "";
    Handle space = checked(H5Dget_space(ds.get()), H5Sclose, path, "get a dataspace");
    H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t size = H5Tget_size(ftype.get());
    if (size == 0) throw DataError(path + ": dataset '" + name + "': zero-size strings");
    Handle mtype = checked(H5Tcopy(H5T_C_S1), H5Tclose, path, "copy the string type");
    check(H5Tset_size(mtype.get(), size), path, "size the string type");
    check(H5Tset_strpad(mtype.get(), H5T_STR_NULLPAD), path, "pad the string type");
    std::vector<char> buf(size * out.size());
    check(H5Dread(ds.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), path,
          std::string("read '") + name + "'");
    for (std::size_t k = 0; k < out.size(); ++k) {
      const char* p = buf.data() + k * size;
      out[k].assign(p, strnlen(p, size));
    }
  }
  return out;
}

std::string read_str_attr(hid_t obj, const char* name, const std::string& path) {
  if (H5Aexists(obj, name) <= 0) return {};
  Handle attr = checked(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose, path,
                        std::string("open attribute '") + name + "'");
  Handle ftype = checked(H5Aget_type(attr.get()), H5Tclose, path, "get a type");
  if (H5Tget_class(ftype.get()) != H5T_STRING) return {};
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle mtype = vlen_str_type(path);
    char* p = nullptr;
    check(H5Aread(attr.get(), mtype.get(), &p), path, std::string("read attribute '") + name + "'");
    std::string s = p ? p : "";
    Handle space = checked(H5Aget_space(attr.get()), H5Sclose, path, "get a dataspace");
    H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, &p);
    return s;
  }
  const std::size_t size = H5Tget_size(ftype.get());
  Handle mtype = checked(H5Tcopy(H5T_C_S1), H5Tclose, path, "copy the string type");
  check(H5Tset_size(mtype.get(), size), path, "size the string type");
  std::vector<char> buf(size + 1, '\0');
  check(H5Aread(attr.get(), mtype.get(), buf.data()), path,
        std::string("read attribute '") + name + "'");
  return std::string(buf.data(), strnlen(buf.data(), size));
}

bool read_int_attr(hid_t obj, const char* name, int64_t* value, const std::string& path) {
  if (H5Aexists(obj, name) <= 0) return false;
  Handle attr = checked(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose, path,
                        std::string("open attribute '") + name + "'");
  Handle ftype = checked(H5Aget_type(attr.get()), H5Tclose, path, "get a type");
  if (H5Tget_class(ftype.get()) != H5T_INTEGER) return false;
  Handle space = checked(H5Aget_space(attr.get()), H5Sclose, path, "get a dataspace");
  if (H5Sget_simple_extent_npoints(space.get()) != 1) return false;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, value), path,
        std::string("read attribute '") + name + "'");
  return true;
}

void check_offsets(const std::vector<int64_t>& off, std::size_t n, int64_t total, const char* name,
                   const char* rows, const std::string& path) {
  if (off.size() != n + 1) {
    throw DataError(path + ": '" + name + "' has " + std::to_string(off.size()) +
                    " entries, expected " + std::to_string(n + 1) + " (one more than 'ids')");
  }
  if (off.front() != 0) {
    throw DataError(path + ": '" + name + "'[0] is " + std::to_string(off.front()) +
                    ", expected 0");
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (off[k + 1] < off[k]) {
      throw DataError(path + ": '" + name + "' decreases at video " + std::to_string(k) + " (" +
                      std::to_string(off[k]) + " -> " + std::to_string(off[k + 1]) + ")");
    }
  }
  if (off.back() != total) {
    throw DataError(path + ": '" + name + "' ends at " + std::to_string(off.back()) + " but " +
                    rows + " has " + std::to_string(total) + " rows");
  }
}

}  // namespace

Reader::Reader(const std::string& path) : st_(std::make_unique<State>()) {
  quiet_hdf5();
  auto lock = hdf5_lock();
  (void)lock;
  st_->path = path;
  {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw DataError(path + ": cannot open the file");
    std::fclose(f);
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) throw DataError(path + ": not an HDF5 file");
  st_->file =
      checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path, "open the file");
  const hid_t file = st_->file.get();
  const std::string format = read_str_attr(file, "format", path);
  if (format != kFormat) {
    throw DataError(path + ": not a videocls YouTube-8M HDF5 shard: attribute 'format' is '" +
                    format + "', expected '" + kFormat + "' (docs/formats/yt8m_hdf5.md)");
  }
  int64_t version = 0;
  if (!read_int_attr(file, "version", &version, path) || version != kVersion) {
    throw DataError(path + ": unsupported shard version " + std::to_string(version) +
                    " (this reader reads version " + std::to_string(kVersion) + ")");
  }
  st_->ids = read_strings(file, "ids", path);
  st_->labels = read_int64(file, "labels", path);
  st_->label_offsets = read_int64(file, "label_offsets", path);
  st_->frame_offsets = read_int64(file, "frame_offsets", path);
  st_->rgb = open_dataset(file, "rgb", path);
  st_->audio = open_dataset(file, "audio", path);
  const auto rd = dims_of(st_->rgb.get(), path, "rgb");
  const auto ad = dims_of(st_->audio.get(), path, "audio");
  if (rd.size() != 2 || rd[1] != static_cast<hsize_t>(kRgbWidth)) {
    throw DataError(path + ": dataset 'rgb' has shape " + dims_text(rd) + ", expected [F, 1024]");
  }
  if (ad.size() != 2 || ad[1] != static_cast<hsize_t>(kAudioWidth) || ad[0] != rd[0]) {
    throw DataError(path + ": dataset 'audio' has shape " + dims_text(ad) + ", expected [" +
                    std::to_string(rd[0]) + ", 128] (as many rows as 'rgb')");
  }
  const std::size_t n = st_->ids.size();
  check_offsets(st_->frame_offsets, n, static_cast<int64_t>(rd[0]), "frame_offsets", "'rgb'", path);
  check_offsets(st_->label_offsets, n, static_cast<int64_t>(st_->labels.size()), "label_offsets",
                "'labels'", path);
}

Reader::~Reader() {
  auto lock = hdf5_lock();
  (void)lock;
  st_->rgb.reset();
  st_->audio.reset();
  st_->file.reset();
}

std::size_t Reader::size() const { return st_->ids.size(); }
const std::string& Reader::id(std::size_t i) const { return st_->ids.at(i); }
std::vector<int64_t> Reader::labels(std::size_t i) const {
  const auto& o = st_->label_offsets;
  return std::vector<int64_t>(st_->labels.begin() + o.at(i), st_->labels.begin() + o.at(i + 1));
}
int64_t Reader::num_frames(std::size_t i) const {
  return st_->frame_offsets.at(i + 1) - st_->frame_offsets.at(i);
}
const std::string& Reader::path() const { return st_->path; }

void Reader::read_frames(std::size_t i, int64_t first, int64_t count, uint8_t* rgb,
                         uint8_t* audio) const {
  const std::string where = st_->path + ": video " + std::to_string(i);
  if (i >= size() || first < 0 || count < 0 || first + count > num_frames(i)) {
    throw DataError(where + ": frames [" + std::to_string(first) + ", " +
                    std::to_string(first + count) + ") out of range");
  }
  if (count == 0) return;
  auto lock = hdf5_lock();
  (void)lock;
  const int64_t row = st_->frame_offsets[i] + first;
  auto read = [&](hid_t ds, int64_t width, uint8_t* out, const char* name) {
    Handle fspace = checked(H5Dget_space(ds), H5Sclose, where, "get a dataspace");
    const hsize_t start[2] = {static_cast<hsize_t>(row), 0};
    const hsize_t cnt[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(width)};
    check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr), where,
          "select frames");
    Handle mspace = checked(H5Screate_simple(2, cnt, nullptr), H5Sclose, where, "create a space");
    check(H5Dread(ds, H5T_NATIVE_UINT8, mspace.get(), fspace.get(), H5P_DEFAULT, out), where,
          std::string("read '") + name + "'");
  };
  read(st_->rgb.get(), kRgbWidth, rgb, "rgb");
  read(st_->audio.get(), kAudioWidth, audio, "audio");
}

}  // namespace vc::data::yt8m_h5
