"""`brats-mlops export`: a registered segmentation model as a BraTS submission, an MLCube, TorchScript or ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from brats_mlops.cli.common import app, console, fail, use_store


@app.command()
def export(
    model: Annotated[str, typer.Argument(help="A registered segmentation model: NAME (its @champion), NAME@ALIAS or "
                                              "NAME/VERSION, e.g. brats-segmentation@champion.")],
    fmt: Annotated[str, typer.Option("--format", help="brats-container (the BraTS submission folder: model, entrypoint, "
                                     "Dockerfile) | mlcube (the same for MedPerf) | monai-bundle | torchscript | onnx (the network with "
                                     "dynamic spatial axes + preprocessing.json, checked against PyTorch).")],
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) folder to write the export to.")],
    sample_case: Annotated[Optional[Path], typer.Option("--sample-case", help="torchscript/onnx/monai-bundle: a case folder the export "
                                                        "is checked on (labels and logits against PyTorch).")] = None,
    convention: Annotated[Optional[str], typer.Option("--convention", help="brats-container/mlcube: the edition whose labels "
                                                      "the submission writes (default: the training data's; brats2023 for "
                                                      "synthetic data). `brats-mlops editions` lists them.")] = None,
) -> None:
    """Export a registered segmentation model to leave the platform, recorded in MLflow against its version (an
    `export` run; the version's brats.export.<format> tag names it) with MODEL_CARD.md and lineage.json in the folder."""
    from brats_mlops.export import export as do_export

    use_store()
    if convention is not None:
        from brats_mlops.data.editions import EDITIONS

        if convention not in EDITIONS:
            fail(f"--convention {convention!r}: use one of {', '.join(EDITIONS)}")
    facts = do_export(model, fmt, out, sample_case, convention)
    console.print(f"exported {facts['model']} as {fmt} into {out} (MLflow run {facts['mlflow_run']})")
    if "max_abs_logit_diff" in facts:
        console.print(f"checked on {facts['checked_on']}: max |logit difference| {facts['max_abs_logit_diff']:.2g}, "
                      f"labels identical: {facts['labels_identical']}")
    if fmt in ("brats-container", "mlcube"):
        console.print(f"test it: python {out / 'entrypoint.py'} --input CASES --output OUT; build it: see {out / 'README.md'}")
