#include "models/tsn/tsn.h"
#include "tools/common/readers.h"
#include "tools/common/rows/rows.h"

namespace vc::app {
namespace {

const KeyTable& tsn_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "TSN",
      "Temporal Segment Network (spec §6.5): a 2-D ResNet per segment, average consensus, fc.",
      {
          {"num_layers", S::kModel, int64_t{50}, 18, 152, {"18", "34", "50", "101", "152"}, "ResNet depth of the trunk", {}},
          {"dropout", S::kModel, 0.0, 0, 0.999, {}, "dropout probability before the classifier, Fluid semantics (x(1-p) at inference); 0 = none (the original TSN)", {}},
      },
      {},
      nullptr};
  // clang-format on
  return table;
}

models::VideoModelPtr make_tsn(const Config& cfg, Mode mode) {
  const SectionConfig& s = cfg.section(mode);
  return models::Tsn(models::TsnOptions()
                         .num_classes(cfg.model.i("num_classes"))
                         .seglen(s.i("seglen"))
                         .depth(cfg.model.i("num_layers"))
                         .dropout(cfg.model.f("dropout")))
      .ptr();
}

}  // namespace

ModelEntry tsn_row() {
  return {"TSN",
          "Temporal Segment Network: ResNet per frame, average consensus (Kinetics video)",
          {&kinetics_reader_keys(), &tsn_keys()},
          make_tsn,
          make_kinetics_dataset,
          single_label_task(),
          nullptr,
          load_resnet_pretrain,
          "an ImageNet ResNet state dict as torchvision writes it "
          "(torch.save(torchvision.models.resnet50(weights=...).state_dict(), f)) or Paddle's "
          "ResNet50_pretrained directory",
          kinetics_example,
          {{"paddle",
            [](const Config& cfg) {
              return paddle_resnet_map("backbone.", static_cast<int>(cfg.model.i("num_layers")),
                                       "fc");
            }}},
          {mmaction2_resnet_family(/*shifted=*/false)}};
}

}  // namespace vc::app
