"""The pure parts of bench/edge_vs_nginx.py: nginx configs, wrk output, samples, tables."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from bench.edge_vs_nginx import (
    WORKLOADS,
    Runs,
    Server,
    WrkParams,
    WrkResult,
    find_nginx,
    log_problems,
    main_table,
    modes_table,
    nginx_conf,
    parse_args,
    parse_wrk,
    render,
    stat_times,
)

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:40123
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.40ms  512.00us   9.00ms   75.00%
    Req/Sec    23.10k     1.20k   26.00k    70.00%
  460000 requests in 10.00s, 28.20GB read
Requests/sec:  45990.00
Transfer/sec:      2.82GB
OCDN-WRK requests=460000 duration_us=10002000 bytes=30279000000 connect=0 read=0 write=0 \
status=3 timeout=0 p50_us=1350 p99_us=4100
OCDN-WRK-CHECK ok=10 bad=1 first=200/2097152/-
OCDN-WRK-CHECK ok=12 bad=0 first=
"""


def test_render_fills_every_placeholder() -> None:
    assert render("listen @HOST@:@PORT@;", {"HOST": "127.0.0.1", "PORT": "80"}) == \
        "listen 127.0.0.1:80;"
    with pytest.raises(ValueError, match="@ROOT@"):
        render("root @ROOT@;", {"PORT": "80"})


def test_cache_conf_has_the_slice_setup(tmp_path: Path) -> None:
    conf = nginx_conf("cache", tmp_path, 8080, origin_port=9090, as_root=True)
    for line in ("worker_processes 1;", "slice 1m;", "access_log off;", "sendfile on;",
                 "proxy_cache_key $uri$is_args$args$slice_range;",
                 "proxy_set_header Range $slice_range;", "proxy_cache_valid 200 206 7d;",
                 "server 127.0.0.1:9090;", "listen 127.0.0.1:8080;", "user root;",
                 f"pid {tmp_path}/nginx.pid;", f"proxy_temp_path {tmp_path}/proxy_temp;"):
        assert line in conf
    assert "user root;" not in nginx_conf("cache", tmp_path, 1, origin_port=2, as_root=False)


def test_origin_conf_serves_the_directory(tmp_path: Path) -> None:
    conf = nginx_conf("origin", tmp_path / "p", 8081, root=tmp_path / "data", as_root=False)
    assert f"root {tmp_path}/data;" in conf
    assert "worker_processes 1;" in conf and "proxy_cache" not in conf


@pytest.mark.skipif(find_nginx() is None, reason="nginx not installed")
def test_configs_pass_nginx_t(tmp_path: Path) -> None:
    nginx = find_nginx()
    assert nginx is not None
    for kind, extra in (("origin", {"root": tmp_path}), ("cache", {"origin_port": 9})):
        prefix = tmp_path / kind
        prefix.mkdir()
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_conf(kind, prefix, 1, **extra))  # type: ignore[arg-type]
        out = subprocess.run([nginx, "-t", "-q", "-p", str(prefix), "-e", str(prefix / "e.log"),
                              "-c", str(conf)], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stderr


def test_parse_wrk() -> None:
    r = parse_wrk(WRK_OUTPUT)
    assert r.requests == 460000 and r.bytes_read == 30279000000
    assert r.duration_s == pytest.approx(10.002)
    assert r.req_per_s == pytest.approx(45990.8, rel=1e-4)
    assert r.mib_per_s(64 << 10) == pytest.approx(r.req_per_s / 16)
    assert r.errors == {"connect": 0, "read": 0, "write": 0, "status": 3, "timeout": 0}
    assert r.error_count == 3
    assert (r.p50_ms, r.p99_ms) == (1.35, 4.1)
    assert (r.check_ok, r.check_bad, r.first_bad) == (22, 1, "200/2097152/-")


def test_parse_wrk_without_our_line() -> None:
    with pytest.raises(ValueError, match="no OCDN-WRK line"):
        parse_wrk(WRK_OUTPUT.split("OCDN-WRK")[0])


def test_samples_match_the_lua_generator_bounds() -> None:
    rng = random.Random(7)
    w1, w2, w3 = WORKLOADS
    for _ in range(200):
        path, r = w1.sample(rng)
        assert r is None and path.startswith("/obj/") and len(path) == len("/obj/000.bin")
        path, r = w2.sample(rng)
        assert r is not None and r[1] - r[0] == 64 << 10 and r[0] >= 0 and r[1] <= 2 << 20
        path, r = w3.sample(rng)
        assert path == "/big.bin" and r is not None and r[1] - r[0] == 1 << 20
        assert r[1] <= 1 << 30
    assert w2.wrk_args(5) == ["/obj/%03d.bin", "200", str(2 << 20), str(64 << 10), "5"]


def test_wrk_argv() -> None:
    argv = WrkParams(2, 64, 10, 1).argv("wrk", 8080, WORKLOADS[2])
    assert argv[:4] == ["wrk", "-t2", "-c64", "-d10s"]
    assert "http://127.0.0.1:8080" in argv
    assert argv[argv.index("--") + 1:] == ["/big.bin", "1", str(1 << 30), str(1 << 20), "1"]
    assert Path(argv[argv.index("-s") + 1]).is_file()


def _result(rps: float, cpu_s: float = 0.0) -> WrkResult:
    return WrkResult(int(rps * 10), 10.0, 0, {"connect": 0, "read": 0, "write": 0,
                                              "status": 0, "timeout": 0}, 1.0, 2.0,
                     server_cpu_s=cpu_s)


def test_tables_use_medians_and_ratios() -> None:
    results = {"W2": {"nginx": Runs([_result(100), _result(300), _result(200, 0.1)]),
                      "edge": Runs([_result(250), _result(150), _result(400)])}}
    table = main_table(results)
    assert "| 200 | 12 | 0 | 250 | 16 | 0 | 1.25x |" in table
    modes = {"sendfile": {"W2": _result(100, 0.05)}, "pread": {"W2": _result(300)}}
    assert "| W2 | 100 (0.50x), 50 | 300 (1.50x), 0 |" in modes_table(modes, {"W2": 200.0})


def test_quick_is_short_and_keeps_the_report() -> None:
    args = parse_args(["--quick"])
    assert (args.duration, args.runs, args.mode_sweep) == (3, 1, False)
    assert args.report.name == "quick.md"
    assert parse_args([]).report.name == "edge_vs_nginx.md"


def test_stat_times_survives_odd_command_names() -> None:
    line = ("4242 (nginx: worker) 1) S 4241 4241 4241 0 -1 4194624 80 0 0 0 "
            "150 37 0 0 20 0 1 0 100 1000 10")
    assert stat_times(line) == (4241, 187)


def test_log_problems_keeps_errors_only(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text("2026/01/01 [notice] 1#1: start\n2026/01/01 [error] 1#1: *1 open() failed\n"
                   "2026-01-01 WARNING ocdn.edge: slow\n" + "x ERROR y\n" * 12)
    found = log_problems(Server("nginx", 1, None, log))  # type: ignore[arg-type]
    assert found[0] == "nginx log: 2026/01/01 [error] 1#1: *1 open() failed"
    assert found[1].endswith("WARNING ocdn.edge: slow")
    assert found[-1] == "nginx log: ... and 4 more" and len(found) == 11
    assert log_problems(Server("edge", 1, None, tmp_path / "none")) == []  # type: ignore[arg-type]
