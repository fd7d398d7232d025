"""`ocdn edge`: the range-request cache server."""

from __future__ import annotations

import argparse
import asyncio

from common.config import add_arguments, load
from common.logs import setup_logging
from edge.config import EdgeConfig

EPILOG = ("Every flag can also be set in the TOML file (--config, keys at top level or under "
          "[edge]) or the environment (OCDN_EDGE_<FIELD>, e.g. OCDN_EDGE_CACHE_SIZE=20GiB); "
          "precedence: flag > environment > file > default. S3 credentials come from the "
          "standard AWS environment variables and files.")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("edge", help="run the range-request cache server", epilog=EPILOG)
    add_arguments(p, EdgeConfig, "edge")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load(EdgeConfig, "edge", args)
    setup_logging(cfg.log_level)
    from edge.server import run_edge

    try:
        import uvloop
    except ImportError:  # uvloop is a dependency; stock asyncio still works
        asyncio.run(run_edge(cfg))
    else:
        uvloop.run(run_edge(cfg))
    return 0
