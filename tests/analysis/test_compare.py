import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from brats_mlops.analysis.compare import bootstrap_mean_ci, compare_runs, load_group
from brats_mlops.cli.main import app
from brats_mlops.names import EXPERIMENTS, STAGE_EVAL_SEG, STAGE_EVAL_SEG_2D, TAG_ABLATION_GROUP, TAG_METRIC_PROFILE, TAG_STAGE, TAG_TRAIN_RUN


def _fake_ablation(tmp_path, group, betas_and_shift, data_hash=None, stage=STAGE_EVAL_SEG, profile=None):
    client = mlflow.tracking.MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENTS["segmentation"])  # not set_experiment: that is process-wide state
    if exp is None:
        exp = client.get_experiment(client.create_experiment(EXPERIMENTS["segmentation"]))
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.9, 12)
    for beta, shift in betas_and_shift:
        with mlflow.start_run(experiment_id=exp.experiment_id, run_name="train_segmentation") as tr:
            mlflow.log_params({"segmentation.loss.ce_beta": beta, "segmentation.epochs": 6} if stage == STAGE_EVAL_SEG
                              else {"slices2d.model": "resnet18_unet", "slices2d.lr": beta})
        d = np.clip(base + shift + rng.normal(0, 0.01, 12), 0, 1)
        cases = pd.DataFrame({"case_id": [f"c{i}" for i in range(12)], "dice_wt": d, "dice_tc": d, "dice_et": d, "dice_brats": d,
                              "hd95_wt": 5 - shift, "hd95_tc": 5.0, "hd95_et": 5.0})
        d_ = tmp_path / f"{group}_{beta}_{data_hash}_{profile}"
        d_.mkdir()
        cases.to_csv(d_ / "cases.csv", index=False)
        ck = "models/segmentation" if stage == STAGE_EVAL_SEG else "models/segmentation_2d"
        with mlflow.start_run(experiment_id=exp.experiment_id, run_name=stage,
                              tags={TAG_ABLATION_GROUP: group, TAG_STAGE: stage, TAG_TRAIN_RUN: tr.info.run_id,
                                    **({TAG_METRIC_PROFILE: profile} if profile else {}),
                                    **({"brats.data_hash.data/raw/synthetic": data_hash,
                                        f"brats.data_hash.{ck}": f"{beta}.dir"} if data_hash else {})}):
            mlflow.log_artifact(str(d_ / "cases.csv"), "evaluation")


def test_bootstrap_mean_interval_known_case():
    m, lo, hi = bootstrap_mean_ci(np.full(10, 0.5))
    assert m == lo == hi == 0.5
    x = np.random.default_rng(0).normal(1.0, 1.0, 400)
    m, lo, hi = bootstrap_mean_ci(x)
    assert lo < m < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.2)


def test_compare_marks_the_known_best_and_tests_it_paired(tmp_path):
    _fake_ablation(tmp_path, "beta", [(0.0, -0.15), (0.5, 0.0), (1.0, -0.03)])
    _fake_ablation(tmp_path, "other", [(0.3, 0.0)])
    runs = load_group("beta")
    assert len(runs) == 3
    df = compare_runs(runs)
    assert df.loc[df.best, "loss.ce_beta"].item() == "0.5"
    assert list(df.columns[:5]) == ["run", "run_id", "cases", "network", "loss.ce_beta"]  # epochs did not vary: not a column
    p = dict(zip(df["loss.ce_beta"], df["p_vs_best_dice_brats"]))
    assert p["0.0"] < 0.01  # 0.15 worse on every case
    assert df.loc[df["loss.ce_beta"] == "0.0", "dice_brats"].item() == pytest.approx(runs[0].cases.dice_brats.mean())
    r = CliRunner().invoke(app, ["compare", "--group", "beta", "--out", str(tmp_path / "abl")])
    assert r.exit_code == 0, r.output
    assert "| **" in r.output and (tmp_path / "abl" / "beta.png").stat().st_size > 5000
    r = CliRunner().invoke(app, ["compare", "--group", "nope", "--out", str(tmp_path / "abl")])
    assert r.exit_code == 2 and "dvc exp run" in r.output


def test_compare_without_a_group_lists_the_groups_with_their_run_counts(tmp_path):
    r = CliRunner().invoke(app, ["compare"])
    assert r.exit_code == 2 and "no evaluated segmentation runs yet" in r.output
    _fake_ablation(tmp_path, "beta", [(0.0, 0.0), (0.5, 0.05)])
    _fake_ablation(tmp_path, "depth", [(0.0, 0.0)])
    r = CliRunner().invoke(app, ["compare"])
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in r.output.splitlines() if line.count("│") == 4}
    assert rows == {"beta": "2", "depth": "1"}


def test_runs_on_other_data_are_left_out_of_a_group_with_a_warning(tmp_path, caplog):
    _fake_ablation(tmp_path, "mixed", [(0.0, 0.0), (0.5, 0.05)], data_hash="old.dir")  # before a data change
    _fake_ablation(tmp_path, "mixed", [(0.2, 0.0), (0.7, 0.02)], data_hash="new.dir")
    with caplog.at_level("WARNING"):
        runs = load_group("mixed")
    assert len(runs) == 2 and {r.params["segmentation.loss.ce_beta"] for r in runs} == {"0.2", "0.7"}
    assert "left out 2 of 4 runs evaluated on other data" in caplog.text


def test_runs_scored_with_another_metric_profile_are_not_ranked_together(tmp_path, caplog):
    _fake_ablation(tmp_path, "prof", [(0.0, 0.0)], data_hash="d1")                       # before profiles: 2023-GLI
    _fake_ablation(tmp_path, "prof", [(0.5, 0.0)], data_hash="d1", profile="2023-GLI")
    _fake_ablation(tmp_path, "prof", [(0.7, 0.3)], data_hash="d1", profile="2023-MEN")   # the newest, another rule
    with caplog.at_level("WARNING"):
        runs = load_group("prof")
    assert [r.params["segmentation.loss.ce_beta"] for r in runs] == ["0.7"] and "metric profile" in caplog.text
    _fake_ablation(tmp_path, "prof", [(0.9, 0.0)], data_hash="d1", profile="2023-GLI")   # GLI newest again: the GLI runs
    assert [r.params["segmentation.loss.ce_beta"] for r in load_group("prof")] == ["0.0", "0.5", "0.9"]


def test_two_groups_put_the_2d_model_beside_the_3d_one_on_the_same_data(tmp_path):
    _fake_ablation(tmp_path, "default", [(0.5, 0.0)], data_hash="d1")
    _fake_ablation(tmp_path, "slices2d", [(0.001, 0.05)], data_hash="d1", stage=STAGE_EVAL_SEG_2D)
    runs = load_group(["default", "slices2d"])
    assert len(runs) == 2  # the checkpoint folders differ (segmentation vs segmentation_2d); the data does not
    df = compare_runs(runs)
    assert df.network.tolist() == ["3-D ?", "2-D resnet18_unet"] and df.loc[df.best, "network"].item() == "2-D resnet18_unet"
    assert "loss.ce_beta" not in df.columns  # only in the 3-D run: the runs differ by network, not by each other's params
