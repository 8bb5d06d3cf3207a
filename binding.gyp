{
  # The same addon as CMakeLists.txt, for node-gyp users (`npm run build:gyp`). LibTorch paths come from
  # scripts/find-libtorch.js, so both builds find the same library the same way.
  "variables": {
    "torch_include": "<!(node scripts/find-libtorch.js --include)",
    "torch_lib": "<!(node scripts/find-libtorch.js --lib)",
    "torch_abi": "<!(node scripts/find-libtorch.js --abi)",
    "torch_cuda": "<!(node scripts/find-libtorch.js --cuda)"
  },
  "targets": [
    {
      "target_name": "wav2vec2",
      "sources": [
        "native/addon.cc",
        "native/builder/attention.cc",
        "native/builder/build.cc",
        "native/builder/encoder.cc",
        "native/builder/feature_extractor.cc",
        "native/builder/int8.cc",
        "native/builder/kernels.cc",
        "native/builder/network.cc",
        "native/builder/positional.cc",
        "native/builder/spec.cc",
        "native/builder/weights.cc",
        "native/cpu_cache.cc",
        "native/errors.cc",
        "native/first_layer.cc",
        "native/graph_optimizer.cc",
        "native/inference_thread.cc",
        "native/model.cc",
        "native/network.cc",
        "native/resample.cc",
        "native/script_module.cc",
        "native/shape_buckets.cc",
        "native/tensor.cc",
        "native/waveforms.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<@(torch_include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GLIBCXX_USE_CXX11_ABI=<(torch_abi)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-O3", "-Wno-unused-parameter", "<!@(node scripts/find-libtorch.js --openmp-cflags)"],
      "libraries": [
        "-L<(torch_lib)",
        "-Wl,--no-as-needed",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        "-Wl,--as-needed",
        "-Wl,-rpath,<(torch_lib)"
      ],
      "conditions": [
        ["torch_cuda=='1'", {
          "libraries": ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed"]
        }]
      ]
    }
  ]
}
