"""Hits through the ocdn edge against nginx's slice cache, one worker process each.

Three servers on 127.0.0.1, each a foreground child on a free port: nginx as the fast
origin serving files from a directory, nginx `proxy_cache` + `slice 1m` in front of it
(bench/nginx/cache.conf.in), and `ocdn edge` (default `--slice-size 2MiB`) in front of the
same origin. Both caches are warmed by fetching every object completely (the bytes checked
against the files), then wrk drives three workloads through a seeded Lua generator
(bench/nginx/ranges.lua): W1 full GETs of 200 objects of 2 MiB, W2 random 64 KiB ranges
in them, W3 random 1 MiB ranges in one 1 GiB object. The embedded moto origin would
time its own ranged GETs, not the edge (DESIGN.md: ~0.5 s per range of a 1 GiB object),
hence nginx as origin.

Every workload is checked before it is timed: a few requests compared byte for byte
against the files from both caches, and a short wrk run whose Lua checks each response's
status, length and Content-Range. Timed runs alternate nginx, edge, nginx, ... so drift
(page cache, thermal, neighbours) hits both alike; the table shows medians and the
edge/nginx ratio of medians. MiB/s counts response bodies (req/s x body size). wrk and
the servers share the machine's cores: nothing is pinned.

`make bench-edge` runs it and writes bench/edge_vs_nginx.md; `--quick` is a short run
that writes its report under bench/out/ instead. nginx and wrk are installed with
apt-get when missing. Every child runs in its own session and is terminated on exit,
error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from bench.machine import cpu_model, load1

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "nginx"
OUT = HERE / "out" / "edge_vs_nginx"
REPORT = HERE / "edge_vs_nginx.md"

MiB = 1 << 20
SMALL_COUNT = 200
SMALL_BYTES = 2 * MiB
BIG_BYTES = 1 << 30
SMALL_FORMAT = "/obj/%03d.bin"
BIG_PATH = "/big.bin"
CACHE_GIB = 4  # both caches; the data set is 1.4 GiB, so nothing is evicted
CHUNK_BYTES = 4 * MiB
SEND_MODES = ("sendfile", "pread", "auto")
VERIFY_REQUESTS = 16  # per workload and server, compared byte for byte with the files


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    title: str
    path_format: str  # formatted with an index in [0, count)
    count: int
    object_bytes: int
    range_bytes: int  # 0: full GETs (200), else ranges of this size (206)

    @property
    def body_bytes(self) -> int:
        return self.range_bytes or self.object_bytes

    def wrk_args(self, seed: int) -> list[str]:
        return [self.path_format, str(self.count), str(self.object_bytes),
                str(self.range_bytes), str(seed)]

    def sample(self, rng: random.Random) -> tuple[str, tuple[int, int] | None]:
        """A request drawn like ranges.lua draws them (same distribution, not the same
        sequence): the path and the half-open range, or None for a full GET."""
        path = self.path_format % rng.randrange(self.count) if "%" in self.path_format \
            else self.path_format
        if not self.range_bytes:
            return path, None
        first = rng.randint(0, self.object_bytes - self.range_bytes)
        return path, (first, first + self.range_bytes)


WORKLOADS = (
    Workload("W1", "full GETs, 200 objects of 2 MiB", SMALL_FORMAT, SMALL_COUNT, SMALL_BYTES, 0),
    Workload("W2", "64 KiB ranges, 200 objects of 2 MiB", SMALL_FORMAT, SMALL_COUNT,
             SMALL_BYTES, 64 << 10),
    Workload("W3", "1 MiB ranges, one 1 GiB object", BIG_PATH, 1, BIG_BYTES, MiB),
)


# ---- pure parts: config rendering, wrk output, statistics, the report ------------------

def render(template: str, values: dict[str, str]) -> str:
    """Replace `@NAME@` placeholders; every placeholder must have a value."""
    out = template
    for name, value in values.items():
        out = out.replace(f"@{name}@", value)
    left = sorted(set(re.findall(r"@[A-Z_]+@", out)))
    if left:
        raise ValueError(f"no value for {', '.join(left)}")
    return out


def nginx_conf(kind: str, prefix: Path, port: int, *, root: Path | None = None,
               origin_port: int | None = None,
               as_root: bool | None = None) -> str:
    """The nginx.conf for `kind` (`origin` or `cache`); paths all under `prefix`."""
    as_root = os.geteuid() == 0 if as_root is None else as_root
    values = {"PREFIX": str(prefix), "PORT": str(port),
              # a root master would run its worker as nobody, who cannot read our files
              "USER": "user root;" if as_root else ""}
    if kind == "origin":
        assert root is not None
        values["ROOT"] = str(root)
    else:
        assert origin_port is not None
        values.update(ORIGIN_PORT=str(origin_port), CACHE_SIZE=f"{CACHE_GIB}g")
    return render((TEMPLATES / f"{kind}.conf.in").read_text(), values)


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    bytes_read: int
    errors: dict[str, int]  # connect, read, write, status (non-2xx/3xx), timeout
    p50_ms: float
    p99_ms: float
    check_ok: int = 0
    check_bad: int = 0
    first_bad: str = ""
    server_cpu_s: float = 0.0  # user + system CPU of the server's processes during the run
    load1: float = 0.0  # the machine's 1-minute load average as the run started

    @property
    def req_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def mib_per_s(self, body_bytes: int) -> float:
        return self.req_per_s * body_bytes / MiB

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def cpu_us_per_req(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0


_WRK_LINE = re.compile(r"^OCDN-WRK ((?:\w+=\S+ ?)+)$", re.MULTILINE)
_WRK_CHECK = re.compile(r"^OCDN-WRK-CHECK ok=(\d+) bad=(\d+) first=(\S*)$", re.MULTILINE)


def parse_wrk(text: str) -> WrkResult:
    """The result from wrk's output with ranges.lua's `OCDN-WRK` lines; ValueError if none."""
    m = _WRK_LINE.search(text)
    if m is None:
        raise ValueError("no OCDN-WRK line in wrk output:\n" + text[-2000:])
    fields = dict(item.split("=", 1) for item in m.group(1).split())
    num = {k: int(float(v)) for k, v in fields.items()}
    ok = bad = 0
    first = ""
    for c in _WRK_CHECK.finditer(text):
        ok += int(c.group(1))
        bad += int(c.group(2))
        first = first or c.group(3)
    return WrkResult(
        requests=num["requests"], duration_s=num["duration_us"] / 1e6, bytes_read=num["bytes"],
        errors={k: num[k] for k in ("connect", "read", "write", "status", "timeout")},
        p50_ms=num["p50_us"] / 1e3, p99_ms=num["p99_us"] / 1e3,
        check_ok=ok, check_bad=bad, first_bad=first)


@dataclass(slots=True)
class Runs:
    """The timed runs of one server on one workload."""

    results: list[WrkResult] = field(default_factory=list)

    def median_rps(self) -> float:
        return statistics.median(r.req_per_s for r in self.results) if self.results else 0.0

    def median_cpu(self) -> float:
        return statistics.median(r.cpu_us_per_req for r in self.results) if self.results else 0.0

    def errors(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for r in self.results:
            for k, v in r.errors.items():
                if v:
                    total[k] = total.get(k, 0) + v
        return total


def ratio(edge: float, nginx: float) -> float:
    return edge / nginx if nginx else 0.0


def main_table(results: dict[str, dict[str, Runs]]) -> str:
    """Markdown table of medians: one row per workload, nginx vs edge."""
    lines = ["| workload | nginx req/s | nginx MiB/s | nginx CPU µs/req | edge req/s | edge MiB/s "
             "| edge CPU µs/req | edge/nginx req/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for w in WORKLOADS:
        if w.name not in results:
            continue
        nr, er = results[w.name]["nginx"], results[w.name]["edge"]
        n, e = nr.median_rps(), er.median_rps()
        lines.append(f"| {w.name}: {w.title} | {n:,.0f} | {n * w.body_bytes / MiB:,.0f} | "
                     f"{nr.median_cpu():,.0f} | {e:,.0f} | {e * w.body_bytes / MiB:,.0f} | "
                     f"{er.median_cpu():,.0f} | {ratio(e, n):.2f}x |")
    return "\n".join(lines)


def modes_table(modes: dict[str, dict[str, WrkResult]], nginx: dict[str, float]) -> str:
    """Markdown table: one run per workload and send mode, ratio to nginx's median."""
    names = list(modes)
    head = "| workload | " + " | ".join(f"edge {m}: req/s (x nginx), CPU µs/req"
                                        for m in names) + " |"
    lines = [head, "| --- |" + " ---: |" * len(names)]
    for w in WORKLOADS:
        if not all(w.name in modes[m] for m in names):
            continue
        cells = []
        for m in names:
            r = modes[m][w.name]
            cells.append(f"{r.req_per_s:,.0f} ({ratio(r.req_per_s, nginx.get(w.name, 0.0)):.2f}x),"
                         f" {r.cpu_us_per_req:,.0f}")
        lines.append(f"| {w.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def runs_detail(results: dict[str, dict[str, Runs]]) -> str:
    lines = ["| workload | server | req/s per run | CPU µs/req per run | load (1 min) per run "
             "| p50 / p99 ms (median run) | errors |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for w in WORKLOADS:
        for server in ("nginx", "edge"):
            runs = results.get(w.name, {}).get(server)
            if runs is None or not runs.results:
                continue
            rs = sorted(runs.results, key=lambda r: r.req_per_s)
            mid = rs[len(rs) // 2]
            errs = ", ".join(f"{k} {v}" for k, v in runs.errors().items()) or "none"
            per = ", ".join(f"{r.req_per_s:,.0f}" for r in runs.results)
            cpu = ", ".join(f"{r.cpu_us_per_req:,.0f}" for r in runs.results)
            load = ", ".join(f"{r.load1:.1f}" for r in runs.results)
            lines.append(f"| {w.name} | {server} | {per} | {cpu} | {load} | "
                         f"{mid.p50_ms:.2f} / {mid.p99_ms:.2f} | {errs} |")
    return "\n".join(lines)


# ---- the machine and its tools ---------------------------------------------------------

def stat_times(stat: str) -> tuple[int, int]:
    """(process group, utime + stime in clock ticks) from a /proc/PID/stat line."""
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces
    return int(fields[2]), int(fields[11]) + int(fields[12])


def group_cpu_s(pgid: int) -> float:
    """CPU seconds used so far by the live processes of group `pgid` (threads included)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            group, t = stat_times(stat.read_text())
        except (OSError, ValueError, IndexError):
            continue
        if group == pgid:
            ticks += t
    return ticks / os.sysconf("SC_CLK_TCK")



def tool_output(argv: Sequence[str]) -> str:
    """stdout and stderr of a short command (`nginx -V` prints to stderr)."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout + out.stderr


def tool_version(argv: Sequence[str]) -> str:
    return next(iter(tool_output(argv).strip().splitlines()), "unknown")


def git_revision() -> str:
    return tool_output(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"]).strip() \
        or "unknown"


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None)


def ensure_tools() -> tuple[str, str]:
    """nginx (with the slice module) and wrk, installed from the Debian packages if missing."""
    nginx, wrk = find_nginx(), shutil.which("wrk")
    missing = [pkg for pkg, path in (("nginx", nginx), ("wrk", wrk)) if path is None]
    if missing:
        print(f"installing {' '.join(missing)} with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", *missing]
        if subprocess.run(cmd, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(cmd, env=env, check=True)
        nginx, wrk = find_nginx(), shutil.which("wrk")
    if nginx is None or wrk is None:
        raise SystemExit("nginx and wrk are needed (apt-get install -y nginx wrk)")
    if "--with-http_slice_module" not in tool_output([nginx, "-V"]):
        raise SystemExit(f"{nginx} lacks the slice module (--with-http_slice_module)")
    return nginx, wrk


# ---- data ----------------------------------------------------------------------------

def ensure_data(root: Path) -> None:
    """200 random objects of 2 MiB and one of 1 GiB under `root`, made once and reused."""
    files = [(root / (SMALL_FORMAT % i).lstrip("/"), SMALL_BYTES) for i in range(SMALL_COUNT)]
    files.append((root / BIG_PATH.lstrip("/"), BIG_BYTES))
    todo = [(p, n) for p, n in files if not p.is_file() or p.stat().st_size != n]
    if not todo:
        return
    print(f"generating {len(todo)} data files under {root}", flush=True)
    for path, size in todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            for pos in range(0, size, CHUNK_BYTES):
                fh.write(os.urandom(min(CHUNK_BYTES, size - pos)))
        os.replace(tmp, path)


# ---- child processes -------------------------------------------------------------------

class Children:
    """Every process we start, each in its own session; `stop_all` ends them all."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []

    def start(self, argv: Sequence[str], log: Path | None = None,
              **kw: Any) -> subprocess.Popen[Any]:
        out: Any = open(log, "ab") if log is not None else subprocess.PIPE  # noqa: SIM115
        try:
            proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, **kw)
        finally:
            if log is not None:
                out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout_s)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen[Any], log: Path,
              timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{tail(log)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("HEAD", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no answer on port {port} after {timeout_s:.0f}s:\n{tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass(slots=True)
class Server:
    name: str
    port: int
    proc: subprocess.Popen[Any]
    log: Path


def start_nginx(children: Children, nginx: str, kind: str, name: str, tmp: Path,
                **conf: Any) -> Server:
    prefix = tmp / f"nginx-{kind}"
    prefix.mkdir()
    port = free_port()
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(nginx_conf(kind, prefix, port, **conf))
    log = prefix / "stderr.log"
    proc = children.start([nginx, "-p", str(prefix), "-e", str(prefix / "error.log"),
                           "-c", str(conf_path), "-g", "daemon off;"], log)
    server = Server(name, port, proc, prefix / "error.log")
    wait_http(port, "/healthz", proc, prefix / "error.log")
    return server


def start_edge(children: Children, tmp: Path, origin_port: int, send_mode: str) -> Server:
    ocdn = Path(sys.executable).parent / "ocdn"
    port = free_port()
    log = tmp / f"edge-{send_mode}.log"
    argv = [str(ocdn) if ocdn.exists() else "ocdn", "edge",
            "--listen", f"127.0.0.1:{port}", "--origin", f"http://127.0.0.1:{origin_port}",
            "--cache-dir", str(tmp / "edge-cache"), "--cache-size", f"{CACHE_GIB}GiB",
            "--access-log", "off", "--log-level", "warning", "--send-mode", send_mode,
            # Every slice written at once: the timed hits come from slice files in the page
            # cache, as nginx's do and as on an edge whose window has turned over (with no
            # misses after the warm-up, the window would otherwise keep up to 1 GiB of the
            # data set in memfds, served by the same sendfile).
            "--window-memory", "0"]
    proc = children.start(argv, log)
    server = Server("edge", port, proc, log)
    wait_http(port, "/healthz", proc, log)
    return server


# ---- correctness: warm-up and checks -------------------------------------------------

def get(port: int, path: str, rng: tuple[int, int] | None = None,
        conn: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], bytes]:
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Range": f"bytes={rng[0]}-{rng[1] - 1}"} if rng else {}
    c.request("GET", path, headers=headers)
    resp = c.getresponse()
    body = resp.read()
    if own:
        c.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def fetch_whole(port: int, path: str, data: Path) -> tuple[list[str], str]:
    """GET `path` completely and compare it with the file streamed; (problems, X-Cache)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        problems = []
        size = (data / path.lstrip("/")).stat().st_size
        if resp.status != 200:
            problems.append(f"{path}: status {resp.status}, want 200")
        if resp.getheader("Content-Length") != str(size):
            problems.append(f"{path}: Content-Length {resp.getheader('Content-Length')}")
        with open(data / path.lstrip("/"), "rb") as fh:
            pos = 0
            while True:
                got = resp.read(CHUNK_BYTES)
                if not got:
                    break
                if got != fh.read(len(got)):
                    problems.append(f"{path}: wrong bytes in [{pos}, {pos + len(got)})")
                    break
                pos += len(got)
            if pos != size and not problems:
                problems.append(f"{path}: body of {pos} bytes, want {size}")
        return problems, resp.getheader("X-Cache") or ""
    finally:
        conn.close()


def warm(server: Server, data: Path, passes: int = 3) -> list[str]:
    """Fetch every object completely until every answer says X-Cache: HIT."""
    paths = [SMALL_FORMAT % i for i in range(SMALL_COUNT)] + [BIG_PATH]
    problems: list[str] = []
    for n in range(1, passes + 1):
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda p: fetch_whole(server.port, p, data), paths))
        cold = [p for p, (_, cache) in zip(paths, results, strict=True) if cache != "HIT"]
        for probs, _ in results:
            problems += [f"{server.name} warm pass {n}: {p}" for p in probs]
        print(f"  {server.name}: pass {n} fetched {len(paths)} objects in "
              f"{time.monotonic() - t0:.1f}s, {len(cold)} not yet HIT", flush=True)
        if not cold:
            return problems
    problems.append(f"{server.name}: {len(cold)} objects still not HIT after {passes} passes")
    return problems


def verify(server: Server, w: Workload, data: Path, seed: int,
           count: int = VERIFY_REQUESTS) -> list[str]:
    """`count` requests of `w` compared with the files: status, headers, bytes, X-Cache."""
    rng = random.Random(seed)
    problems = []
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        for _ in range(count):
            path, r = w.sample(rng)
            status, headers, body = get(server.port, path, r, conn)
            with open(data / path.lstrip("/"), "rb") as fh:
                want = read_at(fh, *(r or (0, w.object_bytes)))
            where = f"{server.name} {w.name} GET {path} range {r}"
            if status != (206 if r else 200):
                problems.append(f"{where}: status {status}")
            if r and headers.get("content-range") != \
                    f"bytes {r[0]}-{r[1] - 1}/{w.object_bytes}":
                problems.append(f"{where}: Content-Range {headers.get('content-range')}")
            if headers.get("content-length") != str(len(want)):
                problems.append(f"{where}: Content-Length {headers.get('content-length')}")
            if body != want:
                problems.append(f"{where}: wrong body ({len(body)} bytes)")
            if headers.get("x-cache") != "HIT":
                problems.append(f"{where}: X-Cache {headers.get('x-cache')}")
    finally:
        conn.close()
    return problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])


