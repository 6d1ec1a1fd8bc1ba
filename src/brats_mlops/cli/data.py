"""`brats-mlops validate | synthesize | evaluate`: datasets and scoring."""

from __future__ import annotations

import json
from pathlib import Path
from enum import Enum
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from brats_mlops.cli.common import OnFailure, SourceOpt, app, console, fail, parse_modalities


@app.command()
def validate(
    root: Annotated[Path, typer.Option("--root", help="Dataset root folder (layout given by --source).")],
    source: Annotated[SourceOpt, typer.Option("--source", help="Edition of the data under --root (data/editions.py; `brats-mlops editions` lists them); auto: detected from the naming.")] = SourceOpt["auto"],
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

    mods = parse_modalities(modalities)
    try:
        index = discover(source.value, root, mods)
    except DatasetLayoutError as err:
        fail(str(err))
    result = validate_dataset(index, ValidateParams(min_nonzero_fraction=min_nonzero_fraction), mods, workers)
    table = Table(title=f"{index.source} at {root}: {len(result.cases)} cases", show_lines=False)
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
        report_json.write_text(json.dumps({"source": index.source, "root": str(root), "metrics": m, "entries": result.entries()}, indent=1))
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
        fail(str(err))
    generate_dataset(out, cfg, num_workers=workers)
    console.print(f"wrote {n_train} labelled + {n_validation} unlabelled cases to {out}")


class LabelsOpt(str, Enum):
    brats2020 = "brats2020"
    brats2023 = "brats2023"
    brats2024 = "brats2024"
    msd = "msd"
    ped2024 = "ped2024"
    menrt = "menrt"


EVAL_COLUMNS = ("dice", "hd95", "lesion_dice", "lesion_hd95")


@app.command()
def evaluate(
    pred: Annotated[Path, typer.Option("--pred", help="A prediction NIfTI, or a folder of them (matched to --gt by BraTS case id in the file name, else identical names).")],
    gt: Annotated[Path, typer.Option("--gt", help="The ground-truth NIfTI, or a folder (a dataset folder works: only its *seg* / labelsTr files are read).")],
    labels: Annotated[Optional[LabelsOpt], typer.Option("--labels", help="Label convention of both: brats2020 (1 NCR, 2 ED, 4 ET) | brats2023 (1, 2, 3) | brats2024 (1, 2, 3, 4 = resection cavity) | msd (1 edema, 2 non-enhancing, 3 enhancing) | ped2024 (1 ET, 2 NETC, 3 CC, 4 ED) | menrt (1 GTV). Default: the labels the profile reads.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write {\"cases\": {id: {...}}, \"mean\": {...}} here (keys as metrics/segmentation.json).")] = None,
    profile: Annotated[str, typer.Option("--profile", help="Official scoring rule. 2023 (lesion-wise, WT/TC/ET): 2023-GLI | 2023-SSA | 2023-PED (3 dilations merge GT lesions, GT lesions <= 50 mm^3 left out) | 2023-MEN (1 dilation, <= 50 mm^3) | 2023-MET (1 dilation, <= 2 mm^3). 2024: 2024-GLI (post-treatment: six regions with the resection cavity, NSD). 2025 (panoptica matching, the task's label groups): 2025-GLI | 2025-MET | 2025-PED | 2025-MEN-RT | 2025-MEN | 2025-GoAT.")] = "2023-GLI",
) -> None:
    """Score predictions like the official BraTS evaluation of the chosen challenge and year (--profile).

    2023 profiles: whole-volume ("legacy") Dice / HD95 and lesion-wise Dice / HD95 of WT, TC and ET (dilations merge
    nearby GT lesions, small GT lesions left out, misses and false positives Dice 0 / HD95 374), per-label Dice,
    sensitivity and specificity. 2024-GLI: the same per region WT, TC, NETC, SNFH, ET, RC with the 2024 code's
    dilations and thresholds, NSD at 0.5 / 1 mm. 2025 profiles: per label group of the task, lesions matched one-to-one by Dice
    (panoptica, as the official scorer configures it): lesion-wise Dice / NSD / HD95, detection TP / FP / FN / F1, and
    global Dice / NSD / HD95; metastases also split small and large lesions."""
    from brats_mlops.errors import UserError
    from brats_mlops.metrics.brats2024 import REGIONS_2024
    from brats_mlops.metrics.brats2025 import TASK_GROUPS
    from brats_mlops.metrics.evaluate import evaluate as run_eval
    from brats_mlops.metrics.profiles import get_profile
    from brats_mlops.utils.progress import progress

    try:
        prof = get_profile(profile)
        res = run_eval(pred, gt, labels.value if labels else None, progress=progress, profile=profile)
    except UserError as err:
        fail(str(err))
    title = f"BraTS evaluation, profile {res['profile']} ({res['labels']} labels, {res['n_cases']} case(s))"
    if prof.rule != "2023":
        groups = list(TASK_GROUPS[prof.task]) if prof.rule == "2025" else [r.lower() for r in REGIONS_2024]
        _print_group_table(title + ": mean over cases" if res["n_cases"] > 1 else title, res["mean"], groups,
                           GROUP_COLUMNS if prof.rule == "2025" else GROUP_COLUMNS_2024)
    else:
        t = Table(title=title)
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


GROUP_COLUMNS = (("Dice", "dice_{}", ".4f"), ("NSD", "nsd_{}", ".4f"), ("HD95", "hd95_{}", ".2f"), ("lesion Dice", "lesion_dice_{}", ".4f"),
                 ("lesion NSD", "lesion_nsd_{}", ".4f"), ("lesion HD95", "lesion_hd95_{}", ".2f"), ("TP", "lesion_num_tp_{}", ".1f"),
                 ("FP", "lesion_num_fp_{}", ".1f"), ("FN", "lesion_num_fn_{}", ".1f"), ("F1", "lesion_f1_{}", ".4f"))


GROUP_COLUMNS_2024 = (("Dice", "dice_{}", ".4f"), ("NSD 0.5", "nsd05_{}", ".4f"), ("NSD 1.0", "nsd10_{}", ".4f"),
                      ("HD95", "hd95_{}", ".2f"), ("lesion Dice", "lesion_dice_{}", ".4f"), ("lesion NSD 1.0", "lesion_nsd10_{}", ".4f"),
                      ("lesion HD95", "lesion_hd95_{}", ".2f"), ("TP", "lesion_num_tp_{}", ".1f"), ("FP", "lesion_num_fp_{}", ".1f"),
                      ("FN", "lesion_num_fn_{}", ".1f"))


def _print_group_table(title: str, metrics: dict, groups: list[str], columns=GROUP_COLUMNS) -> None:
    """One row per label group / region (2024, 2025 profiles); NaN (a group absent from prediction and ground truth)
    prints as '-'."""
    t = Table(title=title)
    t.add_column("group")
    for name, _, _ in columns:
        t.add_column(name, justify="right")
    for g in groups:
        vals = [metrics.get(key.format(g), float("nan")) for _, key, _ in columns]
        t.add_row(g, *("-" if v != v else format(v, fmt) for v, (_, _, fmt) in zip(vals, columns)))
    Console(width=max(140, console.width)).print(t)


@app.command()
def editions() -> None:
    """List the BraTS editions and tasks the platform reads (``data.source``): case naming, labels, the label scheme its
    models train on (regions), official profile."""
    from brats_mlops.data.editions import EDITIONS

    t = Table(title="data.source values (auto: detected from the naming)")
    for col in ("source", "dataset", "a case", "labels", "trains on (regions)", "profile"):
        t.add_column(col, overflow="fold")
    for e in EDITIONS.values():
        example = {"msd": "imagesTr/BRATS_001.nii.gz"}.get(e.naming) or \
            f"{_example_id(e)}/{_example_id(e)}{e.separator}{next(iter(e.modalities.values()))}.nii.gz"
        labels = ", ".join(f"{k} {v}" for k, v in e.labels.names.items() if k)
        trains = f"{e.scheme.name} ({', '.join(r.upper() for r in e.scheme.regions)})" if e.trainable else "no"
        t.add_row(e.name, e.title + (f" ({e.note})" if e.note else ""), example, labels, trains, e.profile)
    Console(width=max(160, console.width)).print(t)


def _example_id(e) -> str:
    import re

    for cand in ("BraTS20_Training_001", "BraTS2021_00000", f"BraTS-{e.task}-00000-000", f"BraTS-{e.task}-0000-1"):
        if re.fullmatch(e.case_pattern, cand):
            return cand
    return e.case_pattern
