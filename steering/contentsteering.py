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

Pathway clones (HLS: draft-pantos-hls-rfc8216bis §7.2, "Pathway Cloning"; DASH:
DASH-IF CTS 001 / ETSI TS 103 998, which reuses the same `PATHWAY-CLONES` objects
with `BASE-ID` naming a `serviceLocation`). The encoder's playlists carry one pathway
(`PATHWAY-ID="cdn"` / `serviceLocation="cdn"`), so a site id in `PATHWAY-PRIORITY`
means nothing to a player by itself. Every site in the answer therefore comes with a
clone of that base pathway whose `URI-REPLACEMENT` has `HOST`, the `host[:port]` of the
site's best edge for this client and title, and, when steering signs URLs, `PARAMS`
`{"token": ...}`, a token for the title's directory. The base is the pathway the player
reports when that is not one of our sites (then carried in `RELOAD-URI` as `base=`, since
the player reports the clone it is on afterwards), else `base_pathway` (default `cdn`,
the encoder's default). A clone only swaps the host: the edge must serve the same scheme
and paths as the base pathway (no edge URL path prefix). hls.js keeps the first clone it
sees for an id for the whole session; later answers only reorder the pathways.
Pure: query in, manifest out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode, urlsplit

VERSION = 1
_PLAYER_PARAMS = ("_HLS_pathway", "_HLS_throughput", "_DASH_pathway", "_DASH_throughput")
BASE_PARAM = "base"  # ours, in RELOAD-URI: the pathway clones are made from
_PATHWAY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)  # the HLS pathway-id alphabet


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
    base: str = ""  # `base=` carried from an earlier answer, "" when absent or malformed


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
    base = query.get(BASE_PARAM, "")
    if base and not _PATHWAY_ID.fullmatch(base):
        notes.append(f"ignored malformed {BASE_PARAM} {base[:32]!r}")
        base = ""
        carried = tuple((k, v) for k, v in carried if k != BASE_PARAM)
    return SteeringQuery(protocol, pathway, throughput, carried, tuple(notes), base)


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


def base_pathway(q: SteeringQuery, sites: Collection[str], default: str) -> tuple[str, bool]:
    """(the pathway clones are made from, whether RELOAD-URI must carry it): the one an
    earlier answer carried, else the player's own when it is not one of our sites (a
    player on a clone reports the clone), else `default`."""
    if q.base:
        return q.base, False
    if q.pathway and q.pathway not in sites and _PATHWAY_ID.fullmatch(q.pathway):
        return q.pathway, q.pathway != default
    return default, False


def with_base(q: SteeringQuery, base: str) -> SteeringQuery:
    """`q` carrying `base=` into RELOAD-URI."""
    return SteeringQuery(q.protocol, q.pathway, q.throughput_bps,
                         (*q.carried, (BASE_PARAM, base)), q.notes, base)


def edge_host(url: str) -> str:
    """`HOST` of a URI replacement: the edge URL's `host[:port]`."""
    return urlsplit(url).netloc


def clones(
    pathways: Sequence[str], base: str, hosts: Mapping[str, str],
    params: Mapping[str, Mapping[str, str]],
) -> list[dict[str, object]]:
    """One clone of `base` per pathway that has a host: `params` are per pathway (empty
    when URLs are not signed). A pathway equal to `base` is not cloned."""
    out: list[dict[str, object]] = []
    for p in pathways:
        host = hosts.get(p)
        if not host or p == base:
            continue
        replacement: dict[str, object] = {"HOST": host}
        if params.get(p):
            replacement["PARAMS"] = dict(params[p])
        out.append({"BASE-ID": base, "ID": p, "URI-REPLACEMENT": replacement})
    return out


def manifest(
    pathways: Sequence[str], ttl_s: int, reload: str, protocol: Protocol,
    pathway_clones: Sequence[Mapping[str, object]] = (),
) -> dict[str, object]:
    doc: dict[str, object] = {
        "VERSION": VERSION,
        "TTL": ttl_s,
        "RELOAD-URI": reload,
        "PATHWAY-PRIORITY": list(pathways),
    }
    if protocol is Protocol.DASH:
        doc["SERVICE-LOCATION-PRIORITY"] = list(pathways)
    if pathway_clones:
        doc["PATHWAY-CLONES"] = [dict(c) for c in pathway_clones]
    return doc
