"""brats_mlops: a reproducible, tracked BraTS pipeline (data → segmentation → survival → registry)."""

import os as _os

# No outside network here: switch telemetry off for everything that imports the package.
_os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
_os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# Bit-identical training on any x86 CPU with AVX2: PyTorch's CPU kernels (ATen) and oneDNN's convolutions pick their
# instruction set at run time, and the AVX-512 and AVX2 paths round differently (measured: different weights after one
# step of the default network). Capping both at AVX2 made an AVX-512 machine and a simulated AVX2 machine give the
# same weights, at no measured cost (0.90-0.99 s vs 0.96 s per step; BENCHMARKS.md). Set either variable to override.
# They must be set before torch's first CPU kernel runs, hence here, at package import.
_os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
_os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

__version__ = "0.1.0"
