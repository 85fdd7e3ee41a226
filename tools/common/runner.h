// The three run loops behind build/bin/{train,test,infer}. Each returns the process exit code
// (0 ok, 130 after SIGINT) and throws on errors; main() catches. They read only the registry
// row of the configured network: no network, loss, meter, reader or optimizer is named here.
// The forms without a Registry use default_registry(); tests pass their own rows.
#pragma once

#include <functional>

#include "tools/common/cli.h"

namespace vc::app {

class Registry;

int run_train(const CliOptions& opts);
int run_test(const CliOptions& opts);
int run_infer(const CliOptions& opts);
int run_train(const CliOptions& opts, const Registry& registry);  // tools/common/train_loop.cpp
int run_test(const CliOptions& opts, const Registry& registry);
int run_infer(const CliOptions& opts, const Registry& registry);

/// Parses argv for `tool`, runs `body` and turns exceptions into "error: ..." on stderr and exit
/// code 1.
int guarded_main(int (*body)(const CliOptions&), Tool tool, int argc, char** argv);
/// Runs `body`; an exception becomes "error: ..." on stderr and exit code 1 (the utilities'
/// main()).
int run_guarded(const std::function<int()>& body);

}  // namespace vc::app
