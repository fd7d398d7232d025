"""Small, strict readers of what the encoder writes, independent of the writers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def attributes(text: str) -> dict[str, str]:
    """An HLS attribute list: KEY=VALUE,KEY="VALUE"; fails on anything left over."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _ATTR.match(text, pos)
        assert m is not None, f"bad attribute list at {text[pos:]!r}"
        out[m.group(1)] = m.group(2).strip('"')
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", f"expected ',' at {text[pos:]!r}"
            pos += 1
    return out


@dataclass
class MediaSegment:
    duration_s: float
    uri: str
    byterange: tuple[int, int] | None  # (length, offset)


@dataclass
class MediaPlaylist:
    tags: dict[str, str] = field(default_factory=dict)
    map_uri: str = ""
    map_range: tuple[int, int] | None = None
    segments: list[MediaSegment] = field(default_factory=list)
    ended: bool = False


def parse_media(text: str) -> MediaPlaylist:
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    pl = MediaPlaylist()
    duration: float | None = None
    byterange: tuple[int, int] | None = None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:"):].split(",")[0])
        elif line.startswith("#EXT-X-BYTERANGE:"):
            length, offset = line[len("#EXT-X-BYTERANGE:"):].split("@")
            byterange = (int(length), int(offset))
        elif line.startswith("#EXT-X-MAP:"):
            attrs = attributes(line[len("#EXT-X-MAP:"):])
            pl.map_uri = attrs["URI"]
            if "BYTERANGE" in attrs:
                length, offset = attrs["BYTERANGE"].split("@")
                pl.map_range = (int(length), int(offset))
        elif line == "#EXT-X-ENDLIST":
            pl.ended = True
        elif line.startswith("#EXT"):
            key, _, value = line[1:].partition(":")
            pl.tags[key] = value
        elif line:
            assert duration is not None, f"segment {line} without EXTINF"
            pl.segments.append(MediaSegment(duration, line, byterange))
            duration, byterange = None, None
    return pl


@dataclass
class Variant:
    attrs: dict[str, str]
    uri: str


@dataclass
class MasterPlaylist:
    tags: dict[str, str] = field(default_factory=dict)
    media: list[dict[str, str]] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)


def parse_master(text: str) -> MasterPlaylist:
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    pl = MasterPlaylist()
    pending: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = attributes(line[len("#EXT-X-STREAM-INF:"):])
        elif line.startswith("#EXT-X-MEDIA:"):
            pl.media.append(attributes(line[len("#EXT-X-MEDIA:"):]))
        elif line.startswith("#EXT"):
            key, _, value = line[1:].partition(":")
            pl.tags[key] = value
        elif line:
            assert pending is not None, f"URI {line} without EXT-X-STREAM-INF"
            pl.variants.append(Variant(pending, line))
            pending = None
    return pl
