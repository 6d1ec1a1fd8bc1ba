"""`brats-mlops`: check a dataset, make synthetic data, apply presets, find results."""

from __future__ import annotations

import json
import os
import sys
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# our pyfunc models take case folders and arrays on purpose (no type-hint schema); MLflow warns on every load
warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")

app = typer.Typer(
    help="brats_mlops: a reproducible, tracked BraTS pipeline. The pipeline itself runs with `dvc repro`; "
    "these commands check data, make synthetic data, apply presets and find results.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
preset_app = typer.Typer(help="Named params presets (params/presets/*.yaml).", no_args_is_help=True)
app.add_typer(preset_app, name="preset")
server_app = typer.Typer(help="The MLflow tracking server (127.0.0.1, proxied artifacts): start, status, stop.", no_args_is_help=True)
app.add_typer(server_app, name="server")
console = Console(stderr=True)


class SourceOpt(str, Enum):
    synthetic = "synthetic"
    brats2020 = "brats2020"
    brats2023 = "brats2023"
    brats2024 = "brats2024"
    msd = "msd"


class OnFailure(str, Enum):
    quarantine = "quarantine"
    stop = "stop"


def _fail(msg: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _parse_modalities(text: str) -> tuple[str, ...]:
    from brats_mlops.names import MODALITIES

    mods = tuple(m.strip().lower() for m in text.replace(" ", ",").split(",") if m.strip())
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        _fail(f"--modalities: unknown {bad or 'empty list'}; valid: {', '.join(MODALITIES)} (comma separated)")
    return tuple(m for m in MODALITIES if m in mods)


@app.command()
def validate(
    root: Annotated[Path, typer.Option("--root", help="Dataset root folder (layout given by --source).")],
    source: Annotated[SourceOpt, typer.Option("--source", help="Layout of the data under --root.")] = SourceOpt.brats2020,
    modalities: Annotated[str, typer.Option("--modalities", help="Comma-separated modalities to require.")] = "t1,t1ce,t2,flair",
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the Markdown report here.")] = None,
    report_json: Annotated[Optional[Path], typer.Option("--report-json", help="Write one verdict per case id / orphan CSV row (JSON) here.")] = None,
    on_failure: Annotated[OnFailure, typer.Option("--on-failure", help="quarantine: list failing cases and exit 0; stop: exit 1 if any case fails.")] = OnFailure.quarantine,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes reading images.")] = 2,
    min_nonzero_fraction: Annotated[float, typer.Option(help="A modality with fewer non-zero voxels counts as empty.")] = 0.01,
) -> None:
    """Check a dataset before a long run (like nnU-Net's --verify_dataset_integrity).

    Every case gets a verdict: passed, or quarantined with reasons naming the file and the problem.
    Clinical-table problems never quarantine a case; they take it out of the survival cohort.
    """
    from brats_mlops.config.schema import ValidateParams
    from brats_mlops.data.readers import DatasetLayoutError, discover
    from brats_mlops.data.validation import render_report, stop_message, validate_dataset

    mods = _parse_modalities(modalities)
    try:
        index = discover(source.value, root, mods)
    except DatasetLayoutError as err:
        _fail(str(err))
    result = validate_dataset(index, ValidateParams(min_nonzero_fraction=min_nonzero_fraction), mods, workers)
    table = Table(title=f"{source.value} at {root}: {len(result.cases)} cases", show_lines=False)
    for col in ("case", "role", "verdict", "reasons", "survival cohort"):
        table.add_column(col, overflow="fold")
    for e in result.entries():
        colour = "green" if e["verdict"] == "passed" else "red"
        why = "\n".join(e["reasons"]) if e["verdict"] != "passed" else "\n".join(e["clinical_reasons"])
        table.add_row(e["id"] + (" (csv row)" if e["kind"] == "csv_row" else ""), e["role"] or "-",
                      f"[{colour}]{e['verdict']}[/]", escape(why), "yes" if e["survival_cohort"] else "no")
    Console(width=max(140, Console().width)).print(table)
    m = result.metrics
    console.print(f"passed {m['passed']}, quarantined {m['quarantined']}, survival cohort {m['survival_cohort']}, "
                  f"orphan CSV rows {m['orphan_rows']}, duplicate ids {m['duplicate_ids']}")
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render_report(result))
        console.print(f"report: {report}")
    if report_json:
        report_json.parent.mkdir(parents=True, exist_ok=True)
        report_json.write_text(json.dumps({"source": source.value, "root": str(root), "metrics": m, "entries": result.entries()}, indent=1))
        console.print(f"verdicts: {report_json}")
    if on_failure == OnFailure.stop and m["quarantined"]:
        console.print(escape(stop_message(result)), highlight=False)
        raise typer.Exit(1)


@app.command()
def synthesize(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the BraTS 2020-layout dataset into.")],
    n_train: Annotated[int, typer.Option(min=2, help="Labelled cases.")] = 10,
    n_validation: Annotated[int, typer.Option(min=0, help="Unlabelled cases.")] = 2,
    shape: Annotated[tuple[int, int, int], typer.Option(help="Volume shape, e.g. 240 240 155.")] = (96, 96, 64),
    spacing: Annotated[tuple[float, float, float], typer.Option(help="Voxel spacing in mm.")] = (2.5, 2.5, 2.42),
    seed: Annotated[int, typer.Option(help="Seed; the data are a deterministic function of it.")] = 2020,
    workers: Annotated[int, typer.Option(min=1)] = 2,
) -> None:
    """Write synthetic BraTS 2020-layout data (brains, tumours, survival table) without any download."""
    from brats_mlops.config.schema import ParamsError, SyntheticParams
    from brats_mlops.data.synthetic import generate_dataset

    try:
        cfg = SyntheticParams(n_train=n_train, n_validation=n_validation, shape=shape, spacing=spacing, seed=seed)
    except (ParamsError, ValueError) as err:
        _fail(str(err))
    generate_dataset(out, cfg, num_workers=workers)
    console.print(f"wrote {n_train} labelled + {n_validation} unlabelled cases to {out}")


@preset_app.command("list")
def preset_list() -> None:
    """List the available presets."""
    from brats_mlops.config.presets import list_presets
    from brats_mlops.config.schema import find_project_root

    for name in list_presets(find_project_root()):
        print(name)


@preset_app.command("apply")
def preset_apply(name: Annotated[str, typer.Argument(help="Preset name (see `brats-mlops preset list`).")]) -> None:
    """Merge a preset into params.yaml (validated first; comments kept). Review with `git diff params.yaml`."""
    from brats_mlops.config.presets import apply_preset
    from brats_mlops.config.schema import ParamsError, find_project_root

    try:
        path = apply_preset(find_project_root(), name)
    except ParamsError as err:
        _fail(str(err))
    console.print(f"applied preset {name!r} to {path}; `git diff {path.name}` shows the change, `dvc repro` runs it")


@app.command("check-params")
def check_params(params: Annotated[Optional[Path], typer.Option(help="params file (default: the project's)")] = None) -> None:
    """Validate params.yaml and print the resolved values."""
    from brats_mlops.config.schema import ParamsError, load_params

    try:
        p = load_params(params)
    except ParamsError as err:
        _fail(str(err))
    print(json.dumps(p.dump(), indent=1))


@app.command()
def where() -> None:
    """Print where the pipeline's results are and how to open them in the MLflow UI."""
    from brats_mlops.config.schema import load_params
    from brats_mlops.tracking import real_project_root, tracking_uri

    root = real_project_root()
    p = load_params(root / "params.yaml")
    uri = tracking_uri(p)
    lines = [
        "Results:",
        f"  report   : {root / p.paths.reports_dir / 'index.html'}  (everything below on one page, with MLflow run ids)",
        f"  reports  : {root / p.paths.reports_dir}/  (data_validation.md, segmentation/, autoencoder/, survival_table.md, ...)",
        f"  metrics  : {root / p.paths.metrics_dir}/  (`dvc metrics show`; training curves: `dvc plots show`)",
        f"  data     : {root / p.paths.preprocessed_dir}/, {root / p.paths.splits_dir}/",
        f"  models   : {root / 'models'}/  (checkpoints); registry: brats-segmentation, brats-autoencoder, brats-survival "
        "@challenger (`brats-mlops models`)",
        f"  tracking : {uri}",
        "Open the MLflow UI on them with:",
        "  make ui                      (foreground), or  .venv/bin/brats-mlops server start   (background; `server stop`)",
        "  then browse http://127.0.0.1:5000",
        "Next: brats-mlops promote brats-segmentation | predict --case DIR --out DIR --age 61 | tune survival | compare --group NAME",
    ]
    print("\n".join(lines))


def _use_store() -> str:
    """Point MLflow at the project's store (``MLFLOW_TRACKING_URI`` wins) and return the URI."""
    import mlflow

    from brats_mlops.config.schema import load_params
    from brats_mlops.tracking import real_project_root, tracking_uri

    root = real_project_root()
    uri = tracking_uri(load_params(root / "params.yaml"))
    mlflow.set_tracking_uri(uri)
    return uri


def _default_sample_case() -> Path:
    from brats_mlops.config.schema import load_params
    from brats_mlops.data.readers import DatasetLayoutError, discover
    from brats_mlops.tracking import real_project_root

    root = real_project_root()
    p = load_params(root / "params.yaml")
    try:
        idx = discover(p.data.source, root / p.data.root, p.data.modalities)
    except DatasetLayoutError as err:
        _fail(f"no sample case for the 'loads' gate ({err}); pass --sample-case DIR")
    labelled = [c for c in idx.cases if c.seg is not None and not c.problems]
    if not labelled:
        _fail(f"no usable case under {p.data.root} for the 'loads' gate; pass --sample-case DIR")
    return labelled[0].folder


MODEL_NAMES = ("brats-segmentation", "brats-autoencoder", "brats-survival")


def _check_model_name(name: str) -> str:
    if name not in MODEL_NAMES:
        _fail(f"unknown model {name!r}; registered model names: {', '.join(MODEL_NAMES)}")
    return name


@app.command()
def models(
    name: Annotated[Optional[str], typer.Argument(help="A registered model (default: all).")] = None,
    show_history: Annotated[bool, typer.Option("--history", help="Also print each model's promotion/rollback history.")] = False,
) -> None:
    """List registered models: versions, aliases (@champion, @previous, @challenger) and their key metrics."""
    from brats_mlops.registry.promotion import history, models_overview

    _use_store()
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
                console.print(f"  {h['when']}  {h['action']:<8} v{h['version']}  (previous champion: {h.get('previous') or h.get('champion')})  "
                              f"by {h['who']}  why: {escape(str(h.get('why')))}" + ("  [FORCED]" if h.get("forced") else ""), highlight=False)


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="brats-segmentation | brats-autoencoder | brats-survival")],
    version: Annotated[Optional[str], typer.Argument(help="Version to promote (default: the @challenger).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even if it does not beat the champion (needs --reason).")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (recorded in the model's history).")] = None,
    sample_case: Annotated[Optional[Path], typer.Option("--sample-case", help="Case folder for the 'loads and predicts' gate (default: the first labelled case of the project's data).")] = None,
) -> None:
    """Set @champion on a version when the gates pass: required metrics exist, it beats the current champion on the
    primary metric (dice_brats; val_l1; macro_f1), its training data passed validation, and it loads and predicts
    on a sample case. The old champion becomes @previous; the promotion is recorded on the model."""
    from brats_mlops.registry.checks import sample_case_check
    from brats_mlops.registry.promotion import CHALLENGER, PromotionRefused, alias_version
    from brats_mlops.registry.promotion import promote as do_promote

    _use_store()
    _check_model_name(name)
    version = version or alias_version(name, CHALLENGER)
    if version is None:
        _fail(f"{name} has no @challenger version; give a version (see `brats-mlops models {name}`)")
    try:
        entry = do_promote(name, version, force, reason, sample_case_check(sample_case or _default_sample_case()))
    except PromotionRefused as err:
        _fail(str(err), code=1)
    for g in entry["gates"]:
        console.print(f"  [green]ok[/] {escape(g)}", highlight=False)
    console.print(f"{name} version {version} is now @champion" + (f" (v{entry['previous']} is @previous)" if entry["previous"] else ""))


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="brats-segmentation | brats-autoencoder | brats-survival")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the model's history).")],
) -> None:
    """Put @champion back on the @previous version (recorded in the model's history)."""
    from brats_mlops.registry.promotion import PromotionRefused
    from brats_mlops.registry.promotion import rollback as do_rollback

    _use_store()
    _check_model_name(name)
    try:
        entry = do_rollback(name, reason)
    except PromotionRefused as err:
        _fail(str(err), code=1)
    console.print(f"{name}: @champion is version {entry['version']} again (was {entry['previous']})")


