"""`ocdn demo`: the whole CDN on loopback, ready for curl.

Starts, each as its own `ocdn` process as on real boxes: the embedded S3-compatible
origin with a sample object, four edges in two IXP sites (with signed URLs required and
an admin token), and steering in front of them with a topology that maps loopback
clients to the first site. Prints the curl lines to try; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BUCKET = "media"
SAMPLE_KEY = "demo/sample.bin"
SAMPLE_BYTES = 8 << 20
SITES = {"ams-ix": (52.37, 4.90), "fra-ix": (50.11, 8.68)}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run origin, edges and steering on loopback")
    p.add_argument("--dir", default="var/demo", help="working directory for caches and logs")
    p.add_argument("--origin-port", type=int, default=9000)
    p.add_argument("--edge-port", type=int, default=8101,
                   help="first edge port; the four edges take this and the next three")
    p.add_argument("--steering-port", type=int, default=8300)
    p.add_argument("--fresh", action="store_true", help="empty the edge caches first")
    p.set_defaults(func=run)


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


def _sample(size: int) -> bytes:
    """Deterministic pseudo-video bytes, so every run serves the same sha256."""
    return hashlib.shake_256(b"ocdn demo sample").digest(size)


def _topology(edge_ports: list[int]) -> str:
    lines = ["sites:"]
    for n, (site, (lat, lon)) in enumerate(SITES.items()):
        lines += [f"  - id: {site}", f"    location: {{lat: {lat}, lon: {lon}}}", "    edges:"]
        for i, port in enumerate(edge_ports[2 * n : 2 * n + 2]):
            lines.append(f'      - {{id: {site[:3]}-{i + 1}, url: "http://127.0.0.1:{port}", '
                         "capacity_gbps: 10}")
    lines += ["prefixes:", "  - {prefix: 127.0.0.0/8, sites: [ams-ix, fra-ix]}",
              "  - {prefix: \"::1/128\", sites: [ams-ix, fra-ix]}", "default_sites: [fra-ix]"]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from origin.s3 import make_client
    from origin.server import CREDENTIALS

    work = Path(args.dir).resolve()
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    keys = work / "token-keys"
    if not keys.exists():
        keys.write_text(f"demo1={secrets.token_hex(24)}\n")
    admin = work / "admin-token"
    if not admin.exists():
        admin.write_text(secrets.token_hex(24) + "\n")
    edge_ports = [args.edge_port + i for i in range(4)]
    (work / "topology.yaml").write_text(_topology(edge_ports))
    env = {**os.environ, **CREDENTIALS}
    os.environ.update(CREDENTIALS)
    ocdn = [sys.executable, "-m", "ocdn.cli"]
    endpoint = f"http://127.0.0.1:{args.origin_port}"
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, argv: list[str], port: int) -> None:
        log = open(work / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen([*ocdn, *argv], env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        _wait_port(port, proc)

    try:
        start("origin", ["origin", "--port", str(args.origin_port), "--bucket", BUCKET],
              args.origin_port)
        deadline = time.monotonic() + 30
        while True:
            try:
                make_client(endpoint).put_object(Bucket=BUCKET, Key=SAMPLE_KEY,
                                                 Body=_sample(SAMPLE_BYTES),
                                                 ContentType="application/octet-stream")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # the bucket appears just after the port opens
        names = [f"{site[:3]}-{i}" for site in SITES for i in (1, 2)]
        for n, port in enumerate(edge_ports):
            start(f"edge-{names[n]}", [
                "edge", "--listen", f"127.0.0.1:{port}", "--origin", f"s3://{BUCKET}",
                "--s3-endpoint", endpoint, "--cache-dir", str(work / f"cache-{names[n]}"),
                "--cache-size", "256MiB", "--id", names[n], "--site", list(SITES)[n // 2],
                "--token-secret-file", str(keys), "--admin-token-file", str(admin),
                "--access-log", str(work / f"access-{names[n]}.log")], port)
        start("steering", ["steering", "--topology", str(work / "topology.yaml"),
                           "--listen", f"127.0.0.1:{args.steering_port}",
                           "--token-secret-file", str(keys)], args.steering_port)
        steer = f"http://127.0.0.1:{args.steering_port}"
        edge = f"http://127.0.0.1:{edge_ports[0]}"
        print(f"""
ocdn demo is up (logs, caches and keys in {work}/):
  origin    {endpoint}  bucket s3://{BUCKET}, sample object {SAMPLE_KEY} ({SAMPLE_BYTES} bytes)
  edges     {', '.join(f'{n} http://127.0.0.1:{p}' for n, p in zip(names, edge_ports,
                                                                  strict=True))}
  steering  {steer}  (topology {work}/topology.yaml)

Try:
  curl -s '{steer}/v1/steer?path=/{SAMPLE_KEY}'                  # ranked, signed edge URLs
  curl -sL -r 0-1023 {steer}/r/{SAMPLE_KEY} | wc -c              # follow the 302: 1024 bytes
  curl -sL {steer}/r/{SAMPLE_KEY} | sha256sum                    # whole object, slice by slice
  curl -sL -D - -o /dev/null {steer}/r/{SAMPLE_KEY} | grep X-Cache # again: HIT
  curl -s -o /dev/null -w '%{{http_code}}\\n' {edge}/{SAMPLE_KEY}   # no token: 403
  curl -s {steer}/v1/edges                                       # health as steering sees it
  curl -s {edge}/status; curl -s {edge}/metrics | grep ^ocdn_edge_requests
  curl -s -X POST -H "Authorization: Bearer $(cat {admin})" {edge}/admin/drain

expected sha256: {hashlib.sha256(_sample(SAMPLE_BYTES)).hexdigest()}
Ctrl-C stops everything.""", flush=True)
        stopping = False

        def _stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while not stopping:
            for p in procs:
                if p.poll() is not None:
                    print(f"a service exited ({p.args!r}); "
                          f"see the logs in {work}/", file=sys.stderr)
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
