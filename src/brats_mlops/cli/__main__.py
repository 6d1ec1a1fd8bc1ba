"""``python -m brats_mlops.cli ...`` (what tune/dvc.yaml runs)."""

from brats_mlops.cli.main import app

app(prog_name="brats-mlops")
