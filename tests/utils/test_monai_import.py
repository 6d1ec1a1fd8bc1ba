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
         "loss = DiceLoss(sigmoid=True)(torch.zeros(1, 1, 4, 4, 4), torch.zeros(1, 1, 4, 4, 4))\n"
         "print(json.dumps({'version': monai.__version__, 'modules': sorted(m for m in sys.modules if m.startswith('monai')),\n"
         "                  'mlflow': 'mlflow' in sys.modules, 'loss': float(loss)}))\n")


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
