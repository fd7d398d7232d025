"""Pre-positioning a new title on the edges steering will send its players to.

Open Connect fills its appliances before demand arrives. After a publish, ocdn can do
the same for the start of a title, where most sessions begin (and many end): for every
rendition, the first `prefill_s` seconds in both layouts (the leading bytes of the
single file, up to the end of the last fragment starting before that time; the init
segment and those first segments), plus every playlist and MPD.

Which edges: for each item, steering is asked exactly as a player would ask
(`GET STEERING/v1/steer?path=/KEY`), and every edge in its ranked answer gets the item,
so the failover edges are warm too. Items are then sent per edge in one
`POST EDGE/admin/prefill` with the admin bearer token and
`{"items": [{"key": KEY, "bytes": N}]}` (no `bytes`: the whole object). The edge
answers 202 and fills in the background. The edge's base URL is what precedes the
key's path in the signed URL, so edges published under a path prefix work too.
`plan_items` is pure; `prefill` does the HTTP (stdlib urllib: one request per item
and per edge, a few dozen for a title).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from encoder import manifests
from encoder.errors import PrefillError
from encoder.mp4 import Mp4Error, TrackLayout, read_layout
from origin.s3 import S3Location

TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class PrefillItem:
    rel: str
    bytes: int | None  # None: the whole object


@dataclass(frozen=True, slots=True)
class PrefillReport:
    edges: dict[str, int]  # edge base URL -> items accepted


def leading_bytes(layout: TrackLayout, seconds: float) -> tuple[int, int]:
    """(bytes of the single file, segments) that cover the first `seconds`."""
    first = layout.fragments[0].decode_time
    limit = first + seconds * layout.timescale
    covering = [f for f in layout.fragments if f.decode_time < limit] or [layout.fragments[0]]
    return covering[-1].end, len(covering)


def plan_items(renditions: Sequence[dict[str, Any]], layouts: dict[str, TrackLayout],
               seconds: float) -> list[PrefillItem]:
    """What to prefill for a title (pure): manifests whole, the start of every rendition."""
    items = [PrefillItem(name, None) for name in manifests.ENTRY_POINTS]
    for r in renditions:
        rid = str(r["id"])
        nbytes, segments = leading_bytes(layouts[rid], seconds)
        items.append(PrefillItem(str(r["file"]), nbytes))
        items.append(PrefillItem(f"file/{rid}.m3u8", None))
        seg_dir = str(r["segment_dir"])
        items += [PrefillItem(f"{seg_dir}/index.m3u8", None),
                  PrefillItem(f"{seg_dir}/init.mp4", None)]
        items += [PrefillItem(f"{seg_dir}/{n}.m4s", None) for n in range(1, segments + 1)]
    return items


def _layouts(root: Path, renditions: Sequence[dict[str, Any]]) -> dict[str, TrackLayout]:
    out = {}
    for r in renditions:
        try:
            with open(root / str(r["file"]), "rb") as fh:
                out[str(r["id"])] = read_layout(fh)
        except (OSError, Mp4Error, KeyError) as exc:
            raise PrefillError(f"cannot read rendition {r.get('id')!r}: {exc}") from None
    return out


def _http_json(req: urllib.request.Request, what: str) -> Any:
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode("utf-8", "replace").strip()
        raise PrefillError(f"{what}: HTTP {exc.code} {body}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PrefillError(f"{what}: {getattr(exc, 'reason', exc)}") from None
    except ValueError:
        raise PrefillError(f"{what}: the answer is not JSON") from None


def steer(steering_url: str, path: str) -> list[str]:
    """The ranked edge URLs steering gives a player for `path`."""
    query = urllib.parse.urlencode({"path": path})
    url = f"{steering_url.rstrip('/')}/v1/steer?{query}"
    doc = _http_json(urllib.request.Request(url), f"steering {url}")
    urls = doc.get("urls") if isinstance(doc, dict) else None
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise PrefillError(f"steering {url}: no list of URLs in the answer")
    return urls


def edge_base(url: str, path: str) -> str:
    """The edge's base URL: the signed URL up to the key's path."""
    parts = urllib.parse.urlsplit(url)
    prefix = parts.path[: -len(path)] if parts.path.endswith(path) else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def post_prefill(base: str, token: str, items: list[dict[str, Any]]) -> int:
    body = json.dumps({"items": items}).encode()
    req = urllib.request.Request(f"{base}/admin/prefill", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    doc = _http_json(req, f"edge {base} prefill")
    accepted = doc.get("accepted") if isinstance(doc, dict) else None
    return int(accepted) if isinstance(accepted, int) else len(items)


def read_token(path: str) -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise PrefillError(f"cannot read the admin token file {path}: {exc.strerror}") from None
    if not token:
        raise PrefillError(f"the admin token file {path} is empty")
    return token


def prefill(root: Path, doc: dict[str, Any], location: S3Location, steering_url: str,
            token: str, seconds: float) -> PrefillReport:
    renditions = [r for r in doc.get("renditions", []) if isinstance(r, dict)]
    items = plan_items(renditions, _layouts(root, renditions), seconds)
    per_edge: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        key = location.key(item.rel)
        path = "/" + key
        for url in steer(steering_url, path):
            entry: dict[str, Any] = {"key": key}
            if item.bytes is not None:
                entry["bytes"] = item.bytes
            per_edge.setdefault(edge_base(url, path), []).append(entry)
    if not per_edge:
        raise PrefillError("steering named no edges for the title")
    return PrefillReport({base: post_prefill(base, token, entries)
                          for base, entries in per_edge.items()})
