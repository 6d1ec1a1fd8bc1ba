"""Errors that are the user's to fix (data, params, missing inputs), as opposed to bugs.

A stage that raises a :class:`UserError` prints one line naming the case, file, count or param to change and
exits 1 (its MLflow run ends FAILED with the same message); the traceback goes to the log only with
``BRATS_DEBUG=1``. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A data, params or missing-input problem with a message that says what to change."""


class StageError(UserError, RuntimeError):
    """A stage cannot run on this data with these params (e.g. too few cases to split)."""
