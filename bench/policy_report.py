"""The policy report: every edge policy against LRU and the bounds, on two VOD traces.

    .venv/bin/python -m bench.policy_report [--jobs 2]

Generates the two traces (`bench.tracegen` presets `vod` and `churn`, into `bench/out/`),
replays each through every edge policy, Belady's optimum (`opt`) and an unbounded cache
(`infinite`) at 1, 2, 5, 10 and 20% of the trace's unique bytes (what the unbounded
cache fetches), measures each policy's cost (`bench.policy_cost`), and writes
`bench/policy_report.md` and `bench/policy_report.png`. Every replay is an
`ocdn bench replay` subprocess - the command the DESIGN contract names, driving the very
classes the edge runs - and its JSON line is what the tables are made of; the raw lines
are kept in `bench/out/policy_report.json`.

The share of the gap closed is (LRU - policy) / (LRU - OPT) in origin bytes: 0 is LRU,
1 is the clairvoyant optimum.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import policy_cost
from bench.tracegen import PRESETS, generate, write_csv
from common import build
from common.sizes import format_size
from edge.staging import DEFAULT_WINDOW_MEMORY

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
FRACTIONS = (0.01, 0.02, 0.05, 0.10, 0.20)
TARGET_FRACTIONS = (0.05, 0.10)
POLICIES = ("lru", "s3fifo", "wtinylfu", "vod")
LINES = (*POLICIES, "opt")
# `vod` with its window written to disk at once (`--window-memory 0`): what the memory
# window saves. Every other replay runs at the edge's default window memory.
ON_DISK = "vod-window-on-disk"
RUNS = (*LINES, ON_DISK)


@dataclass(frozen=True, slots=True)
class TraceSpec:
    name: str
    preset: str
    seed: int

    @property
    def path(self) -> Path:
        return OUT / f"policy-{self.preset}-seed{self.seed}.csv"


TRACES = (TraceSpec("vod", "vod", 1), TraceSpec("churn", "churn", 2))


def compiled_note() -> str:
    """How the policies ran: compiled by mypyc as an install has them, or interpreted."""
    policies = [m for m in build.HOT_PATH if m.startswith("edge.policy.")]
    done = [m for m in policies if build.is_compiled(m)]
    if len(done) == len(policies):
        return "ran compiled by mypyc, as `pip install .` and `make build` have them"
    return f"ran interpreted ({len(done)} of {len(policies)} modules compiled: `make build`)"


def ensure_trace(spec: TraceSpec) -> Path:
    if not spec.path.exists():
        write_csv(generate(PRESETS[spec.preset], spec.seed), spec.path)
    return spec.path


def replay(path: Path, policy: str, cache_bytes: int) -> dict[str, Any]:
    extra = ("--window-memory", "0") if policy == ON_DISK else ()
    return policy_cost.ocdn("bench", "replay", "--trace", str(path), "--policy",
                            "vod" if policy == ON_DISK else policy,
                            "--cache-bytes", str(cache_bytes), *extra)


def run_all(jobs: int) -> dict[str, Any]:
    paths = {spec.name: ensure_trace(spec) for spec in TRACES}
    with ThreadPoolExecutor(jobs) as pool:
        infinite = dict(zip(paths, pool.map(lambda n: replay(paths[n], "infinite", 0), paths),
                            strict=True))
        runs = [(name, f, p) for name in paths for f in FRACTIONS for p in RUNS]
        done = list(pool.map(
            lambda run: replay(paths[run[0]], run[2],
                               int(infinite[run[0]]["origin_bytes"] * run[1])),
            runs,
        ))
    results: dict[str, Any] = {
        spec.name: {
            "spec": {"preset": spec.preset, "seed": spec.seed, "path": str(spec.path)},
            "unique_bytes": infinite[spec.name]["origin_bytes"],
            "infinite": infinite[spec.name],
            "runs": {},
        }
        for spec in TRACES
    }
    for (name, f, p), result in zip(runs, done, strict=True):
        results[name]["runs"][f"{f}:{p}"] = result
    return results


def gap_closed(run: dict[str, Any], lru: dict[str, Any], opt: dict[str, Any]) -> float:
    gap = lru["origin_bytes"] - opt["origin_bytes"]
    return (lru["origin_bytes"] - run["origin_bytes"]) / gap if gap else 0.0


def write_reduction(run: dict[str, Any], lru: dict[str, Any]) -> float:
    return 1 - run["disk_write_bytes"] / lru["disk_write_bytes"]


def fmt_window() -> str:
    return format_size(DEFAULT_WINDOW_MEMORY)


def fmt_bytes(n: float) -> str:
    return f"{n / 1e9:,.0f} GB"


def trace_table(results: dict[str, Any]) -> str:
    rows = ["| trace | preset, seed | requests | slice accesses | served | unique bytes "
            "| infinite cache byte hit ratio |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        inf = r["infinite"]
        rows.append(
            f"| {name} | `{r['spec']['preset']}`, {r['spec']['seed']} | {inf['requests']:,} | "
            f"{inf['accesses']:,} | {fmt_bytes(inf['served_bytes'])} | "
            f"{fmt_bytes(r['unique_bytes'])} | {inf['byte_hit_ratio']:.3f} |"
        )
    return "\n".join(rows)


def target_table(results: dict[str, Any]) -> tuple[str, list[str]]:
    rows = [
        "| trace | cache | gap closed: vod | w-tinylfu | s3fifo | disk writes vs LRU: vod "
        "| vod, window on disk | opt | byte hit ratio: LRU | vod (Δ) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    misses: list[str] = []
    for name, r in results.items():
        for f in TARGET_FRACTIONS:
            run = {p: r["runs"][f"{f}:{p}"] for p in RUNS}
            lru, opt, vod = run["lru"], run["opt"], run["vod"]
            gap = {p: gap_closed(run[p], lru, opt) for p in POLICIES}
            wr = write_reduction(vod, lru)
            delta = (vod["byte_hit_ratio"] - lru["byte_hit_ratio"]) * 100
            rows.append(
                f"| {name} | {f:.0%} | **{gap['vod']:.2f}** | {gap['wtinylfu']:.2f} | "
                f"{gap['s3fifo']:.2f} | **{-wr:+.0%}** | "
                f"{-write_reduction(run[ON_DISK], lru):+.0%} | {-write_reduction(opt, lru):+.0%} | "
                f"{lru['byte_hit_ratio']:.3f} | {vod['byte_hit_ratio']:.3f} ({delta:+.1f} pt) |"
            )
            if gap["vod"] < 0.5:
                misses.append(f"gap closed on {name} at {f:.0%}: {gap['vod']:.2f} < 0.5")
            if wr < 0.3:
                misses.append(f"disk writes on {name} at {f:.0%}: {wr:.0%} fewer than LRU < 30%")
            if delta < -1:
                misses.append(f"byte hit ratio on {name} at {f:.0%}: {delta:+.1f} pt < -1 pt")
    return "\n".join(rows), misses


def metric_table(r: dict[str, Any], metric: str, label: str) -> str:
    cols = [*LINES, "infinite"]
    if metric == "disk_write_bytes":
        cols.insert(len(POLICIES), ON_DISK)
    rows = [f"| {label} | " + " | ".join(cols) + " |", "| ---: |" + " ---: |" * len(cols)]
    for f in FRACTIONS:
        cells = []
        for p in cols:
            run = r["infinite"] if p == "infinite" else r["runs"][f"{f}:{p}"]
            cells.append(f"{run[metric] / run['served_bytes']:.3f}" if metric != "byte_hit_ratio"
                         else f"{run['byte_hit_ratio']:.3f}")
        rows.append(f"| {f:.0%} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(6 * len(results), 8.5), squeeze=False)
    xs = [f * 100 for f in FRACTIONS]
    style = {"lru": "o-", "s3fifo": "s-", "wtinylfu": "^-", "vod": "D-", "opt": "k--",
             ON_DISK: "D:"}
    for col, (name, r) in enumerate(results.items()):
        top, bottom = axes[0][col], axes[1][col]
        for p in LINES:
            runs = [r["runs"][f"{f}:{p}"] for f in FRACTIONS]
            top.plot(xs, [x["origin_bytes"] / x["served_bytes"] for x in runs], style[p],
                     label=p, linewidth=2.5 if p == "vod" else 1.5)
            bottom.plot(xs, [x["disk_write_bytes"] / x["served_bytes"] for x in runs],
                        style[p], label=p, linewidth=2.5 if p == "vod" else 1.5)
        on_disk = [r["runs"][f"{f}:{ON_DISK}"] for f in FRACTIONS]
        bottom.plot(xs, [x["disk_write_bytes"] / x["served_bytes"] for x in on_disk],
                    style[ON_DISK], label="vod, window on disk", linewidth=1.5)
        inf = r["infinite"]
        top.axhline(inf["origin_bytes"] / inf["served_bytes"], color="grey", linestyle=":",
                    label="infinite")
        for ax, ylabel in ((top, "origin bytes / served bytes"),
                           (bottom, "disk write bytes / served bytes")):
            ax.set_xscale("log")
            ax.set_xticks(xs, [f"{x:g}%" for x in xs])
            ax.set_xlabel("cache size (% of the trace's unique bytes)")
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
        top.set_title(f"{name} trace")
        top.legend()
        bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(results: dict[str, Any], speeds: dict[str, int],
           memory: dict[str, dict[str, Any]], minutes: float) -> str:
    targets, misses = target_table(results)
    misses += cost_misses(speeds, memory)
    sections = [
        "# Edge cache policies on VOD traces",
        "",
        f"Reproduce (about {minutes:.0f} minutes on 2 cores): "
        "`.venv/bin/python -m bench.policy_report`. It generates the traces into "
        "`bench/out/`, runs every replay as `ocdn bench replay`, and rewrites this file and "
        "[policy_report.png](policy_report.png). The trace model and its parameters are in "
        "`bench/tracegen.py`; the policies in `edge/policy/` (ocdn's default is `vod`, "
        "`edge/policy/vod.py`).",
        "",
        "![origin and disk-write bytes per served byte against cache size](policy_report.png)",
        "",
        "## Traces",
        "",
        trace_table(results),
        "",
        "## Against the targets (cache at 5% and 10% of unique bytes)",
        "",
        "Gap closed = (LRU − policy) / (LRU − OPT) in origin bytes. Disk writes are relative "
        "to LRU's (negative is fewer); OPT's column is what Belady's optimum, which bypasses "
        "whatever is not read again in time, writes. Every replay holds a window policy's "
        f"new slices in {fmt_window()} of memory, the edge's default `--window-memory`; "
        "\"window on disk\" is `vod` with `--window-memory 0`, every admitted slice written "
        "at once (hits and misses are the same). The replays do not prefetch (see Reading "
        "the numbers).",
        "",
        targets,
        "",
        "Not met: " + ("; ".join(misses) + "." if misses else "nothing."),
        "",
        "## Cost on the hot path",
        "",
        f"Replays of the `vod` trace at 5% (best of {SPEED_REPEATS}, CPU time), and "
        f"`ocdn bench cost` at {policy_cost.SLICES:,} resident slices; the policies "
        f"{compiled_note()}.",
        "",
        policy_cost.table(speeds, memory),
        "",
    ]
    for name, r in results.items():
        sections += [
            f"## {name} trace",
            "",
            "Origin bytes / served bytes:",
            "",
            metric_table(r, "origin_bytes", "cache"),
            "",
            "Disk write bytes / served bytes:",
            "",
            metric_table(r, "disk_write_bytes", "cache"),
            "",
            "Byte hit ratio:",
            "",
            metric_table(r, "byte_hit_ratio", "cache"),
            "",
        ]
    sections += [FINDINGS.strip(), ""]
    return "\n".join(sections)


def cost_misses(speeds: dict[str, int], memory: dict[str, dict[str, Any]]) -> list[str]:
    misses = []
    if speeds["vod"] < policy_cost.SPEED_TARGET:
        misses.append(f"vod replays {speeds['vod']:,} slice accesses/s < 300,000")
    if memory["vod"]["bytes_per_slice"] > policy_cost.BYTES_TARGET:
        misses.append(f"vod holds {memory['vod']['bytes_per_slice']:.0f} bytes per slice > 200")
    return misses


SPEED_REPEATS = 3

FINDINGS = """
## Reading the numbers

