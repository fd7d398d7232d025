"""`ocdn origin`: the embedded S3-compatible origin on loopback."""

from __future__ import annotations

import argparse
import ipaddress
import re
import signal
import threading

from origin.server import CREDENTIALS, EmbeddedOrigin

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)


def _bucket(value: str) -> str:
    if not _BUCKET.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"invalid bucket name {value!r}: 3-63 characters of a-z, 0-9, '.' and '-'"
        )
    return value


def _loopback(value: str) -> str:
    try:
        if not ipaddress.ip_address(value).is_loopback:
            raise argparse.ArgumentTypeError(f"--host must be a loopback address, got {value!r}")
    except ValueError:
        if value != "localhost":
            raise argparse.ArgumentTypeError(f"--host: not an address: {value!r}") from None
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("origin", help="run the embedded S3-compatible origin on loopback")
    p.add_argument("--host", type=_loopback, default="127.0.0.1", help="loopback address")
    p.add_argument("--port", type=int, default=9000, help="port (default 9000)")
    p.add_argument("--bucket", type=_bucket, action="append", default=[],
                   help="create this bucket at start (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    origin = EmbeddedOrigin(args.host, args.port)
    origin.start()
    origin.create_buckets(args.bucket)
    print(f"ocdn origin: S3-compatible endpoint {origin.endpoint}", flush=True)
    print("environment for clients:", flush=True)
    for key, value in CREDENTIALS.items():
        print(f"  export {key}={value}", flush=True)
    for name in args.bucket:
        print(f"  bucket s3://{name} (--origin s3://{name} --s3-endpoint {origin.endpoint})",
              flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    origin.stop()
    return 0
