"""Reading the layout of a fragmented MP4 (ISO/IEC 14496-12) that holds one track.

Packaging needs facts that only the file knows exactly: where the initialization part
(`ftyp` + `moov`) ends, where the segment index (`sidx`) is, and for each fragment
(`moof` + `mdat`) its byte range, decode time, duration and whether it starts on a sync
sample; plus the track's timescale, frame size or audio format, and its RFC 6381 codec
string (`avc1.64001f` from the `avcC` profile and level bytes, `mp4a.40.2` from the
`esds` object type and audio object type). The manifests are written from these facts,
so a byte range in a playlist is the box ffmpeg wrote, not an estimate.

The reader walks top-level boxes by their headers and seeks past every `mdat`: it reads
the kilobytes of metadata of a multi-gigabyte rendition, never its media. Only the
boxes and fields that packaging needs are parsed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_NON_SYNC = 0x0001_0000
_CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "edts"}


class Mp4Error(ValueError):
    """The file is not the single-track fragmented MP4 packaging expects."""


@dataclass(frozen=True, slots=True)
class Box:
    type: str
    offset: int
    size: int
    header_bytes: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True, slots=True)
class Fragment:
    """Bytes [offset, offset + size) hold one `moof` + `mdat` (and an `styp` before it)."""

    offset: int
    size: int
    decode_time: int
    duration: int
    starts_with_sync: bool

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True, slots=True)
class TrackLayout:
    kind: str  # "video" or "audio"
    timescale: int
    codec: str
    init_size: int
    index_range: tuple[int, int] | None  # sidx bytes [start, stop)
    fragments: tuple[Fragment, ...]
    width: int = 0
    height: int = 0
    channels: int = 0
    sample_rate: int = 0

    @property
    def duration_s(self) -> float:
        if not self.fragments:
            return 0.0
        last = self.fragments[-1]
        return (last.decode_time + last.duration - self.fragments[0].decode_time) / self.timescale

    @property
    def media_bytes(self) -> int:
        return sum(f.size for f in self.fragments)


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes in data[start:end], in order."""
    stop = len(data) if end is None else end
    pos = start
    while pos + 8 <= stop:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > stop:
                raise Mp4Error(f"truncated box header at {pos}")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = stop - pos
        if size < header or pos + size > stop:
            raise Mp4Error(f"box {kind!r} at {pos} overruns its parent")
        yield Box(kind.decode("latin-1"), pos, size, header)
        pos += size


def _find(data: bytes, box: Box, path: str) -> Box | None:
    """The first box along `path` ("trak/mdia/mdhd") inside `box`."""
    current = box
    for name in path.split("/"):
        found = next((b for b in iter_boxes(data, current.offset + current.header_bytes,
                                            current.end) if b.type == name), None)
        if found is None:
            return None
        current = found
    return current


def _body(box: Box) -> int:
    return box.offset + box.header_bytes


def _codec_avc(data: bytes, entry: Box) -> str:
    avcc = next((b for b in iter_boxes(data, _body(entry) + 78, entry.end) if b.type == "avcC"),
                None)
    if avcc is None:
        raise Mp4Error("avc1 sample entry without avcC")
    profile, compat, level = struct.unpack_from(">BBB", data, _body(avcc) + 1)
    return f"{entry.type}.{profile:02x}{compat:02x}{level:02x}"


