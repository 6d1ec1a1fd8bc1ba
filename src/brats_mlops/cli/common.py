"""What every command module shares: the Typer apps, the console, one-line errors, option types."""

from __future__ import annotations

import functools
import os
from enum import Enum

import typer
from rich.console import Console
from rich.markup import escape

from brats_mlops.errors import UserError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


class _Typer(typer.Typer):
    """A Typer whose commands turn a :class:`~brats_mlops.errors.UserError` (bad params, missing project, data or
    inputs) into one ``error:`` line and exit 2, wherever in the library it is raised — never a traceback."""

    def command(self, *args, **kwargs):  # noqa: ANN002, ANN003 (Typer's signature)
        register = super().command(*args, **kwargs)

        def decorator(fn):  # noqa: ANN001
            @functools.wraps(fn)
            def guarded(*a, **kw):  # noqa: ANN002, ANN003
                try:
                    return fn(*a, **kw)
                except UserError as err:
                    fail(str(err))

            register(guarded)
            return fn

        return decorator


app = _Typer(
    help="brats_mlops: a reproducible, tracked BraTS pipeline. The pipeline itself runs with `dvc repro`; "
    "these commands check data, make synthetic data, apply presets and find results.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show library notices, download progress bars and debug logs (quiet by default)."),
) -> None:
    """Options for every command."""
    if verbose:
        import logging

        os.environ["BRATS_VERBOSE"] = "1"
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "true"
        logging.getLogger("brats_mlops").setLevel(logging.DEBUG)


preset_app = _Typer(help="Named params presets (params/presets/*.yaml).", no_args_is_help=True)
app.add_typer(preset_app, name="preset")
server_app = _Typer(help="The MLflow tracking server (127.0.0.1, proxied artifacts): start, status, stop.", no_args_is_help=True)
app.add_typer(server_app, name="server")
console = Console(stderr=True)


def _sources() -> dict[str, str]:
    from brats_mlops.data.editions import EDITIONS

    return {"auto": "auto", **{e: e for e in EDITIONS}}


SourceOpt = Enum("SourceOpt", _sources(), type=str)  # every edition of data/editions.py, and auto


class OnFailure(str, Enum):
    quarantine = "quarantine"
    stop = "stop"


def fail(msg: str, code: int = 2) -> None:
    """Print ``error: <msg>`` (one line, no traceback) and exit with ``code``."""
    console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_modalities(text: str) -> tuple[str, ...]:
    from brats_mlops.names import MODALITIES

    mods = tuple(m.strip().lower() for m in text.replace(" ", ",").split(",") if m.strip())
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        fail(f"--modalities: unknown {bad or 'empty list'}; valid: {', '.join(MODALITIES)} (comma separated)")
    return tuple(m for m in MODALITIES if m in mods)


def use_store() -> str:
    """Point MLflow at the project's store (``MLFLOW_TRACKING_URI`` wins) and return the URI."""
    from brats_mlops.tracking import use_store as _use

    return _use()
