"""brats_mlops: a reproducible, tracked BraTS pipeline (data → segmentation → survival → registry)."""

import os as _os

# No outside network here: switch telemetry off for everything that imports the package.
_os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
_os.environ.setdefault("DVC_NO_ANALYTICS", "1")

__version__ = "0.1.0"