@app.command()
def predict(
    case: Annotated[Path, typer.Option("--case", help="A case folder in BraTS 2020/2021 (<id>_t1ce.nii.gz) or 2023/2024 (<id>-t1c.nii.gz) naming, or an MSD 4-D image (imagesTr/BRATS_001.nii.gz, dataset.json one level up).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (segmentation NIfTI, overlay PNG, JSON).")],
    age: Annotated[Optional[float], typer.Option("--age", help="Patient age in years: also predict the survival class.")] = None,
    alias: Annotated[str, typer.Option("--alias", help="Alias of the registered models to use.")] = "champion",
    version: Annotated[Optional[str], typer.Option("--version", help="A segmentation model version (overrides --alias).")] = None,
    survival_version: Annotated[Optional[str], typer.Option("--survival-version", help="A survival model version (overrides --alias).")] = None,
) -> None:
    """Segment a new case with models:/brats-segmentation@champion (and, with --age, classify survival with
    models:/brats-survival@champion). Writes the labels in the input's convention with its affine and header."""
    from brats_mlops.data.io import ImageReadError
    from brats_mlops.data.readers import DatasetLayoutError
    from brats_mlops.inference.predict import model_uri, predict_case
    from brats_mlops.names import MODEL_SEGMENTATION, MODEL_SURVIVAL

    _use_store()
    seg_uri = model_uri(MODEL_SEGMENTATION, alias, version)
    surv_uri = model_uri(MODEL_SURVIVAL, alias, survival_version) if age is not None else None
    if age is not None and not 0 <= age <= 120:
        _fail(f"--age {age} is not a plausible age in years")
    try:
        r = predict_case(case, out, seg_uri, surv_uri, age)
    except (DatasetLayoutError, ImageReadError, LookupError, FileNotFoundError) as err:
        _fail(str(err))
    v = r["volumes_cm3"]
    console.print(f"{r['case_id']} ({r['naming']} naming): WT {v['wt']:.1f} cm³, TC {v['tc']:.1f} cm³, ET {v['et']:.1f} cm³  [{seg_uri}]")
    if "survival" in r:
        s_ = r["survival"]
        console.print(f"survival: {s_['class_name']} (class {s_['class']}, p={s_['probability']:.2f})  [{surv_uri}]")
    console.print(f"wrote {r['segmentation']}, {r['overlay']}, {out / (r['case_id'] + '.json')}")


