"""Promotion through the model registry: ``champion`` only when the gates pass, ``previous`` kept, history recorded.

Gates for ``promote(name, version)``:
  1. **metrics** — the version carries its required metrics (``metric.<key>`` version tags);
  2. **better** — it beats the current champion on the primary metric (composite Dice ``dice_brats`` for
     segmentation, validation ``val_l1`` — lower is better — for the autoencoder, test ``macro_f1`` for survival),
     unless ``force`` with a reason, which is recorded;
  3. **data** — the data it was trained on passed validation (``brats.data_validation`` tag written at
     registration from ``metrics/data_validation.json``);
  4. **loads** — ``models:/<name>/<version>`` loads and predicts on a sample case with a sane answer.

Every promotion and rollback is a JSON record in a registered-model tag ``brats.history.<utc time>.<id>``
(who, when, action, version, previous champion, why, metrics, forced) — :func:`history` reads them back in
order. Promotions and rollbacks of one model hold a file lock in the project root, so two racing promotions
are serialised: each re-reads the champion inside the lock and the aliases end consistent with the history.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import math
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from brats_mlops.families import families
from brats_mlops.names import MODEL_AUTOENCODER, MODEL_SURVIVAL, MODEL_SURVIVAL_2D, TAG_DATA_VALIDATION, TAG_HISTORY_PREFIX, TAG_PROMOTED

CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous", "challenger"
HISTORY_PREFIX = TAG_HISTORY_PREFIX


@dataclass(frozen=True)
class ModelSpec:
    primary: str
    higher_is_better: bool
    required: tuple[str, ...]


SPECS: dict[str, ModelSpec] = {  # the models that are not segmentation families (those bring their own gates)
    MODEL_AUTOENCODER: ModelSpec("val_l1", False, ("val_l1",)),
    MODEL_SURVIVAL: ModelSpec("macro_f1", True, ("macro_f1", "cv_macro_f1")),
    MODEL_SURVIVAL_2D: ModelSpec("patient_majority_macro_f1", True, ("patient_majority_accuracy", "patient_majority_macro_f1")),
}


def specs() -> dict[str, ModelSpec]:
    """Every promotable model's gates: each segmentation family's (``families/``: by default ``dice_brats``, the mean
    over the edition's scored regions, so one gate fits every edition), then the autoencoder's and survival's."""
    fams = {f.registered_name: ModelSpec(f.gates.primary, f.gates.higher_is_better, tuple(f.gates.required)) for f in families()}
    return {**fams, **SPECS}


def model_names() -> list[str]:
    """Every registered model name the platform writes (segmentation families first)."""
    return list(specs())


class PromotionRefused(Exception):
    """A gate failed; the message names each failed gate and what to do."""


def _client():
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def spec(name: str) -> ModelSpec:
    known = specs()
    if name not in known:
        raise ValueError(f"unknown model {name!r}; promotable models: {', '.join(known)}")
    return known[name]


def version_metrics(name: str, version: str) -> dict[str, float]:
    from brats_mlops.registry.common import tag_metrics

    return tag_metrics(_client().get_model_version(name, str(version)).tags)


def require_version(name: str, version: str) -> None:
    """A :class:`PromotionRefused` naming the versions that exist when ``version`` of ``name`` does not."""
    client = _client()
    try:
        client.get_model_version(name, str(version))
    except Exception:  # MlflowException RESOURCE_DOES_NOT_EXIST (or no such registered model)
        have = sorted((int(mv.version) for mv in client.search_model_versions(f"name='{name}'")))
        listing = f"its versions are {', '.join(map(str, have))}" if have else "it has no versions yet (`make run` registers them)"
        raise PromotionRefused(f"{name} has no version {version}: {listing}; `brats-mlops models {name}` lists them") from None


def alias_version(name: str, alias: str) -> str | None:
    try:
        return str(_client().get_model_version_by_alias(name, alias).version)
    except Exception:  # alias not set
        return None


@contextmanager
def model_lock(name: str, root: Path | None = None, timeout: float = 120) -> Iterator[None]:
    from filelock import FileLock

    from brats_mlops.tracking import real_project_root

    d = (root or real_project_root()) / ".dvc" / "tmp" / "brats-locks"
    d.mkdir(parents=True, exist_ok=True)
    with FileLock(str(d / f"{name}.lock"), timeout=timeout):
        yield


def _record(name: str, entry: dict[str, Any]) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    entry = {"who": f"{getpass.getuser()}@{socket.gethostname()}", "when": now.isoformat(timespec="microseconds"), **entry}
    key = f"{HISTORY_PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}.{uuid.uuid4().hex[:6]}"
    _client().set_registered_model_tag(name, key, json.dumps(entry, default=str)[:5000])


def history(name: str) -> list[dict[str, Any]]:
    """Every promotion and rollback of ``name``, oldest first."""
    rm = _client().get_registered_model(name)
    items = sorted((k, v) for k, v in rm.tags.items() if k.startswith(HISTORY_PREFIX))
    return [json.loads(v) for _, v in items]


def better(name: str, new: float, old: float) -> bool:
    return new > old if spec(name).higher_is_better else new < old


def check_gates(name: str, version: str, force: bool, reason: str | None, sample_check: Callable[[str, str], str] | None
                ) -> tuple[list[str], list[str], dict[str, float], str | None]:
    """(failed gates, passed gates, the version's metrics, current champion)."""
    s = spec(name)
    client = _client()
    mv = client.get_model_version(name, str(version))
    metrics = version_metrics(name, version)
    failed, passed = [], []
    missing = [k for k in s.required if k not in metrics or not math.isfinite(metrics[k])]
    if missing:
        failed.append(f"metrics: version {version} lacks {missing} (version tags metric.<key>); it was not evaluated")
    else:
        passed.append(f"metrics: {', '.join(f'{k}={metrics[k]:.4g}' for k in s.required)}")
    champ = alias_version(name, CHAMPION)
    if champ == str(version):
        failed.append(f"better: version {version} already is @{CHAMPION}")
    elif champ is not None and s.primary in metrics:
        cm = version_metrics(name, champ).get(s.primary)
        op = ">" if s.higher_is_better else "<"
        if cm is not None and not better(name, metrics[s.primary], cm):
            msg = f"better: {s.primary} {metrics[s.primary]:.4g} does not beat champion v{champ}'s {cm:.4g} (needs {op})"
            if force:
                passed.append(msg + f" — overridden by --force: {reason}")
            else:
                failed.append(msg + "; use --force --reason '...' to promote anyway")
        else:
            passed.append(f"better: {s.primary} {metrics[s.primary]:.4g} {op} champion v{champ}'s {cm}")
    elif champ is None:
        passed.append("better: no current champion")
    dv = mv.tags.get(TAG_DATA_VALIDATION, "")
    if dv.startswith("passed"):
        passed.append(f"data: {dv}")
    else:
        failed.append(f"data: the training data's validation is not recorded as passed (tag {TAG_DATA_VALIDATION}={dv!r}); "
                      "rerun the pipeline so validate runs before training")
    if sample_check is not None:
        try:
            passed.append("loads: " + sample_check(name, str(version)))
        except Exception as err:  # any failure to load or predict refuses the promotion
            failed.append(f"loads: models:/{name}/{version} failed on the sample case: {type(err).__name__}: {err}")
    return failed, passed, metrics, champ


def promote(name: str, version: str, force: bool = False, reason: str | None = None,
            sample_check: Callable[[str, str], str] | None = None, root: Path | None = None) -> dict[str, Any]:
    """Set @champion on ``version`` when the gates pass (see module doc); the old champion becomes @previous.

    Raises :class:`PromotionRefused` naming the failed gates; the refusal is recorded in the history too.
    """
    if force and not (reason and reason.strip()):
        raise PromotionRefused("--force needs --reason: say why a model that fails a gate is promoted")
    version = str(version)
    require_version(name, version)
    with model_lock(name, root):
        failed, passed, metrics, champ = check_gates(name, version, force, reason, sample_check)
        if failed:
            _record(name, {"action": "refused", "version": version, "champion": champ, "failed": failed, "why": reason,
                           "metrics": metrics})
            _card(name, version, "refused", passed, failed)
            raise PromotionRefused(f"{name} version {version} not promoted:\n  - " + "\n  - ".join(failed))
        client = _client()
        client.set_registered_model_alias(name, CHAMPION, version)
        if champ is not None:
            client.set_registered_model_alias(name, PREVIOUS, champ)
        entry = {"action": "promote", "version": version, "previous": champ, "why": reason or "gates passed",
                 "forced": bool(force), "gates": passed, "metrics": metrics}
        _record(name, entry)
        client.set_model_version_tag(name, version, TAG_PROMOTED, entry.get("why"))
        _card(name, version, f"promoted to @{CHAMPION}" + (f" by --force: {reason}" if force else ""), passed, [])
        return entry


def _card(name: str, version: str, action: str, passed: list[str], failed: list[str]) -> None:
    """The version's description (its model card, ``card.py``) with the gates' outcome."""
    import time

    from brats_mlops.registry.card import with_promotion

    client = _client()
    card = client.get_model_version(name, version).description or ""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    client.update_model_version(name, version, description=with_promotion(card, action, passed, failed, when))


def rollback(name: str, reason: str, root: Path | None = None) -> dict[str, Any]:
    """@champion goes back to @previous; @previous moves to the champion before that (or is removed)."""
    if not reason or not reason.strip():
        raise PromotionRefused("rollback needs --reason")
    with model_lock(name, root):
        champ, prev = alias_version(name, CHAMPION), alias_version(name, PREVIOUS)
        if prev is None:
            raise PromotionRefused(f"{name}: no @{PREVIOUS} version to roll back to (champion: {champ})")
        client = _client()
        client.set_registered_model_alias(name, CHAMPION, prev)
        # the champion before `prev`: walk the history of champions backwards
        past = history(name)
        chain = [h["version"] for h in past if h["action"] in ("promote", "rollback")]
        earlier = None
        for h in reversed(past):
            if h["action"] == "promote" and h["version"] == prev:
                earlier = h.get("previous")
                break
        if earlier and earlier != prev:
            client.set_registered_model_alias(name, PREVIOUS, earlier)
        else:
            client.delete_registered_model_alias(name, PREVIOUS)
        entry = {"action": "rollback", "version": prev, "previous": champ, "why": reason, "metrics": version_metrics(name, prev),
                 "champions_so_far": chain}
        _record(name, entry)
        return entry


def models_overview(names: list[str] | None = None) -> list[dict[str, Any]]:
    """Registered models with their versions, aliases and key metrics (for `brats-mlops models`)."""
    client, known = _client(), specs()
    out = []
    for rm in client.search_registered_models():
        if names and rm.name not in names:
            continue
        aliases: dict[str, list[str]] = {}
        for a, v in (rm.aliases or {}).items():
            aliases.setdefault(str(v), []).append(a)
        for mv in sorted(client.search_model_versions(f"name='{rm.name}'"), key=lambda m: int(m.version)):
            m = {k.removeprefix("metric."): v for k, v in mv.tags.items() if k.startswith("metric.")}
            out.append({"name": rm.name, "version": str(mv.version), "aliases": sorted(aliases.get(str(mv.version), [])),
                        "created": dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                        "primary": known[rm.name].primary if rm.name in known else None,
                        "metrics": m, "run_id": mv.run_id})
    return out