def _descriptor(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, body offset, body size) of an MPEG-4 descriptor at `pos`."""
    tag = data[pos]
    size = 0
    pos += 1
    for _ in range(4):
        byte = data[pos]
        pos += 1
        size = (size << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, pos, size


def _codec_mp4a(data: bytes, entry: Box) -> str:
    esds = next((b for b in iter_boxes(data, _body(entry) + 28, entry.end) if b.type == "esds"),
                None)
    if esds is None:
        return "mp4a.40.2"
    tag, pos, _ = _descriptor(data, _body(esds) + 4)
    if tag != 0x03:
        raise Mp4Error("esds without an ES descriptor")
    flags = data[pos + 2]
    pos += 3
    if flags & 0x80:
        pos += 2
    if flags & 0x40:
        pos += 1 + data[pos]
    if flags & 0x20:
        pos += 2
    tag, pos, _ = _descriptor(data, pos)
    if tag != 0x04:
        raise Mp4Error("esds without a decoder config descriptor")
    object_type = data[pos]
    tag, dsi, _ = _descriptor(data, pos + 13)
    if tag != 0x05:
        return f"mp4a.{object_type:02x}"
    audio_object_type = data[dsi] >> 3
    if audio_object_type == 31:
        audio_object_type = 32 + (((data[dsi] & 0x07) << 3) | (data[dsi + 1] >> 5))
    return f"mp4a.{object_type:02x}.{audio_object_type}"


@dataclass(slots=True)
class _Track:
    kind: str = ""
    timescale: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    channels: int = 0
    sample_rate: int = 0
    default_duration: int = 0
    default_flags: int = 0


def _read_moov(data: bytes, moov: Box) -> _Track:
    traks = [b for b in iter_boxes(data, _body(moov), moov.end) if b.type == "trak"]
    if len(traks) != 1:
        raise Mp4Error(f"expected one track, found {len(traks)}")
    track = _Track()
    trak = traks[0]
    mdhd = _find(data, trak, "mdia/mdhd")
    hdlr = _find(data, trak, "mdia/hdlr")
    stsd = _find(data, trak, "mdia/minf/stbl/stsd")
    if mdhd is None or hdlr is None or stsd is None:
        raise Mp4Error("track without mdhd, hdlr or stsd")
    version = data[_body(mdhd)]
    track.timescale = struct.unpack_from(">I", data, _body(mdhd) + (20 if version == 1 else 12))[0]
    handler = data[_body(hdlr) + 8:_body(hdlr) + 12].decode("latin-1")
    entry = next(iter_boxes(data, _body(stsd) + 8, stsd.end), None)
    if entry is None:
        raise Mp4Error("stsd without a sample entry")
    if handler == "vide":
        track.kind = "video"
        track.width, track.height = struct.unpack_from(">HH", data, _body(entry) + 24)
        if entry.type not in ("avc1", "avc3"):
            raise Mp4Error(f"unsupported video sample entry {entry.type!r}")
        track.codec = _codec_avc(data, entry)
    elif handler == "soun":
        track.kind = "audio"
        track.channels = struct.unpack_from(">H", data, _body(entry) + 16)[0]
        track.sample_rate = struct.unpack_from(">I", data, _body(entry) + 24)[0] >> 16
        if entry.type != "mp4a":
            raise Mp4Error(f"unsupported audio sample entry {entry.type!r}")
        track.codec = _codec_mp4a(data, entry)
    else:
        raise Mp4Error(f"unsupported track handler {handler!r}")
    trex = _find(data, moov, "mvex/trex")
    if trex is not None:
        _, _, track.default_duration, _, track.default_flags = struct.unpack_from(
            ">IIIII", data, _body(trex) + 4)
    return track


def _read_moof(data: bytes, moof: Box, track: _Track) -> tuple[int, int, bool]:
    """(decode time, duration, starts with a sync sample) of one fragment."""
    traf = _find(data, moof, "traf")
    if traf is None:
        raise Mp4Error(f"moof at {moof.offset} without traf")
    default_duration, default_flags = track.default_duration, track.default_flags
    decode_time = 0
    duration = 0
    first_flags: int | None = None
    for box in iter_boxes(data, _body(traf), traf.end):
        body = _body(box)
        if box.type == "tfhd":
            flags = struct.unpack_from(">I", data, body)[0] & 0xFFFFFF
            pos = body + 8
            pos += 8 if flags & 0x01 else 0
            pos += 4 if flags & 0x02 else 0
            if flags & 0x08:
                default_duration = struct.unpack_from(">I", data, pos)[0]
                pos += 4
            pos += 4 if flags & 0x10 else 0
            if flags & 0x20:
                default_flags = struct.unpack_from(">I", data, pos)[0]
        elif box.type == "tfdt":
            fmt = ">Q" if data[body] == 1 else ">I"
            decode_time = struct.unpack_from(fmt, data, body + 4)[0]
        elif box.type == "trun":
            flags = struct.unpack_from(">I", data, body)[0] & 0xFFFFFF
            count = struct.unpack_from(">I", data, body + 4)[0]
            pos = body + 8 + (4 if flags & 0x01 else 0)
            first_sample_flags = None
            if flags & 0x04:
                first_sample_flags = struct.unpack_from(">I", data, pos)[0]
                pos += 4
            fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
            for i in range(count):
                values = dict(zip(fields, struct.unpack_from(">" + "I" * len(fields), data, pos),
                                  strict=True))
                pos += 4 * len(fields)
                duration += values.get(0x100, default_duration)
                if first_flags is None and i == 0:
                    first_flags = (first_sample_flags if first_sample_flags is not None
                                   else values.get(0x400, default_flags))
    sync = first_flags is not None and not first_flags & _NON_SYNC
    return decode_time, duration, sync


def _read_box(fh: BinaryIO, box: Box) -> bytes:
    fh.seek(box.offset)
    data = fh.read(box.size)
    if len(data) != box.size:
        raise Mp4Error(f"truncated {box.type} at {box.offset}")
    return data


def _top_level(fh: BinaryIO, file_size: int) -> Iterator[Box]:
    pos = 0
    while pos + 8 <= file_size:
        fh.seek(pos)
        header = fh.read(16)
        size, kind = struct.unpack_from(">I4s", header)
        head = 8
        if size == 1:
            size, head = struct.unpack_from(">Q", header, 8)[0], 16
        elif size == 0:
            size = file_size - pos
        if size < head or pos + size > file_size:
            raise Mp4Error(f"box {kind!r} at {pos} overruns the file")
        yield Box(kind.decode("latin-1"), pos, size, head)
        pos += size
    if pos != file_size:
        raise Mp4Error(f"{file_size - pos} trailing bytes after the last box")


def read_layout(fh: BinaryIO) -> TrackLayout:
    """The layout of the single-track fragmented MP4 open in `fh` (binary, seekable)."""
    fh.seek(0, 2)
    file_size = fh.tell()
    track: _Track | None = None
    init_size = 0
    index_range: tuple[int, int] | None = None
    fragments: list[Fragment] = []
    pending: tuple[int, int, int, bool] | None = None  # a moof awaiting its mdat
    styp_at: int | None = None
    for box in _top_level(fh, file_size):
        if box.type == "moov":
            data = _read_box(fh, box)
            track = _read_moov(data, Box("moov", 0, box.size, box.header_bytes))
            init_size = box.end
        elif box.type == "sidx" and index_range is None:
            index_range = (box.offset, box.end)
        elif box.type == "styp":
            styp_at = box.offset
        elif box.type == "moof":
            if track is None:
                raise Mp4Error("moof before moov")
            facts = _read_moof(_read_box(fh, box), Box("moof", 0, box.size, box.header_bytes),
                               track)
            pending = (box.offset if styp_at is None else styp_at, *facts)
            styp_at = None
        elif box.type == "mdat" and pending is not None:
            start, decode_time, duration, sync = pending
            fragments.append(Fragment(start, box.end - start, decode_time, duration, sync))
            pending = None
    if track is None:
        raise Mp4Error("no moov box")
    if not fragments:
        raise Mp4Error("not a fragmented MP4 (no moof/mdat)")
    return TrackLayout(
        kind=track.kind, timescale=track.timescale, codec=track.codec, init_size=init_size,
        index_range=index_range, fragments=tuple(fragments), width=track.width,
        height=track.height, channels=track.channels, sample_rate=track.sample_rate,
    )


def read_sidx(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(timescale, [(referenced size, subsegment duration)...]) of one `sidx` box."""
    box = next(iter_boxes(data), None)
    if box is None or box.type != "sidx":
        raise Mp4Error("not a sidx box")
    body = _body(box)
    version = data[body]
    timescale = struct.unpack_from(">I", data, body + 8)[0]
    pos = body + 12 + (16 if version == 1 else 8) + 2
    count = struct.unpack_from(">H", data, pos)[0]
    pos += 2
    refs = []
    for _ in range(count):
        size_word, duration, _sap = struct.unpack_from(">III", data, pos)
        refs.append((size_word & 0x7FFFFFFF, duration))
        pos += 12
    return timescale, refs
