"""Cost and effect of capping PyTorch's CPU instruction set at AVX2 (what ``brats_mlops/__init__.py`` does).

    python -m bench.bench_isa [--steps 8]

Each configuration runs in its own process (the instruction set is chosen at the first kernel): the CPU default's
network (``res_se_unet``, widths 8…128, batch 2 × 4 × 64³) trains ``--steps`` AdamW steps from the same seed.
Reported: median step time, its ratio to the native (uncapped) configuration measured in the same session, and an
md5 of the weights afterwards — equal hashes mean bit-identical training. "simulated AVX2 machine" also disables
NumPy's AVX-512 kernels and picks OpenBLAS's Haswell kernels. Writes ``bench/results/isa.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.machine import machine

CONFIGS = {
    "native (AVX-512 where the CPU has it)": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "ALL"},
    "capped at AVX2 (the project default)": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "simulated AVX2 machine, capped": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                                       "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL", "OPENBLAS_CORETYPE": "Haswell"},
}

CHILD = r"""
import hashlib, json, sys, time, torch
from brats_mlops.models.checkpoint import build_segmentation
torch.manual_seed(0); torch.set_num_threads(2)
m = build_segmentation({"model": "res_se_unet", "in_channels": 4, "out_channels": 4, "channels": [8, 16, 32, 64, 128]})
opt = torch.optim.AdamW(m.parameters(), 1e-3)
x, y = torch.randn(2, 4, 64, 64, 64), torch.randint(0, 4, (2, 64, 64, 64))
ts = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); opt.zero_grad()
    torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step(); ts.append(time.perf_counter() - t)
ts = sorted(ts[1:])
print(json.dumps({"step_s": ts[len(ts) // 2], "weights_md5": hashlib.md5(b"".join(p.detach().numpy().tobytes() for p in m.parameters())).hexdigest(),
                  "aten": torch.backends.cpu.get_cpu_capability()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    rows = []
    for name, env in CONFIGS.items():
        r = subprocess.run([sys.executable, "-c", CHILD, str(args.steps)], env={**os.environ, **env}, capture_output=True,
                           text=True, check=True)
        rows.append({"config": name, **json.loads(r.stdout.strip().splitlines()[-1])})
    base = rows[0]["step_s"]
    for r in rows:
        r["x_native_time"] = r["step_s"] / base
        print(f"{r['config']:<42} ATen {r['aten']:<7} {r['step_s']:.3f} s/step  x{r['x_native_time']:.2f}  weights {r['weights_md5']}")
    out = Path("bench/results/isa.json")
    out.write_text(json.dumps({"machine": machine(), "steps": args.steps, "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
