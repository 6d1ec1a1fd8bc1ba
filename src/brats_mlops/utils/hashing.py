"""Content hashes of DVC inputs for run lineage (md5, like DVC's own)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def content_hash(path: str | Path) -> str:
    """md5 of a file, or of a folder's sorted (relative path, file md5) listing; ``missing`` if absent."""
    p = Path(path)
    if p.is_file():
        return file_md5(p)
    if not p.is_dir():
        return "missing"
    h = hashlib.md5()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(f"{f.relative_to(p).as_posix()}\0{file_md5(f)}\n".encode())
    return h.hexdigest() + ".dir"
