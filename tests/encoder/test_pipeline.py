"""The encoder end to end on a real (tiny) source, checked by independent readers."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from encoder import pipeline
from encoder.errors import OutputError, SourceError
from encoder.mp4 import iter_boxes
from encoder.pipeline import EncodeResult, encode_title

from .conftest import DURATION_S, SEGMENT_S, fast_settings, make_clip
from .playlists import parse_master, parse_media

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def keyframe_times(ffmpeg_exe: str, path: Path) -> list[float]:
    """Presentation times of the keyframes, as ffmpeg's own decoder reports them."""
    proc = subprocess.run([ffmpeg_exe, "-hide_banner", "-skip_frame", "nokey", "-i", str(path),
                           "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    return [float(t) for t in re.findall(r"pts_time:([0-9.]+)", proc.stderr)]


def frame_count(ffmpeg_exe: str, url: str, stream: str, *extra: str) -> int:
    proc = subprocess.run([ffmpeg_exe, "-hide_banner", *extra, "-i", url, "-map", stream,
                           "-f", "null", "-", "-progress", "pipe:1", "-nostats"],
                          capture_output=True, text=True, check=True, timeout=120)
    return int(re.findall(r"^frame=([0-9]+)$", proc.stdout, re.MULTILINE)[-1])


def video_ids(result: EncodeResult) -> list[str]:
    return [r.id for r in result.renditions]


def test_renditions_and_layout(encoded: EncodeResult) -> None:
    assert video_ids(encoded) == ["v180-400k", "v90-100k"]
    out = encoded.out
    for rid in [*video_ids(encoded), "a-128k"]:
        assert (out / "file" / f"{rid}.mp4").is_file()
        assert (out / "seg" / rid / "init.mp4").is_file()
    assert not (out / ".work").exists()
    assert not list(out.parent.glob(".t1.partial-*"))


def test_keyframes_aligned_at_every_segment_boundary(encoded: EncodeResult,
                                                     ffmpeg_exe: str) -> None:
    expected = [i * SEGMENT_S for i in range(int(DURATION_S / SEGMENT_S))]
    for rid in video_ids(encoded):
        times = keyframe_times(ffmpeg_exe, encoded.out / "file" / f"{rid}.mp4")
        assert times == pytest.approx(expected, abs=1e-3), rid


def test_segment_durations(encoded: EncodeResult) -> None:
    for rid in video_ids(encoded):
        for rel in (f"seg/{rid}/index.m3u8", f"file/{rid}.m3u8"):
            pl = parse_media((encoded.out / rel).read_text())
            durations = [s.duration_s for s in pl.segments]
            assert durations == pytest.approx([SEGMENT_S] * 3)
            assert int(pl.tags["EXT-X-TARGETDURATION"]) == 1
    audio = parse_media((encoded.out / "seg/a-128k/index.m3u8").read_text())
    assert sum(s.duration_s for s in audio.segments) == pytest.approx(DURATION_S, abs=0.05)
    assert all(s.duration_s <= SEGMENT_S + 0.05 for s in audio.segments)


def test_every_playlist_uri_exists(encoded: EncodeResult) -> None:
    out = encoded.out
    for name in ("hls.m3u8", "hls-byterange.m3u8"):
        master = parse_master((out / name).read_text())
        assert len(master.variants) == 2
        uris = [v.uri for v in master.variants] + [m["URI"] for m in master.media]
        for uri in uris:
            media_path = out / uri
            pl = parse_media(media_path.read_text())
            assert (media_path.parent / pl.map_uri).is_file()
            for seg in pl.segments:
                assert (media_path.parent / seg.uri).is_file()


def test_byte_ranges_point_at_fragments(encoded: EncodeResult) -> None:
    for rid in [*video_ids(encoded), "a-128k"]:
        pl = parse_media((encoded.out / f"file/{rid}.m3u8").read_text())
        data = (encoded.out / f"file/{rid}.mp4").read_bytes()
        assert pl.map_range is not None
        length, offset = pl.map_range
        assert [b.type for b in iter_boxes(data[offset:offset + length])] == ["ftyp", "moov"]
        end = 0
        for seg in pl.segments:
            assert seg.byterange is not None
            length, offset = seg.byterange
            assert [b.type for b in iter_boxes(data, offset, offset + length)] == ["moof", "mdat"]
            end = offset + length
        assert end == len(data)


def test_mpds_are_well_formed_and_complete(encoded: EncodeResult) -> None:
    out = encoded.out
    root = ET.fromstring((out / "dash.mpd").read_text())
    assert root.get("type") == "static"
    for rep in root.iterfind(".//d:Representation", NS):
        template = rep.find("d:SegmentTemplate", NS)
        assert template is not None
        timescale = int(template.get("timescale", "0"))
        total = count = 0
        for s in template.iterfind("d:SegmentTimeline/d:S", NS):
            repeat = int(s.get("r", "0")) + 1
            total += int(s.get("d", "0")) * repeat
            count += repeat
        assert total / timescale == pytest.approx(DURATION_S, abs=0.05)
        assert (out / template.get("initialization", "")).is_file()
        for n in range(1, count + 1):
            assert (out / template.get("media", "").replace("$Number$", str(n))).is_file()
    base = ET.fromstring((out / "dash-segmentbase.mpd").read_text())
    for rep in base.iterfind(".//d:Representation", NS):
        url = rep.find("d:BaseURL", NS)
        sb = rep.find("d:SegmentBase", NS)
        assert url is not None and sb is not None and url.text
        data = (out / url.text).read_bytes()
        first, last = (int(x) for x in sb.get("indexRange", "").split("-"))
        assert [b.type for b in iter_boxes(data[first:last + 1])] == ["sidx"]


def test_title_json_is_true(encoded: EncodeResult) -> None:
    out = encoded.out
    doc = json.loads((out / "title.json").read_text())
    assert doc["title"] == "t1" and doc["segment_s"] == SEGMENT_S
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                     if p.is_file() and p.name != "title.json")
    assert sorted(f["path"] for f in doc["files"]) == on_disk
    for f in doc["files"]:
        data = (out / f["path"]).read_bytes()
        assert f["size"] == len(data)
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
    renditions = {r["id"]: r for r in doc["renditions"]}
    assert renditions["v180-400k"]["resolution"] == "320x180"
    assert renditions["v90-100k"]["resolution"] == "160x90"
    assert renditions["v180-400k"]["codecs"].startswith("avc1.")
    assert renditions["a-128k"]["codecs"] == "mp4a.40.2"
    assert renditions["a-128k"]["channels"] == 2


@pytest.mark.parametrize("manifest", ["hls.m3u8", "hls-byterange.m3u8", "dash.mpd",
                                      "dash-segmentbase.mpd"])
def test_ffmpeg_decodes_every_frame(encoded: EncodeResult, ffmpeg_exe: str,
                                    manifest: str) -> None:
    frames = DURATION_S * 25
    url = str(encoded.out / manifest)
    if manifest.startswith("hls"):
        for program in range(2):
            assert frame_count(ffmpeg_exe, url, f"0:p:{program}:v") == frames
    else:
        for stream in range(2):
            assert frame_count(ffmpeg_exe, url, f"0:v:{stream}") == frames


def test_source_without_audio(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "silent.mp4", audio=None, duration_s=2)
    result = encode_title(src, "silent", tmp_path / "out", fast_settings())
    master = parse_master((result.out / "hls.m3u8").read_text())
    assert master.media == [] and "AUDIO" not in master.variants[0].attrs
    assert not (result.out / "seg" / "a-128k").exists()


def test_steering_url_goes_into_the_entry_manifests(tmp_path: Path, source: Path) -> None:
    settings = fast_settings(steering_url="http://127.0.0.1:8200/v1/content-steering?title={title}",
                             pathway="ams-ix", rungs=None)
    result = encode_title(source, "t9", tmp_path / "out", settings)
    master = parse_master((result.out / "hls.m3u8").read_text())
    assert master.tags["EXT-X-CONTENT-STEERING"] == (
        'SERVER-URI="http://127.0.0.1:8200/v1/content-steering?title=t9",PATHWAY-ID="ams-ix"')
    mpd = ET.fromstring((result.out / "dash.mpd").read_text())
    steering = mpd.find("d:ContentSteering", NS)
    assert steering is not None and steering.text and steering.text.endswith("title=t9")
    assert json.loads((result.out / "title.json").read_text())["content_steering"].endswith("t9")


def test_a_failed_encode_leaves_nothing(tmp_path: Path, source: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OutputError("simulated packaging failure")

    monkeypatch.setattr(pipeline, "package", broken)
    with pytest.raises(OutputError, match="simulated"):
        encode_title(source, "t2", tmp_path / "out", fast_settings())
    assert list(tmp_path.iterdir()) == []


def test_bad_source_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SourceError):
        encode_title(tmp_path / "empty.mp4", "t3", tmp_path / "out", fast_settings())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mp4"]


def test_existing_output_needs_force(tmp_path: Path, source: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(OutputError, match="--force"):
        encode_title(source, "t4", out, fast_settings())
    assert (out / "old.txt").exists()
    encode_title(source, "t4", out, fast_settings(force=True))
    assert not (out / "old.txt").exists() and (out / "title.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("title", ["", "a/b", "../x", ".hidden", "x" * 129, "tïtle"])
def test_title_ids_are_checked(tmp_path: Path, source: Path, title: str) -> None:
    with pytest.raises(OutputError, match="invalid title ID"):
        encode_title(source, title, tmp_path / "out", fast_settings())
