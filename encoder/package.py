"""Packaging: encoded renditions into the two layouts the edge serves, by stream copy.

Each encoded MP4 is remuxed once, without re-encoding (`-c copy`, about 50x cheaper
than an encode), into a fragmented CMAF file: `ftyp` + `moov`, one `sidx` indexing every
fragment, then one `moof` + `mdat` per segment (video: a fragment per keyframe, so one
per segment; audio: fragments of about a segment). That file is the Netflix-style
single-file rendition, `file/<id>.mp4`: players read it by byte ranges, found in the
HLS `#EXT-X-BYTERANGE` playlist or, for DASH, in the `sidx` that the MPD's SegmentBase
points at.

The same bytes are then cut at box boundaries into the segment layout that HLS and DASH
players fetch as separate files: `seg/<id>/init.mp4` (`ftyp` + `moov`) and
`seg/<id>/<n>.m4s` (`moof` + `mdat`, n from 1). Both layouts therefore carry identical
media, and every manifest is written from the box layout read back by `encoder.mp4`.

Packaging checks what the encoder promised: every video fragment starts on a keyframe,
and all video renditions have the same fragment boundaries (a player switching rungs
lands on a keyframe), else `OutputError`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from encoder.encode import EncodedTrack
from encoder.errors import OutputError
from encoder.ffmpeg import FFmpeg
from encoder.mp4 import Mp4Error, TrackLayout, read_layout
from encoder.track import PackagedTrack

_VIDEO_FLAGS = "+cmaf+frag_keyframe+empty_moov+default_base_moof+global_sidx+skip_trailer"
_AUDIO_FLAGS = "+cmaf+empty_moov+default_base_moof+global_sidx+skip_trailer"


def fragment_args(src: Path, dst: Path, kind: str, segment_s: float) -> list[str]:
    args = ["-i", str(src), "-map", "0", "-c", "copy"]
    if kind == "audio":
        args += ["-frag_duration", str(round(segment_s * 1_000_000)), "-movflags", _AUDIO_FLAGS]
    else:
        args += ["-movflags", _VIDEO_FLAGS]
    return [*args, "-f", "mp4", str(dst)]


def split_segments(file: Path, layout: TrackLayout, seg_dir: Path) -> None:
    """Write init.mp4 and 1.m4s, 2.m4s, ... from the fragmented file's boxes."""
    seg_dir.mkdir(parents=True, exist_ok=True)
    with open(file, "rb") as src:
        (seg_dir / "init.mp4").write_bytes(src.read(layout.init_size))
        for number, frag in enumerate(layout.fragments, start=1):
            src.seek(frag.offset)
            with open(seg_dir / f"{number}.m4s", "wb") as dst:
                remaining = frag.size
                while remaining:
                    chunk = src.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise OutputError(f"{file}: ended inside segment {number}")
                    dst.write(chunk)
                    remaining -= len(chunk)


def check_alignment(tracks: list[PackagedTrack]) -> None:
    """Every video fragment starts on a keyframe, at the same time in every rendition."""
    video = [t for t in tracks if t.kind == "video"]
    for t in video:
        bad = [i + 1 for i, f in enumerate(t.layout.fragments) if not f.starts_with_sync]
        if bad:
            raise OutputError(f"{t.id}: segments {bad[:5]} do not start on a keyframe")
    if not video:
        return
    first = video[0]
    times = [Fraction(f.decode_time, first.layout.timescale) for f in first.layout.fragments]
    for t in video[1:]:
        other = [Fraction(f.decode_time, t.layout.timescale) for f in t.layout.fragments]
        if other != times:
            raise OutputError(f"segment boundaries of {t.id} differ from {first.id}: "
                              "keyframes are not aligned across renditions")


def package(ffmpeg: FFmpeg, encoded: list[EncodedTrack], out: Path, segment_s: float,
            frame_rate: Fraction) -> list[PackagedTrack]:
    """Both layouts of every encoded track under `out`, in the order given."""
    (out / "file").mkdir(parents=True, exist_ok=True)
    tracks: list[PackagedTrack] = []
    for enc in encoded:
        file_rel = f"file/{enc.id}.mp4"
        ffmpeg.run(fragment_args(enc.path, out / file_rel, enc.kind, segment_s),
                   f"packaging {enc.id}")
        try:
            with open(out / file_rel, "rb") as fh:
                layout = read_layout(fh)
        except Mp4Error as exc:
            raise OutputError(f"{file_rel}: unexpected layout from ffmpeg: {exc}") from None
        if layout.index_range is None:
            raise OutputError(f"{file_rel}: ffmpeg wrote no sidx")
        split_segments(out / file_rel, layout, out / "seg" / enc.id)
        tracks.append(PackagedTrack(
            id=enc.id, kind=enc.kind, target_bitrate_bps=enc.bitrate_bps, layout=layout,
            file_path=file_rel, segment_dir=f"seg/{enc.id}",
            frame_rate=frame_rate if enc.kind == "video" else None,
        ))
    check_alignment(tracks)
    return tracks

