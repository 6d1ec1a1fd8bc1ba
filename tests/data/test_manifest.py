"""The raw folder's manifest (data/manifest.py): DVC's own hash of data.root, what the stages after validate depend on."""

import os
import re
from pathlib import Path

from brats_mlops.data.manifest import raw_manifest, write_raw_manifest
from brats_mlops.utils.hashing import file_md5

ROOT = Path(__file__).resolve().parents[2]


def _folder(tmp_path):
    raw = tmp_path / "raw"
    (raw / "case_1").mkdir(parents=True)
    (raw / "case_1" / "t1.nii.gz").write_bytes(b"image one")
    (raw / "survival_info.csv").write_text("id,days\n")
    return raw


def test_the_manifest_is_dvcs_hash_of_the_folder_and_changes_with_its_content_only(tmp_path):
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc.fs import LocalFileSystem

    raw = _folder(tmp_path)
    first = raw_manifest(raw)
    fs = LocalFileSystem()
    _, _, obj = build(HashFileDB(fs, str(tmp_path / "odb")), str(raw), fs, "md5")
    assert first["dvc_hash"] == obj.hash_info.value and first["dvc_hash"].endswith(".dir")
    assert first["files"] == {"case_1/t1.nii.gz": file_md5(raw / "case_1" / "t1.nii.gz"),
                              "survival_info.csv": file_md5(raw / "survival_info.csv")}
    st = (raw / "survival_info.csv").stat()
    os.utime(raw / "survival_info.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # touched: same content
    assert raw_manifest(raw) == first
    (raw / "case_1" / "t1.nii.gz").write_bytes(b"image two")                            # same size, new content
    changed = raw_manifest(raw)
    assert changed["dvc_hash"] != first["dvc_hash"] and changed["files"]["case_1/t1.nii.gz"] != first["files"]["case_1/t1.nii.gz"]
    from brats_mlops.config.schema import PathsParams

    out = write_raw_manifest(raw, tmp_path / PathsParams().raw_manifest)
    assert out.name == "inputs.json" and out.read_text().endswith("\n")


def test_only_validate_depends_on_the_raw_folder_the_others_on_its_manifest():
    """A no-op `dvc repro` walks the raw folder (6,255 files at 1,251 BraTS cases) once, for validate."""
    raw_deps, manifest_deps = [], []
    for f in ("dvc.yaml", "slices/dvc.yaml", "nnunet/dvc.yaml"):
        stage = None
        for line in (ROOT / f).read_text().splitlines():
            m = re.match(r"^  ([a-z_0-9]+):$", line)
            stage = m.group(1) if m else stage
            if re.match(r"^\s+- \$\{data\.root\}\s*(#.*)?$", line):
                raw_deps.append(stage)
            if re.match(r"^\s+- \$\{paths\.validation_dir\}/inputs\.json\s*(#.*)?$", line):
                manifest_deps.append(stage)
    assert raw_deps == ["validate"]
    assert {"preprocess", "evaluate_segmentation", "segmentation_features", "evaluate_segmentation_2d",
            "nnunet_prepare", "nnunet_evaluate"} <= set(manifest_deps)
