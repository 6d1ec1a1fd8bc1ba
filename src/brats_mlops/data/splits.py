"""Patient-level splits: segmentation train/validation, and the survival cohort with its targets.

Survival targets
    ``binary``: 1 = long survivor (``survival_days >= threshold_days``, 370 by default), 0 = short.
    ``challenge3``: the BraTS challenge's classes 0 short (< 300 d), 1 mid (300–450 d), 2 long (> 450 d).
    ``quantile``: ``n_quantiles`` equal-frequency bins of the cohort's survival days (death or censoring time).
    A censored entry (``ALIVE (N days later)``) is a known class only when N already reaches the class it
    would fall in at the least (e.g. alive at 400 d ⇒ long for the binary split); otherwise its class is
    unknown and the case leaves the cohort, with that reason.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brats_mlops.config.schema import SplitParams, SurvivalSplitParams
from brats_mlops.errors import StageError


def min_cases_to_split(val_fraction: float, test_fraction: float) -> int:
    """Labelled cases needed for at least one training, one validation (and one test) case."""
    return 3 if test_fraction > 0 else 2


def segmentation_split(case_ids: list[str], val_fraction: float, seed: int, test_fraction: float = 0.0,
                       folds: int = 1) -> dict[str, Any]:
    """Seeded patient-level split of labelled cases into train / val (picks the checkpoint) / test (scored once);
    each id lands in exactly one set. ``test_fraction`` 0 gives no test set (``test`` is then empty).

    ``folds`` k > 1 (``segmentation.folds``): k-fold cross-validation over the non-test cases, as nnU-Net's
    ``splits_final.json`` — ``folds`` is a list of k ``{"train", "val"}`` whose validation parts partition those
    cases; the top-level ``train``/``val`` are fold 0. The test cases are the same for every fold."""
    ids = sorted(set(case_ids))
    need = min_cases_to_split(val_fraction, test_fraction)
    if len(ids) < need:
        raise StageError(
            f"segmentation split needs at least {need} labelled cases that passed validation (train, validation"
            + (", test" if test_fraction > 0 else "") + f"), got {len(ids)}: {ids}. Add cases"
            + (" or set split.test_fraction: 0" if test_fraction > 0 else "") + " (see reports/data_validation.md for quarantined ones)")
    rng = np.random.default_rng(seed)
    order = [ids[i] for i in rng.permutation(len(ids))]
    n_test = min(max(1, int(round(test_fraction * len(ids)))), len(ids) - 2) if test_fraction > 0 else 0
    n_val = min(max(1, int(round(val_fraction * len(ids)))), len(ids) - n_test - 1)
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    if folds <= 1:
        return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}
    pool = order[n_test:]
    if len(pool) < 2 * folds:
        raise StageError(f"segmentation.folds={folds} needs at least {2 * folds} non-test cases (one validation case per "
                         f"fold and more to train on), got {len(pool)}: lower segmentation.folds or add cases")
    parts = [sorted(pool[i::folds]) for i in range(folds)]
    kfold = [{"train": sorted(c for j, part in enumerate(parts) if j != i for c in part), "val": parts[i]} for i in range(folds)]
    return {"train": kfold[0]["train"], "val": kfold[0]["val"], "test": sorted(test), "folds": kfold}


def split_folds(split: dict[str, Any]) -> list[dict[str, list[str]]]:
    """The split's cross-validation folds: ``folds`` when ``segmentation.folds`` > 1, else one fold (train/val)."""
    return split.get("folds") or [{"train": list(split["train"]), "val": list(split["val"])}]


def survival_edges(cfg: SurvivalSplitParams, days: np.ndarray) -> list[float]:
    if cfg.target == "binary":
        return [cfg.threshold_days]
    if cfg.target == "challenge3":
        return list(cfg.class_edges)
    qs = np.quantile(days, np.linspace(0, 1, cfg.n_quantiles + 1)[1:-1])
    return [float(q) for q in qs]


def assign_class(days: float, event: int, edges: list[float]) -> int | None:
    """Class index of ``days`` (bins ``[-inf, e0), [e0, e1), ...``); None if censored before its class is known."""
    k = int(np.searchsorted(edges, days, side="right"))
    if event == 1 or k == len(edges):
        return k
    return None  # censored below the top class: the true class may be higher


CLINICAL_COLUMNS = ["case_id", "age", "survival_days", "event", "resection", "usable"]


def read_clinical(path) -> pd.DataFrame:
    """``data/validation/clinical.csv`` as a table; a dataset without a survival table gives an empty one."""
    try:
        df = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        df = pd.DataFrame(columns=CLINICAL_COLUMNS)
    for c in CLINICAL_COLUMNS:
        if c not in df.columns:
            df[c] = pd.Series(dtype=float if c in ("age", "survival_days", "event") else object)
    return df


