"""DVC stage `nnunet_prepare` (nnunet/dvc.yaml): the platform's split cases in nnU-Net's raw format, nnU-Net's
fingerprint (with its dataset integrity check), plans and preprocessing, and ``splits_final.json`` from the
platform's folds. The fingerprint, plans and dataset.json are the stage's MLflow artifacts."""

from __future__ import annotations

from brats_mlops.config import load_params
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import read_split, split_folds
from brats_mlops.names import STAGE_NNUNET_PREPARE, TAG_ABLATION_GROUP
from brats_mlops.nnunet import env
from brats_mlops.nnunet.export import export_dataset, plan_and_preprocess, write_splits
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_NNUNET_PREPARE)
    params = load_params()
    cfg, p = params.nnunet, params.paths
    env.configure(p, cfg, augmentation_workers=max(1, cfg.augmentation_workers))  # nnU-Net's planner sets torch's threads to it
    folds = split_folds(read_split(p.segmentation_split))
    with stage_run(STAGE_NNUNET_PREPARE, params, ["nnunet"], deps=[p.raw_manifest, p.segmentation_split],
                   tags={TAG_ABLATION_GROUP: cfg.ablation_group}) as run:
        cases = {c.case_id: c for c in discover(params.data.source, params.data.root, params.data.modalities).cases}
        raw = export_dataset(cases, folds, params.data.modalities, p, cfg)
        log.info("exported %d cases to %s; nnU-Net plans and preprocesses %s", len(list((raw / "labelsTr").iterdir())),
                 raw, cfg.configuration)
        pre = plan_and_preprocess(p, cfg)
        write_splits(folds, pre)
        summary = {"cases": len(list((raw / "labelsTr").iterdir())), "folds": len(folds),
                   "validation_cases": sum(len(f["val"]) for f in folds)}
        dump_json(summary, p.metrics("nnunet_prepare"))
        run.log_metrics({k: v for k, v in summary.items()})
        for name in ("dataset_fingerprint.json", f"{env.PLANS}.json", "dataset.json", "splits_final.json"):
            run.log_artifact(pre / name, "nnunet")
        log.info("nnU-Net plans: %s", pre / f"{env.PLANS}.json")


if __name__ == "__main__":
    run_stage(main, STAGE_NNUNET_PREPARE)
