"""Content hashes of DVC inputs for run lineage: the same values DVC records in ``dvc.lock``.

A file's hash is its md5; a folder's is DVC's own ``<md5>.dir`` (computed with ``dvc_data``, the library DVC uses),
so an MLflow run's ``brats.data_hash.<path>`` tag can be matched to its ``dvc.lock`` entry.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def dvc_dir_hash(path: Path) -> str:
    """DVC's hash of a folder (``<md5>.dir``), as ``dvc.lock`` records it: the repository's ``.dvcignore`` applies
    (e.g. the training loop's ``brats_run.json`` beside the checkpoints is left out, as DVC leaves it out).

    Inside a DVC repository the files' md5s come from DVC's own state database (keyed by inode, size and mtime), which
    ``dvc repro`` has just filled while checking the stage's dependencies — so a folder of gigabytes is not read again
    (issue 26: at 1,251 cases every stage would otherwise re-read its inputs). A folder outside any repository (a
    dataset at ``/data/...``) uses the state of the project the stage runs in, where DVC recorded it as a dependency.
    Nothing is written to the cache."""
    return dvc_tree(path).hash_info.value


def dvc_tree(path: Path) -> Any:
    """DVC's tree object of a folder (see :func:`dvc_dir_hash`): iterating it yields ``(key parts, meta, hash_info)``
    per file; ``.hash_info.value`` is the folder's ``<md5>.dir``."""
    import tempfile

    from dvc.fs import LocalFileSystem
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB

    path = Path(path).resolve()
    cwd = Path.cwd().resolve()  # a dataset outside the project (data.root: /data/BraTS2021): the project's state knows it
    root = next((d for d in (path, *path.parents, cwd, *cwd.parents) if (d / ".dvc").is_dir()), None)
    if root is not None:
        from dvc.repo import Repo

        with Repo(str(root)) as repo:  # build() stages the tree object in memory; the cache is only read
            _, _, obj = build(repo.cache.local, str(path), repo.cache.local.fs, "md5", ignore=repo.dvcignore)
        return obj
    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory() as tmp:
        _, _, obj = build(HashFileDB(fs, tmp), str(path), fs, "md5")
    return obj


def content_hash(path: str | Path) -> str:
    """md5 of a file, DVC's ``<md5>.dir`` of a folder, ``missing`` if absent."""
    p = Path(path)
    if p.is_file():
        return file_md5(p)
    if not p.is_dir():
        return "missing"
    return dvc_dir_hash(p)
