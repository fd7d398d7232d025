"""The `ocdn` command: one entry point, one subcommand per service.

Each service package owns its subcommand in `<package>/cli.py` as
`register(subparsers)`, which adds a parser whose `func` default runs it; this module
only wires them together (it is the one place allowed to import every service).
"""

from __future__ import annotations

import argparse
import sys

from common.config import ConfigError

PRECEDENCE = (
    "Every flag can also be set in the TOML config file (--config) or the environment "
    "(OCDN_<SERVICE>_<FIELD>); precedence: flag > environment > file > default."
)


def build_parser() -> argparse.ArgumentParser:
    from edge import cli as edge_cli
    from ocdn import demo
    from origin import cli as origin_cli

    parser = argparse.ArgumentParser(
        prog="ocdn", description="ocdn: an Open Connect-style video CDN.", epilog=PRECEDENCE
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    origin_cli.register(sub)
    edge_cli.register(sub)
    for optional in ("steering", "encoder", "ocdn.bench_cli"):
        try:
            name = optional if "." in optional else f"{optional}.cli"
            module = __import__(name, fromlist=["register"])
        except ImportError:  # the package has not landed its command yet
            continue
        module.register(sub)
    demo.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"ocdn {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
