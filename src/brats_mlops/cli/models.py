"""`brats-mlops models | promote | rollback | predict | compare`: the registry and what uses it."""

from __future__ import annotations

import sys

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from brats_mlops.cli.common import app, console, fail, use_store

OVERRIDDEN = "overridden by --force"  # how registry.promotion marks a gate that --force passed


def history_line(h: dict) -> str:
    """One promotion-history entry: when, what, which version, by whom, and why (the refused gates for a refusal)."""
    prev = h.get("previous") or h.get("champion")
    head = f"{h['when']}  {h['action']:<8} v{h['version']}  (champion before: {prev or 'none'})  by {h['who']}"
    if h["action"] == "refused":
        return f"{head}  refused: {'; '.join(h.get('failed') or []) or 'no reason recorded'}"
    why = h.get("why") or "no reason recorded"
    if h.get("forced"):
        over = [g.split(" — ")[0] for g in h.get("gates", []) if OVERRIDDEN in g]
        return f"{head}  FORCED ({'overridden: ' + '; '.join(over) if over else 'no gate needed overriding'})  why: {why}"
    return f"{head}  why: {why}"


def _default_sample_case() -> Path:
    from brats_mlops.config.schema import load_params
    from brats_mlops.data.readers import DatasetLayoutError, discover
    from brats_mlops.tracking import real_project_root

    root = real_project_root()
    p = load_params(root / "params.yaml")
    try:
        idx = discover(p.data.source, root / p.data.root, p.data.modalities)
    except DatasetLayoutError as err:
        fail(f"no sample case for the 'loads' gate ({err}); pass --sample-case DIR")
    labelled = [c for c in idx.cases if c.seg is not None and not c.problems]
    if not labelled:
        fail(f"no usable case under {p.data.root} for the 'loads' gate; pass --sample-case DIR")
    return labelled[0].folder


def _check_model_name(name: str) -> str:
    from brats_mlops.registry.promotion import model_names

    if name not in model_names():
        fail(f"unknown model {name!r}; registered model names: {', '.join(model_names())}")
    return name


@app.command()
def models(
    name: Annotated[Optional[str], typer.Argument(help="A registered model (default: all).")] = None,
    show_history: Annotated[bool, typer.Option("--history", help="Also print each model's promotion/rollback history.")] = False,
) -> None:
    """List registered models: versions, aliases (@champion, @previous, @challenger) and their key metrics."""
    from brats_mlops.registry.promotion import history, models_overview

    use_store()
    rows = models_overview([_check_model_name(name)] if name else None)
    if not rows:
        console.print("no registered models yet: `make run` (or `dvc repro`) registers them")
        return
    table = Table(title="registered models")
    for col in ("model", "version", "aliases", "primary metric", "metrics", "created", "run"):
        table.add_column(col, overflow="fold")
    for r in rows:
        prim = r["metrics"].get(r["primary"], "-") if r["primary"] else "-"
        others = ", ".join(f"{k}={v}" for k, v in sorted(r["metrics"].items()) if k != r["primary"])
        table.add_row(r["name"], r["version"], ", ".join("@" + a for a in r["aliases"]), f"{r['primary']}={prim}", others,
                      r["created"], (r["run_id"] or "")[:8])
    Console(width=max(160, Console().width)).print(table)
    if show_history:
        for n in sorted({r["name"] for r in rows}):
            console.print(f"[bold]{n}[/] history:")
            for h in history(n):
                console.print("  " + escape(history_line(h)), highlight=False)


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="brats-segmentation | brats-autoencoder | brats-survival | brats-segmentation-2d | brats-survival-2d | brats-segmentation-nnunet")],
    version: Annotated[Optional[str], typer.Argument(help="Version to promote (default: the @challenger).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even if it does not beat the champion (needs --reason).")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (recorded in the model's history).")] = None,
    sample_case: Annotated[Optional[Path], typer.Option("--sample-case", help="Case folder for the 'loads and predicts' gate (default: the first labelled case of the project's data).")] = None,
) -> None:
    """Set @champion on a version when the gates pass: required metrics exist, it beats the current champion on the
    primary metric (dice_brats; val_l1; macro_f1; 2-D survival: patient_majority_macro_f1), its training data passed validation, and it loads and predicts
    on a sample case. The old champion becomes @previous; the promotion is recorded on the model."""
    from brats_mlops.registry.checks import sample_case_check
    from brats_mlops.registry.promotion import CHALLENGER, PromotionRefused, alias_version, require_version
    from brats_mlops.registry.promotion import promote as do_promote

    use_store()
    _check_model_name(name)
    version = version or alias_version(name, CHALLENGER)
    if version is None:
        fail(f"{name} has no @challenger version; give a version (see `brats-mlops models {name}`)")
    try:
        require_version(name, version)   # an unknown version is the mistake to name, before the sample case is looked for
        entry = do_promote(name, version, force, reason, sample_case_check(sample_case or _default_sample_case()))
    except PromotionRefused as err:
        fail(str(err), code=1)
    for g in entry["gates"]:
        mark = "[yellow]overridden[/]" if OVERRIDDEN in g else "[green]ok[/]"
        console.print(f"  {mark} {escape(g)}", highlight=False)
    console.print(f"{name} version {version} is now @champion" + (f" (v{entry['previous']} is @previous)" if entry["previous"] else ""))


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="brats-segmentation | brats-autoencoder | brats-survival | brats-segmentation-2d | brats-survival-2d | brats-segmentation-nnunet")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the model's history).")],
) -> None:
    """Put @champion back on the @previous version (recorded in the model's history)."""
    from brats_mlops.registry.promotion import PromotionRefused
    from brats_mlops.registry.promotion import rollback as do_rollback

    use_store()
    _check_model_name(name)
    try:
        entry = do_rollback(name, reason)
    except PromotionRefused as err:
        fail(str(err), code=1)
    console.print(f"{name}: @champion is version {entry['version']} again (was {entry['previous']})")


