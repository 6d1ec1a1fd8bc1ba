"""Describe the machine a benchmark ran on."""

from __future__ import annotations

import datetime as dt
import os
import platform


def machine() -> dict[str, str | int]:
    cpu = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return {"date": dt.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count() or 0, "memory": mem,
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_1min_at_start": round(os.getloadavg()[0], 2)}  # the machine is shared: how busy it was
