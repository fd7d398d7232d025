"""The deploy/ Prometheus files against a real Prometheus scraping a real edge.

Needs Debian's `prometheus` package (promtool and the server); `.ci/run` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.support.procs import ROOT, Proc, edge_proc, free_port, http_get, origin_proc

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
# Skipped only outside CI: in CI a missing Prometheus must fail, not pass quietly.
pytestmark = pytest.mark.skipif(
    (PROMETHEUS is None or PROMTOOL is None) and not os.environ.get("CI"),
    reason="Debian's prometheus package is not installed (`make deps` installs it)",
)


def test_alert_rules_are_valid() -> None:
    assert PROMTOOL is not None, "CI must install prometheus"
    proc = subprocess.run([PROMTOOL, "check", "rules",
                           str(ROOT / "deploy/prometheus/ocdn-alerts.yml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 6 rules found" in proc.stdout


def test_prometheus_scrapes_the_edge(tmp_path: Path) -> None:
    assert PROMETHEUS is not None, "CI must install prometheus"
    origin = origin_proc(tmp_path).start()
    edge = edge_proc(tmp_path, "s3://media", s3_endpoint=origin.url).start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        f"rule_files: [{ROOT / 'deploy/prometheus/ocdn-alerts.yml'}]\n"
        "scrape_configs:\n"
        f"  - job_name: ocdn-edge\n    static_configs: [{{targets: ['127.0.0.1:{edge.port}']}}]\n")
    prom = Proc([PROMETHEUS, f"--config.file={config}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"], port, tmp_path / "prometheus.log")
    try:
        prom.start(timeout_s=60)
        from origin.s3 import make_client

        make_client(origin.url).put_object(Bucket="media", Key="p.mp4", Body=b"x" * 1000)
        for _ in range(3):
            assert http_get(f"{edge.url}/p.mp4")[0] == 200
        query = urllib.parse.quote('sum(ocdn_edge_requests_total{job="ocdn-edge"})')
        deadline = time.monotonic() + 60
        value = 0.0
        while time.monotonic() < deadline:
            status, _, body = http_get(f"{prom.url}/api/v1/query?query={query}")
            result = json.loads(body)["data"]["result"] if status == 200 else []
            if result:
                value = float(result[0]["value"][1])
                if value >= 3:
                    break
            time.sleep(0.5)
        assert value >= 3, prom.log_text()[-2000:]
        status, _, body = http_get(f"{prom.url}/api/v1/targets")
        target = json.loads(body)["data"]["activeTargets"][0]
        assert target["health"] == "up", target
        status, _, body = http_get(f"{prom.url}/api/v1/rules")
        names = {r["name"] for g in json.loads(body)["data"]["groups"] for r in g["rules"]}
        assert "OcdnEdgeDown" in names
    finally:
        prom.stop()
        edge.stop()
        origin.stop()
