"""What each edge policy costs on the hot path: accesses per second and bytes per slice.

Speed is the replay loop of `ocdn bench replay` (policy plus slicing and accounting, the
work the edge does per slice a client reads), in CPU seconds so that other processes on
the box do not count against it. Memory is `ocdn bench cost`: tracemalloc's count of
what the policy allocates while it holds a million slices and serves a million reads,
divided by the slices held; the slice keys are made beforehand and reported apart, since
the store's index holds them whatever the policy.

Both run as `ocdn` subprocesses: `bench/` does not import the edge.

    .venv/bin/python -m bench.policy_cost [--slices 1000000] [--trace bench/out/...csv]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

POLICIES = ("lru", "s3fifo", "wtinylfu", "vod")
SLICES = 1_000_000
SPEED_TARGET = 300_000
BYTES_TARGET = 200


def ocdn(*args: str) -> dict[str, Any]:
    """Run `ocdn ARGS` and return the JSON object on its last line of output.

    The sketches index by `hash()`, which Python salts per process; a fixed seed makes the
    report reproducible to the byte (salts move origin bytes by ~0.1%).
    """
    done = subprocess.run(
        [sys.executable, "-m", "ocdn.cli", *args], capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"ocdn {' '.join(args)} failed: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def memory(policies: Sequence[str] = POLICIES, slices: int = SLICES,
           jobs: int = 2) -> dict[str, dict[str, Any]]:
    with ThreadPoolExecutor(jobs) as pool:
        results = pool.map(
            lambda p: ocdn("bench", "cost", "--policy", p, "--slices", str(slices),
                           "--accesses", str(slices)),
            policies,
        )
        return dict(zip(policies, results, strict=True))


def speed(trace: str, cache_bytes: int, policies: Sequence[str] = POLICIES,
          repeats: int = 3) -> dict[str, int]:
    """Best of `repeats` sequential replays (one at a time, so they do not share a core)."""
    best: dict[str, int] = {}
    for _ in range(repeats):
        for p in policies:
            result = ocdn("bench", "replay", "--trace", trace, "--policy", p,
                          "--cache-bytes", str(cache_bytes))
            best[p] = max(best.get(p, 0), int(result["accesses_per_s"]))
    return best


def table(speeds: dict[str, int], mem: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| policy | slice accesses/s (replay, CPU) | policy bytes per cached slice "
        "| + slice key | meets ≥300k/s and ≤200 B |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for p in POLICIES:
        m = mem[p]
        ok = speeds[p] >= SPEED_TARGET and m["bytes_per_slice"] <= BYTES_TARGET
        rows.append(
            f"| {p} | {speeds[p]:,} | {m['bytes_per_slice']:.0f} | "
            f"{m['bytes_per_slice'] + m['key_bytes_per_slice']:.0f} | {'yes' if ok else 'no'} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--trace", required=True, help="trace for the speed replays")
    parser.add_argument("--cache-bytes", type=int, required=True)
    parser.add_argument("--slices", type=int, default=SLICES)
    args = parser.parse_args(argv)
    print(table(speed(args.trace, args.cache_bytes), memory(slices=args.slices)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
