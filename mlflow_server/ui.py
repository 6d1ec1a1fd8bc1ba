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
from brats_mlops.tracking import experiment_names, real_project_root, tracking_uri, ui_url
from mlflow_server.server import NO_JOB_RUNNER


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)
    root = real_project_root()
    uri = tracking_uri(load_params(root / "params.yaml"))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.setdefault(*NO_JOB_RUNNER)   # no GenAI job runner (~8 processes, ~1.3 GB): see mlflow_server/server.py
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port),
           "--default-artifact-root", (root / "mlartifacts").as_uri()]
    base = f"http://{args.host}:{args.port}"
    print(f"MLflow UI on {uri}: {base}  (Ctrl-C stops it)", flush=True)
    try:   # the runs of each experiment, opened in the "Model training" view (MLflow 3 defaults to its GenAI view)
        for name, exp_id in experiment_names(uri):
            if name.startswith("brats-"):
                print(f"  {name:<20} {ui_url(base, exp_id)}", flush=True)
        print(f"  registered models    {ui_url(base)}", flush=True)
    except Exception:  # noqa: BLE001 (a convenience: the UI starts either way)
        pass
    os.execvpe(cmd[0], cmd, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
