import json
import os
import subprocess
import sys

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from brats_mlops.registry.common import register
from brats_mlops.registry.promotion import PromotionRefused, alias_version, history, promote, rollback

SEG, AE = "brats-segmentation", "brats-autoencoder"
VALID = {"brats.data_validation": "passed (10 of 10 cases; 0 quarantined and excluded; source synthetic)"}


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def make_version(name, metrics, tags=VALID):
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="m", python_model=Echo())
    return register(info.model_uri, name, metrics, dict(tags))


def seg_metrics(d):
    return {"dice_wt": d, "dice_tc": d, "dice_et": d, "dice_brats": d}


def test_better_model_promoted_worse_refused_force_recorded(tmp_path):
    v1, v2, v3 = (make_version(SEG, seg_metrics(d)) for d in (0.70, 0.80, 0.75))
    promote(SEG, v1, root=tmp_path)
    assert alias_version(SEG, "champion") == v1 and alias_version(SEG, "previous") is None
    e = promote(SEG, v2, root=tmp_path)
    assert e["previous"] == v1 and alias_version(SEG, "champion") == v2 and alias_version(SEG, "previous") == v1
    with pytest.raises(PromotionRefused, match="does not beat champion v2") as err:
        promote(SEG, v3, root=tmp_path)
    assert "--force" in str(err.value)
    assert alias_version(SEG, "champion") == v2  # unchanged
    with pytest.raises(PromotionRefused, match="--reason"):
        promote(SEG, v3, force=True, root=tmp_path)
    promote(SEG, v3, force=True, reason="v2 over-segments edema on site B", root=tmp_path)
    assert alias_version(SEG, "champion") == v3 and alias_version(SEG, "previous") == v2
    h = history(SEG)
    assert [x["action"] for x in h] == ["promote", "promote", "refused", "promote"]
    assert h[-1]["forced"] is True and h[-1]["why"] == "v2 over-segments edema on site B" and h[-1]["previous"] == v2
    assert h[-1]["metrics"]["dice_brats"] == 0.75 and "@" in h[-1]["who"] and h[-1]["when"]
    assert h[2]["version"] == v3 and any("better" in f for f in h[2]["failed"])


def test_missing_metrics_unvalidated_data_and_failed_load_are_refused(tmp_path):
    v1 = make_version(SEG, {"dice_wt": 0.9, "dice_brats": float("nan")})  # the mean over the edition's regions
    with pytest.raises(PromotionRefused, match=r"lacks \['dice_brats'\]"):
        promote(SEG, v1, root=tmp_path)
    v2 = make_version(SEG, seg_metrics(0.9), tags={})
    with pytest.raises(PromotionRefused, match="data: the training data's validation is not recorded"):
        promote(SEG, v2, root=tmp_path)
    v3 = make_version(SEG, seg_metrics(0.9))

    def broken(name, version):
        raise RuntimeError("checkpoint missing")

    with pytest.raises(PromotionRefused, match="loads: .*checkpoint missing"):
        promote(SEG, v3, sample_check=broken, root=tmp_path)
    assert alias_version(SEG, "champion") is None
    promote(SEG, v3, sample_check=lambda n, v: "fine", root=tmp_path)
    assert alias_version(SEG, "champion") == v3


def test_lower_is_better_for_the_autoencoder_and_rollback(tmp_path):
    v1, v2 = make_version(AE, {"val_l1": 0.05}), make_version(AE, {"val_l1": 0.04})
    promote(AE, v1, root=tmp_path)
    promote(AE, v2, root=tmp_path)
    v3 = make_version(AE, {"val_l1": 0.06})
    with pytest.raises(PromotionRefused, match="needs <"):
        promote(AE, v3, root=tmp_path)
    e = rollback(AE, "v2 reconstructions blur the tumour", root=tmp_path)
    assert e["version"] == v1 and alias_version(AE, "champion") == v1 and alias_version(AE, "previous") is None
    assert history(AE)[-1]["action"] == "rollback" and history(AE)[-1]["why"] == "v2 reconstructions blur the tumour"
    with pytest.raises(PromotionRefused, match="no @previous"):
        rollback(AE, "again", root=tmp_path)


