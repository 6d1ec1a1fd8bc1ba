"""Import MONAI without importing all of it first.

``import monai`` (which any ``from monai.x import y`` runs first) executes MONAI's package ``__init__``, which walks the
package and imports every one of its ~430 modules (``monai.utils.module.load_submodules``, twice over: every
subpackage, then every module) — pathology, detection, the ultrasound confidence map (SciPy's signal package), the
Jupyter helpers (Matplotlib), the MLflow handler (MLflow) — before the first network is built, in every process that
uses MONAI: a stage, a test, a DDP rank. :func:`install` (called by ``brats_mlops/__init__.py``) puts a finder in
front of that ``__init__``: the package's version attributes, then ``monai.apps`` — the subpackage MONAI's own walk
imports first, which brings ``monai.data``, ``monai.transforms`` and ``monai.networks`` in an order without circular
imports (``monai.networks`` first fails with one) — and every other module when the code asks for it, as in any
package. Measured: BENCHMARKS.md, "Stage start-up" (271 of 432 modules; MLflow no longer imported by MONAI).

What MONAI's ``__init__`` also does and this skips: a filter for two of its own deprecation warnings, and on CUDA a
warning when TF32 is on by default. ``BRATS_MONAI_FULL_IMPORT=1`` restores MONAI's own ``__init__``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys

ENV_FULL = "BRATS_MONAI_FULL_IMPORT"


class _LightInit(importlib.abc.Loader):
    def create_module(self, spec):
        return None   # the default module object

    def exec_module(self, module) -> None:
        from monai._version import get_versions   # a submodule: monai is in sys.modules, with its __path__

        version = get_versions()
        module.__version__ = str(version.get("version", "0+unknown"))
        module.__revision_id__ = str(version.get("full-revisionid") or "")
        module.__copyright__ = "(c) MONAI Consortium"
        module.__basedir__ = os.path.dirname(module.__file__)
        importlib.import_module("monai.apps")


class _MonaiFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "monai":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _LightInit()
        return spec


def install() -> None:
    """Use the light ``__init__`` for the next ``import monai`` of this process (not if MONAI is already imported, or
    ``BRATS_MONAI_FULL_IMPORT`` is set)."""
    if os.environ.get(ENV_FULL, "") not in ("", "0") or "monai" in sys.modules:
        return
    if not any(isinstance(f, _MonaiFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MonaiFinder())