class LabelsOpt(str, Enum):
    brats2020 = "brats2020"
    brats2023 = "brats2023"
    brats2024 = "brats2024"
    msd = "msd"


EVAL_COLUMNS = ("dice", "hd95", "lesion_dice", "lesion_hd95")


@app.command()
def evaluate(
    pred: Annotated[Path, typer.Option("--pred", help="A prediction NIfTI, or a folder of them (matched to --gt by BraTS case id in the file name, else identical names).")],
    gt: Annotated[Path, typer.Option("--gt", help="The ground-truth NIfTI, or a folder (a dataset folder works: only its *seg* / labelsTr files are read).")],
    labels: Annotated[LabelsOpt, typer.Option("--labels", help="Label convention of both: brats2020 (1 NCR, 2 ED, 4 ET) | brats2023 (1, 2, 3) | brats2024 (1, 2, 3, 4 = resection cavity) | msd (1 edema, 2 non-enhancing, 3 enhancing).")] = LabelsOpt.brats2023,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write {\"cases\": {id: {...}}, \"mean\": {...}} here (keys as metrics/segmentation.json).")] = None,
) -> None:
    """Score predictions like the official BraTS 2023 evaluation: whole-volume ("legacy") Dice / HD95 and
    lesion-wise Dice / HD95 of WT, TC and ET (3x 18-neighbourhood dilation merges GT lesions, GT lesions <= 50 mm^3
    left out, misses and false positives Dice 0 / HD95 374), per-label Dice, sensitivity and specificity."""
    from brats_mlops.metrics.evaluate import EvaluationError
    from brats_mlops.metrics.evaluate import evaluate as run_eval
    from brats_mlops.utils.progress import progress

    try:
        res = run_eval(pred, gt, labels.value, progress=progress)
    except EvaluationError as err:
        _fail(str(err))
    t = Table(title=f"BraTS 2023 evaluation ({labels.value} labels, {res['n_cases']} case(s))")
    t.add_column("case")
    cols = [f"{m}_{r}" for m in EVAL_COLUMNS for r in ("wt", "tc", "et")]
    for c in cols:
        t.add_column(c, justify="right")
    rows = list(res["cases"].items()) + ([("mean", res["mean"])] if res["n_cases"] > 1 else [])
    for cid, m in rows:
        t.add_row(cid, *(f"{m[c]:.4f}" if "dice" in c else f"{m[c]:.2f}" for c in cols))
    Console(width=max(200, console.width)).print(t)
    if res["unmatched_predictions"]:
        u = res["unmatched_predictions"]
        console.print(f"[yellow]note:[/] {len(u)} prediction(s) have no ground truth and were not scored: {', '.join(u[:10])}"
                      + (" ..." if len(u) > 10 else ""))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(res, indent=1) + "\n")
        console.print(f"wrote {json_out}")


