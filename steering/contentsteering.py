"""HLS and DASH content steering: the steering manifest, with sites as pathways.

HLS (draft-pantos-hls-rfc8216bis §4.4.6.6 and §7) and DASH-IF content steering share
one JSON manifest: `VERSION` 1, `TTL` seconds until the player asks again,
`RELOAD-URI` where to ask, and `PATHWAY-PRIORITY`, the pathway ids best first. Legacy
DASH players (video.js VHS, older dash.js) read `SERVICE-LOCATION-PRIORITY`, an earlier
draft's name for the same list, so a DASH request gets both. The playlist or MPD names
one pathway (`PATHWAY-ID` / `serviceLocation`) per ocdn site.

On every reload the player appends its current pathway and measured throughput in bits
per second: `_HLS_pathway` / `_HLS_throughput`, or `_DASH_pathway` / `_DASH_throughput`.
hls.js sends them bare, Apple's examples quote the pathway, so one pair of quotes is
stripped. A malformed value is ignored and noted, never refused: a player whose steering
request fails keeps its current pathway, and a 429 or 410 would end steering for the
session in hls.js.

Policy on top of the steering decision: when the player reports a throughput under
`low_throughput_bps` on its current pathway, that pathway moves one place down, so a
struggling player tries the next site without the whole population moving.
Pure: query in, manifest out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

VERSION = 1
_PLAYER_PARAMS = ("_HLS_pathway", "_HLS_throughput", "_DASH_pathway", "_DASH_throughput")


class Protocol(StrEnum):
    HLS = "hls"
    DASH = "dash"


@dataclass(frozen=True, slots=True)
class SteeringQuery:
    protocol: Protocol
    pathway: str  # the player's current pathway, "" when it did not say
    throughput_bps: int | None
    carried: tuple[tuple[str, str], ...]  # our own parameters, for RELOAD-URI
    notes: tuple[str, ...] = ()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_query(query: Mapping[str, str]) -> SteeringQuery:
    """Read a steering request's query; never raises on player-sent values."""
    dash = any(k in query for k in ("_DASH_pathway", "_DASH_throughput"))
    protocol = Protocol.DASH if dash or query.get("protocol") == "dash" else Protocol.HLS
    prefix = "_DASH_" if protocol is Protocol.DASH else "_HLS_"
    notes = []
    pathway = _unquote(query.get(prefix + "pathway", "").strip())
    throughput: int | None = None
    raw = _unquote(query.get(prefix + "throughput", "").strip())
    if raw:
        if raw.isascii() and raw.isdigit() and len(raw) <= 15:
            throughput = int(raw)
        else:
            notes.append(f"ignored malformed {prefix}throughput {raw[:32]!r}")
    carried = tuple((k, v) for k, v in query.items() if k not in _PLAYER_PARAMS)
    return SteeringQuery(protocol, pathway, throughput, carried, tuple(notes))


def prioritise(
    pathways: Sequence[str], q: SteeringQuery, low_throughput_bps: int
) -> tuple[list[str], str]:
    """The pathway order to send, and a note when the player's report changed it."""
    order = list(pathways)
    if (low_throughput_bps and q.throughput_bps is not None and q.pathway in order
            and q.throughput_bps < low_throughput_bps and len(order) > 1):
        i = order.index(q.pathway)
        if i + 1 < len(order):
            order[i], order[i + 1] = order[i + 1], order[i]
            return order, (f"{q.pathway} demoted: player reports {q.throughput_bps} bit/s "
                           f"< {low_throughput_bps}")
    return order, ""


def reload_uri(base_path: str, q: SteeringQuery) -> str:
    """Where the player asks next: the same resource with our parameters; the player
    appends its own `_HLS_`/`_DASH_` ones."""
    return f"{base_path}?{urlencode(q.carried)}" if q.carried else base_path


def manifest(
    pathways: Sequence[str], ttl_s: int, reload: str, protocol: Protocol
) -> dict[str, object]:
    doc: dict[str, object] = {
        "VERSION": VERSION,
        "TTL": ttl_s,
        "RELOAD-URI": reload,
        "PATHWAY-PRIORITY": list(pathways),
    }
    if protocol is Protocol.DASH:
        doc["SERVICE-LOCATION-PRIORITY"] = list(pathways)
    return doc
