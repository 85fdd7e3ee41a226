// 2-D convolutions of the fast inference path on oneDNN primitives of videocls's own, fused with
// what follows them and, for 3x3 stride-1 kernels, by Winograd's algorithm.
//
// LibTorch 1.13's optimize_for_inference leaves a ResNet as prim::mkldnn_convolution, aten::relu_
// and aten::add_ nodes: three oneDNN primitives, three passes over each activation, and always
// oneDNN's direct convolution. fuse_onednn_convolutions() replaces each 2-D convolution of such a
// graph with videocls::onednn_conv* ops whose primitive carries, as oneDNN post-ops, the ReLU
// that follows it and the residual add (+ ReLU) that consumes it, and which use oneDNN's Winograd
// F(4x4, 3x3) kernel for 3x3 stride-1 convolutions where this CPU has one (oneDNN 2.x: AVX-512),
// measured 1.7-1.8x faster than the direct kernel on ResNet-50's 56/28/14 px 3x3 layers.
// Winograd rounds differently from the direct kernel (float32, relative error ~1e-6 per layer);
// the fast path still checks every new input shape against the eager model (inference.h).
//
// Everything else (BN folding, layouts, pooling, 3-D convolutions) stays LibTorch's. Only
// compiled where the LibTorch found links the system oneDNN whose headers (libdnnl-dev) and
// ideep's (libideep-dev) are installed, as on Debian; elsewhere onednn_conv_available() is false
// and the pass changes nothing.
#pragma once

#include <cstdint>
#include <memory>

namespace torch::jit {
struct Graph;
}

namespace vc::models {

/// True when this build has the oneDNN convolution ops (see the header comment).
bool onednn_conv_available();

struct OneDnnConvOptions {
  bool winograd = true;  ///< Winograd's algorithm for 3x3 stride-1 convolutions where available
  bool fuse = true;      ///< fuse the following ReLU / residual add into the convolution
};

/// What fuse_onednn_convolutions changed in a graph.
struct OneDnnConvCounts {
  int64_t convs = 0;          ///< convolutions now run by videocls::onednn_conv*
  int64_t temporal = 0;       ///< of which 3-D kt x 1 x 1 ones, run as 2-D kt x 1 over T, H*W
  int64_t winograd = 0;       ///< of which asked for Winograd (3x3, stride 1, no dilation/groups)
  int64_t relu = 0;           ///< ReLUs fused into their convolution
  int64_t adds = 0;           ///< residual adds fused (the shortcut summed by the convolution)
  int64_t adds_in_place = 0;  ///< of which accumulate into the shortcut's own buffer (it is dead
                              ///< afterwards); the others copy it into the output first
};

/// Run on a graph after torch::jit::optimize_for_inference. Convolutions whose weights are not
/// graph constants, grouped ones and 3-D ones other than kt x 1 x 1 (stride 1, no spatial
/// padding: StNet's temporal blocks, run as the 2-D kt x 1 convolution over [N, C, T, H*W] on the
/// same memory, with their ReLU fused) are left alone.
OneDnnConvCounts fuse_onednn_convolutions(const std::shared_ptr<torch::jit::Graph>& graph,
                                          const OneDnnConvOptions& options = {});

/// How many of the graph's videocls::onednn_conv* ops ran their last input on a Winograd
/// primitive (their primitives are made on first use: call after running the graph once).
int64_t onednn_winograd_in_use(const std::shared_ptr<torch::jit::Graph>& graph);

}  // namespace vc::models
