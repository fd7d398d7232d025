"""`ocdn demo` end to end: the commands it prints work, and Ctrl-C stops everything."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from pathlib import Path

from bench.machine import free_port_run
from ocdn.demo import SAMPLE_BYTES, SAMPLE_KEY, _sample
from tests.support.procs import OCDN, env, free_port, http_get


def test_demo_serves_through_steering_and_stops(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("origin", "steering")}
    edge_port = free_port_run(4)  # the demo takes four consecutive ports from here
    out = tmp_path / "demo.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [*OCDN, "demo", "--dir", str(tmp_path / "demo"), "--origin-port",
             str(ports["origin"]), "--steering-port", str(ports["steering"]),
             "--edge-port", str(edge_port)], env=env(), stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "ocdn demo is up" not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        steer = f"http://127.0.0.1:{ports['steering']}"
        deadline = time.monotonic() + 15
        while True:  # steering marks edges up after its first probes
            status, _, body = http_get(f"{steer}/v1/steer?path=/{SAMPLE_KEY}")
            if status == 200 and len(json.loads(body)["urls"]) == 4:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
        got = subprocess.run(["curl", "-sfL", f"{steer}/r/{SAMPLE_KEY}"], capture_output=True,
                             timeout=60, check=True).stdout
        assert len(got) == SAMPLE_BYTES
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(_sample(SAMPLE_BYTES)).hexdigest()
        assert http_get(f"http://127.0.0.1:{edge_port}/{SAMPLE_KEY}")[0] == 403  # unsigned
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, out.read_text()
    for port in (ports["origin"], ports["steering"], edge_port):
        try:
            http_get(f"http://127.0.0.1:{port}/healthz", timeout_s=2)
        except OSError:
            continue
        raise AssertionError(f"something still listens on {port} after the demo stopped")