RACE = """
import contextlib, sys, time
from pathlib import Path
from brats_mlops.registry import promotion
role, version, root, sync, locked = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "1"

def wait_for(names, seconds):
    deadline = time.time() + seconds
    while not any((sync / n).exists() for n in names):
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True

def mark(name):
    (sync / name).write_text(repr(time.time()))

original = promotion.model_lock

@contextlib.contextmanager
def lock(name, root=None, timeout=120):   # B says when it asks for the lock; without `locked` there is none
    if role == "b":
        mark("b_wants_lock")
    with original(name, root, timeout) if locked else contextlib.nullcontext():
        yield

promotion.model_lock = lock

def inside(name, v):   # the sample-case gate runs inside the critical section
    if role == "a":
        mark("a_in")
        assert wait_for(["b_wants_lock"], 300), "B never asked for the lock"
        wait_for(["b_in_while_a_inside"], 5)   # B gets in now only if nothing keeps it out
        mark("a_out")
    else:
        mark("b_in_after_a" if (sync / "a_out").exists() else "b_in_while_a_inside")
    return "ok"

if role == "b":
    assert wait_for(["a_in"], 300), "A never entered"
try:
    promotion.promote("brats-segmentation", version, sample_check=inside, root=root)
    print("promoted")
except promotion.PromotionRefused:
    print("refused")
"""


def _race(tmp_path, locked: bool):
    """Two processes promote at once: A holds its critical section until B has asked for the lock (then up to 5 s
    more); B records whether it got in while A was still inside."""
    v1, v2, v3 = (make_version(SEG, seg_metrics(d)) for d in (0.70, 0.80, 0.85))
    promote(SEG, v1, root=tmp_path)
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", RACE, role, v, str(tmp_path), str(sync), "1" if locked else "0"],
                              env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for role, v in (("a", v2), ("b", v3))]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    return v3, {p.name for p in sync.iterdir()}


@pytest.mark.slow
def test_two_concurrent_promotions_are_serialised_by_the_lock(tmp_path):
    v3, marks = _race(tmp_path, locked=True)
    assert "b_wants_lock" in marks and "a_out" in marks       # B asked while A was inside: the two did overlap
    assert "b_in_after_a" in marks and "b_in_while_a_inside" not in marks   # ... and B waited for A
    assert alias_version(SEG, "champion") == v3  # the best one
    promotions = [h for h in history(SEG) if h["action"] == "promote"]
    # each promotion's "previous" is the champion the one before it set: one consistent chain
    for before, after in zip(promotions, promotions[1:]):
        assert after["previous"] == before["version"]
    assert alias_version(SEG, "previous") == promotions[-1]["previous"]


@pytest.mark.slow
def test_without_the_lock_the_same_race_is_caught(tmp_path):
    """The test above can fail for the right reason: with the lock replaced by nothing, B gets in while A is inside
    and both promotions record the same @previous (a broken chain)."""
    _, marks = _race(tmp_path, locked=False)
    assert "b_in_while_a_inside" in marks
    promotions = [h for h in history(SEG) if h["action"] == "promote"]
    assert any(after["previous"] != before["version"] for before, after in zip(promotions, promotions[1:]))


def test_cli_promotes_a_real_segmentation_model_and_refuses_a_worse_one(tiny_preprocessed, tmp_path):
    from typer.testing import CliRunner

    from brats_mlops.cli.main import app
    from brats_mlops.config.schema import parse_params
    from brats_mlops.registry.segmentation import log_and_register
    from brats_mlops.training.segmentation import SegmentationTrainer
    from tests import builders
    from tests.conftest import TINY_SEG

    out, plans, split = tiny_preprocessed
    cfg = parse_params({"segmentation": {**TINY_SEG, "epochs": 1}, "preprocess": {"crop_size": [16, 16, 16]}}).segmentation
    SegmentationTrainer(cfg, out, split, plans.num_classes, plans.modalities, plans.crop_size, False, tmp_path / "ck", seed=0).fit()
    versions = []
    for d in (0.6, 0.5):
        with mlflow.start_run():
            versions.append(log_and_register(tmp_path / "ck" / "best.pt", seg_metrics(d), VALID)[1])
    case = next(builders.tiny_synthetic(tmp_path / "data", n_train=2, n_validation=0).rglob("BraTS20_Training_001"))
    runner = CliRunner()
    r = runner.invoke(app, ["promote", SEG, versions[0], "--sample-case", str(case)])
    assert r.exit_code == 0, r.output
    assert "loads: segmented BraTS20_Training_001" in r.output and "is now @champion" in r.output
    r = runner.invoke(app, ["promote", SEG, "--sample-case", str(case)])  # the @challenger: the worse v2
    assert r.exit_code == 1 and "does not beat champion" in r.output
    r = runner.invoke(app, ["models", SEG, "--history"])
    assert r.exit_code == 0 and "@champion" in r.output and "refused" in r.output
    assert str(MlflowClient().get_model_version_by_alias(SEG, "champion").version) == versions[0]
    tags = MlflowClient().get_registered_model(SEG).tags
    assert [json.loads(tags[k])["action"] for k in sorted(tags) if k.startswith("brats.history.")] == ["promote", "refused"]