def read_at(fh: BinaryIO, start: int, stop: int) -> bytes:
    fh.seek(start)
    return fh.read(stop - start)


# ---- wrk -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WrkParams:
    threads: int
    connections: int
    duration_s: int
    seed: int

    def argv(self, wrk: str, port: int, w: Workload, duration_s: int | None = None) -> list[str]:
        return [wrk, f"-t{self.threads}", f"-c{self.connections}",
                f"-d{duration_s or self.duration_s}s", "--timeout", "10s",
                "-s", str(TEMPLATES / "ranges.lua"), f"http://127.0.0.1:{port}",
                "--", *w.wrk_args(self.seed)]


def run_wrk(children: Children, argv: list[str], timeout_s: float,
            check: bool = False) -> WrkResult:
    env = {k: v for k, v in os.environ.items() if k != "OCDN_WRK_CHECK"}
    if check:
        env["OCDN_WRK_CHECK"] = "1"
    proc = children.start(argv, env=env)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    finally:
        children.stop(proc)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}:\n{text[-2000:]}")
    return parse_wrk(text)


# ---- the benchmark -------------------------------------------------------------------

@dataclass(slots=True)
class Outcome:
    params: WrkParams
    runs: int
    send_mode: str
    revision: str  # the repository's HEAD when the run started
    hot_path: str = "unknown"  # compiled or interpreted, as the edge's /metrics says
    results: dict[str, dict[str, Runs]] = field(default_factory=dict)
    modes: dict[str, dict[str, WrkResult]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def ensure_alive(server: Server) -> None:
    """Raise if a server process has exited, with its exit status and log."""
    if server.proc.poll() is not None:
        raise RuntimeError(f"{server.name} exited with status {server.proc.returncode}; "
                           f"its log ({server.log}) ends:\n{tail(server.log, 40)}")


def check_workload(children: Children, wrk: str, servers: Sequence[Server], w: Workload,
                   data: Path, params: WrkParams, out: Outcome, seconds: int) -> None:
    for server in servers:
        ensure_alive(server)
        out.problems += verify(server, w, data, params.seed)
        res = run_wrk(children, params.argv(wrk, server.port, w, seconds), seconds + 30,
                      check=True)
        errors = ", ".join(f"{k} {v}" for k, v in res.errors.items() if v) or "none"
        first = f" (first: status/length/Content-Range {res.first_bad})" if res.check_bad else ""
        line = (f"{w.name} {server.name}: {VERIFY_REQUESTS} sampled requests compared with the "
                f"files; {seconds} s wrk run checking every response: {res.check_ok} right, "
                f"{res.check_bad} wrong{first}, wrk errors: {errors}")
        out.checks.append(line)
        print("  " + line, flush=True)
        if res.check_bad or res.error_count or not res.check_ok:
            out.problems.append(line)


def timed(children: Children, wrk: str, server: Server, w: Workload, params: WrkParams,
          out: Outcome, label: str) -> WrkResult:
    ensure_alive(server)
    load, cpu0 = load1(), group_cpu_s(server.proc.pid)
    res = run_wrk(children, params.argv(wrk, server.port, w), params.duration_s + 30)
    res = replace(res, server_cpu_s=group_cpu_s(server.proc.pid) - cpu0, load1=load)
    ensure_alive(server)
    print(f"  {w.name} {label:>14}: {res.req_per_s:>9,.0f} req/s "
          f"{res.mib_per_s(w.body_bytes):>8,.0f} MiB/s  CPU {res.cpu_us_per_req:>6,.0f} µs/req  "
          f"p50 {res.p50_ms:.2f} ms p99 {res.p99_ms:.2f} ms  load {load:.1f}  "
          f"errors {res.error_count}", flush=True)
    if res.error_count:
        out.problems.append(f"{w.name} {label}: wrk errors {res.errors} in {res.requests} "
                            "requests")
    return res


def benchmark(args: argparse.Namespace, nginx: str, wrk: str, tmp: Path,
              children: Children) -> Outcome:
    data = OUT / "data"
    ensure_data(data)
    params = WrkParams(args.threads, args.connections, args.duration, args.seed)
    out = Outcome(params, args.runs, args.send_mode, git_revision())
    check_s = 1 if args.quick else 2
    origin = start_nginx(children, nginx, "origin", "origin", tmp, root=data)
    cache = start_nginx(children, nginx, "cache", "nginx", tmp, origin_port=origin.port)
    edge = start_edge(children, tmp, origin.port, args.send_mode)
    servers = [origin, cache, edge]
    out.hot_path = hot_path(edge)
    print(f"edge hot path: {out.hot_path}", flush=True)
    print(f"origin :{origin.port}, nginx cache :{cache.port}, edge :{edge.port}; warming",
          flush=True)
    for server in (cache, edge):
        out.problems += warm(server, data)
    for w in WORKLOADS:
        print(f"{w.name}: {w.title}", flush=True)
        check_workload(children, wrk, (cache, edge), w, data, params, out, check_s)
        runs = out.results[w.name] = {"nginx": Runs(), "edge": Runs()}
        for _ in range(args.runs):
            runs["nginx"].results.append(timed(children, wrk, cache, w, params, out, "nginx"))
            runs["edge"].results.append(
                timed(children, wrk, edge, w, params, out, f"edge {args.send_mode}"))
    if args.mode_sweep:
        for mode in ("sendfile", "pread"):
            children.stop(edge.proc)
            edge = start_edge(children, tmp, origin.port, mode)
            servers.append(edge)
            print(f"edge --send-mode {mode}", flush=True)
            out.modes[mode] = {}
            for w in WORKLOADS:
                out.problems += verify(edge, w, data, params.seed + 1)
                out.modes[mode][w.name] = timed(children, wrk, edge, w, params, out,
                                                f"edge {mode}")
    for server in servers:
        out.problems += log_problems(server)
    return out


def hot_path(edge: Server) -> str:
    """How the edge runs its hot path, from its `ocdn_edge_compiled_modules` gauge."""
    _, _, body = get(edge.port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("ocdn_edge_compiled_modules "):
            n = int(float(line.split()[1]))
            return f"compiled by mypyc ({n} modules)" if n else "interpreted"
    return "unknown (no ocdn_edge_compiled_modules)"


def log_problems(server: Server, most: int = 10) -> list[str]:
    """Error lines from a server's log: nginx's [error] and worse, the edge's WARNING+."""
    try:
        text = server.log.read_text(errors="replace")
    except OSError:
        return []
    marks = ("[error]", "[crit]", "[alert]", "[emerg]", "WARNING", "ERROR", "CRITICAL",
             "Traceback")
    bad = [line for line in text.splitlines() if any(m in line for m in marks)]
    more = [f"{server.name} log: ... and {len(bad) - most} more"] if len(bad) > most else []
    return [f"{server.name} log: {line}" for line in bad[:most]] + more


def report(out: Outcome, argv: Sequence[str], nginx: str, wrk: str) -> str:
    p = out.params
    nginx_medians = {w: r["nginx"].median_rps() for w, r in out.results.items()}
    met = [w for w, r in out.results.items()
           if ratio(r["edge"].median_rps(), r["nginx"].median_rps()) >= 1.0]
    target = ", ".join(f"{w} {'met' if w in met else 'NOT met'}" for w in out.results)
    all_loads = [r.load1 for runs in out.results.values() for rs in runs.values()
                 for r in rs.results]
    loads = f"{min(all_loads):.1f}–{max(all_loads):.1f}" if all_loads else "n/a"
    lines = [
        "# ocdn edge vs nginx slice cache: hits, one worker process each",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, Linux {platform.release()}; "
        "wrk and the servers share these cores, nothing is pinned",
        f"- software: {tool_version([nginx, '-v'])}, {tool_version([wrk, '-v'])}, "
        f"Python {platform.python_version()}",
        f"- wrk: `-t{p.threads} -c{p.connections} -d{p.duration_s}s`, "
        f"bench/nginx/ranges.lua with seed {p.seed}; {out.runs} run(s) per server and "
        "workload, nginx and edge alternating; medians below",
        "- nginx: origin serving files (one worker, sendfile) and a cache in front of it "
        "(`slice 1m`, `proxy_cache_key $uri$is_args$args$slice_range`, one worker, sendfile, "
        "access_log off): bench/nginx/*.conf.in",
        f"- edge: `ocdn edge --cache-size {CACHE_GIB}GiB --access-log off --log-level warning "
        f"--send-mode {out.send_mode} --window-memory 0` (every slice on disk, as nginx's), "
        "default `--slice-size 2MiB`, one process, hot path "
        f"{out.hot_path}; "
        f"repository at {out.revision} (plus uncommitted changes, if any)",
        "- data: 200 objects of 2 MiB and one of 1 GiB, random bytes; both caches fully "
        "warmed, so every timed request is a hit (served from the page cache)",
        "- MiB/s counts response bodies (req/s x body size); CPU µs/req is the user + system "
        "CPU of the server's processes (nginx: master and worker; edge: its one process) "
        "during the run over its requests, from /proc: the number to trust when other "
        f"work shares the machine (1-minute load average at run starts: {loads})",
        "- nginx runs without `tcp_nopush`: with it, this loopback held each keep-alive "
        "response ~40 ms (one connection: 24 req/s with it, 8,149 without)",
        "- W1 and W3 are bounded by the client more than by the servers: wrk reads "
        "responses 8 KiB at a time (256 reads per 2 MiB body) on the same cores, and "
        "neither server uses a whole core there; compare their CPU µs/req",
        f"- reproduce: `make bench-edge` (`.venv/bin/python -m bench.edge_vs_nginx`; "
        f"this run: `{' '.join(['python -m bench.edge_vs_nginx', *argv])}`)",
        "",
        "## Medians",
        "",
        main_table(out.results),
        "",
        f"Target (edge >= 1.0x nginx): {target}.",
        "",
    ]
    if out.modes:
        lines += ["## Edge send modes (one run each; x = ratio to nginx's median above)", "",
                  modes_table(out.modes, nginx_medians), "",
                  "`--send-mode auto` sends 64 KiB and more by sendfile(2). pread + write "
                  "can get more req/s on W1 and W3, which wrk on the same cores bounds, not "
                  "the edge (with sendfile it uses a fifth of a core on W1): how the bytes "
                  "were sent changes what receiving them costs wrk. It costs the edge "
                  "1.3-4x the CPU per request, and on a real NIC the server's CPU per byte "
                  "is what bounds a box.", ""]
    lines += ["## Every run", "", runs_detail(out.results), "", "## Correctness", ""]
    lines += ["- warm-up: every object fetched whole through both caches and compared with "
              "its file, until all answered X-Cache: HIT"]
    lines += [f"- {c}" for c in out.checks]
    lines += ["", "Problems:", ""] + ([f"- {p}" for p in out.problems] or ["- none"])
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.edge_vs_nginx", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--send-mode", choices=SEND_MODES, default="auto",
                    help="the edge's --send-mode for the main runs (default auto)")
    ap.add_argument("--quick", action="store_true",
                    help="short run: 3 s per run, 1 run each, no send-mode sweep; report "
                         "under bench/out/")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per server and workload")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections")
    ap.add_argument("--seed", type=int, default=1, help="seed of the request generator")
    ap.add_argument("--no-mode-sweep", dest="mode_sweep", action="store_false",
                    help="skip the extra runs with --send-mode sendfile and pread")
    ap.add_argument("--report", type=Path, default=None, help=f"default {REPORT}")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration, args.runs, args.mode_sweep = 3, 1, False
    if args.report is None:
        args.report = OUT / "quick.md" if args.quick else REPORT
    return args


@contextmanager
def terminated_on_sigterm() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    nginx, wrk = ensure_tools()
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="run-", dir=OUT))
    children = Children()
    try:
        with terminated_on_sigterm():
            out = benchmark(args, nginx, wrk, tmp, children)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:
        args.keep = True  # the servers' logs tell what went wrong
        print(f"failed; logs kept under {tmp}", file=sys.stderr)
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip this
        children.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    text = report(out, argv, nginx, wrk)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text)
    print("\n" + text + f"\nwritten to {args.report}")
    return 1 if out.problems else 0


if __name__ == "__main__":
    sys.exit(main())
