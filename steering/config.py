"""`ocdn steering` settings: flag > env `OCDN_STEERING_<FIELD>` > TOML file > default."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from common.config import ConfigError, option
from common.logs import parse_level

DEFAULT_TRUSTED_PROXIES = ("127.0.0.0/8", "::1/128")
_PATHWAY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)


def parse_listen(value: Any) -> str:
    host, port = split_listen(str(value))
    del host, port
    return str(value)


def split_listen(value: str) -> tuple[str, int]:
    """("host", port) of `HOST:PORT` or `[V6]:PORT`; ValueError otherwise."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address as [ADDR]:PORT, got {value!r}")
    return host, port


def parse_networks(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    out = []
    for item in items:
        text = str(item).strip()
        if text:
            try:
                out.append(str(ipaddress.ip_network(text, strict=False)))
            except ValueError:
                raise ValueError(f"not a network: {text!r}") from None
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SteeringConfig:
    topology: str = field(default="", metadata=option(
        "topology file (YAML): sites, edges, client prefixes; reloaded on SIGHUP and on change"))
    listen: str = field(default="127.0.0.1:8300", metadata=option(
        "address to serve on, HOST:PORT or [V6]:PORT", parse=parse_listen))
    token_secret_file: str = field(default="", metadata=option(
        "key file (KID=SECRET lines; the first key signs) for URL tokens; "
        "empty: URLs are not signed"))
    token_ttl_s: int = field(default=21600, metadata=option(
        "how long a signed URL stays valid, in seconds (a whole viewing session)"))
    token_bind_client: bool = field(default=False, metadata=option(
        "bind tokens to the client's network (its matched prefix, else its /24 or /48)"))
    answer_ttl_s: int = field(default=30, metadata=option(
        "how long a player may reuse a /v1/steer answer, in seconds"))
    steering_ttl_s: int = field(default=300, metadata=option(
        "TTL of HLS/DASH content-steering manifests, in seconds"))
    poll_interval_s: float = field(default=1.0, metadata=option(
        "seconds between /status probes of each edge"))
    probe_timeout_s: float = field(default=0.5, metadata=option(
        "timeout of one /status probe, in seconds"))
    down_after: int = field(default=2, metadata=option(
        "consecutive failed probes that take an up edge down"))
    up_after: int = field(default=3, metadata=option(
        "consecutive good probes that bring a down edge back"))
    load_threshold: float = field(default=0.8, metadata=option(
        "egress / capacity_gbps above which an edge ranks after its healthy peers"))
    max_edges: int = field(default=4, metadata=option("edges per answer, at most"))
    edges_per_site: int = field(default=2, metadata=option(
        "edges taken from one site before the next site is used"))
    min_sites: int = field(default=2, metadata=option(
        "sites an answer spans, at least, when the topology has them"))
    hot_rps_per_edge: float = field(default=50.0, metadata=option(
        "a key's request rate (per second) per extra edge it spreads over; 0: no spreading"))
    hot_half_life_s: float = field(default=10.0, metadata=option(
        "half-life of the per-key request rate estimate, in seconds"))
    low_throughput_bps: int = field(default=0, metadata=option(
        "content steering: a player reporting less than this on its pathway gets that "
        "pathway moved down one place; 0: off"))
    base_pathway: str = field(default="cdn", metadata=option(
        "content steering: the pathway of the encoder's playlists (its --pathway) that "
        "each site's PATHWAY-CLONES entry copies, when the player does not report one"))
    trusted_proxies: tuple[str, ...] = field(default=DEFAULT_TRUSTED_PROXIES, metadata=option(
        "comma-separated networks whose X-Forwarded-For is believed", parse=parse_networks))
    topology_check_s: float = field(default=1.0, metadata=option(
        "seconds between checks of the topology file for changes; 0: only on SIGHUP"))
    decision_log: bool = field(default=True, metadata=option(
        "log one line per steering answer"))
    log_level: str = field(default="info", metadata=option("log level", parse=parse_level))

    def validate(self) -> None:
        if not self.topology:
            raise ConfigError("topology", "required (--topology FILE)")
        positive = ("token_ttl_s", "answer_ttl_s", "steering_ttl_s", "poll_interval_s",
                    "probe_timeout_s", "down_after", "up_after", "load_threshold",
                    "max_edges", "edges_per_site", "min_sites", "hot_half_life_s")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(name, f"must be > 0, got {getattr(self, name)!r}")
        for name in ("hot_rps_per_edge", "low_throughput_bps", "topology_check_s"):
            if getattr(self, name) < 0:
                raise ConfigError(name, f"must be >= 0, got {getattr(self, name)!r}")
        if not _PATHWAY_ID.fullmatch(self.base_pathway):
            raise ConfigError("base_pathway", "must be 1-64 characters of A-Z a-z 0-9 . _ -, "
                              f"got {self.base_pathway!r}")
        if self.probe_timeout_s > self.poll_interval_s:
            raise ConfigError("probe_timeout_s", f"{self.probe_timeout_s} exceeds "
                              f"poll_interval_s {self.poll_interval_s}")
        if self.max_edges < self.min_sites:
            raise ConfigError("max_edges", f"{self.max_edges} cannot span min_sites "
                              f"{self.min_sites}")

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]