def test_an_unknown_version_is_one_clear_refusal_listing_the_versions(tmp_path):
    with pytest.raises(PromotionRefused, match=f"{SEG} has no version 1: it has no versions yet"):
        promote(SEG, "1", root=tmp_path)
    v1 = make_version(SEG, seg_metrics(0.7))
    with pytest.raises(PromotionRefused, match=f"{SEG} has no version 99: its versions are {v1};"):
        promote(SEG, "99", root=tmp_path)
    assert history(SEG) == []  # nothing recorded for a version that does not exist


def test_history_lines_say_why_and_mark_overridden_gates(tmp_path):
    from brats_mlops.cli.models import history_line

    v1, v2 = (make_version(SEG, seg_metrics(d)) for d in (0.8, 0.7))
    promote(SEG, v1, root=tmp_path)
    with pytest.raises(PromotionRefused):
        promote(SEG, v2, root=tmp_path)
    promote(SEG, v2, force=True, reason="site B edema", root=tmp_path)
    lines = [history_line(h) for h in history(SEG)]
    assert "why: gates passed" in lines[0]
    assert "refused: better: dice_brats 0.7 does not beat champion" in lines[1] and "None" not in lines[1]
    assert "FORCED (overridden: better: dice_brats 0.7 does not beat" in lines[2] and lines[2].endswith("why: site B edema")


def test_a_version_description_is_its_model_card_with_the_gates_outcome(tmp_path):
    """Issue 27: the registry's version page answers "which data, how good, on which cases, which parent, which gates"."""
    with mlflow.start_run() as run:
        mlflow.log_metrics({"n_cases": 9, "dice_brats_std": 0.06})
        mlflow.set_tag("brats.metric_profile", "brats2023_gli")
        info = mlflow.pyfunc.log_model(name="m", python_model=Echo())
        v1 = register(info.model_uri, SEG, seg_metrics(0.8),
                      {**VALID, "brats.data_hash": "abc123", "brats.parent_model": "brats-segmentation", "brats.parent_version": "7"})
    client = MlflowClient()
    card = client.get_model_version(SEG, v1).description
    assert "> Trained on the platform's **synthetic** data" in card and "DVC hash of the data `abc123`" in card
    assert "On 9 held-out cases, official BraTS rule **brats2023_gli**" in card
    assert "| `dice_brats` | 0.8 | [0.7608, 0.8392] (normal approx.) |" in card    # 0.8 ± 1.96·0.06/3
    assert "`models:/brats-segmentation/7` (fine-tuned from it)" in card and "Not checked yet" in card
    # MLflow 3: the logged model carries the metrics it was registered with (the UI links them to the model)
    model = client.get_logged_model(info.model_id)
    assert {m.key: m.value for m in model.metrics}["dice_brats"] == 0.8 and model.source_run_id == run.info.run_id
    promote(SEG, v1, root=tmp_path)
    card = client.get_model_version(SEG, v1).description
    assert "**promoted to @champion**" in card and "- passed — data: passed (10 of 10 cases" in card
    assert "Not checked yet" not in card and card.count("## Promotion gates") == 1
    v2 = make_version(SEG, seg_metrics(0.7))
    with pytest.raises(PromotionRefused):
        promote(SEG, v2, root=tmp_path)
    card = client.get_model_version(SEG, v2).description
    assert "**refused**" in card and "- **failed** — better: dice_brats 0.7 does not beat champion" in card
