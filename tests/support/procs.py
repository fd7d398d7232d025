"""Real ocdn processes on loopback for integration tests.

Every service runs as its own `python -m ocdn.cli ...` process on a free loopback port,
as it would on a box; tests talk to it over real sockets and may kill it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from origin.server import CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
OCDN = [sys.executable, "-m", "ocdn.cli"]


def env() -> dict[str, str]:
    return {**os.environ, **CREDENTIALS, "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any] | None = None,
              timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {proc.args}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


class Proc:
    """A started service: its process, port, base URL and log file."""

    def __init__(self, args: Sequence[str], port: int, log: Path, ready: str = "") -> None:
        self.args = list(args)
        self.ready = ready  # a line the log shows once the service is ready, if any
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> Proc:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.args, env=env(), stdout=out,
                                         stderr=subprocess.STDOUT, cwd=ROOT)
        wait_port(self.port, self.proc, timeout_s)
        deadline = time.monotonic() + timeout_s
        while self.ready and self.ready not in self.log_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError(f"{self.args} never logged {self.ready!r}")
            time.sleep(0.05)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def origin_proc(tmp: Path, bucket: str = "media") -> Proc:
    port = free_port()
    return Proc([*OCDN, "origin", "--port", str(port), "--bucket", bucket], port,
                tmp / f"origin-{port}.log", ready="S3-compatible endpoint")


def edge_proc(tmp: Path, origin: str, *extra: str, s3_endpoint: str | None = None,
              cache_dir: Path | None = None, port: int | None = None) -> Proc:
    port = port or free_port()
    args = [*OCDN, "edge", "--listen", f"127.0.0.1:{port}", "--origin", origin,
            "--cache-dir", str(cache_dir or tmp / f"cache-{port}"), "--access-log", "off",
            "--log-level", "info", *extra]
    if s3_endpoint:
        args += ["--s3-endpoint", s3_endpoint]
    return Proc(args, port, tmp / f"edge-{port}.log")


def proxy_proc(tmp: Path, upstream: str) -> Proc:
    port = free_port()
    return Proc([sys.executable, "-m", "tests.support.countproxy", "--port", str(port),
                 "--upstream", upstream], port, tmp / f"proxy-{port}.log")


@contextmanager
def running(*procs: Proc) -> Iterator[None]:
    try:
        for p in procs:
            p.start()
        yield
    finally:
        for p in reversed(procs):
            p.stop()


def http_get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET",
    data: bytes | None = None, timeout_s: float = 30.0,
) -> tuple[int, dict[str, str], bytes]:
    """A plain blocking HTTP request; returns status, headers (lower-case) and body."""
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
