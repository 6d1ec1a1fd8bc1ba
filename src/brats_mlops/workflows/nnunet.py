"""The ``nnunet_train`` stage (nnunet/dvc.yaml): nnU-Net's trainer on each fold of ``nnunet.folds``, every epoch in the
stage's MLflow run as it ends (``fold<k>/`` prefixed when there are several folds); a killed training resumes from
nnU-Net's ``checkpoint_latest.pth`` in the same MLflow run. nnU-Net's training log and progress plot are artifacts."""

from __future__ import annotations

from brats_mlops.config.schema import Params
from brats_mlops.names import STAGE_NNUNET_TRAIN, TAG_ABLATION_GROUP
from brats_mlops.nnunet import env
from brats_mlops.nnunet.trainer import killed_run, train_fold
from brats_mlops.tracking.runs import TrainingRun
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def train_nnunet(params: Params) -> None:
    log = stage_logger(STAGE_NNUNET_TRAIN)
    cfg, p = params.nnunet, params.paths
    env.configure(p, cfg)
    pre = env.preprocessed_dataset(p, cfg)
    with TrainingRun(STAGE_NNUNET_TRAIN, params, ["seed", "nnunet"], deps=[pre], tags={TAG_ABLATION_GROUP: cfg.ablation_group},
                     key="train_loss" if len(cfg.folds) == 1 else f"fold{cfg.folds[0]}/train_loss") as run:
        summary: dict[str, float] = {}
        resume_run = killed_run(p, cfg)
        if resume_run:
            log.info("resuming the killed nnU-Net training of MLflow run %s from its checkpoints", resume_run)
        for fold in cfg.folds:
            prefix = "" if len(cfg.folds) == 1 else f"fold{fold}/"
            run.key = f"{prefix}train_loss"
            log.info("nnU-Net %s fold %d: %d epochs of %d iterations", cfg.configuration, fold, cfg.epochs, cfg.iterations_per_epoch)
            fold_dir, resumed, seconds = train_fold(p, cfg, fold, run.start, lambda r, e: run.log_epoch({prefix + k: v for k, v in r.items()}, e),
                                                    run.logged_epochs, resume_run, seed=params.seed)
            summary |= {f"{prefix}train_time_s": seconds, f"{prefix}resumed": float(resumed)}
            for f in sorted(fold_dir.glob("training_log_*.txt")) + [fold_dir / "progress.png"]:
                run.log_artifact(f, f"nnunet/fold_{fold}")
        run.log_artifact(fold_dir.parent / "plans.json", "nnunet")
        if len(cfg.folds) > 1:
            summary["train_time_s"] = sum(v for k, v in summary.items() if k.endswith("/train_time_s"))
        run.log_metrics(summary)
        # the committed metrics file stays the same on every machine: the wall times are in the MLflow run only
        dump_json({"epochs": cfg.epochs, "iterations_per_epoch": cfg.iterations_per_epoch, "folds": list(cfg.folds)},
                  p.metrics("nnunet_train"))
        log.info("trained nnU-Net folds %s in %s (run %s)", list(cfg.folds), fold_dir.parent, run.run_id)
