// Process-wide glibc malloc settings for the executables (not the libraries: a library must not
// change its host's allocator).
//
// Why: tensors of a few hundred KB to tens of MB are allocated and freed every step (reader
// samples and batches, activations). glibc serves the larger ones with fresh mmap'ed pages and
// gives them back on free (or trims the heap top), so every step pays page faults and the
// kernel's zeroing of every page again: on the 2-core machine that was 45 % of the YouTube-8M
// feature reader's time (docs/benchmarks.md, "Feature reader throughput"). With a high mmap
// threshold and no trimming, freed blocks stay in the heap and are reused as they are.
//
// Cost: the process keeps its peak heap resident until it exits (the reader's and the
// network's working set are steady anyway). Users who set their own allocator options keep them:
// nothing is changed when GLIBC_TUNABLES or any MALLOC_*_ variable is set, or when
// VC_MALLOC_TUNING=0. Not glibc (musl, a preloaded jemalloc / tcmalloc): mallopt is absent or a
// no-op for them and nothing happens.
#pragma once

#include <string>

namespace vc::app {

/// Applies the settings above once (later calls do nothing); returns one line saying what was
/// done, for the log ("" when nothing was to be said).
std::string tune_malloc();

}  // namespace vc::app
