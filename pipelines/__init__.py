"""DVC stage entry points: one thin module per stage (read params, call the library, write declared outputs)."""

# Before a stage module imports numpy, pandas or torch: brats_mlops sets the environment that makes their numerics
# the same on every CPU (brats_mlops/__init__.py), and some of it is read when those libraries load.
import brats_mlops  # noqa: F401,E402
