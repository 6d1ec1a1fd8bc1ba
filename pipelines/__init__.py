"""DVC stage entry points: one thin module per stage (read params, call the library, write declared outputs)."""

# Before a stage module imports numpy, pandas or torch: brats_mlops sets the environment that makes their numerics
# the same on every CPU (brats_mlops/__init__.py), and some of it is read when those libraries load.
import brats_mlops  # noqa: F401,E402
import sys as _sys  # noqa: E402

# `python -m pipelines.<stage>` (argv[0] is "-m" while the package is imported): a warm process with torch and MONAI
# imported runs the stage if one serves this project (utils/zygote.py; `make run` starts one); else it runs here.
if _sys.argv[:1] == ["-m"]:
    from brats_mlops.utils.zygote import run_in_zygote

    run_in_zygote()
