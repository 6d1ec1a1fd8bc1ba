"""Progress bars for long loops (tqdm; quiet when BRATS_NO_PROGRESS=1 or not a terminal in tests)."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(it: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    disable = os.environ.get("BRATS_NO_PROGRESS") == "1"
    return tqdm(it, total=total, desc=desc, disable=disable, file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
