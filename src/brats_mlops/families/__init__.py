"""Model families: one module per segmentation family, one registry of them.

A *family* is everything the platform needs to know about one kind of segmentation model: how to build its network
from the model config stored in a checkpoint (``model_config["kind"]`` names the family), how to train it, how it
predicts a case (a ``(C, H, W, D)`` array → internal labels in the case's geometry; TTA and ensembling where the
family supports them), its params section, where its checkpoints and metrics go, its stages, its registered model
name and promotion gates, and how ``compare`` names it. Everything else (checkpoint loading, inference, the one
evaluation path, the registry, ``promote``, ``predict``, the viewer, ``compare``) looks a family up here; nothing
outside the family modules switches on the kind of a model.

The families are the modules of this package that define ``FAMILY`` (``volumetric``: the platform's 3-D networks;
``slices``: the 2-D slice models of seeds 001/004; ``nnunet``: nnU-Net v2), plus any installed package that declares
an entry point in the ``brats_mlops.families`` group. Adding a family is one new module here (and its params section
in ``params.yaml``); ``docs/how-to/add-a-model-family.md`` walks through one.

This module stays light (no torch, no MLflow): lower layers import it to look a family up; the family modules, which
import the layers they compose, are loaded on the first lookup.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from brats_mlops.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

Params = Any  # brats_mlops.config.schema.Params (not imported: the schema looks families up for their sections)

ENTRY_POINT_GROUP = "brats_mlops.families"
DEFAULT_KIND = "3d"  # checkpoints written before families stored their kind are the platform's 3-D networks


@dataclass(frozen=True)
class Gates:
    """What ``promote`` requires of a registered version (``registry/promotion.py``)."""

    primary: str = "dice_brats"  # the mean Dice over the edition's scored regions: one gate fits every edition
    higher_is_better: bool = True
    required: tuple[str, ...] = ("dice_brats",)


@dataclass
class Evaluated:
    """A trained model ready to be scored by the one evaluation path (``workflows/evaluate.py``)."""

    predict: Callable[["np.ndarray", tuple[float, ...]], "np.ndarray"]  # (C, H, W, D) images, spacing → internal labels
    modalities: tuple[str, ...]
    train_run: str | None  # the MLflow run that trained it
    epoch: int  # the checkpoint's epoch (the best one, or the last)
    description: str  # for the log line: which checkpoint(s), which settings
    register: Callable[[dict[str, float], str | None, str], tuple[str, str]]  # (key metrics, train run, group) → uri, version
    version_tags: dict[str, str]  # what else the registered version says (e.g. evaluated with TTA, ensemble size)
    deps: list[Path]  # the model's files (lineage: their hashes on the evaluation run)
    figure_channel: int = 0  # the input channel the overlays show


class SegmentationFamily:
    """The interface every segmentation family implements (``families/checkpoints.py``'s ``CheckpointFamily`` for a
    family trained by the platform into checkpoints, ``best.pt``/``last.pt`` under ``models/segmentation_<key>``)."""

    key: str = ""  # short name: `brats-mlops predict --model <key>`, the CLI's and the docs' name of the family
    kind: str = ""  # model_config["kind"] in its checkpoints
    title: str = ""  # how `compare` and the viewer name it ("3-D", "2-D", "nnU-Net v2")
    description: str = ""  # one line for `brats-mlops families`
    section: str = ""  # its params section (params.yaml)
    params_model: type | None = None  # the pydantic model of a section that is not built into config/schema.py
    registered_name: str = ""  # the registered model (models:/<name>@champion)
    survival_model: str | None = None  # the survival model `predict --age` pairs with it
    train_stage: str = ""
    eval_stage: str = ""
    metrics_name: str = ""  # metrics/<name>.json and reports/<name>/ of its evaluation
    eval_sections: tuple[str, ...] = ()  # params sections logged on its evaluation run
    supports_tta: bool = False  # mirroring test-time augmentation at prediction
    supports_ensemble: bool = False  # several registered versions averaged (`predict --ensemble`)
    class_scores: bool = False  # seed 004's per-class Dice/IoU with background and pixel accuracy in its evaluation
    spatial_dims: int = 3  # of its network's input (2: slice by slice)
    gates: Gates = Gates()

    def __init__(self) -> None:
        self.key = self.key or self.kind
        self.section = self.section or self.key
        self.registered_name = self.registered_name or f"brats-segmentation-{self.key}"
        self.train_stage = self.train_stage or f"train_segmentation_{self.key}"
        self.eval_stage = self.eval_stage or f"evaluate_segmentation_{self.key}"
        self.metrics_name = self.metrics_name or f"segmentation_{self.key}"
        self.eval_sections = self.eval_sections or (self.section,)
        self.title = self.title or self.key

    # --- params and places -------------------------------------------------------------------------------------------
    def config(self, params: Params) -> Any:
        """The family's params section (its defaults when ``params.yaml`` has none)."""
        cfg = getattr(params, self.section, None)
        if cfg is None and self.params_model is not None:
            return self.params_model()
        return cfg if cfg is not None else getattr(params, self.section)

    def checkpoint_dir(self, params: Params) -> Path:
        return Path(params.paths.models_dir) / self.metrics_name

    def predicts_with(self) -> str:
        """What its prediction supports (`brats-mlops families`)."""
        return ", ".join(x for x, on in (("mirroring TTA", self.supports_tta), ("ensembles", self.supports_ensemble)) if on) or "-"

    def network(self, run_params: dict[str, str]) -> str:
        """How ``compare`` names one evaluation run's network (``run_params``: the run's logged params)."""
        return f"{self.title} {run_params.get(f'{self.section}.model', '?')}"

    # --- the model ---------------------------------------------------------------------------------------------------
    def build(self, mc: dict[str, Any]) -> "torch.nn.Module":
        """The network a model config describes (families trained into checkpoints)."""
        raise NotImplementedError(f"the {self.key} family does not build networks from checkpoints")

    def predict_labels(self, models: list["torch.nn.Module"], images: "np.ndarray", mc: dict[str, Any],
                       device: Any = "cpu", overlap: float | None = None, tta: str | None = None) -> "np.ndarray":
        """(C, H, W, D) raw intensities → (H, W, D) uint8 internal labels of ``mc["label_scheme"]``."""
        raise NotImplementedError

    # --- training and evaluation -------------------------------------------------------------------------------------
    def train(self, params: Params, run: Any, history_path: Path | None = None, parent: Any = None) -> Any:
        """Train (or resume) into :meth:`checkpoint_dir`; returns a ``training.loop.Trained`` (``parent``: the weights
        and lineage of the section's ``init_from``, resolved where the stage starts)."""
        raise NotImplementedError(f"the {self.key} family is trained by its own stage ({self.train_stage})")

    def evaluated(self, params: Params) -> Evaluated:
        """The trained model, ready for the one evaluation path (``families/checkpoints.py``: families trained into
        platform checkpoints)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<family {self.key}: {self.registered_name}>"


class UnknownFamily(UserError, KeyError):
    """A family key or kind that no family module defines; the message lists the families."""

    def __str__(self) -> str:
        return str(self.args[0])


_FAMILIES: dict[str, SegmentationFamily] = {}


def register_family(family: SegmentationFamily) -> SegmentationFamily:
    """Add ``family`` to the registry (family modules do not call this: ``FAMILY`` is found on discovery)."""
    for other in _FAMILIES.values():
        if other is not family and (other.key == family.key or other.kind == family.kind):
            raise ValueError(f"family {family.key!r} (kind {family.kind!r}) clashes with {other.key!r} (kind {other.kind!r})")
    _FAMILIES[family.key] = family
    return family


def _discover() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        fam = getattr(module, "FAMILY", None)
        if isinstance(fam, SegmentationFamily) and fam.key not in _FAMILIES:
            register_family(fam)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        fam = ep.load()
        if fam.key not in _FAMILIES:
            register_family(fam)


def families() -> list[SegmentationFamily]:
    """Every segmentation family, the built-in ones first (3-D, 2-D, nnU-Net)."""
    if not _FAMILIES:
        _discover()
    order = {"3d": 0, "2d": 1, "nnunet": 2}
    return sorted(_FAMILIES.values(), key=lambda f: (order.get(f.key, 3), f.key))


def reload() -> list[SegmentationFamily]:
    """Discover again (a family module added since the first lookup)."""
    _FAMILIES.clear()
    return families()


def get_family(key: str) -> SegmentationFamily:
    """The family ``key`` (``3d``, ``2d``, ``nnunet``, ...); an unknown one lists the valid keys."""
    for fam in families():
        if key in (fam.key, fam.kind):
            return fam
    raise UnknownFamily(f"unknown model family {key!r}; the families are {', '.join(f.key for f in families())} "
                        "(`brats-mlops families` describes them)")


def family_of(mc: dict[str, Any]) -> SegmentationFamily:
    """The family of a model config (``model_config["kind"]`` of a checkpoint)."""
    return get_family(mc.get("kind", DEFAULT_KIND))


def family_by_model(name: str) -> SegmentationFamily | None:
    """The family whose registered model is ``name`` (None: not a segmentation model)."""
    return next((f for f in families() if f.registered_name == name), None)


def section_models() -> dict[str, type]:
    """``{section: pydantic model}`` of the families whose params section is not built into ``config/schema.py``."""
    return {f.section: f.params_model for f in families() if f.params_model is not None}


def stage_branch(stage: str) -> str:
    """The MLflow experiment branch of a stage (``names.STAGE_BRANCH``; a family's own stages: segmentation)."""
    from brats_mlops.names import STAGE_BRANCH

    if stage in STAGE_BRANCH:
        return STAGE_BRANCH[stage]
    if any(stage in (f.train_stage, f.eval_stage) for f in families()):
        return "segmentation"
    raise KeyError(f"unknown stage {stage!r}: add it to names.STAGE_BRANCH")
