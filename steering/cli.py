"""`ocdn steering`: load the topology and keys, probe the edges, serve the steering APIs.

Start-up refuses a bad topology or key file (exit 2, naming what is at fault);
afterwards SIGHUP or a change to either file reloads both, keeping the old ones if the
new ones are bad. `--check` validates and exits, for use before a SIGHUP. Once
listening, the service prints `ocdn steering: listening on http://HOST:PORT` (the real
port, also when asked for port 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from common.config import ConfigError, add_arguments, load, precedence_epilog
from common.logs import setup_logging
from common.tokens import KeyRing, read_key_file
from steering.config import SteeringConfig
from steering.errors import TopologyError
from steering.poller import Poller
from steering.reload import Reloader
from steering.server import SteeringApp, http_server
from steering.service import Steering
from steering.topofile import load_topology
from steering.topology import Topology

log = logging.getLogger("ocdn.steering")



def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "steering", help="run the steering service",
        description="Hand players ranked, signed edge URLs: nearest healthy site by client "
                    "prefix, content placed by rendezvous hashing.",
        epilog=precedence_epilog("steering"))
    add_arguments(p, SteeringConfig, "steering")
    p.add_argument("--check", action="store_true",
                   help="validate the topology and key file, print a summary, and exit")
    p.set_defaults(func=run)


def load_files(config: SteeringConfig) -> tuple[Topology, KeyRing | None]:
    """The topology and key ring the config names; TopologyError or ConfigError."""
    topology = load_topology(config.topology)
    ring = None
    if config.token_secret_file:
        try:
            ring = read_key_file(config.token_secret_file)
        except ValueError as exc:
            raise ConfigError("token_secret_file", str(exc)) from None
    return topology, ring


def run(args: argparse.Namespace) -> int:
    config = load(SteeringConfig, "steering", args)
    setup_logging(config.log_level)
    try:
        topology, ring = load_files(config)
    except TopologyError as exc:
        print(f"ocdn steering: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "check", False):
        edges = len(topology.edge_by_id)
        print(f"{config.topology}: {len(topology.sites)} sites, {edges} edges, "
              f"{len(topology.prefixes)} prefixes, default sites "
              f"{','.join(topology.default_sites) or '-'}"
              + (f"; signing key {ring.signing_kid!r}" if ring else "; URLs unsigned"))
        return 0
    if ring is None:
        log.warning("no --token-secret-file: URLs are handed out unsigned")
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(config, topology, ring))
    else:
        uvloop.run(serve(config, topology, ring))
    return 0


async def serve(config: SteeringConfig, topology: Topology, ring: KeyRing | None) -> None:
    steering = Steering(config, topology, ring)
    poller = Poller(config.poll_interval_s, config.probe_timeout_s, steering.record_probe)

    def apply(loaded: tuple[Topology, KeyRing | None]) -> None:
        steering.set_topology(loaded[0], loaded[1])
        poller.sync(steering.probe_targets())

    reloader = Reloader([config.topology, config.token_secret_file], lambda: load_files(config),
                        apply, steering.reload_failed, config.topology_check_s)
    poller.sync(steering.probe_targets())
    server = http_server(SteeringApp(steering))
    port = await server.start(config.host, config.port)
    host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"ocdn steering: listening on http://{host}:{port}", flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    pending: set[asyncio.Task[bool]] = set()

    def on_hup() -> None:
        task = loop.create_task(reloader.reload("SIGHUP"))
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    background = [loop.create_task(reloader.watch()),
                  loop.create_task(steering.decision_log.run())]
    try:
        await stop.wait()
    finally:
        await server.stop(grace_s=1.0)
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await poller.close()
