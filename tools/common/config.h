// Typed run configuration: the schema of configs/*.yaml.
//
// A config has a MODEL section and four mode sections TRAIN / VALID / TEST / INFER, as in the
// original PaddleCV/video configs (spec §2.1). Every key is declared once in the key table of
// config.cpp (name, type, sections it may appear in, default, range, documentation); YAML only
// overrides. Reader keys ("shared" keys) may be set in MODEL and overridden per mode; a mode
// section that does not set one falls back to MODEL's value.
//
// Precedence: built-in defaults < YAML file < `--set SECTION.key=value` (in order) < dedicated
// flags (applied by the CLI as further --set assignments).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace vc::app {

enum class Mode { kTrain = 0, kValid = 1, kTest = 2, kInfer = 3 };
const char* mode_name(Mode mode);  // "TRAIN", "VALID", "TEST", "INFER"

/// The values of one section. MODEL-only keys are meaningful in `Config::model`; train-only keys
/// in `Config::section(Mode::kTrain)`; shared (reader) keys everywhere.
struct SectionConfig {
  // --- MODEL only ---
  std::string name = "TSN";      ///< network id, case-insensitive (TSN, ...)
  std::string format = "video";  ///< list format: "video" (video files or frame folders)
  int64_t num_classes = 400;     ///< number of classes
  int64_t num_layers = 50;       ///< ResNet depth of the trunk: 18, 34, 50, 101, 152
  double dropout = 0.0;          ///< dropout before the classifier (0 = none)
  std::string label_map;         ///< class names, one per line ("" = use indices)
  std::vector<double> image_mean{0.485, 0.456, 0.406};  ///< RGB mean, on [0,1] pixels
  std::vector<double> image_std{0.229, 0.224, 0.225};   ///< RGB std, on [0,1] pixels
  // --- shared reader keys: MODEL default, overridable per mode ---
  int64_t seg_num = 3;                   ///< segments sampled per video
  int64_t seglen = 1;                    ///< consecutive frames per segment
  int64_t short_size = 256;              ///< scale target of the short side
  int64_t target_size = 224;             ///< crop size
  std::string scale_mode = "group_4_3";  ///< "group_4_3" (original) or "short_side"
  bool multi_scale_crop = false;         ///< TSM multi-scale crop (train only)
  std::string decoder = "ffmpeg";        ///< video decoder: "ffmpeg" (seeking, exact) or "opencv"
  double decode_timeout_s = 30.0;        ///< per-video decode time limit in seconds
  int64_t num_reader_threads = 12;       ///< decoding threads
  int64_t buf_size = 4;                  ///< batches prefetched by the loader
  int64_t batch_size = 16;               ///< samples per batch (per process)
  std::string filelist;                  ///< list file "<path> <label>" per line
  // --- TRAIN only ---
  int64_t epoch = 45;                 ///< training epochs
  double learning_rate = 0.01;        ///< base learning rate
  double learning_rate_decay = 0.1;   ///< factor at each LR boundary
  std::vector<int64_t> decay_epochs;  ///< epochs at which LR decays ([] = TSN rule: 1/3, 2/3)
  double l2_weight_decay = 1e-4;      ///< L2 decay added to every gradient
  double momentum = 0.9;              ///< SGD momentum
  int64_t total_videos = 0;           ///< videos per epoch for LR boundaries (0 = train list size)
  double warmup_epochs = 0.0;         ///< linear LR warmup length in epochs (0 = none)
  double warmup_start_factor = 0.1;   ///< warmup starts at learning_rate * this
};

struct Config {
  std::string source;                  ///< the YAML file it came from ("" if none)
  SectionConfig model;                 ///< MODEL
  std::array<SectionConfig, 4> modes;  ///< TRAIN, VALID, TEST, INFER (after fallback)
  /// Keys given explicitly (YAML or --set) per section, "MODEL" / "TRAIN" / ...
  std::map<std::string, std::set<std::string>> explicit_keys;

  const SectionConfig& section(Mode m) const { return modes[static_cast<int>(m)]; }
  SectionConfig& section(Mode m) { return modes[static_cast<int>(m)]; }
};

/// One documented key of the schema (for configs/README.md and tests).
struct KeyDoc {
  std::string key;
  std::string type;   ///< int, float, bool, string, list[int], list[float]
  std::string where;  ///< "MODEL", "MODEL, TRAIN/VALID/TEST/INFER", "TRAIN"
  std::string default_value;
  std::string range;
  std::string doc;
};
std::vector<KeyDoc> config_keys();

/// Loads `yaml_path` (empty: defaults only), then applies `overrides` ("SECTION.key=value", in
/// order; the value is parsed as a YAML scalar or flow list), resolves fallbacks and validates.
/// Throws ConfigError / IoError naming file, key path and value.
Config load_config(const std::string& yaml_path, const std::vector<std::string>& overrides);

/// The resolved config as YAML text (all sections, every key), for logs and checkpoints.
std::string config_to_yaml(const Config& cfg);

}  // namespace vc::app
