"""One source for names shared by DVC stages, MLflow experiments/runs/tags and the registry.

The UI, ``dvc exp show`` and the CLI agree because they all read these constants.
"""

from __future__ import annotations

# DVC stage names (dvc.yaml) — also the MLflow run names of the stages.
STAGE_SYNTHESIZE = "synthesize"
STAGE_VALIDATE = "validate"
STAGE_PREPROCESS = "preprocess"
STAGE_SPLIT = "split"
STAGE_TRAIN_SEG = "train_segmentation"
STAGE_EVAL_SEG = "evaluate_segmentation"
STAGE_BOTTLENECK_PCA = "bottleneck_pca"
STAGE_SEG_FEATURES = "segmentation_features"
STAGE_SURVIVAL = "survival"
STAGE_TRAIN_AE = "train_autoencoder"
STAGE_EXTRACT_LATENTS = "extract_latents"
STAGE_REPORT = "report"
# the 2-D slice systems of seeds 001/004 (slices/dvc.yaml)
STAGE_TRAIN_SEG_2D = "train_segmentation_2d"
STAGE_EVAL_SEG_2D = "evaluate_segmentation_2d"
STAGE_SURVIVAL_2D = "survival_2d"
STAGE_REPORT_2D = "report_2d"
# nnU-Net v2 on the platform's split (nnunet/dvc.yaml)
STAGE_NNUNET_PREPARE = "nnunet_prepare"
STAGE_NNUNET_TRAIN = "nnunet_train"
STAGE_NNUNET_EVAL = "nnunet_evaluate"
STAGE_REPORT_NNUNET = "report_nnunet"

# One MLflow experiment per branch of the pipeline.
EXPERIMENTS = {
    "data": "brats-data",
    "segmentation": "brats-segmentation",
    "autoencoder": "brats-autoencoder",
    "survival": "brats-survival",
}
STAGE_BRANCH = {
    STAGE_SYNTHESIZE: "data",
    STAGE_VALIDATE: "data",
    STAGE_PREPROCESS: "data",
    STAGE_SPLIT: "data",
    STAGE_TRAIN_SEG: "segmentation",
    STAGE_EVAL_SEG: "segmentation",
    STAGE_BOTTLENECK_PCA: "segmentation",
    STAGE_SEG_FEATURES: "survival",
    STAGE_SURVIVAL: "survival",
    STAGE_TRAIN_AE: "autoencoder",
    STAGE_EXTRACT_LATENTS: "autoencoder",
    STAGE_REPORT: "data",
    STAGE_TRAIN_SEG_2D: "segmentation",
    STAGE_EVAL_SEG_2D: "segmentation",
    STAGE_SURVIVAL_2D: "survival",
    STAGE_REPORT_2D: "data",
    STAGE_NNUNET_PREPARE: "segmentation",
    STAGE_NNUNET_TRAIN: "segmentation",
    STAGE_NNUNET_EVAL: "segmentation",
    STAGE_REPORT_NNUNET: "data",
}

# Registered model names.
MODEL_SEGMENTATION = "brats-segmentation"
MODEL_AUTOENCODER = "brats-autoencoder"
MODEL_SURVIVAL = "brats-survival"
MODEL_SEGMENTATION_2D = "brats-segmentation-2d"
MODEL_SURVIVAL_2D = "brats-survival-2d"
MODEL_SEGMENTATION_NNUNET = "brats-segmentation-nnunet"

# Tags.
TAG_STAGE = "brats.stage"
TAG_GIT_COMMIT = "brats.git_commit"
TAG_GIT_DIRTY = "brats.git_dirty"
TAG_DATA_HASH_PREFIX = "brats.data_hash."
TAG_ABLATION_GROUP = "brats.ablation_group"
TAG_DVC_EXP = "brats.dvc_exp"
TAG_ERROR = "brats.error"
TAG_STATUS = "brats.status"  # ok | skipped (a stage with nothing to do on this data, and why)
TAG_STATUS_REASON = "brats.status_reason"
TAG_SURVIVAL_STATUS = "brats.survival_status"  # on the split run: ok | skipped
TAG_TRAIN_RUN = "brats.train_run_id"
TAG_AE_VERSION = "brats.autoencoder_version"  # on brats-survival versions: the autoencoder version they need
TAG_REGISTERED_VERSION = "brats.registered_version"  # on a stage run: the model version it registered
TAG_AE_RUN = "brats.autoencoder_run_id"
TAG_EDITION = "brats.edition"  # on every stage run: the dataset edition (data/editions.py; data.source resolved)
TAG_FAMILY = "brats.family"  # on a segmentation family's train/evaluate runs: its key (3d, 2d, nnunet, ...; families/)
TAG_METRIC_PROFILE = "brats.metric_profile"  # on evaluation runs: the official scoring rule (metrics/profiles.py)
TAG_THREADS = "brats.threads"  # on a stage run: the torch/OpenMP threads it computed with
TAG_STARTUP = "brats.startup_s"  # on a stage run: seconds from its process's start to the start of its work
TAG_REPRODUCIBLE = "brats.reproducible"  # false: the thread count was not the declared runtime.threads (auto, BRATS_THREADS)
TAG_DATA_HASH = "brats.data_hash"  # on registered model versions: hash of the preprocessed data they were trained on
TAG_PREFIX = "brats."  # + a parent model's lineage keys on a fine-tuned model's runs and versions (transfer learning)
TAG_FOLD = "brats.fold"  # on a k-fold training's nested runs
TAG_STUDY = "brats.study"  # Optuna: on a study's runs and trials
TAG_TRIAL = "brats.trial_number"
TAG_STUDY_STORAGE = "brats.study_storage"
TAG_WORKER = "brats.worker"
TAG_RETRY_OF_TRIAL = "brats.retry_of_trial"
TAG_TRIAL_STATE = "brats.trial_state"  # COMPLETE | PRUNED
TAG_DATA_VALIDATION = "brats.data_validation"  # on registered versions: the validate stage's verdict on their data
TAG_HISTORY_PREFIX = "brats.history."  # on registered versions: their promotion history
TAG_PROMOTED = "brats.promoted"
TAG_FEATURE_SET = "brats.feature_set"  # survival: the feature set of a nested run / registered version
TAG_WITH_AGE = "brats.with_age"
TAG_TTA = "brats.tta"  # nnU-Net versions: mirroring at prediction
TAG_FOLDS = "brats.folds"
TAG_NETWORK = "brats.network"
TAG_EVALUATE_TTA = "brats.evaluate_tta"  # 3-D versions: whether TTA produced their registered metrics
TAG_ENSEMBLE = "brats.ensemble"  # 3-D versions: how many folds their prediction averages
TAG_N_TRAIN = "brats.n_train"
TAG_N_VAL = "brats.n_val"

# Modalities: internal names (BraTS 2020 spelling) in the canonical channel order.
MODALITIES = ("t1", "t1ce", "t2", "flair")
