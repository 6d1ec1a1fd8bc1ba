"""Named points where a test can stop a process for certain, instead of racing a poll against it.

``BRATS_PAUSE_AT=<point>:<n>`` makes the process that reaches ``pause_point(point, n)`` write its pid to the file
``BRATS_PAUSE_MARKER`` (when set) and then sleep until it is killed. A kill/resume test starts a training with it, waits
for the marker (however fast or slow the machine), and sends SIGKILL: the process dies exactly there, e.g. after epoch
2's checkpoint was written and before that epoch reached MLflow. Unset (always, outside tests), a point costs one
environment lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "BRATS_PAUSE_AT"
MARKER_ENV = "BRATS_PAUSE_MARKER"

EPOCH_CHECKPOINTED = "epoch_checkpointed"  # training loop: last.pt of epoch n written, epoch n not yet logged
NNUNET_CHECKPOINTED = "nnunet_checkpointed"  # nnU-Net: checkpoint_latest.pth of epoch n written


def pause_point(point: str, n: int) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, at = spec.partition(":")
    if name != point or str(n) != at:
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        tmp = Path(f"{marker}.{os.getpid()}.tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(marker)
    while True:  # until the test kills us
        time.sleep(3600)
