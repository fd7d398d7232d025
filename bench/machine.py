"""What a benchmark report says about the machine it ran on, and the free ports a
benchmark or an integration test binds its servers to."""

from __future__ import annotations

import platform
import random
import socket
from pathlib import Path


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports, taken below Linux's ephemeral
    range (32768 up): a port picked there is not handed to some client's outgoing
    connection between this check and the server binding it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32768 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no run of {count} free ports found")


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
