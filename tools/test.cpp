// build/bin/test — see README.md. All work happens in tools/common/runner.cpp.
#include "tools/common/runner.h"

int main(int argc, char** argv) {
  return vc::app::guarded_main(vc::app::run_test, vc::app::Tool::kTest, argc, argv);
}