@app.command()
def predict(
    case: Annotated[Path, typer.Option("--case", help="A case folder in BraTS 2020/2021 (<id>_t1ce.nii.gz) or 2023/2024 (<id>-t1c.nii.gz) naming, or an MSD 4-D image (imagesTr/BRATS_001.nii.gz, dataset.json one level up).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (segmentation NIfTI, overlay PNG, JSON).")],
    age: Annotated[Optional[float], typer.Option("--age", help="Patient age in years: also predict the survival class.")] = None,
    alias: Annotated[str, typer.Option("--alias", help="Alias of the registered models to use.")] = "champion",
    version: Annotated[Optional[str], typer.Option("--version", help="A segmentation model version (overrides --alias).")] = None,
    survival_version: Annotated[Optional[str], typer.Option("--survival-version", help="A survival model version (overrides --alias).")] = None,
    model: Annotated[str, typer.Option("--model", help="The model family (`brats-mlops families`): 3d: brats-segmentation "
                                       "(+ brats-survival); 2d: the slice models of seed 001, brats-segmentation-2d (+ "
                                       "brats-survival-2d, survival bins by majority vote); nnunet: nnU-Net v2, "
                                       "brats-segmentation-nnunet (+ brats-survival).")] = "3d",
    tta: Annotated[Optional[str], typer.Option("--tta", help="none | mirror: nnU-Net's mirroring test-time augmentation "
                                               "(8 mirror images averaged, 8x the time). Default: the model's own (none; nnU-Net: as registered).")] = None,
    ensemble: Annotated[Optional[str], typer.Option("--ensemble", help="Comma-separated versions of brats-segmentation to "
                                                    "average with the chosen one (nnU-Net's ensembling), e.g. --ensemble 3,4.")] = None,
) -> None:
    """Segment a new case with models:/brats-segmentation@champion (and, with --age, classify survival with
    models:/brats-survival@champion); --model 2d uses the 2-D slice models instead, --model nnunet the registered
    nnU-Net. Writes the labels in the input's
    convention with its affine and header."""
    from brats_mlops.data.io import ImageReadError
    from brats_mlops.data.readers import DatasetLayoutError
    from brats_mlops.registry.predict import model_uri, predict_case
    from brats_mlops.families import UnknownFamily, get_family

    try:
        family = get_family(model)
    except UnknownFamily as err:
        fail(f"--model: {err}")
    seg_name, surv_name = family.registered_name, family.survival_model
    use_store()
    seg_uri = model_uri(seg_name, alias, version)
    if age is not None and surv_name is None:
        fail(f"--age: the {family.key} family has no survival model to pair with")
    surv_uri = model_uri(surv_name, alias, survival_version) if age is not None else None
    if age is not None and not 0 <= age <= 120:
        fail(f"--age {age} is not a plausible age in years")
    if tta not in (None, "none", "mirror"):
        fail(f"--tta {tta!r}: use none or mirror")
    extra = [model_uri(seg_name, version=v.strip()) for v in (ensemble or "").split(",") if v.strip()]
    if extra and not family.supports_ensemble:
        fail(f"--ensemble combines versions of a family that ensembles (3d: brats-segmentation); {family.key} does not "
             "(nnU-Net ensembles its folds itself)")
    try:
        r = predict_case(case, out, seg_uri, surv_uri, age, tta=tta, ensemble_uris=extra)
    except (DatasetLayoutError, ImageReadError, LookupError, FileNotFoundError) as err:
        fail(str(err))
    v = r["volumes_cm3"]
    used = seg_uri + "".join(f" + {u}" for u in extra) + (f", TTA {tta}" if tta else "")
    console.print(f"{r['case_id']} ({r['naming']} naming): " + ", ".join(f"{k.upper()} {x:.1f} cm³" for k, x in v.items()) + f"  [{used}]")
    if "survival" in r:
        s_ = r["survival"]
        console.print(f"survival: {s_['class_name']} (class {s_['class']}, p={s_['probability']:.2f})  [{surv_uri}]")
    console.print(f"wrote {r['segmentation']}, {r['overlay']}, {out / (r['case_id'] + '.json')}")


