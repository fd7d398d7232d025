"""The `ocdn` command: one entry point, one subcommand per service.

Each service package owns its subcommands in a module with `register(subparsers)`, which
adds a parser whose `func` default runs it; this module only wires them together (it is
the one place allowed to import every service). Only the module of the subcommand being
run is imported, so `ocdn edge` does not pay for moto, boto3 or ffmpeg probing at start.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from common.config import ConfigError

PRECEDENCE = (
    "Every flag can also be set in the TOML config file (--config) or the environment "
    "(OCDN_<SERVICE>_<FIELD>); precedence: flag > environment > file > default."
)

# subcommand -> module whose register() adds it
COMMANDS = {
    "origin": "origin.cli",
    "edge": "edge.cli",
    "steering": "steering.cli",
    "encode": "encoder.cli",
    "publish": "encoder.cli",
    "demo": "ocdn.demo",
    "bench": "ocdn.bench_cli",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocdn", description="ocdn: an Open Connect-style video CDN.", epilog=PRECEDENCE
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
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
