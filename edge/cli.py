"""`ocdn edge`: the range-request cache server."""

from __future__ import annotations

import argparse
import asyncio

from common import build
from common.config import add_arguments, load, precedence_epilog
from common.logs import setup_logging
from edge.config import EdgeConfig

EPILOG = (precedence_epilog("edge", "OCDN_EDGE_CACHE_SIZE=20GiB") + " S3 credentials come "
          "from the standard AWS environment variables and files.")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("edge", help="run the range-request cache server", epilog=EPILOG)
    add_arguments(p, EdgeConfig, "edge")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load(EdgeConfig, "edge", args)
    setup_logging(cfg.log_level)
    # Before the hot path is imported: a stale in-place build would run old code.
    if stale := build.stale():
        raise SystemExit(f"ocdn edge: {build.stale_message(stale)}")
    from edge.server import run_edge

    try:
        import uvloop
    except ImportError:  # uvloop is a dependency; stock asyncio still works
        asyncio.run(run_edge(cfg))
    else:
        uvloop.run(run_edge(cfg))
    return 0
