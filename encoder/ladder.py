"""The bitrate ladder: which renditions a title is encoded into.

A ladder is a list of rungs, each a frame height and a target bitrate. The default is a
fixed ladder in the spirit of Netflix's 2015 one and Apple's HLS authoring spec: six
rungs from 1080p at 5.8 Mb/s down to 240p at 235 kb/s, roughly 1.7-2.4x apart, so a
player's throughput estimate finds a rung within a factor of two of what it can carry.

`fit_ladder` applies it to a source: widths follow the source's display aspect ratio
(rounded to even, as 4:2:0 chroma needs), rungs taller than the source are dropped (never
upscale: it spends bits on interpolation), and when the source is shorter than the
tallest rung it gets its own top rung at its own height, with the next taller rung's
bitrate scaled by pixel count (a 900p source gets 5.8 Mb/s x 900²/1080²), so the best
the player can get is the source's own resolution. Nothing here touches ffmpeg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rung:
    height: int
    bitrate_bps: int

    def __str__(self) -> str:
        return f"{self.height}p@{format_bitrate(self.bitrate_bps)}"


@dataclass(frozen=True, slots=True)
class Rendition:
    """One video rendition to encode: its frame size and target bitrate."""

    width: int
    height: int
    bitrate_bps: int

    @property
    def id(self) -> str:
        return f"v{self.height}-{round(self.bitrate_bps / 1000)}k"


DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung(1080, 5_800_000),
    Rung(720, 3_000_000),
    Rung(540, 1_750_000),
    Rung(432, 1_050_000),
    Rung(360, 560_000),
    Rung(240, 235_000),
)

_BITRATE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([kKmM]?)", re.ASCII)
_RUNG = re.compile(r"([0-9]{2,5})p?@(.+)", re.ASCII)


def parse_bitrate(text: str) -> int:
    """"5800k", "5.8M" or "235000" -> bits per second; ValueError otherwise."""
    m = _BITRATE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not a bitrate: {text!r} (use e.g. 5800k or 5.8M)")
    scale = {"": 1, "k": 1000, "m": 1_000_000}[m.group(2).lower()]
    value = round(float(m.group(1)) * scale)
    if value <= 0:
        raise ValueError(f"bitrate must be positive: {text!r}")
    return value


def format_bitrate(bps: int) -> str:
    if bps % 1_000_000 == 0:
        return f"{bps // 1_000_000}M"
    if bps % 1000 == 0:
        return f"{bps // 1000}k"
    return str(bps)


def parse_ladder(text: str) -> tuple[Rung, ...]:
    """"720p@3000k,360p@560k" -> rungs, tallest first; ValueError on a bad entry."""
    rungs = []
    for part in text.split(","):
        m = _RUNG.fullmatch(part.strip())
        if m is None:
            raise ValueError(f"not a rung: {part.strip()!r} (use HEIGHTp@BITRATE, e.g. 720p@3000k)")
        height = int(m.group(1))
        if height < 16 or height % 2:
            raise ValueError(f"rung height must be even and at least 16: {part.strip()!r}")
        rungs.append(Rung(height, parse_bitrate(m.group(2))))
    if not rungs:
        raise ValueError("a ladder needs at least one rung")
    return tuple(sorted(rungs, key=lambda r: (r.height, r.bitrate_bps), reverse=True))


def even(value: float) -> int:
    """The nearest even integer of at least 2."""
    return max(2, 2 * round(value / 2))


def width_for(height: int, display_aspect: float) -> int:
    return even(height * display_aspect)


def fit_ladder(rungs: tuple[Rung, ...] | list[Rung], source_height: int,
               display_aspect: float) -> list[Rendition]:
    """The renditions of `rungs` for a source, highest bitrate first, never taller than it."""
    ordered = sorted(rungs, key=lambda r: (r.height, r.bitrate_bps), reverse=True)
    kept = [r for r in ordered if r.height <= source_height]
    taller = [r for r in ordered if r.height > source_height]
    if taller and (not kept or kept[0].height < source_height):
        nearest = taller[-1]
        scale = (source_height / nearest.height) ** 2
        top = Rung(even(source_height) if source_height > 1 else 2,
                   max(1000, round(nearest.bitrate_bps * scale / 1000) * 1000))
        if not kept or top.bitrate_bps > kept[0].bitrate_bps:
            kept.insert(0, top)
    out: list[Rendition] = []
    seen: set[str] = set()
    for r in sorted(kept, key=lambda r: (r.bitrate_bps, r.height), reverse=True):
        rendition = Rendition(width_for(r.height, display_aspect), even(r.height), r.bitrate_bps)
        if rendition.id not in seen:
            seen.add(rendition.id)
            out.append(rendition)
    return out