- **Why writes track misses, and where `vod`'s do not.** Players read a few seconds per
  request, so a session reads each 2 MiB slice 2-8 times within ~30 s. A slice that is
  not admitted is fetched again for each of those reads, so every policy here admits
  the misses a session will re-read into a small first stage (LRU's list, S3-FIFO's
  small queue, the windows of W-TinyLFU and `vod`), and LRU, S3-FIFO and W-TinyLFU
  write every miss to disk: they save writes only by missing less. OPT, which knows
  every next read, bypasses what is not read again in time without refetching.
- **The window waits in memory.** Most of the slices `vod` admits never leave its window
  for the main region: they lose the duel on the way out, having served only their own
  session's re-reads. Written at once (the "window on disk" column), they are most of
  `vod`'s writes; the edge holds them in memory instead (`--window-memory`, memfds served
  by the same sendfile) and writes a slice only when `vod` promotes it, which no hit or
  miss notices. The window peaks at about 1% of the cache in these replays (under
  500 MiB at 5% and 10%), within the default 1 GiB; a budget below the window's size
  still saves in proportion (a slice that finds the budget full is written at once; the
  held ones stay). Before the memory window, `vod` saved writes by bypassing cold misses
  read to the slice's end, at 0.01-0.02 of the gap closed; it no longer does
  (`edge/policy/vod.py` has the figures).
