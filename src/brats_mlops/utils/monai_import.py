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

Second, MONAI's ``optional_import`` (``monai.utils.module``) imports its optional dependency at once, where the module
that asks for it is imported: SciPy's signal package for the ultrasound confidence map, pandas for the profiler and the
TCIA app, scikit-image's morphology, scikit-learn's metrics for the embedding-collapse metric, requests, the Hugging
Face hub — about 1.5 s in every process that imports ``monai.data`` or ``monai.transforms``, none of it used by a
stage that does not call those functions. For the modules in :data:`DEFERRED` it returns an object that imports them
when it is first used (called, an attribute read, indexed), with the same availability flag MONAI's would give: the
package is installed (``find_spec``) and, where a minimum version is asked, its top-level package meets it (checked
at once, as MONAI does). A package that is installed but fails to import then fails where it is used, with MONAI's
own ``OptionalImportError``.

What MONAI's ``__init__`` also does and this skips: a filter for two of its own deprecation warnings, and on CUDA a
warning when TF32 is on by default. ``BRATS_MONAI_FULL_IMPORT=1`` restores MONAI's own ``__init__`` and its eager
``optional_import``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import sys

ENV_FULL = "BRATS_MONAI_FULL_IMPORT"
# optional dependencies MONAI's modules ask for when imported and use only inside functions (checked: tests/utils)
DEFERRED = frozenset({"scipy.signal", "scipy.sparse.linalg", "pandas", "skimage.morphology", "skimage.measure",
                      "sklearn.metrics", "sklearn.linear_model", "requests", "huggingface_hub", "tifffile"})
DEFERRED_CALLS: list[dict] = []   # the optional_import calls deferred in this process (module, name; tests, bench)
_UNSET = object()


class _Deferred:
    """Stands for ``optional_import(...)[0]`` until first used; then is the module or attribute it returned."""

    __slots__ = ("_load", "_target", "_what")

    def __init__(self, load, what: str) -> None:
        object.__setattr__(self, "_load", load)
        object.__setattr__(self, "_target", _UNSET)
        object.__setattr__(self, "_what", what)

    def _resolve(self):
        target = object.__getattribute__(self, "_target")
        if target is _UNSET:
            target = object.__getattribute__(self, "_load")()
            object.__setattr__(self, "_target", target)
        return target

    def __getattr__(self, name):
        return getattr(self._resolve(), name)

    def __call__(self, *args, **kwargs):
        return self._resolve()(*args, **kwargs)

    def __getitem__(self, item):
        return self._resolve()[item]

    def __repr__(self) -> str:
        target = object.__getattribute__(self, "_target")
        return repr(target) if target is not _UNSET else f"<deferred {object.__getattribute__(self, '_what')}>"


def _deferring(original):
    """MONAI's ``optional_import`` with the modules of :data:`DEFERRED` imported when first used."""
    signature = inspect.signature(original)

    def optional_import(*args, **kwargs):
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        module = a["module"]
        if module not in DEFERRED or module in sys.modules or a["as_type"] != "default":
            return original(*args, **kwargs)
        top = module.split(".")[0]
        if importlib.util.find_spec(top) is None:
            return original(*args, **kwargs)   # not installed: MONAI's own answer (False), at no cost
        if a["version"]:   # MONAI checks the top-level package's version; so does this, at once
            pkg = importlib.import_module(top)
            check = a["version_checker"]
            if not (check(pkg, a["version"], a["version_args"]) if a["version_args"] else check(pkg, a["version"])):
                return original(*args, **kwargs)
        what = f"from {module} import {a['name']}" if a["name"] else f"import {module}"
        DEFERRED_CALLS.append({"module": module, "name": a["name"], "caller": sys._getframe(1).f_globals.get("__name__")})
        return _Deferred(lambda: original(*args, **kwargs)[0], what), True

    optional_import.__doc__ = original.__doc__
    optional_import.__wrapped__ = original
    return optional_import


class _PatchOptionalImport(importlib.abc.Loader):
    """Runs ``monai.utils.module`` as it is, then puts :func:`_deferring` in place of its ``optional_import`` — before
    ``monai.utils`` and every other MONAI module take the name from it."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def __getattr__(self, name):   # get_source, get_code, is_package...: tracebacks and inspect keep working
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        module.optional_import = _deferring(module.optional_import)


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
        if name not in ("monai", "monai.utils.module"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _LightInit() if name == "monai" else _PatchOptionalImport(spec.loader)
        return spec


def install() -> None:
    """Use the light ``__init__`` for the next ``import monai`` of this process (not if MONAI is already imported, or
    ``BRATS_MONAI_FULL_IMPORT`` is set)."""
    if os.environ.get(ENV_FULL, "") not in ("", "0") or "monai" in sys.modules:
        return
    if not any(isinstance(f, _MonaiFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MonaiFinder())
