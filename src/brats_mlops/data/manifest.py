"""The raw data's manifest, ``<paths.validation_dir>/inputs.json``: DVC's hash of the ``data.root`` folder and of
each file in it, written by ``validate``.

``validate`` is the only stage whose DVC dependency is the raw folder itself; the stages after it that read raw files
(``preprocess``, the evaluations, ``segmentation_features``, nnU-Net's) depend on this manifest instead. It changes
exactly when the folder's content does (it holds DVC's own ``<md5>.dir`` hash of it, the value ``dvc.lock`` records
for ``validate``), and ``dvc repro`` reruns ``validate`` first whenever the folder changed — so those stages rerun as
before, while a no-op ``dvc repro`` walks the raw folder once instead of once per stage (a BraTS cohort of 1,251 cases
is 6,255 files per walk; issue 26). The hashes come from DVC's state database, filled as DVC checked ``validate``'s
dependencies: the files are not read again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brats_mlops.utils.hashing import dvc_tree
from brats_mlops.utils.jsonio import dump_json

def raw_manifest(root: str | Path) -> dict[str, Any]:
    """``{"root", "dvc_hash", "files": {relative path: md5}}`` of the folder ``root`` (a file: its md5 alone)."""
    from brats_mlops.utils.hashing import file_md5

    root = Path(root)
    if root.is_file():
        return {"root": str(root), "dvc_hash": file_md5(root), "files": {root.name: file_md5(root)}}
    tree = dvc_tree(root)
    files = {"/".join(key): hi.value for key, _, hi in tree}
    return {"root": str(root), "dvc_hash": tree.hash_info.value, "files": dict(sorted(files.items()))}


def write_raw_manifest(root: str | Path, out: str | Path) -> Path:
    """Write :func:`raw_manifest` of ``root`` to ``out`` (``paths.raw_manifest``)."""
    dump_json(raw_manifest(root), Path(out))
    return Path(out)