def survival_cohort(clinical: pd.DataFrame, eligible_ids: set[str], cfg: SurvivalSplitParams, seed: int,
                    cv_folds: int = 5) -> tuple[pd.DataFrame, list[dict[str, Any]], list[float], str | None]:
    """Labels and a stratified train/test split for the survival cohort.

    Args:
        clinical: parsed survival rows (``data/validation/clinical.csv``): case_id, age, survival_days, event,
            resection, usable (empty for datasets without a survival table).
        eligible_ids: cases in the cohort after validation (imaging passed and clinical usable).
        cv_folds: the stratified CV of the survival stage, which needs this many training patients per class.

    Returns:
        (cohort table with ``label`` and ``subset``, excluded cases with reasons, class edges, ``unusable``):
        ``unusable`` is None when the cohort supports the split and the CV, else the reason it does not (the
        cohort table then has no ``subset`` split and the survival branch must not run).
    """
    df = clinical[clinical.case_id.isin(eligible_ids)].copy()
    excluded: list[dict[str, Any]] = []
    if cfg.gtr_only:
        keep = df.resection.fillna("") == "GTR"
        excluded += [{"case_id": c, "reason": "survival.gtr_only: resection is not GTR"} for c in df.case_id[~keep]]
        df = df[keep]
    edges = survival_edges(cfg, df.survival_days.to_numpy(dtype=float)) if len(df) else []
    labels = [assign_class(d, int(e), edges) for d, e in zip(df.survival_days, df.event)]
    unknown = [lab is None for lab in labels]
    excluded += [
        {"case_id": c, "reason": f"censored (alive at {d:g} days) before its class is known (edges {edges})"}
        for c, d, u in zip(df.case_id, df.survival_days, unknown) if u
    ]
    df = df.loc[~np.array(unknown, dtype=bool)].copy()
    df["label"] = pd.Series([lab for lab in labels if lab is not None], index=df.index, dtype=int)
    df = df.sort_values("case_id").reset_index(drop=True)
    df["subset"] = ""
    reason = cohort_problem(df.label.to_numpy(dtype=int), cfg.test_fraction, cv_folds)
    if reason is None:
        from sklearn.model_selection import train_test_split  # here: every stage reads splits, one makes them

        tr, te = train_test_split(df.case_id, test_size=cfg.test_fraction, random_state=seed, stratify=df.label)
        df["subset"] = np.where(df.case_id.isin(set(te)), "test", "train")
        train_counts = df.label[df.subset == "train"].value_counts()
        if train_counts.min() < cv_folds:
            reason = (f"{cv_folds}-fold stratified CV (survival.cv_folds) needs >= {cv_folds} training patients per class; "
                      f"after the test split the training classes have {_counts(df.label[df.subset == 'train'])}")
            df["subset"] = ""
    return df, excluded, edges, reason


def _counts(labels) -> str:
    vc = pd.Series(labels).value_counts().sort_index()
    return "{" + ", ".join(f"class {int(k)}: {int(v)}" for k, v in vc.items()) + "}"


def cohort_problem(labels: np.ndarray, test_fraction: float, cv_folds: int) -> str | None:
    """Why a cohort with these class labels cannot be split (stratified) and cross-validated; None if it can."""
    n = len(labels)
    if n == 0:
        return "no case has a usable survival class"
    classes = np.unique(labels)
    if len(classes) < 2:
        return f"all {n} case(s) with a known survival class are in class {int(classes[0])}: nothing to classify"
    n_test = int(np.ceil(test_fraction * n))
    per_class = pd.Series(labels).value_counts()
    if per_class.min() < 2 or n_test < len(classes) or n - n_test < len(classes):
        return (f"a stratified {1 - test_fraction:.0%}/{test_fraction:.0%} split (split.survival.test_fraction) of {n} case(s) "
                f"with classes {_counts(labels)} cannot put every class in both train and test")
    need = int(np.ceil(cv_folds / (1 - test_fraction)))
    if per_class.min() < need:
        return (f"{cv_folds}-fold stratified CV (survival.cv_folds) needs >= {cv_folds} training patients per class "
                f"(about {need} per class before the {test_fraction:.0%} test split); the cohort has {_counts(labels)}")
    return None


def time_to_event_cohort(clinical: pd.DataFrame, eligible_ids: set[str], cohort: pd.DataFrame, gtr_only: bool = False) -> pd.DataFrame:
    """Every eligible patient with a survival time, censored ones included (``event`` 0 = alive at
    ``survival_days``), for time-to-event models. Patients in the classification test split keep
    ``subset == "test"``; everyone else (censored cases whose class is unknown included) is ``train``."""
    df = clinical[clinical.case_id.isin(eligible_ids)].copy()
    if gtr_only:
        df = df[df.resection.fillna("") == "GTR"]
    df = df[np.isfinite(df.survival_days.to_numpy(dtype=float))]
    test = set(cohort.case_id[cohort.subset == "test"])
    df["subset"] = np.where(df.case_id.isin(test), "test", "train")
    return df[["case_id", "age", "survival_days", "event", "subset"]].sort_values("case_id").reset_index(drop=True)