@app.command()
def compare(
    group: Annotated[Optional[list[str]], typer.Option("--group", help="Ablation group (the brats.ablation_group tag, params segmentation.ablation_group / slices2d.ablation_group); repeat it to compare groups together, e.g. --group default --group slices2d (3-D beside 2-D). Without it: list the groups.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for <group>.md/.csv/.png.")] = Path("reports/ablations"),
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="Bootstrap resamples for the intervals.")] = 2000,
) -> None:
    """Compare the runs of an ablation group (paper Tables 4/5): mean [95% CI] per metric, the best marked, a paired
    Wilcoxon test of each run against the best on per-case composite Dice, and a bar chart. Without --group, list the
    groups that have evaluated runs."""
    from brats_mlops.analysis.compare import list_groups, write_comparison

    use_store()
    if group is None:
        groups = list_groups()
        if not groups:
            fail("no evaluated segmentation runs yet: `make run` (or `dvc repro`) makes the first, in group 'default'")
        table = Table(title="ablation groups (brats-mlops compare --group NAME)")
        for col in ("group", "evaluated runs", "latest"):
            table.add_column(col)
        for g in groups:
            table.add_row(str(g["group"]), str(g["runs"]), str(g["latest"]))
        Console().print(table)
        return
    name = "+".join(group)
    try:
        df, md, fig = write_comparison(group, out, n_boot)
    except LookupError as err:
        fail(str(err))
    print(md)
    console.print(f"wrote {out / (name + '.md')}, {out / (name + '.csv')}, {fig}")


@app.command()
def viewer(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8501,
) -> None:
    """Open the viewer (Streamlit) on http://127.0.0.1:PORT: a registered segmentation model (3-D or 2-D, any version or
    alias, two side by side) on a dataset case or uploaded NIfTI files — overlays in three views, the ground truth,
    an error map, metrics, volumes, survival with an age, the prediction as NIfTI. Uploads are not kept."""
    from brats_mlops.viewer.serve import serve

    use_store()  # a missing project or unreachable store is one error line here, not a page error later
    sys.exit(serve(port))


@app.command()
def families() -> None:
    """List the segmentation model families (``--model`` of ``predict``; ``python -m pipelines.train_segmentation
    <family>`` and ``pipelines.evaluate_segmentation <family>`` train and score one): registered model, params section,
    stages, what its prediction supports. A family is one module of ``brats_mlops/families/``."""
    from brats_mlops.families import families as all_families

    t = Table(title="segmentation model families (src/brats_mlops/families/)")
    for col in ("family", "what", "registered model", "params", "stages (train, evaluate)", "metrics", "predicts with"):
        t.add_column(col, overflow="fold")
    for f in all_families():
        t.add_row(f.key, f.description or f.title, f.registered_name, f.section, f"{f.train_stage}, {f.eval_stage}",
                  f"metrics/{f.metrics_name}.json", f.predicts_with())
    Console(width=max(160, console.width)).print(t)
