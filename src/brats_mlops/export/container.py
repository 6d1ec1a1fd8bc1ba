"""The ``brats-container`` and ``mlcube`` export folders: everything a BraTS submission image needs, and nothing else.

The image cannot be built on a machine without a registry to pull its base image from; the folder's ``README.md``
gives the two commands that build and run it, and the entrypoint itself is what the tests run (offline, read-only
input)."""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from brats_mlops.export.submission import SETTINGS

# what the submission imports at run time (the entrypoint, the pyfunc, the platform's predictor), pinned as installed here
RUNTIME = ("torch", "monai", "nibabel", "isal", "numpy", "scipy", "pandas", "scikit-learn", "pydantic", "PyYAML", "mlflow",
           "connected-components-3d", "matplotlib", "tqdm", "rich")
ENTRYPOINT = '''"""BraTS submission entrypoint: /input/<ID>/<ID>-{t1n,t1c,t2w,t2f}.nii.gz -> /output/<ID>.nii.gz (see brats_mlops/export/submission.py)."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the vendored brats_mlops beside this file

from brats_mlops.export.submission import main  # noqa: E402

sys.exit(main(here=HERE))
'''
DOCKERFILE = '''# BraTS submission image of {ref} (brats-mlops export --format {fmt}).
FROM python:3.11-slim
WORKDIR /opt/brats
COPY requirements.txt .
# the CPU build of torch (a GPU image: use an nvidia/cuda base and the CUDA wheel of the same version)
RUN pip install --no-cache-dir "torch=={torch}" --index-url https://download.pytorch.org/whl/cpu \\
 && pip install --no-cache-dir -r requirements.txt
COPY . .
ENV MLFLOW_DISABLE_TELEMETRY=true BRATS_NO_PROGRESS=1 PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["python", "/opt/brats/entrypoint.py"]
CMD ["--input", "/input", "--output", "/output"]
'''
MLCUBE = '''name: {name}
description: BraTS segmentation by {ref} (brats-mlops export --format mlcube)
authors:
  - {{name: brats_mlops}}
platform:
  accelerator_count: 0
docker:
  image: {image}
  build_context: "."
  build_file: "Dockerfile"
tasks:
  infer:
    parameters:
      inputs:
        data_path: {{type: directory, default: data}}
      outputs:
        output_path: {{type: directory, default: predictions}}
'''
README = '''# {ref} as a BraTS submission ({fmt})

Built by `brats-mlops export {ref} --format {fmt}`; see `MODEL_CARD.md` for the model and `lineage.json` for the
registered version, data hash and commit it came from.

The contract: `/input/<ID>/<ID>-{{t1n,t1c,t2w,t2f}}.nii.gz` (read-only) → `/output/<ID>.nii.gz`, labels in the
`{convention}` convention on the input's grid; a case that breaks the contract is reported on one line and skipped.

```bash
docker build -t {image} .
docker run --rm --network none --read-only --tmpfs /tmp -v /path/to/cases:/input:ro -v /path/to/out:/output {image}
```
{mlcube}
Without Docker (same entrypoint, same Python 3.11 environment as `requirements.txt`):
`python entrypoint.py --input /path/to/cases --output /path/to/out`.

GPU: the image installs the CPU build of torch and predicts on the CPU.
'''


def _pins(family_key: str) -> list[str]:
    names = list(RUNTIME) + (["nnunetv2"] if family_key == "nnunet" else [])
    out = []
    for n in names:
        try:
            out.append(f"{n}=={metadata.version(n)}")
        except metadata.PackageNotFoundError:
            continue
    return [p for p in out if not p.startswith("torch==")]  # torch: installed first from the CPU index (Dockerfile)


def write_container(fmt: str, model_dir: Path, out: Path, rv: Any, convention: str) -> dict[str, Any]:
    from brats_mlops.export.files import vendor_package
    from brats_mlops.families import family_by_model

    family = family_by_model(rv.name)
    shutil.copytree(model_dir, out / "model")
    vendor_package(out)
    model = _model_facts(out / "model")
    (out / SETTINGS).write_text(json.dumps({"model": rv.ref, "model_dir": "model", "modalities": model["modalities"],
                                             "convention": convention}, indent=1) + "\n")
    (out / "entrypoint.py").write_text(ENTRYPOINT)
    (out / "requirements.txt").write_text("\n".join(_pins(family.key)) + "\n")
    image = f"brats-mlops/{rv.name}:{rv.version}"
    (out / "Dockerfile").write_text(DOCKERFILE.format(ref=rv.ref, fmt=fmt, torch=metadata.version("torch")))
    mlcube = ""
    if fmt == "mlcube":
        (out / "mlcube.yaml").write_text(MLCUBE.format(name=f"{rv.name}-{rv.version}", ref=rv.ref, image=image))
        for d in ("workspace/data", "workspace/predictions"):
            (out / d).mkdir(parents=True, exist_ok=True)
        mlcube = ("\nMLCube (MedPerf): `mlcube run --task infer data_path=<cases> output_path=<out>` runs "
                  "`entrypoint.py infer --data_path ... --output_path ...` in the same image.\n")
    (out / "README.md").write_text(README.format(ref=rv.ref, fmt=fmt, convention=convention, image=image, mlcube=mlcube))
    return {"convention": convention, "modalities": model["modalities"], "image": image}


def _model_facts(model_dir: Path) -> dict[str, Any]:
    """The modalities the packaged model reads (platform checkpoints: their model config; nnU-Net: its settings)."""
    from brats_mlops.export.files import checkpoints

    settings = next(model_dir.rglob("brats_nnunet.json"), None)
    if settings is not None:
        return {"modalities": json.loads(settings.read_text())["modalities"]}
    from brats_mlops.models.serialization import load_checkpoint

    return {"modalities": list(load_checkpoint(checkpoints(model_dir)[0])["model_config"]["modalities"])}
