"""Steering benchmark: decision latency and throughput over HTTP, and the million-prefix topology.

    .venv/bin/python -m bench.steering_bench [--prefixes 1000000] [--rate 5000]
        [--connections 64] [--open-s 8] [--closed-s 5] [--runs 3]
        [--out bench/out/steering.json]

What it measures, all against a generated BGP-like topology (8 sites x 4 edges; 80%
IPv4 prefixes, 60% of them /24, 20% IPv6 /32-/48; every prefix maps to two sites):

1. load: a fresh process reads and validates the topology file; wall time and peak RSS
   (targets: <= 10 s, <= 1 GiB for one million prefixes);
2. lookups: longest-prefix matches per second in-process, over addresses inside the
   prefixes, random IPv4, and IPv6 (target >= 200,000/s);
3. HTTP: a real `ocdn steering` process (single-threaded: one core at most; `--pin`
   puts it on core 0 and the load generators on core 1) answers `/v1/steer` with signed
   URLs and its decision log on (to a file), as in production. The edges are one small
   process answering `/status` on 32 ports, so every edge is up. Each run has three
   phases, so every figure has its anchor from the same minute:
   - `healthz`, the anchor: open loop (fixed rate, h2load `--rps`), `--rate` requests/s
     spread over `--connections` keep-alive connections, to `/healthz` of the same
     server: the floor that the HTTP layer, the load generator and the box impose;
   - `steer`: the same load on `/v1/steer`, a Zipf-like mix of 5,000 keys, from
     `--generators` h2load processes each sending its own client address in
     X-Forwarded-For (from loopback, which is trusted; h2load sends one header set per
     process). p50/p99/p99.9/max come from every request's latency (h2load's per-request
     log). A request can only be held back by its predecessor on the same connection
     when that one took longer than the per-connection interval (64 / 5,000 s = 12.8
     ms), so `over_interval` counts how many latencies could hide queueing;
   - `closed`: wrk's closed loop with 64 connections, each request from one of 20,000
     client addresses: the most the core does (latency there is queueing: 64 /
     throughput by Little's law).
   Target: >= 5,000 decisions/s on one core with p99 <= 5 ms at 64 connections.
   Each phase also records the steering process's own CPU time (/proc/PID/stat):
   CPU µs per request in the open loop, decisions per CPU-second in the closed loop,
   and the share of a core it got; on a shared box, wall-clock rates measure the
   neighbours as much as the service (`--nice -10` runs steering ahead of them, as if it
   had a core of its own). Medians over `--runs` runs are reported.

wrk and h2load (Debian's nghttp2-client) are installed with apt-get when missing.
Every load phase is bounded in time and stops by itself; everything is on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.machine import cpu_model, free_port_run

ROOT = Path(__file__).resolve().parents[1]
SITES = 8
EDGES_PER_SITE = 4
LUA_IPS = 20_000
LUA_KEYS = 5_000


def _v4(n: int) -> str:
    return socket.inet_ntoa(n.to_bytes(4, "big"))


def _v6(n: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, n.to_bytes(16, "big"))


def generate(path: Path, prefixes: int, base_port: int, seed: int = 1) -> list[str]:
    """Write a topology with `prefixes` prefixes; return client addresses for wrk."""
    rng = random.Random(seed)
    lines = ["sites:"]
    for s in range(SITES):
        lines.append(f"  - id: ix-{s}\n    location: {{lat: {40 + s}, lon: {s * 2}}}\n    edges:")
        for e in range(EDGES_PER_SITE):
            port = base_port + s * EDGES_PER_SITE + e
            lines.append(f"      - {{id: ix-{s}-{e}, url: \"http://127.0.0.1:{port}\", "
                         f"capacity_gbps: {10 + 10 * (e % 2)}}}")
    lines.append("prefixes:")
    seen: set[tuple[int, int, int]] = set()
    clients: list[str] = []
    v4_target = prefixes * 4 // 5
    while len(seen) < prefixes:
        if len(seen) < v4_target:
            r = rng.random()
            length = 24 if r < 0.6 else rng.randint(16, 23) if r < 0.95 else rng.randint(8, 15)
            net = rng.getrandbits(32) & (((1 << length) - 1) << (32 - length))
            family, text = 4, f"{_v4(net)}/{length}"
            sample = _v4(net | rng.getrandbits(32 - length))
        else:
            length = rng.choice((32, 36, 40, 44, 48, 48, 48))
            net = ((0x2000 << 112) | rng.getrandbits(125)) & (((1 << length) - 1) << (128 - length))
            family, text = 6, f"{_v6(net)}/{length}"
            sample = _v6(net | rng.getrandbits(128 - length))
        if (family, net, length) in seen:
            continue
        seen.add((family, net, length))
        a = rng.randrange(SITES)
        lines.append(f"  - {{prefix: \"{text}\", sites: [ix-{a}, ix-{(a + 1) % SITES}]}}")
        if len(clients) < LUA_IPS // 2 and rng.random() < 0.05:
            clients.append(sample)
    lines.append("default_sites: [ix-0, ix-1]")
    path.write_text("\n".join(lines) + "\n")
    clients += [_v4(rng.getrandbits(32)) for _ in range(LUA_IPS - len(clients))]
    rng.shuffle(clients)
    return clients


def lua_script(path: Path, clients: list[str], delay_ms: int = 0) -> None:
    """The wrk script; `delay_ms` > 0 paces each connection (wrk's `delay()` hook)."""
    ips = ",".join(f'"{ip}"' for ip in clients)
    pace = f"delay = function() return {delay_ms} end\n" if delay_ms else ""
    keys = ",".join(f'"/t{i:05d}/r{(i * 7) % 6 * 750}.mp4"' for i in range(LUA_KEYS))
    path.write_text(f"""
local ips = {{{ips}}}
local keys = {{{keys}}}
local n_ips, n_keys = #ips, #keys
math.randomseed(os.time())
request = function()
  local k = keys[math.floor(n_keys * math.random() ^ 3) + 1]
  return wrk.format("GET", "/v1/steer?path=" .. k,
                    {{["X-Forwarded-For"] = ips[math.random(n_ips)]}})
end
{pace}done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "non2xx": %d, "connect": %d, "read": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.timeout))
end
""")


def measure_load(topology: Path) -> dict[str, Any]:
    """In this (fresh) process: load time, peak RSS, and in-process lookups per second."""
    from steering.prefixes import parse_address
    from steering.topofile import load_topology

    start, cpu = time.perf_counter(), time.process_time()
    topo = load_topology(topology)
    load_s, load_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    rss_mib = _peak_rss_mib()
    rng = random.Random(7)
    table = topo.prefixes
    inside = [p.rsplit("/", 1)[0] for p, _ in _sample(table.items(), 20_000, rng)]
    addresses = inside + [_v4(rng.getrandbits(32)) for _ in range(20_000)]
    addresses += [_v6((0x2000 << 112) | rng.getrandbits(125)) for _ in range(10_000)]
    rng.shuffle(addresses)
    for a in addresses:
        table.lookup(a)
    best = best_cpu = 0.0
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        hits = sum(1 for a in addresses if table.lookup(a) is not None)
        best = max(best, len(addresses) / (time.perf_counter() - start))
        best_cpu = max(best_cpu, len(addresses) / (time.process_time() - cpu))
    parse_address("10.0.0.1")
    return {"prefixes": len(table), "load_s": round(load_s, 2),
            "load_cpu_s": round(load_cpu_s, 2), "peak_rss_mib": round(rss_mib),
            "lookups_per_s": round(best), "lookups_per_cpu_s": round(best_cpu),
            "lookup_sample": len(addresses), "lookup_hits": hits,
            "load_average": os.getloadavg()[0]}


def _peak_rss_mib() -> float:
    """Peak RSS of this process image. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss across fork and exec, so a child of a big parent reports the parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sample(items: Any, n: int, rng: random.Random) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(items):
        if len(out) < n:
            out.append(item)
        elif (j := rng.randrange(i + 1)) < n:
            out[j] = item
    return out


async def _fake_edges(base_port: int) -> None:
    from aiohttp import web

    from common.status import EdgeState, EdgeStatus

    async def status(request: web.Request) -> web.Response:
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        i = port - base_port
        doc = EdgeStatus(f"ix-{i // EDGES_PER_SITE}-{i % EDGES_PER_SITE}",
                         f"ix-{i // EDGES_PER_SITE}", EdgeState.UP, 3, 1e8, 1 << 30, 1 << 34, 0.9)
        return web.Response(text=doc.to_json(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/status", status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for i in range(SITES * EDGES_PER_SITE):
        await web.TCPSite(runner, "127.0.0.1", base_port + i).start()
    print("fake edges ready", flush=True)
    await asyncio.Event().wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ensure_tools() -> tuple[str, str]:
    """wrk (closed loop) and h2load (open loop, Debian's nghttp2-client), installed with
    apt-get when missing."""
    missing = [pkg for tool, pkg in (("wrk", "wrk"), ("h2load", "nghttp2-client"))
               if shutil.which(tool) is None]
    if missing:
        print(f"installing {' '.join(missing)} with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        if subprocess.run(cmd, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(cmd, env=env, check=True)
    wrk, h2load = shutil.which("wrk"), shutil.which("h2load")
    if wrk is None or h2load is None:
        raise SystemExit("wrk and h2load are needed (apt-get install -y wrk nghttp2-client)")
    return wrk, h2load


_PIN = False


def _taskset(core: int) -> list[str]:
    if _PIN and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core)]
    return []


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _percentile(ordered: list[int], q: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _key(rng: random.Random) -> str:
    i = int(LUA_KEYS * rng.random() ** 3)  # the wrk script's Zipf-like popularity
    return f"/t{i:05d}/r{(i * 7) % 6 * 750}.mp4"


def open_loop(h2load: str, url: str, paths: str, clients: list[str], args: argparse.Namespace,
              work: Path, name: str, pid: int, seed: int) -> dict[str, Any]:
    """A fixed-rate load: `args.rate` requests/s over `args.connections` keep-alive
    connections for `args.open_s` seconds, from `args.generators` h2load processes (each
    with its own X-Forwarded-For client and its own shuffle of keys: h2load sends one
    header set per process). p50/p99/max come from every request's latency in h2load's
    per-request log. `paths` is "steer" (a Zipf-like key mix) or a fixed path."""
    rng = random.Random(seed)
    procs = []
    gens = args.generators
    per_conn = args.rate / args.connections
    logs = []
    for g in range(gens):
        conns = args.connections // gens + (1 if g < args.connections % gens else 0)
        uris = work / f"{name}-{g}.uris"
        if paths == "steer":
            lines = [f"{url}/v1/steer?path={_key(rng)}" for _ in range(4000)]
        else:
            lines = [url + paths]
        uris.write_text("\n".join(lines) + "\n")
        log = work / f"{name}-{g}.log"
        log.unlink(missing_ok=True)
        logs.append(log)
        cmd = [*_taskset(1), h2load, "--h1", "-t1", f"-c{conns}", f"--rps={per_conn:g}",
               f"-D{args.open_s}", "-N5", "-i", str(uris), "--log-file", str(log),
               "-H", f"X-Forwarded-For: {clients[(seed * gens + g) % len(clients)]}"]
        procs.append(subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    cpu_before, wall = _cpu_seconds(pid), time.perf_counter()
    outputs = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=args.open_s + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        outputs.append(out)
    wall = time.perf_counter() - wall
    cpu_s = _cpu_seconds(pid) - cpu_before
    latencies: list[int] = []
    starts: list[int] = []
    failed = non2xx = 0
    for log in logs:
        for row in log.read_text().splitlines():
            cols = row.split("\t")
            if len(cols) < 3:
                continue
            status = int(cols[1])
            if status < 0:
                failed += 1
                continue
            non2xx += not 200 <= status < 300
            starts.append(int(cols[0]))
            latencies.append(int(cols[2]))
    if not latencies:
        raise RuntimeError("h2load logged no requests:\n" + "\n".join(outputs)[-2000:])
    latencies.sort()
    span_s = (max(starts) - min(starts)) / 1e6 or 1.0
    interval_us = 1e6 / per_conn
    return {
        "requests": len(latencies), "failed": failed, "non2xx": non2xx,
        "target_per_s": args.rate, "achieved_per_s": round(len(latencies) / span_s),
        "p50_us": _percentile(latencies, 50), "p90_us": _percentile(latencies, 90),
        "p99_us": _percentile(latencies, 99), "p999_us": _percentile(latencies, 99.9),
        "max_us": latencies[-1],
        # a request can only be held back by its predecessor on the same connection when
        # that one took longer than the per-connection interval: count them
        "over_interval": sum(1 for x in latencies if x > interval_us),
        "interval_us": round(interval_us),
        "steering_cpu_s": round(cpu_s, 2),
        "steering_cpu_share": round(cpu_s / wall, 3),
        "cpu_us_per_request": round(cpu_s / len(latencies) * 1e6, 1),
        "load_average": os.getloadavg()[0],
    }


def closed_loop(wrk: str, url: str, lua: Path, args: argparse.Namespace,
                pid: int) -> dict[str, Any]:
    """wrk's closed loop: the most the steering core does; latency here is queueing."""
    cmd = [*_taskset(1), wrk, "-t1", f"-c{args.connections}", f"-d{args.closed_s}s",
           "--timeout", "2s", "-s", str(lua), url]
    cpu_before = _cpu_seconds(pid)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         timeout=args.closed_s + 30).stdout
    cpu_s = _cpu_seconds(pid) - cpu_before
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    run: dict[str, Any] = json.loads(line[len("WRKJSON "):])
    wall_s = run["duration_us"] / 1e6
    run["decisions_per_s"] = round(run["requests"] / wall_s)
    run["steering_cpu_s"] = round(cpu_s, 2)
    run["steering_cpu_share"] = round(cpu_s / wall_s, 3)
    run["decisions_per_cpu_s"] = round(run["requests"] / cpu_s) if cpu_s else None
    run["load_average"] = os.getloadavg()[0]
    return run


def _ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def _median(runs: list[dict[str, Any]], field: str) -> float:
    values = sorted(r[field] for r in runs)
    return float(values[len(values) // 2]) if len(values) % 2 else (
        (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2)


def bench_http(topology: Path, lua: Path, clients: list[str], base_port: int,
               args: argparse.Namespace, work: Path) -> dict[str, Any]:
    wrk, h2load = _ensure_tools()
    py = sys.executable
    fake = subprocess.Popen([*_taskset(1), py, "-m", "bench.steering_bench", "fake-edges",
                             "--base-port", str(base_port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    keys = work / "keys"
    keys.write_text("bench-1=bench-secret-0123456789abcdef\n")
    port = free_port_run(1)
    log_path = work / "steering.log"
    with open(log_path, "wb") as log:
        steering = subprocess.Popen(
            [*_taskset(0), *(["nice", "-n", str(args.nice)] if args.nice else []),
             py, "-m", "ocdn.cli", "steering", "--topology", str(topology),
             "--listen", f"127.0.0.1:{port}", "--token-secret-file", str(keys)],
            cwd=ROOT, stdout=log, stderr=log)
    try:
        assert fake.stdout is not None
        fake.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if steering.poll() is not None:
                raise RuntimeError(f"steering exited {steering.returncode}: "
                                   f"{log_path.read_text()[-2000:]}")
            try:
                report = _get(url + "/v1/edges")
                states = [e["state"] for s in report["sites"] for e in s["edges"]]
                if all(s == "up" for s in states):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("edges did not come up")
            time.sleep(0.2)
        pid = steering.pid
        subprocess.run([*_taskset(1), wrk, "-t1", f"-c{args.connections}", "-d2s", "-s",
                        str(lua), url], check=True, capture_output=True, timeout=30)
        runs = []
        for i in range(args.runs):
            run = {
                "healthz": open_loop(h2load, url, "/healthz", clients, args, work,
                                     "healthz", pid, i),
                "steer": open_loop(h2load, url, "steer", clients, args, work, "steer", pid, i),
                "closed": closed_loop(wrk, url, lua, args, pid),
            }
            runs.append(run)
            h, s, c = run["healthz"], run["steer"], run["closed"]
            print(f"  run {i + 1}: open loop {s['achieved_per_s']}/s over {args.connections} "
                  f"connections: /v1/steer p50 {_ms(s['p50_us'])} p99 {_ms(s['p99_us'])} "
                  f"max {_ms(s['max_us'])} ({s['cpu_us_per_request']} CPU µs each, "
                  f"{s['steering_cpu_share']:.0%} of a core); /healthz p50 "
                  f"{_ms(h['p50_us'])} p99 {_ms(h['p99_us'])} max {_ms(h['max_us'])}; "
                  f"closed loop {c['decisions_per_s']}/s, {c['decisions_per_cpu_s']} per "
                  f"CPU-second ({c['steering_cpu_share']:.0%} of a core); load average "
                  f"{c['load_average']:.1f}", flush=True)
        median = {
            phase: {f: _median([r[phase] for r in runs], f) for f in fields}
            for phase, fields in (
                ("steer", ("achieved_per_s", "p50_us", "p99_us", "p999_us", "max_us",
                           "cpu_us_per_request", "steering_cpu_share", "over_interval",
                           "non2xx", "failed")),
                ("healthz", ("achieved_per_s", "p50_us", "p99_us", "p999_us", "max_us",
                             "cpu_us_per_request", "non2xx", "failed")),
                ("closed", ("decisions_per_s", "p50_us", "p99_us", "decisions_per_cpu_s",
                            "steering_cpu_share", "non2xx")),
            )
        }
        return {"runs": runs, "median": median, "connections": args.connections,
                "rate": args.rate, "open_s": args.open_s, "closed_s": args.closed_s,
                "generators": args.generators,
                "sample_answer": _get(url + "/v1/steer?path=/t00001/r750.mp4")}
    finally:
        steering.terminate()
        fake.terminate()
        steering.wait(10)
        fake.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="steering_bench", description=__doc__.split("\n")[0])
    p.add_argument("mode", nargs="?", default="all", choices=["all", "load", "fake-edges"])
    p.add_argument("--prefixes", type=int, default=1_000_000)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rate", type=int, default=5000,
                   help="open loop: requests/s over all connections (h2load --rps each)")
    p.add_argument("--open-s", type=int, default=8, help="seconds of each open-loop run")
    p.add_argument("--closed-s", type=int, default=5, help="seconds of each closed-loop run")
    p.add_argument("--generators", type=int, default=8,
                   help="h2load processes (one X-Forwarded-For client address each)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--topology", type=Path)
    p.add_argument("--base-port", type=int, default=0)
    p.add_argument("--nice", type=int, default=0,
                   help="run steering under `nice -n N` (negative: ahead of the neighbours, "
                        "as if it had its own core; needs root)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "steering.json")
    p.add_argument("--pin", action="store_true",
                   help="pin steering to core 0 and the load generators and fake edges to "
                        "core 1 (for a quiet box; on a shared one it only loses CPU)")
    args = p.parse_args(argv)
    global _PIN
    _PIN = args.pin
    if args.mode == "fake-edges":
        asyncio.run(_fake_edges(args.base_port))
        return 0
    if args.mode == "load":
        print(json.dumps(measure_load(args.topology)))
        return 0
    with tempfile.TemporaryDirectory(prefix="ocdn-steering-bench-") as tmp:
        work = Path(tmp)
        topology = work / "topology.yaml"
        base_port = free_port_run(SITES * EDGES_PER_SITE)
        start = time.perf_counter()
        clients = generate(topology, args.prefixes, base_port)
        print(f"generated {args.prefixes} prefixes in {time.perf_counter() - start:.1f} s "
              f"({topology.stat().st_size / 2**20:.0f} MiB)", flush=True)
        out = subprocess.run([sys.executable, "-m", "bench.steering_bench", "load",
                              "--topology", str(topology)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        load = json.loads(out.strip().splitlines()[-1])
        print(f"load: {load['prefixes']} prefixes in {load['load_s']} s "
              f"({load['load_cpu_s']} s CPU), peak RSS {load['peak_rss_mib']} MiB; "
              f"{load['lookups_per_s']} lookups/s ({load['lookups_per_cpu_s']} per CPU-second); "
              f"load average {load['load_average']:.1f}", flush=True)
        lua = work / "steer.lua"
        lua_script(lua, clients)
        print(f"HTTP, {args.runs} runs of: open loop {args.rate}/s over {args.connections} "
              f"connections for {args.open_s} s (h2load x {args.generators}), /healthz then "
              f"/v1/steer; closed loop wrk -c{args.connections} for {args.closed_s} s",
              flush=True)
        http = bench_http(topology, lua, clients, base_port, args, work)
        result = {"cpu": cpu_model(), "cores": os.cpu_count(), "pinned": args.pin,
                  "nice": args.nice, "load": load, "http": http}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    m = http["median"]
    s, h, c = m["steer"], m["healthz"], m["closed"]
    print(f"median of {args.runs}: open loop {s['achieved_per_s']:.0f}/s: /v1/steer p50 "
          f"{_ms(s['p50_us'])}, p99 {_ms(s['p99_us'])}, max {_ms(s['max_us'])}; /healthz p50 "
          f"{_ms(h['p50_us'])}, p99 {_ms(h['p99_us'])}, max {_ms(h['max_us'])}; closed loop "
          f"{c['decisions_per_s']:.0f} decisions/s, {c['decisions_per_cpu_s']:.0f} per "
          f"steering CPU-second")
    print(f"report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
