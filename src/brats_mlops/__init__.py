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


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            return set(next((ln for ln in fh if ln.startswith("flags")), ":").split(":", 1)[1].split())
    except OSError:
        return set()


# How long libgomp's threads spin at a barrier before they sleep (its default: 300,000 spins). With another busy
# process on the machine, spinning threads burn the time slices the computing thread needs: a training step of the
# CPU default took 2.9-6.5 s beside one busy process instead of 0.63 s idle; with 10,000 spins 1.7 s, and the same
# 0.63 s idle (BENCHMARKS.md, "Under load"). It changes when threads wait, never what they compute.
_os.environ.setdefault("GOMP_SPINCOUNT", "10000")

# The same instruction-set caps for the libraries beside torch's own kernels, which dispatch on the CPU too: the
# committed results made on an AMD EPYC did not reproduce on an AVX-512 Xeon because torch's matrix products (MKL)
# took an AVX-512 path there. MKL's Conditional Numerical Reproducibility mode COMPATIBLE gives the same results on
# every x86 CPU (measured: the same weights with MKL limited to AVX-512, AVX2 or SSE4.2; no measured cost).
# NumPy/SciPy's OpenBLAS kernels and NumPy's own AVX-512 loops (survival, PCA, bootstrap) are pinned to their AVX2
# versions, which every AVX2 CPU runs — only where the CPU has those instructions.
_os.environ.setdefault("MKL_CBWR", "COMPATIBLE")
_flags = _cpu_flags()
if "avx2" in _flags:
    _os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
if "avx512f" in _flags:
    _os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")

__version__ = "0.1.0"

# MONAI's package __init__ imports all ~430 of its modules before the first one is used; import what is used instead
# (utils/monai_import.py; BRATS_MONAI_FULL_IMPORT=1 restores MONAI's own).
from brats_mlops.utils.monai_import import install as _light_monai  # noqa: E402

_light_monai()