@app.command()
def compare(
    group: Annotated[str, typer.Option("--group", help="Ablation group (the brats.ablation_group tag, params segmentation.ablation_group).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for <group>.md/.csv/.png.")] = Path("reports/ablations"),
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="Bootstrap resamples for the intervals.")] = 2000,
) -> None:
    """Compare the runs of an ablation group (paper Tables 4/5): mean [95% CI] per metric, the best marked, a paired
    Wilcoxon test of each run against the best on per-case composite Dice, and a bar chart."""
    from brats_mlops.analysis.compare import write_comparison

    _use_store()
    try:
        df, md, fig = write_comparison(group, out, n_boot)
    except LookupError as err:
        _fail(str(err))
    print(md)
    console.print(f"wrote {out / (group + '.md')}, {out / (group + '.csv')}, {fig}")


@server_app.command("start")
def server_start(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    backend_store_uri: Annotated[Optional[str], typer.Option("--backend-store-uri", help="SQLAlchemy URL of the store (default: the project's SQLite store), e.g. postgresql+psycopg2://user:pw@localhost:5432/mlflow")] = None,
    auth: Annotated[bool, typer.Option("--auth", help="Basic auth (anonymous requests refused; admin password from MLFLOW_AUTH_ADMIN_PASSWORD).")] = False,
) -> None:
    """Start `mlflow server` in the background and wait until it is healthy."""
    from mlflow_server.server import ServerError, start

    try:
        st = start(port, backend_store_uri, auth)
    except ServerError as err:
        _fail(str(err))
    console.print(f"MLflow server on {st['url']} (pid {st['pid']}, store {st['backend_store_uri']}, healthy after {st['startup_s']} s)")
    if not auth:
        try:
            from mlflow.tracking import MlflowClient

            for e in MlflowClient(st["url"]).search_experiments():
                if e.name.startswith("brats-"):
                    console.print(f"  {e.name:<20} {st['url']}/#/experiments/{e.experiment_id}/runs")
            console.print(f"  registered models    {st['url']}/#/models   (the UI's 'Model training' view)")
        except Exception:  # listing is a convenience; the server is up either way
            pass
    console.print(f"log to it:  export MLFLOW_TRACKING_URI={st['url']}" + ("  (+ MLFLOW_TRACKING_USERNAME/PASSWORD)" if auth else ""))


