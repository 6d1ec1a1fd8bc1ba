"""The documentation: the site builds offline in strict mode (a broken link, anchor or reference fails), fetches
nothing, lists every parameter of params.yaml and the schema, the README fits on two screens and nothing in the
repository points outside it."""

import re
import subprocess
import sys
from pathlib import Path

from brats_mlops.config.reference import render, undocumented, yaml_entries

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).parent / "mkdocs"


def test_the_site_builds_in_strict_mode_and_fetches_nothing(tmp_path):
    r = subprocess.run([str(MKDOCS), "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    pages = list((tmp_path / "site").rglob("*.html"))
    assert {"index.html", "params.html", "seed003.html", "benchmarks.html", "evaluation.html"} <= {p.name for p in pages}
    remote = {m for p in pages for m in re.findall(r'(?:src|href)="(https?://[^"]+\.(?:js|css))"', p.read_text())}
    assert not remote, remote


def test_the_params_reference_lists_every_key_of_params_yaml_and_of_the_schema():
    assert undocumented(ROOT / "params.yaml") == ([], [])
    page = render(ROOT / "params.yaml")
    for e in yaml_entries((ROOT / "params.yaml").read_text()):
        assert f"| `{e.key}` |" in page or f"## `{e.key}`" in page, e.key
    assert "| `evaluate.profile` | `auto` |" in page and "'2024-GLI'" in page  # choices come from the schema


def test_the_readme_fits_on_two_screens_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 100
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (ROOT / target).is_file(), target


def test_nothing_in_the_repository_refers_to_files_outside_it():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    hits = [f for f in files if (ROOT / f).is_file() and not f.startswith("tests/test_docs.py")
            and "../shared" in (ROOT / f).read_text(errors="ignore")]
    assert not hits, hits
