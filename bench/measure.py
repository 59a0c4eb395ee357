"""Timing and memory primitives for the benchmark: percentiles, bounded timing loops, /proc readings.

Memory is read from ``/proc/<pid>/status`` (VmHWM = peak resident set, VmRSS = now): every measurement runs
in its own subprocess, so its VmHWM is the peak of that measurement alone.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def percentiles(values_ms: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/mean/max of latencies in milliseconds (None when empty)."""
    if not values_ms:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    a = np.asarray(values_ms, dtype=np.float64)
    return {
        "n": int(a.size),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
        "mean": round(float(a.mean()), 3),
        "max": round(float(a.max()), 3),
    }


def timed_loop(
    items: Sequence[Any], fn: Callable[[Any], Any], *, passes: int, max_seconds: float, warmup: int = 5
) -> tuple[list[float], list[Any]]:
    """Call ``fn`` on every item, ``passes`` times over, stopping early after ``max_seconds``.

    The first ``warmup`` calls are made and discarded first. Returns (latencies in ms, results of the first
    pass).
    """
    for item in list(items)[:warmup]:
        fn(item)
    latencies: list[float] = []
    first: list[Any] = []
    deadline = time.perf_counter() + max_seconds
    for p in range(passes):
        for item in items:
            t0 = time.perf_counter()
            out = fn(item)
            latencies.append((time.perf_counter() - t0) * 1000)
            if p == 0:
                first.append(out)
            if time.perf_counter() > deadline:
                return latencies, first
    return latencies, first


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmHWM and VmRSS of a process in MiB (empty when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for key in ("VmHWM", "VmRSS"):
        m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        if m:
            out[key.lower() + "_mib"] = round(int(m.group(1)) / 1024, 1)
    return out


def dir_size_mib(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 2**20, 1)


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and the load average when asked (the numbers depend on all of them)."""
    cpu = "unknown"
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    mem_gib = None
    try:
        m = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        mem_gib = round(int(m.group(1)) / 2**20, 1) if m else None
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
