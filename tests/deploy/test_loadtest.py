"""The locust load test, run for a few seconds against `ocdn demo` (bounded, loopback)."""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bench.machine import free_port_run
from tests.support.procs import OCDN, ROOT, env, free_port, http_get

LOCUST = shutil.which("locust") or str(Path(OCDN[0]).with_name("locust"))


def test_locust_players_against_the_demo(tmp_path: Path) -> None:
    if not Path(LOCUST).exists():
        pytest.fail("locust is not installed (it is in the dev extras)")
    origin, steering, edge = free_port(), free_port(), free_port_run(4)  # edge: 4 ports
    out = tmp_path / "demo.out"
    with open(out, "wb") as fh:
        demo = subprocess.Popen([*OCDN, "demo", "--dir", str(tmp_path / "demo"),
                                 "--origin-port", str(origin), "--steering-port", str(steering),
                                 "--edge-port", str(edge)], env=env(), stdout=fh,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "ocdn demo is up" not in out.read_text():
            assert demo.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        while http_get(f"http://127.0.0.1:{steering}/v1/steer?path=/demo/sample.bin")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        proc = subprocess.run(
            [LOCUST, "-f", str(ROOT / "deploy/loadtest/locustfile.py"), "--headless",
             "-u", "10", "-r", "10", "-t", "6s", "--host", f"http://127.0.0.1:{steering}",
             "--csv", str(tmp_path / "run"), "--only-summary"],
            env=env(), capture_output=True, text=True, timeout=60)
        with open(tmp_path / "run_stats.csv") as fh:
            rows = {row["Name"]: row for row in csv.DictReader(fh)}
        assert int(rows["/v1/steer"]["Request Count"]) > 5, proc.stderr[-2000:]
        assert int(rows["edge range"]["Request Count"]) > 20
        assert int(rows["Aggregated"]["Failure Count"]) == 0, proc.stderr[-2000:]
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(30)
