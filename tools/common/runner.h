// The three run loops behind build/bin/{train,test,infer}. Each returns the process exit code
// (0 ok, 130 after SIGINT) and throws on errors; main() catches.
#pragma once

#include "tools/common/cli.h"

namespace vc::app {

int run_train(const CliOptions& opts);
int run_test(const CliOptions& opts);
int run_infer(const CliOptions& opts);

/// Runs `body` and turns exceptions into "error: ..." on stderr and exit code 1.
int guarded_main(int (*body)(const CliOptions&), Tool tool, int argc, char** argv);

}  // namespace vc::app
