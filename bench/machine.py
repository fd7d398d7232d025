"""What a benchmark report says about the machine it ran on."""

from __future__ import annotations

import platform
from pathlib import Path


def load1() -> float:
    """The 1-minute load average (0.0 when /proc does not say)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