- **The replay does not prefetch; the edge does.** With `--prefetch-slices` (default
  1) the edge fetches the slice a sequential reader, or the rest of a long range, is
  heading for, asking the policy first as for a read to the slice's end; the replay does
  not model prefetch.
- **Where `vod` gains.** Against W-TinyLFU, the file and title start counts (reads of
  slice 0, halved hourly) keep the slices of what is being started now - the evening's
  titles, a release on its first night - shared out by how far sessions read (a slice's
  count over slice 0's), and counts halve on the clock, not by volume, so the evening
  peak does not wash out the evening's demand. What is left to OPT is mostly reuse 3 to
  24 hours ahead (on the `vod` trace at 5%, ~70% of `vod`'s non-compulsory misses re-read
  a slice last read more than 3 hours before), which no count of the past foresees.
  On `churn` at 10%, the one target still missed: an oracle that decides each admission
  against `vod`'s own victim reaches a gap closed of only 0.50-0.52, one that picks the
  victim 0.71. The order of eviction is where the rest is; 71% of main there holds slices
  raised by start terms, yet every weakening of those tried lost more near-term hits than
  it gained later. Most of the misses OPT avoids there are slices of long-running titles
  read again 6-24 hours later, in the next evening's peak; neither a dozen further signals
  (a title's trend, its age, survival by position, time of day) nor learned victim orders
  in the manner of LHD told those slices apart, and `vod`'s level is well calibrated (the
  share of main slices read again within 24 h rises steadily with it). Nor did learned
  predictors of the next read (gradient-boosted trees over a dozen such features, the
  victim the farthest predicted of 16 sampled slices): trained on the `vod` trace or
  online on the past, 0.36-0.44; only trained on the churn trace's own future, 0.57-0.59.
  `edge/policy/vod.py` lists every try with its figure.
- **Small caches.** At 1%, a cache holds little more than the slices sessions are
  reading right now: W-TinyLFU's 1% window evicts them mid-read and every re-read refetches
  a whole slice (more origin bytes than bytes served). `vod` keeps a slice in its window
  while it is being read (up to half the cache), which is what LRU does by construction.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=2, help="replays run at once")
    parser.add_argument("--slices", type=int, default=policy_cost.SLICES,
                        help="resident slices for the memory measurement")
    parser.add_argument("--reuse-replays", action="store_true",
                        help="take the replays from the last run's policy_report.json and "
                             "measure only the cost")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    raw = OUT / "policy_report.json"
    if args.reuse_replays:
        previous = json.loads(raw.read_text())
        results, replay_minutes = previous["results"], previous["replay_minutes"]
    else:
        results = run_all(args.jobs)
        replay_minutes = (time.monotonic() - t0) / 60
    t1 = time.monotonic()
    vod = results["vod"]
    speeds = policy_cost.speed(vod["spec"]["path"], int(vod["unique_bytes"] * 0.05),
                               repeats=SPEED_REPEATS)
    memory = policy_cost.memory(slices=args.slices, jobs=args.jobs)
    minutes = replay_minutes + (time.monotonic() - t1) / 60
    raw.write_text(json.dumps({"results": results, "speeds": speeds, "memory": memory,
                               "replay_minutes": replay_minutes}, indent=1))
    plot(results, HERE / "policy_report.png")
    (HERE / "policy_report.md").write_text(report(results, speeds, memory, minutes))
    _, misses = target_table(results)
    misses += cost_misses(speeds, memory)
    print(f"wrote {HERE / 'policy_report.md'} and policy_report.png in {minutes:.1f} min")
    for miss in misses:
        print(f"not met: {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
