"""The paper's Appendix A classifier grids, each in a pipeline with StandardScaler (and optional PCA).

Everything fitted — scaler, PCA — is a step of the pipeline, so cross-validation fits it on the training
folds only.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

C_GRID = [0.01, 0.1, 1, 10]

# model name -> (estimator factory, grid over the estimator's params) — exactly Appendix A
APPENDIX_A: dict[str, tuple[Any, dict[str, list]]] = {
    # L2 penalty: l1_ratio=0 is scikit-learn 1.9's spelling of penalty="l2"
    "logistic_regression": (lambda seed: LogisticRegression(l1_ratio=0.0, max_iter=5000, random_state=seed), {"C": C_GRID}),
    # probability=False while searching (Platt scaling runs an internal 5-fold CV per fit); the registered
    # model is refitted with probability=True (see with_probabilities)
    "linear_svm": (lambda seed: SVC(kernel="linear", random_state=seed), {"C": C_GRID}),
    "rbf_svm": (lambda seed: SVC(kernel="rbf", random_state=seed), {"C": C_GRID, "gamma": ["scale", 0.001, 0.01]}),
    "random_forest": (lambda seed: RandomForestClassifier(random_state=seed),
                      {"n_estimators": [100, 200, 500], "max_depth": [None, 5, 10], "min_samples_leaf": [1, 3, 5]}),
    "gradient_boosting": (lambda seed: GradientBoostingClassifier(random_state=seed),
                          {"n_estimators": [100, 200], "learning_rate": [0.05, 0.1], "max_depth": [1, 2]}),
}


# CPU-sized variant (``survival.grid: fast``): the same models, fewer and smaller ensembles
FAST_OVERRIDES: dict[str, dict[str, list]] = {
    "random_forest": {"n_estimators": [100], "max_depth": [None, 5], "min_samples_leaf": [1, 3]},
    "gradient_boosting": {"n_estimators": [100], "learning_rate": [0.05, 0.1], "max_depth": [1, 2]},
}


def make_pipeline(model: str, seed: int = 0, pca: float | int | None = None, grid: str | dict = "paper",
                  pca_columns: int | None = None) -> tuple[Pipeline, dict[str, list]]:
    """``StandardScaler → [PCA] → classifier`` and its grid (keys prefixed for GridSearchCV).

    Args:
        pca: None, a variance share in (0, 1) (e.g. 0.9 for the slice profiles) or a component count (10 for
            the flattened latent).
        pca_columns: PCA only the first ``pca_columns`` columns (the imaging features) and pass the rest
            (age) through scaled; None: PCA over all columns.
        grid: "paper" (Appendix A), "fast" (CPU-sized), or ``{model: {param: value}}`` — one tuned point per model
            (``survival.grid: tuned``, written by the survival study).
    """
    if model not in APPENDIX_A:
        raise ValueError(f"unknown model {model!r}; valid models: {sorted(APPENDIX_A)}")
    factory, params = APPENDIX_A[model]
    if isinstance(grid, dict):
        if model not in grid:
            raise ValueError(f"survival.grid is 'tuned' but survival.tuned has no entry for {model!r}")
        params = {k: [v] for k, v in grid[model].items()}
    elif grid == "fast":
        params = FAST_OVERRIDES.get(model, params)
    steps: list[tuple[str, Any]] = []
    if pca is None:
        steps.append(("scale", StandardScaler()))
    elif pca_columns is None:
        steps += [("scale", StandardScaler()), ("pca", PCA(n_components=pca, random_state=seed))]
    else:
        reduce = Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=pca, random_state=seed))])
        steps += [("features", ColumnTransformer([("pca", reduce, slice(0, pca_columns)),
                                                  ("rest", StandardScaler(), slice(pca_columns, None))])),
                  ("scale", StandardScaler())]
    steps.append(("clf", factory(seed)))
    return Pipeline(steps), {f"clf__{k}": v for k, v in params.items()}


def with_probabilities(pipe: Pipeline) -> Pipeline:
    """A copy of a fitted-or-not pipeline whose SVC (if any) also estimates class probabilities."""
    out = clone(pipe)
    if isinstance(out.named_steps["clf"], SVC):
        out.set_params(clf__probability=True)
    return out
