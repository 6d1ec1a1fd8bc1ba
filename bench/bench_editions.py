"""Every edition end to end: `dvc repro` on a generated folder in each edition's naming and labels, scored with its profile.

    python -m bench.bench_editions [--cases 8] [--until evaluate_segmentation] [--only brats2024-gli,brats2025-met]

For each edition of ``data/editions.py`` (aliases and the embedded default, which `make run` runs, left out) a folder in the edition's naming, modality suffixes and
label values is generated from the embedded synthetic cases (``tests/builders.py: edition_tiny``: a resection cavity
where the labels have one, the cystic component for paediatric labels, one T1c and a GTV for MEN-RT), copied into a
temporary clone of this working tree with the end-to-end tests' CPU-minute params (``tests/e2e.py``), and
``dvc repro <until>`` runs with ``data.source: auto`` (the edition detected from the naming) and
``evaluate.profile: auto`` (scored with the edition's official profile). Recorded per edition: exit status (and the
one-line error when a stage stops), detected edition, label scheme, profile, the regions scored with their Dice
(``dice_brats``) and the wall time. Writes ``bench/results/editions.json`` and prints a Markdown table.
The CI runs the representative layouts (``tests/test_real_layouts_e2e.py``); this runs all of them (about
1–2 min per edition on 2 cores up to the evaluate stage).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench.machine import machine

OUT = Path(__file__).resolve().parent / "results" / "editions.json"


def one(name: str, cases: int, until: str, work: Path) -> dict:
    from brats_mlops.data.editions import EDITIONS
    from tests import builders
    from tests.e2e import BIN, make_clone, run

    e = EDITIONS[name]
    data = builders.edition_tiny(work / "data" / name, name, n=cases)
    mods = [m for m in ("t1", "t1ce", "t2", "flair") if m in e.modalities] if e.naming != "msd" else None

    def edit(p):
        p["data"].update(source="auto", root=f"data/raw/{name}")
        if mods:
            p["data"]["modalities"] = mods
            if p["preprocess"]["autoencoder"]["modality"] not in mods:
                p["preprocess"]["autoencoder"]["modality"] = mods[0]
        return p

    dst, env = make_clone(work / "clones" / name, edit)
    shutil.copytree(data, dst / "data" / "raw" / name)
    t0 = time.perf_counter()
    r = run([BIN / "dvc", "repro", until], dst, env, check=False)
    row = {"edition": name, "exit": r.returncode, "seconds": round(time.perf_counter() - t0, 1)}
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    if r.returncode:
        row["error"] = errors[0] if errors else r.stderr.strip().splitlines()[-1:]
        return row
    plans = json.loads((dst / "data" / "preprocessed" / "plans.json").read_text())
    m = json.loads((dst / "metrics" / "segmentation.json").read_text())
    from brats_mlops.inference.evaluate import scored_regions

    row.update(detected=m.get("edition"), scheme=plans["label_scheme"], profile=m["profile"], n_cases=m["n_cases"],
               regions={r: round(m[f"dice_{r}"], 4) for r in scored_regions(m)}, dice_brats=round(m["dice_brats"], 4))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--until", default="evaluate_segmentation", help="the dvc stage to reproduce up to")
    ap.add_argument("--only", default="", help="comma-separated editions (default: all but the aliases)")
    a = ap.parse_args()
    from brats_mlops.data.editions import ALIASES, EDITIONS

    names = [n for n in (a.only.split(",") if a.only else EDITIONS) if n and n not in ALIASES and n != "synthetic"]  # `make run`
    rows = []
    with tempfile.TemporaryDirectory(prefix="editions_") as tmp:
        for n in names:
            rows.append(one(n, a.cases, a.until, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    if a.only and OUT.is_file():  # a rerun of some editions replaces their rows, keeps the others'
        done = {r["edition"] for r in rows}
        rows = [r for r in json.loads(OUT.read_text())["editions"] if r["edition"] not in done] + rows
        rows.sort(key=lambda r: list(EDITIONS).index(r["edition"]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"machine": machine(), "cases": a.cases, "until": a.until, "editions": rows}, indent=1) + "\n")
    print("\n| edition | status | scheme | profile | Dice per scored region | D_BraTS | wall s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        status = "ok" if r["exit"] == 0 else f"stopped: {r.get('error')}"
        regions = ", ".join(f"{k.upper()} {v:.3f}" for k, v in r.get("regions", {}).items())
        print(f"| {r['edition']} | {status} | {r.get('scheme', '')} | {r.get('profile', '')} | {regions} | "
              f"{r.get('dice_brats', float('nan')):.3f} | {r['seconds']} |")


if __name__ == "__main__":
    main()
