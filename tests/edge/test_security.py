"""Signed URLs on a real edge: what steering signs, the edge verifies (403 otherwise)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common.tokens import parse_key_file, sign
from tests.edge.conftest import Origin, blob
from tests.support.procs import http_get

KEYS = "new=0123456789abcdef0123456789abcdef\nold=fedcba9876543210fedcba9876543210\n"


def test_tokens_are_required_and_verified(origin: Origin, start_edge: Any,
                                          tmp_path: Path) -> None:
    (tmp_path / "keys").write_text(KEYS)
    data = blob(1000, seed=60)
    origin.put("sec/a.mp4", data)
    edge = start_edge("--token-secret-file", str(tmp_path / "keys"))
    ring = parse_key_file(KEYS)
    now = int(time.time())
    good = sign("/sec/a.mp4", now + 60, ring)
    url = f"{edge.url}/sec/a.mp4"
    status, _, body = http_get(f"{url}?token={good}")
    assert status == 200 and body == data
    old_ring = parse_key_file("old=fedcba9876543210fedcba9876543210\n")
    assert http_get(f"{url}?token={sign('/sec/a.mp4', now + 60, old_ring)}")[0] == 200
    assert http_get(url)[0] == 403  # missing
    assert http_get(f"{url}?token={sign('/sec/a.mp4', now - 1, ring)}")[0] == 403  # expired
    assert http_get(f"{url}?token={sign('/sec/b.mp4', now + 60, ring)}")[0] == 403  # path
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert http_get(f"{url}?token={tampered}")[0] == 403
    foreign = parse_key_file("new=another-secret-entirely-000000\n")
    assert http_get(f"{url}?token={sign('/sec/a.mp4', now + 60, foreign)}")[0] == 403
    bound = sign("/sec/a.mp4", now + 60, ring, client_prefix="127.0.0.0/8")
    assert http_get(f"{url}?token={bound}")[0] == 200
    elsewhere = sign("/sec/a.mp4", now + 60, ring, client_prefix="10.0.0.0/8")
    assert http_get(f"{url}?token={elsewhere}")[0] == 403
    title = sign("/sec/", now + 60, ring)  # a directory token: the whole title
    assert http_get(f"{url}?token={title}")[0] == 200
    assert http_get(f"{edge.url}/other/a.mp4?token={title}")[0] == 403
    stale = sign("/sec/", now - 1, ring)
    # several tokens (a playlist's imported one, a steering clone's): one good one is enough
    assert http_get(f"{url}?token={stale}&token={title}")[0] == 200
    assert http_get(f"{url}?token={stale}&token={tampered}")[0] == 403
    _, _, metrics = http_get(f"{edge.url}/metrics")
    assert b'ocdn_edge_token_rejections_total{reason="expired"} 2.0' in metrics


def test_bad_config_stops_startup_naming_the_field(tmp_path: Path) -> None:
    import subprocess

    from tests.support.procs import OCDN, env

    cases = [
        (["--cache-size", "12XB"], "cache_size"),
        (["--slice-size", "1000"], "slice_size"),
        (["--policy", "fifo9"], "policy"),
        (["--listen", "nowhere"], "listen"),
        (["--token-secret-file", str(tmp_path / "none")], "token_secret_file"),
        (["--origin", "ftp://x"], "origin"),
        ([], "origin"),
    ]
    for args, field in cases:
        base = [] if args == [] else ["--origin", "s3://media"]
        if args and args[0] == "--origin":
            base = []
        proc = subprocess.run([*OCDN, "edge", *base, *args, "--cache-dir", str(tmp_path / "c")],
                              env=env(), capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, (args, proc.stderr)
        assert f"config error: {field}" in proc.stderr, (args, proc.stderr)
    conf = tmp_path / "edge.toml"
    conf.write_text('[edge]\norigin = "s3://media"\ncache_sise = "1GiB"\n')
    proc = subprocess.run([*OCDN, "edge", "--config", str(conf)], env=env(),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "config error: cache_sise" in proc.stderr
    proc = subprocess.run([*OCDN, "edge", "--origin", "s3://media"],
                          env={**env(), "OCDN_EDGE_MAX_RANGES": "lots"},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "max_ranges (from OCDN_EDGE_MAX_RANGES)" in proc.stderr


def test_access_log_is_json_lines(origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    import json

    log = tmp_path / "access.log"
    origin.put("sec/log.mp4", blob(500, seed=61))
    edge = start_edge("--access-log", str(log))
    http_get(f"{edge.url}/sec/log.mp4", {"Range": "bytes=0-9"})
    http_get(f"{edge.url}/sec/nothing.mp4")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.1)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["status"], x["range"], x["key"]) for x in lines[:2]] == [
        (206, "bytes=0-9", "sec/log.mp4"), (404, None, "")]
    assert lines[0]["cache"] == "miss" and lines[0]["bytes"] == 10


def test_sighup_reopens_the_access_log(origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    """What logrotate does (deploy/logrotate/ocdn): move the file away, then SIGHUP; the
    lines before go to the moved file, the ones after to a new file under the old name."""
    import json
    import signal

    log = tmp_path / "access.log"
    origin.put("sec/rotate.mp4", blob(500, seed=62))
    edge = start_edge("--access-log", str(log))

    def lines(path: Path, want: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 5
        while not (path.exists() and len(path.read_text().splitlines()) >= want):
            assert time.monotonic() < deadline, f"{path} never had {want} lines"
            time.sleep(0.1)
        return [json.loads(line) for line in path.read_text().splitlines()]

    http_get(f"{edge.url}/sec/rotate.mp4", {"Range": "bytes=0-9"})
    lines(log, 1)
    rotated = tmp_path / "access.log.1"
    log.rename(rotated)
    edge.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "reopened its access log" not in edge.log_text():
        assert time.monotonic() < deadline and edge.proc.poll() is None
        time.sleep(0.05)
    http_get(f"{edge.url}/sec/rotate.mp4", {"Range": "bytes=10-19"})
    assert [x["range"] for x in lines(log, 1)] == ["bytes=10-19"]
    assert [x["range"] for x in lines(rotated, 1)] == ["bytes=0-9"]
