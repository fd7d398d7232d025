"""`ocdn bench`: `replay` (an edge policy on a trace), `cost` (its memory) and `tracegen`.

It sits in `ocdn/` because it joins two packages that must not import each other: the
replay engine lives in `edge/` (it drives the edge's policy classes) and the trace
generator in `bench/`.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from bench import tracegen
    from edge import replay

    parser = sub.add_parser(
        "bench", help="benchmarks: replay a trace through a cache policy, generate traces"
    )
    commands = parser.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    replay.register(commands)
    replay.register_cost(commands)
    tracegen.register(commands)

    def _usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=_usage)
