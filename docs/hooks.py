"""MkDocs hooks (mkdocs.yml ``hooks:``): pages generated at build time from the files they describe, so they cannot
drift — the params reference (``params.yaml`` + the params schema), one page per preset (``params/presets/*.yaml``)
and the benchmarks (``BENCHMARKS.md``)."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]


def preset_page(path: Path) -> str:
    text = path.read_text()
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    name = path.stem
    return "\n".join([
        f"# Preset `{name}`", "",
        " ".join(header), "",
        "Apply it, review the change, point `data.root` at the dataset, then reproduce:", "",
        "```bash",
        f"brats-mlops preset apply {name}   # merges params/presets/{name}.yaml into params.yaml, keeps comments",
        "git diff params.yaml",
        "dvc repro",
        "```", "",
        f"The whole file (`params/presets/{name}.yaml`; the keys are explained in the "
        "[parameters reference](../reference/params.md)):", "",
        "```yaml", text.rstrip(), "```", "",
    ])


def on_files(files, config):
    from brats_mlops.config.reference import render

    files.append(File.generated(config, "reference/params.md", content=render(ROOT / "params.yaml")))
    for p in sorted((ROOT / "params" / "presets").glob("*.yaml")):
        files.append(File.generated(config, f"presets/{p.stem}.md", content=preset_page(p)))
    files.append(File.generated(config, "benchmarks.md", content=(ROOT / "BENCHMARKS.md").read_text()))
    return files
