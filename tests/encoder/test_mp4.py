from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from encoder.mp4 import Mp4Error, iter_boxes, read_layout, read_sidx
from encoder.pipeline import EncodeResult


def box(kind: str, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def full(kind: str, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def avc1(width: int, height: int) -> bytes:
    visual = bytes(6) + struct.pack(">H", 1) + bytes(16) + struct.pack(">HH", width, height)
    visual += bytes(50)
    avcc = box("avcC", bytes([1, 0x64, 0x00, 0x1F, 0xFF, 0xE0]))
    return box("avc1", visual + avcc)


def mp4a(channels: int, rate: int) -> bytes:
    entry = bytes(6) + struct.pack(">H", 1) + bytes(8) + struct.pack(">HHHH", channels, 16, 0, 0)
    entry += struct.pack(">I", rate << 16)
    dsi = bytes([0x05, 2, 0x12, 0x10])  # AudioSpecificConfig: AOT 2 (AAC-LC)
    dcd = bytes([0x04, 13 + len(dsi), 0x40, 0x15]) + bytes(11) + dsi
    esd = bytes([0x03, 3 + len(dcd), 0, 1, 0]) + dcd
    return box("mp4a", entry + full("esds", 0, 0, esd))


def moov(handler: str, entry: bytes, timescale: int, default_duration: int = 0) -> bytes:
    mdhd = full("mdhd", 0, 0, struct.pack(">IIII", 0, 0, timescale, 0) + bytes(4))
    hdlr = full("hdlr", 0, 0, bytes(4) + handler.encode() + bytes(12) + b"\0")
    stsd = full("stsd", 0, 0, struct.pack(">I", 1) + entry)
    trak = box("trak", box("mdia", mdhd + hdlr + box("minf", box("stbl", stsd))))
    trex = full("trex", 0, 0, struct.pack(">IIIII", 1, 1, default_duration, 0, 0x10000))
    return box("moov", full("mvhd", 0, 0, bytes(96)) + trak + box("mvex", trex))


def fragment(decode_time: int, durations: list[int], first_sync: bool = True,
             with_styp: bool = False) -> bytes:
    tfhd = full("tfhd", 0, 0x020000, struct.pack(">I", 1))
    tfdt = full("tfdt", 1, 0, struct.pack(">Q", decode_time))
    first_flags = 0x02000000 if first_sync else 0x01010000
    samples = b"".join(struct.pack(">II", d, 10) for d in durations)
    trun = full("trun", 0, 0x000001 | 0x000004 | 0x000100 | 0x000200,
                struct.pack(">IiI", len(durations), 0, first_flags) + samples)
    moof = box("moof", full("mfhd", 0, 0, struct.pack(">I", 1)) + box("traf", tfhd + tfdt + trun))
    styp = box("styp", b"msdh" + bytes(4)) if with_styp else b""
    return styp + moof + box("mdat", bytes(10 * len(durations)))


def video_file(frags: list[bytes]) -> bytes:
    return box("ftyp", b"iso6" + bytes(4)) + moov("vide", avc1(320, 180), 12800) + b"".join(frags)


def test_reads_a_synthetic_video_track() -> None:
    head = box("ftyp", b"iso6" + bytes(4)) + moov("vide", avc1(320, 180), 12800)
    f1 = fragment(0, [512] * 25)
    f2 = fragment(12800, [512] * 25, with_styp=True)
    data = head + f1 + f2
    layout = read_layout(io.BytesIO(data))
    assert (layout.kind, layout.codec, layout.timescale) == ("video", "avc1.64001f", 12800)
    assert (layout.width, layout.height) == (320, 180)
    assert layout.init_size == len(head)
    assert layout.index_range is None
    assert [(f.offset, f.size) for f in layout.fragments] == [
        (len(head), len(f1)), (len(head) + len(f1), len(f2))]
    assert [(f.decode_time, f.duration) for f in layout.fragments] == [(0, 12800), (12800, 12800)]
    assert layout.duration_s == pytest.approx(2.0)
    assert all(f.starts_with_sync for f in layout.fragments)


def test_a_fragment_not_starting_on_a_keyframe_is_flagged() -> None:
    layout = read_layout(io.BytesIO(video_file([fragment(0, [512] * 5, first_sync=False)])))
    assert not layout.fragments[0].starts_with_sync


def test_reads_an_audio_track_with_default_durations() -> None:
    head = box("ftyp", b"iso6" + bytes(4)) + moov("soun", mp4a(2, 48000), 48000, 1024)
    tfhd = full("tfhd", 0, 0x020000, struct.pack(">I", 1))
    trun = full("trun", 0, 0x000200, struct.pack(">I", 3) + struct.pack(">III", 5, 5, 5))
    moof = box("moof", box("traf", tfhd + full("tfdt", 0, 0, struct.pack(">I", 2048)) + trun))
    layout = read_layout(io.BytesIO(head + moof + box("mdat", bytes(15))))
    assert (layout.kind, layout.codec, layout.channels, layout.sample_rate) == (
        "audio", "mp4a.40.2", 2, 48000)
    assert (layout.fragments[0].decode_time, layout.fragments[0].duration) == (2048, 3072)


@pytest.mark.parametrize(("data", "message"), [
    (box("ftyp", bytes(8)), "no moov"),
    (box("ftyp", bytes(8)) + moov("vide", avc1(2, 2), 1), "not a fragmented"),
    (box("ftyp", bytes(8))[:-2], "trailing|overruns"),
    (struct.pack(">I4s", 100, b"ftyp") + bytes(8), "overruns"),
    (box("moof", b""), "moof before moov"),
    (box("ftyp", bytes(8)) + moov("text", avc1(2, 2), 1), "unsupported track handler"),
])
def test_malformed_files(data: bytes, message: str) -> None:
    with pytest.raises(Mp4Error, match=message):
        read_layout(io.BytesIO(data))


def test_large_size_boxes() -> None:
    payload = b"x" * 4
    data = struct.pack(">I4sQ", 1, b"free", 16 + len(payload)) + payload + box("skip")
    assert [(b.type, b.size, b.header_bytes) for b in iter_boxes(data)] == [
        ("free", 20, 16), ("skip", 8, 8)]


def test_the_encoders_files_index_every_fragment(encoded: EncodeResult) -> None:
    for path in sorted((encoded.out / "file").glob("*.mp4")):
        data = path.read_bytes()
        with open(path, "rb") as fh:
            layout = read_layout(fh)
        assert layout.index_range is not None
        start, stop = layout.index_range
        assert start == layout.init_size
        _timescale, refs = read_sidx(data[start:stop])
        assert [size for size, _ in refs] == [f.size for f in layout.fragments]
        assert layout.fragments[0].offset == stop
        assert layout.fragments[-1].end == len(data)
        for f in layout.fragments:
            kinds = [b.type for b in iter_boxes(data, f.offset, f.end)]
            assert kinds == ["moof", "mdat"], path


def test_single_file_and_segments_carry_the_same_bytes(encoded: EncodeResult) -> None:
    out: Path = encoded.out
    for path in sorted((out / "file").glob("*.mp4")):
        data = path.read_bytes()
        with open(path, "rb") as fh:
            layout = read_layout(fh)
        seg_dir = out / "seg" / path.stem
        assert (seg_dir / "init.mp4").read_bytes() == data[:layout.init_size]
        for n, f in enumerate(layout.fragments, start=1):
            assert (seg_dir / f"{n}.m4s").read_bytes() == data[f.offset:f.end]