def survival_skip_reason(splits_dir) -> str | None:
    """Why the survival branch is skipped on this data (``data/splits/survival.json``), or None when it runs."""
    info = json.loads((Path(splits_dir) / "survival.json").read_text())
    return info.get("reason") if info.get("status") == "skipped" else None


def read_split(path: str | Path) -> dict[str, list[str]]:
    """A split file written by the split stage (``{"train": [...], "val": [...], "test": [...]}``)."""
    path = Path(path)
    if not path.is_file():
        raise StageError(f"split file {path} is missing; run the split stage first (dvc repro split)")
    return json.loads(path.read_text())


def exclusion_summary(cases: pd.DataFrame, excluded: list[dict]) -> str:
    """'3 no row in survival_info.csv; 1 Age is empty ...' over labelled, passed cases outside the cohort."""
    why: Counter = Counter()
    lab = cases[(cases.role == "labelled") & (cases.verdict == "passed") & ~cases.survival_cohort.astype(bool)]
    for r in lab.clinical_reasons.fillna(""):
        why[str(r).split(" | ")[0].split("] ")[-1] or "no survival data"] += 1
    for e in excluded:
        why[e["reason"].split(" (")[0]] += 1
    return "; ".join(f"{n} {reason}" for reason, n in why.most_common()) or "none"


@dataclass
class Splits:
    """Everything the split stage writes: the segmentation split, the survival cohort (empty when skipped), the
    time-to-event cohort, ``survival.json`` (status, reason, target, edges, exclusions) and the stage metrics."""

    segmentation: dict[str, list[str]]
    cohort: pd.DataFrame
    tte: pd.DataFrame
    info: dict[str, Any]

    @property
    def reason(self) -> str | None:
        return self.info["reason"]

    def metrics(self) -> dict[str, Any]:
        seg, cohort, tte = self.segmentation, self.cohort, self.tte
        return {
            "seg_train": len(seg["train"]), "seg_val": len(seg["val"]), "seg_test": len(seg["test"]),
            "survival_status": self.info["status"], "survival_reason": self.reason,
            "survival_train": int((cohort.subset == "train").sum()), "survival_test": int((cohort.subset == "test").sum()),
            "survival_excluded": len(self.info["excluded"]), "time_to_event_patients": len(tte),
            "time_to_event_censored": int((tte.event == 0).sum()),
            "survival_classes": {str(k): int(v) for k, v in cohort.label.value_counts().sort_index().items()},
        }

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "segmentation.json").write_text(json.dumps(self.segmentation, indent=1) + "\n")
        self.cohort.to_csv(out / "survival.csv", index=False)
        self.tte.to_csv(out / "survival_tte.csv", index=False)
        (out / "survival.json").write_text(json.dumps(self.info, indent=1) + "\n")


def make_splits(labelled_ids: list[str], all_ids: set[str], cases: pd.DataFrame, clinical: pd.DataFrame, cfg: SplitParams,
                survival_enabled: bool | str, cv_folds: int, seg_folds: int = 1) -> Splits:
    """The segmentation split (always) and the survival cohort, or the reason the survival branch is skipped
    (``survival.enabled: auto``); with ``survival.enabled: true`` an unusable cohort is a :class:`StageError`."""
    seg = segmentation_split(labelled_ids, cfg.val_fraction, cfg.seed, cfg.test_fraction, seg_folds)
    eligible = set(cases.loc[cases.survival_cohort.astype(bool), "case_id"]) & all_ids
    cohort, excluded, edges, problem = survival_cohort(clinical, eligible, cfg.survival, cfg.seed, cv_folds)
    if survival_enabled is False:
        reason = "survival.enabled: false"
    elif problem:
        reason = (f"{len(cohort)} of {len(labelled_ids)} labelled cases have a usable survival class: {problem}. "
                  f"Excluded: {exclusion_summary(cases, excluded)}")
        if survival_enabled is True:
            raise StageError(f"survival.enabled is true but the survival cohort is unusable: {reason}. Add survival data, "
                             "lower survival.cv_folds or split.survival.test_fraction, or set survival.enabled: auto "
                             "(skip the survival branch) or false")
    else:
        reason = None
    if reason:
        cohort = cohort.iloc[0:0]
    tte = time_to_event_cohort(clinical, eligible if not reason else set(), cohort, cfg.survival.gtr_only)
    info = {"status": "skipped" if reason else "ok", "reason": reason, "target": cfg.survival.target, "edges": edges,
            "excluded": excluded}
    return Splits(seg, cohort, tte, info)
