"""The promotion gate "loads and predicts on a sample case": load ``models:/<name>/<version>`` and check its answer."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from brats_mlops.families import family_by_model
from brats_mlops.names import MODEL_AUTOENCODER, MODEL_SURVIVAL, MODEL_SURVIVAL_2D


def sample_case_check(case_dir: str | Path, age: float = 60.0) -> Callable[[str, str], str]:
    """A gate function ``(name, version) -> description``; raises when loading or the answer is wrong."""
    case_dir = Path(case_dir)

    def check(name: str, version: str) -> str:
        import mlflow

        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        if family_by_model(name) is not None:  # any segmentation family
            from brats_mlops.data.io import load_image
            from brats_mlops.data.readers import read_case_folder

            lab = np.asarray(model.predict(str(case_dir)))
            case = read_case_folder(case_dir, ("t1ce",))
            shape = load_image(case.images["t1ce"], dtype=None)[0].shape
            if lab.shape != shape:
                raise ValueError(f"segmentation shape {lab.shape} != image shape {shape}")
            if not set(np.unique(lab).tolist()) <= {0, 1, 2, 3, 4}:  # every edition's raw labels (data/editions.py)
                raise ValueError(f"unexpected labels {np.unique(lab).tolist()}")
            return f"segmented {case_dir.name}: {int((lab > 0).sum())} tumour voxels"
        if name == MODEL_AUTOENCODER:
            lat = np.asarray(model.predict(str(case_dir)))
            if not np.isfinite(lat).all():
                raise ValueError("latent has non-finite values")
            return f"encoded {case_dir.name}: latent {list(lat.shape[1:])}"
        if name == MODEL_SURVIVAL:
            out = model.predict({"case_dir": str(case_dir), "age": age})
            p = float(out["probability"].iloc[0])
            if not 0 <= p <= 1:
                raise ValueError(f"probability {p} outside [0, 1]")
            return f"predicted {case_dir.name} (age {age:g}): class {out['class_name'].iloc[0]} p={p:.2f}"
        if name == MODEL_SURVIVAL_2D:
            out = model.predict({"case_dir": str(case_dir), "age": age})
            p = np.asarray(out["probabilities"].iloc[0], float)
            if not (np.isfinite(p).all() and abs(p.sum() - 1) < 1e-3):
                raise ValueError(f"bin probabilities {p.tolist()} do not sum to 1")
            return f"predicted {case_dir.name} (age {age:g}): bin {out['bin'].iloc[0]} by majority of {out['n_slices'].iloc[0]} slices"
        raise ValueError(f"no sample check for model {name!r}")

    return check