@server_app.command("status")
def server_status() -> None:
    """Is the server running and healthy?"""
    from mlflow_server.server import status

    st = status()
    if not st["running"]:
        console.print("not running")
        raise typer.Exit(1)
    console.print(f"running: {st['url']} (pid {st['pid']}, store {st['backend_store_uri']}, auth {st['auth']}, healthy {st['healthy']})")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the server (and its workers)."""
    from mlflow_server.server import stop

    console.print("stopped" if stop() else "no server was running")


class StudyName(str, Enum):
    segmentation = "segmentation"
    autoencoder = "autoencoder"
    survival = "survival"


@app.command()
def tune(
    study: Annotated[StudyName, typer.Argument(help="segmentation (loss weights) | autoencoder (loss weights) | survival (classifier spaces)")],
    n_trials: Annotated[Optional[int], typer.Option("--n-trials", min=1, help="Trials (complete or pruned) the study should reach (default: tune.n_trials).")] = None,
    storage: Annotated[Optional[str], typer.Option("--storage", help="SQLAlchemy URL of the Optuna storage (default: tune.storage, else sqlite:///<root>/optuna.db). Workers on one storage share the study.")] = None,
) -> None:
    """Run or resume an Optuna study; each trial is a nested MLflow run under the study's run. Start the same command
    in several shells (or machines, with a shared --storage) to add workers. The best params land in
    params/tuned/<study>.yaml; apply them with `dvc exp run $(cat params/tuned/<study>.args)`."""
    from brats_mlops.config.schema import ParamsError, load_params, parse_params
    from brats_mlops.tracking import real_project_root
    from brats_mlops.tuning.objectives import STUDIES, missing_inputs
    from brats_mlops.tuning.study import run_study
    from brats_mlops.utils.logs import stage_logger

    os.chdir(real_project_root())
    try:
        params = load_params()
        if storage:
            raw = params.dump()
            raw["tune"]["storage"] = storage
            params = parse_params(raw)
    except ParamsError as err:
        _fail(str(err))
    missing = missing_inputs(study.value, params)
    if missing:
        _fail(f"study {study.value} needs {', '.join(missing)}: run `dvc repro` (or `make run`) first")
    stage_logger(f"tune_{study.value}")
    s = run_study(STUDIES[study.value], params, n_trials)
    done = [t for t in s.trials if t.state.name == "COMPLETE"]
    if done:
        console.print(f"study {study.value}: best {STUDIES[study.value].metric} {s.best_value:.4f} (trial {s.best_trial.number}); "
                      f"{len(done)} complete, {sum(t.state.name == 'PRUNED' for t in s.trials)} pruned, {sum(t.state.name == 'FAIL' for t in s.trials)} failed")
        console.print(f"apply: dvc exp run $(cat params/tuned/{study.value}.args)")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
