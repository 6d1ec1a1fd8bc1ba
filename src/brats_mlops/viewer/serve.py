"""Start the Streamlit viewer on 127.0.0.1 for the current project (no telemetry, no browser, no file watcher)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--global.developmentMode", "false", "--client.toolbarMode", "minimal"]


def environment() -> dict[str, str]:
    return {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
            "DVC_NO_ANALYTICS": "1"}


def serve(port: int, cwd: Path | None = None) -> int:
    """Run the viewer in the foreground until Ctrl-C; returns its exit code."""
    from brats_mlops.tracking import real_project_root

    print(f"viewer: http://127.0.0.1:{port}  (Ctrl-C stops it)", flush=True)
    try:
        return subprocess.run(command(port), cwd=cwd or real_project_root(), env=environment()).returncode
    except KeyboardInterrupt:
        return 0
