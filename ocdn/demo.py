"""`ocdn demo`: the whole CDN on loopback, ready for curl.

Starts the embedded origin with a sample object, and one edge in front of it, each as
its own `ocdn` process (as they would run on real boxes), prints the curl lines to try,
and stops everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ORIGIN_PORT = 9000
EDGE_PORT = 8101
BUCKET = "media"
SAMPLE_KEY = "demo/sample.bin"
SAMPLE_BYTES = 8 << 20


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run the embedded origin and an edge on loopback")
    p.add_argument("--dir", default="var/demo", help="working directory for caches and logs")
    p.add_argument("--origin-port", type=int, default=ORIGIN_PORT)
    p.add_argument("--edge-port", type=int, default=EDGE_PORT)
    p.add_argument("--fresh", action="store_true", help="empty the edge cache first")
    p.set_defaults(func=run)


def _wait_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


def _sample(size: int) -> bytes:
    """Deterministic pseudo-video bytes, so every run serves the same sha256."""
    import hashlib

    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))
    return (block * (size // len(block) + 1))[:size]


def run(args: argparse.Namespace) -> int:
    from origin.s3 import make_client
    from origin.server import CREDENTIALS

    work = Path(args.dir)
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **CREDENTIALS}
    os.environ.update(CREDENTIALS)
    ocdn = [sys.executable, "-m", "ocdn.cli"]
    endpoint = f"http://127.0.0.1:{args.origin_port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(
            [*ocdn, "origin", "--port", str(args.origin_port), "--bucket", BUCKET], env=env,
            stdout=open(work / "origin.log", "ab"), stderr=subprocess.STDOUT))  # noqa: SIM115
        _wait_port(args.origin_port)
        client = make_client(endpoint)
        client.put_object(Bucket=BUCKET, Key=SAMPLE_KEY, Body=_sample(SAMPLE_BYTES),
                          ContentType="application/octet-stream")
        procs.append(subprocess.Popen(
            [*ocdn, "edge", "--listen", f"127.0.0.1:{args.edge_port}",
             "--origin", f"s3://{BUCKET}", "--s3-endpoint", endpoint,
             "--cache-dir", str(work / "edge-cache"), "--cache-size", "256MiB",
             "--id", "demo-1", "--site", "local",
             "--access-log", str(work / "edge-access.log")], env=env,
            stdout=open(work / "edge.log", "ab"), stderr=subprocess.STDOUT))  # noqa: SIM115
        _wait_port(args.edge_port)
        edge = f"http://127.0.0.1:{args.edge_port}"
        print(f"""
ocdn demo is up (logs in {work}/):
  origin   {endpoint}   bucket s3://{BUCKET}, sample object {SAMPLE_KEY} ({SAMPLE_BYTES} bytes)
  edge     {edge}

Try:
  curl -sI {edge}/{SAMPLE_KEY}                        # metadata, X-Cache
  curl -s -r 0-1023 {edge}/{SAMPLE_KEY} | wc -c       # a byte range (1024)
  curl -s {edge}/{SAMPLE_KEY} | sha256sum             # the whole object, filled in slices
  curl -s -D - -o /dev/null {edge}/{SAMPLE_KEY}       # again: X-Cache: HIT
  curl -s {edge}/status
  curl -s {edge}/metrics | grep ^ocdn_edge_

Ctrl-C stops everything.""", flush=True)
        stop = False

        def _stop(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while not stop:
            for p in procs:
                if p.poll() is not None:
                    print(f"a service exited ({p.args!r}); see the logs in {work}/",
                          file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
