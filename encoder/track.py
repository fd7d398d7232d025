"""A packaged rendition: what the manifests and title.json are written from.

A value object, no I/O: the rendition's identity and target, the box layout read back
from its fragmented file (`encoder.mp4.TrackLayout`), and where its two layouts live
relative to the title directory. Bitrates that players see are derived from the real
segment sizes: the average over the title and the peak of any whole segment (HLS
`BANDWIDTH` is the peak, `AVERAGE-BANDWIDTH` the average, RFC 8216 §4.3.4.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from encoder.mp4 import TrackLayout


@dataclass(frozen=True, slots=True)
class PackagedTrack:
    id: str
    kind: str  # "video" or "audio"
    target_bitrate_bps: int
    layout: TrackLayout
    file_path: str  # "file/<id>.mp4", relative to the title directory
    segment_dir: str  # "seg/<id>"
    frame_rate: Fraction | None = None

    @property
    def codec(self) -> str:
        return self.layout.codec

    @property
    def init_path(self) -> str:
        return f"{self.segment_dir}/init.mp4"

    def segment_path(self, number: int) -> str:
        """Segment `number`, counted from 1."""
        return f"{self.segment_dir}/{number}.m4s"

    @property
    def segment_count(self) -> int:
        return len(self.layout.fragments)

    def segment_durations_s(self) -> list[float]:
        scale = self.layout.timescale
        return [f.duration / scale for f in self.layout.fragments]

    @property
    def average_bitrate_bps(self) -> int:
        duration = self.layout.duration_s
        return round(self.layout.media_bytes * 8 / duration) if duration > 0 else 0

    @property
    def peak_bitrate_bps(self) -> int:
        """The highest bitrate of any segment; the last, often short, counts only alone."""
        frags = self.layout.fragments
        whole = frags[:-1] if len(frags) > 1 else frags
        scale = self.layout.timescale
        rates = [f.size * 8 * scale / f.duration for f in whole if f.duration > 0]
        return round(max(rates)) if rates else self.average_bitrate_bps
