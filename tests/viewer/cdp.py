"""Drive headless Chromium over the DevTools protocol: Streamlit pages render over a websocket, which Chromium's
``--dump-dom``/``--virtual-time-budget`` do not wait for, so the test polls the live page until it shows what it wants."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from tests.mlflow_server.conftest import free_port
from tests.ui.test_mlflow_ui import chromium


def render(url: str, shot: Path, wait_for: list[str], timeout: float = 120) -> tuple[str, int]:
    """Open ``url``; wait until the page text holds every string of ``wait_for`` (or ``timeout``); save a full-page
    screenshot to ``shot``; return (page text, number of <img> elements)."""
    port = free_port()
    # chromium's helper processes may still write to the profile when the browser is killed: kill its whole process
    # group, and do not fail the test on a profile folder that a dying helper refilled
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as prof:
        proc = subprocess.Popen([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                                 "--disable-background-networking", f"--remote-debugging-port={port}", "--remote-allow-origins=*",
                                 f"--user-data-dir={prof}", "--window-size=1400,1800", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            targets = None
            for _ in range(150):
                try:
                    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2))
                    break
                except OSError:
                    time.sleep(0.2)
            page = next(t for t in targets if t["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=20) as ws:
                ids = iter(range(1, 10**6))

                def call(method: str, **params):
                    i = next(ids)
                    ws.send(json.dumps({"id": i, "method": method, "params": params}))
                    while True:
                        msg = json.loads(ws.recv(timeout=60))
                        if msg.get("id") == i:
                            return msg.get("result", {})

                def js(expr: str):
                    return call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")

                call("Page.navigate", url=url)
                deadline, text = time.time() + timeout, ""
                while time.time() < deadline:
                    text = js("document.body ? document.body.innerText : ''") or ""
                    if all(w in text for w in wait_for):
                        break
                    time.sleep(1)
                time.sleep(1)  # let the images decode
                n_img = js("Array.from(document.querySelectorAll('img')).filter(i => i.complete && i.naturalWidth > 0).length")
                shot.parent.mkdir(parents=True, exist_ok=True)
                shot.write_bytes(base64.b64decode(call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]))
                return text, int(n_img or 0)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
