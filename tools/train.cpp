// build/bin/train — see README.md. All work happens in tools/common/runner.cpp.
#include "tools/common/runner.h"

int main(int argc, char** argv) {
  return vc::app::guarded_main(vc::app::run_train, vc::app::Tool::kTrain, argc, argv);
}
