"""MONAI imported module by module instead of all at once (utils/monai_import.py), in a fresh interpreter each."""

import json
import os
import subprocess
import sys

PROBE = ("import json, sys, brats_mlops\n"
         "from monai.networks.nets import AutoencoderKL, FlexibleUNet\n"
         "from monai.losses import DiceLoss\n"
         "from monai.inferers import sliding_window_inference\n"
         "from monai.metrics.utils import get_edge_surface_distance\n"
         "import monai, torch\n"
         "import numpy as np\n"
         "loss = DiceLoss(sigmoid=True)(torch.zeros(1, 1, 4, 4, 4), torch.zeros(1, 1, 4, 4, 4))\n"
         "before = {m: m in sys.modules for m in ('pandas', 'scipy.signal', 'skimage.morphology', 'sklearn.metrics')}\n"
         "from monai.transforms.utils import get_largest_connected_component_mask as largest\n"
         "img = np.zeros((9, 9, 9)); img[1:3, 1:3, 1:3] = 1; img[5:9, 5:9, 5:9] = 1\n"
         "cc = largest(img)\n"   # numpy input: skimage.measure.label, one of the deferred imports
         "print(json.dumps({'version': monai.__version__, 'modules': sorted(m for m in sys.modules if m.startswith('monai')),\n"
         "                  'mlflow': 'mlflow' in sys.modules, 'loss': float(loss), 'before': before,\n"
         "                  'cc': int(cc.sum()), 'skimage_measure': 'skimage.measure' in sys.modules}))\n")


def _probe(**env):
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                       env={**os.environ, **env})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_monai_loads_what_is_used_and_works_as_with_its_own_init():
    from importlib.metadata import version

    light, full = _probe(), _probe(BRATS_MONAI_FULL_IMPORT="1")
    assert light["version"] == full["version"] == version("monai")
    assert light["loss"] == full["loss"]
    # MONAI's own __init__ imports every module, its pathology app and MLflow handler (and so MLflow) among them
    assert "monai.apps.pathology" in full["modules"] and full["mlflow"]
    assert "monai.apps.pathology" not in light["modules"] and not light["mlflow"]
    assert {"monai.networks.nets", "monai.losses", "monai.inferers", "monai.metrics.utils"} <= set(light["modules"])
    assert len(light["modules"]) < 0.75 * len(full["modules"])


def test_optional_dependencies_are_imported_when_first_used():
    light, full = _probe(), _probe(BRATS_MONAI_FULL_IMPORT="1")
    assert all(full["before"].values())   # MONAI's own optional_import: imported with the module that asks
    assert not any(light["before"].values()), light["before"]
    assert light["cc"] == full["cc"] == 64 and light["skimage_measure"]   # imported when used, same answer


def test_a_deferred_import_gives_monais_flag_and_object():
    """Every optional_import the stages' MONAI modules defer: MONAI's own call says available, and the stand-in
    becomes the very object it returns."""
    code = ("import json, importlib, brats_mlops, monai.networks.nets, monai.losses, monai.inferers, monai.metrics\n"
            "import monai.transforms, monai.utils.module as mm\n"
            "from brats_mlops.utils.monai_import import DEFERRED_CALLS\n"
            "out = []\n"
            "for c in DEFERRED_CALLS:\n"
            "    obj, has = mm.optional_import.__wrapped__(c['module'], name=c['name'])\n"
            "    stand_in = [v for v in vars(importlib.import_module(c['caller'])).values()\n"
            "                if type(v).__name__ == '_Deferred' and repr(v).endswith(c['module'] + (' import ' + c['name'] if c['name'] else '') + '>')]\n"
            "    same = all(s._resolve() is obj for s in stand_in)\n"
            "    out.append([c['module'], c['name'], has, len(stand_in), same])\n"
            "print(json.dumps(out))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    calls = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"scipy.signal", "pandas", "skimage.morphology", "sklearn.metrics"} <= {c[0] for c in calls}
    for module, name, has, n, same in calls:
        assert has and n >= 1 and same, (module, name, has, n, same)


def test_deferred_stand_in_fails_where_used_when_the_import_fails():
    from brats_mlops.utils.monai_import import _Deferred

    def load():
        raise ImportError("broken install")

    d = _Deferred(load, "import broken")
    assert repr(d) == "<deferred import broken>"
    for use in (lambda: d.attr, lambda: d(), lambda: d[0]):
        try:
            use()
        except ImportError as err:
            assert "broken install" in str(err)
        else:
            raise AssertionError("a failing import must fail where the stand-in is used")
