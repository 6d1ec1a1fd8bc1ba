"""Open the MLflow UI on the project's embedded tracking store (127.0.0.1 only).

    python -m mlflow_server.ui [--port 5000]

Artifacts live under ``<project root>/mlartifacts`` (absolute locations recorded per experiment), so the UI
serves them straight from disk.
"""

from __future__ import annotations

import argparse
import os
import sys

from brats_mlops.config.schema import load_params
from brats_mlops.tracking import real_project_root, tracking_uri


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)
    root = real_project_root()
    uri = tracking_uri(load_params(root / "params.yaml"))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port),
           "--default-artifact-root", (root / "mlartifacts").as_uri()]
    print(f"MLflow UI on {uri}: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    os.execvpe(cmd[0], cmd, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
