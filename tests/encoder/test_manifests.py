from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest

from encoder.manifests import (
    URLPARAM_NS,
    URLPARAM_SCHEME,
    Steering,
    check_token_param,
    dash_mpd,
    hls_master,
    hls_media_playlist,
    segment_timeline,
    target_duration,
    write_all,
)
from encoder.mp4 import Fragment, TrackLayout
from encoder.track import PackagedTrack

from .playlists import attributes, parse_master, parse_media

NS = {"d": "urn:mpeg:dash:schema:mpd:2011", "up": URLPARAM_NS}
GOLDEN = Path(__file__).parent / "golden"  # write_all(TRACKS, None) before token_param existed


def video(rid: str, width: int, height: int, sizes: list[int], timescale: int = 12800,
          seg: int = 25600) -> PackagedTrack:
    frags, offset = [], 900
    for i, size in enumerate(sizes):
        frags.append(Fragment(offset, size, i * seg, seg if i < len(sizes) - 1 else seg // 2, True))
        offset += size
    layout = TrackLayout("video", timescale, "avc1.64001f", 800, (800, 900), tuple(frags),
                         width=width, height=height)
    return PackagedTrack(rid, "video", 1_000_000, layout, f"file/{rid}.mp4", f"seg/{rid}",
                         Fraction(25))


def audio() -> PackagedTrack:
    frags = tuple(Fragment(700 + i * 1000, 1000, i * 96256, 96256, True) for i in range(3))
    layout = TrackLayout("audio", 48000, "mp4a.40.2", 600, (600, 700), frags, channels=2,
                         sample_rate=48000)
    return PackagedTrack("a-128k", "audio", 128_000, layout, "file/a-128k.mp4", "seg/a-128k")


TRACKS = [video("v720-3000k", 1280, 720, [750_000, 900_000, 200_000]),
          video("v360-560k", 640, 360, [140_000, 150_000, 40_000]), audio()]


def test_target_duration_rounds_to_nearest() -> None:
    assert target_duration([2.0, 2.0, 1.0]) == 2
    assert target_duration([4.4, 4.0]) == 4
    assert target_duration([4.5]) == 5
    assert target_duration([0.2]) == 1


def test_media_playlist_of_segments() -> None:
    pl = parse_media(hls_media_playlist(TRACKS[0], byterange=False))
    assert pl.tags["EXT-X-VERSION"] == "7"
    assert pl.tags["EXT-X-PLAYLIST-TYPE"] == "VOD"
    assert pl.tags["EXT-X-TARGETDURATION"] == "2"
    assert pl.map_uri == "init.mp4" and pl.map_range is None
    assert [(s.uri, s.duration_s) for s in pl.segments] == [
        ("1.m4s", 2.0), ("2.m4s", 2.0), ("3.m4s", 1.0)]
    assert pl.ended


def test_media_playlist_of_byte_ranges() -> None:
    track = TRACKS[0]
    pl = parse_media(hls_media_playlist(track, byterange=True))
    assert pl.map_uri == "v720-3000k.mp4"
    assert pl.map_range == (track.layout.init_size, 0)
    assert [s.byterange for s in pl.segments] == [
        (f.size, f.offset) for f in track.layout.fragments]
    assert {s.uri for s in pl.segments} == {"v720-3000k.mp4"}


def test_master_counts_audio_in_bandwidth() -> None:
    pl = parse_master(hls_master(TRACKS, byterange=False))
    top, low = pl.variants
    a = TRACKS[2]
    assert int(top.attrs["BANDWIDTH"]) == TRACKS[0].peak_bitrate_bps + a.peak_bitrate_bps
    assert int(top.attrs["AVERAGE-BANDWIDTH"]) == (TRACKS[0].average_bitrate_bps
                                                   + a.average_bitrate_bps)
    assert TRACKS[0].peak_bitrate_bps == 900_000 * 8 // 2
    assert top.attrs["CODECS"] == "avc1.64001f,mp4a.40.2"
    assert top.attrs["RESOLUTION"] == "1280x720"
    assert top.attrs["FRAME-RATE"] == "25.000"
    assert top.attrs["AUDIO"] == "audio" and top.uri == "seg/v720-3000k/index.m3u8"
    assert low.uri == "seg/v360-560k/index.m3u8"
    (media,) = pl.media
    assert media["TYPE"] == "AUDIO" and media["URI"] == "seg/a-128k/index.m3u8"
    assert media["CHANNELS"] == "2"
    assert "EXT-X-CONTENT-STEERING" not in pl.tags


def test_master_without_audio() -> None:
    pl = parse_master(hls_master(TRACKS[:2], byterange=True))
    assert "AUDIO" not in pl.variants[0].attrs
    assert pl.variants[0].attrs["CODECS"] == "avc1.64001f"
    assert pl.variants[0].uri == "file/v720-3000k.m3u8"
    assert int(pl.variants[0].attrs["BANDWIDTH"]) == TRACKS[0].peak_bitrate_bps


def test_master_with_content_steering() -> None:
    steering = Steering("https://steer.example/v1/content-steering?title=t1", "ams-ix")
    pl = parse_master(hls_master(TRACKS, byterange=False, steering=steering))
    assert pl.tags["EXT-X-CONTENT-STEERING"] == (
        'SERVER-URI="https://steer.example/v1/content-steering?title=t1",PATHWAY-ID="ams-ix"')
    assert all(v.attrs["PATHWAY-ID"] == "ams-ix" for v in pl.variants)


def test_segment_timeline_runs() -> None:
    assert segment_timeline(TRACKS[0]) == [(0, 25600, 1), (51200, 12800, 0)]
    assert segment_timeline(TRACKS[2]) == [(0, 96256, 2)]


def test_mpd_with_segment_template_is_well_formed() -> None:
    root = ET.fromstring(dash_mpd(TRACKS, segment_base=False))
    assert root.get("type") == "static"
    assert root.get("profiles") == "urn:mpeg:dash:profile:isoff-live:2011"
    assert root.get("mediaPresentationDuration") == "PT6.016S"
    vset, aset = root.findall("d:Period/d:AdaptationSet", NS)
    assert vset.get("contentType") == "video" and vset.get("segmentAlignment") == "true"
    reps = vset.findall("d:Representation", NS)
    assert [r.get("id") for r in reps] == ["v720-3000k", "v360-560k"]
    assert reps[0].get("bandwidth") == str(TRACKS[0].peak_bitrate_bps)
    template = reps[0].find("d:SegmentTemplate", NS)
    assert template is not None
    assert template.get("media") == "seg/v720-3000k/$Number$.m4s"
    assert template.get("initialization") == "seg/v720-3000k/init.mp4"
    assert template.get("startNumber") == "1" and template.get("timescale") == "12800"
    s = template.findall("d:SegmentTimeline/d:S", NS)
    assert [(e.get("t"), e.get("d"), e.get("r")) for e in s] == [
        ("0", "25600", "1"), ("51200", "12800", None)]
    arep = aset.find("d:Representation", NS)
    assert arep is not None and arep.get("audioSamplingRate") == "48000"
    channels = aset.find("d:AudioChannelConfiguration", NS)
    assert channels is not None and channels.get("value") == "2"
    assert root.find("d:ContentSteering", NS) is None


def test_mpd_with_segment_base() -> None:
    root = ET.fromstring(dash_mpd(TRACKS, segment_base=True))
    assert root.get("profiles") == "urn:mpeg:dash:profile:isoff-on-demand:2011"
    rep = root.find("d:Period/d:AdaptationSet/d:Representation", NS)
    assert rep is not None
    base_url = rep.find("d:BaseURL", NS)
    assert base_url is not None and base_url.text == "file/v720-3000k.mp4"
    sb = rep.find("d:SegmentBase", NS)
    assert sb is not None and sb.get("indexRange") == "800-899"
    init = sb.find("d:Initialization", NS)
    assert init is not None and init.get("range") == "0-799"


def test_mpd_with_content_steering() -> None:
    root = ET.fromstring(dash_mpd(TRACKS, False, Steering("https://steer.example/cs", "cdn")))
    cs = root.find("d:ContentSteering", NS)
    assert cs is not None and cs.text == "https://steer.example/cs"
    assert cs.get("defaultServiceLocation") == "cdn" and cs.get("queryBeforeStart") == "true"
    base = root.find("d:BaseURL", NS)
    assert base is not None and base.get("serviceLocation") == "cdn"


def test_write_all_names_every_file() -> None:
    files = write_all(TRACKS, None)
    assert set(files) == {
        "hls.m3u8", "hls-byterange.m3u8", "dash.mpd", "dash-segmentbase.mpd",
        "seg/v720-3000k/index.m3u8", "seg/v360-560k/index.m3u8", "seg/a-128k/index.m3u8",
        "file/v720-3000k.m3u8", "file/v360-560k.m3u8", "file/a-128k.m3u8"}


def test_a_title_needs_video() -> None:
    with pytest.raises(ValueError, match="video"):
        hls_master([audio()], byterange=False)


def test_quotes_cannot_break_out_of_attributes() -> None:
    with pytest.raises(ValueError):
        hls_master(TRACKS, False, Steering('https://x/"evil', "cdn"))


def test_default_output_is_unchanged_byte_for_byte() -> None:
    files = write_all(TRACKS, None)
    assert files == write_all(TRACKS, None, token_param=None)
    golden = {p.relative_to(GOLDEN).as_posix(): p.read_text()
              for p in GOLDEN.rglob("*") if p.is_file()}
    assert files == golden


def _uri_lines(text: str) -> list[str]:
    """Every URI of a media playlist: EXT-X-MAP's and each segment line."""
    maps = [attributes(line.partition(":")[2])["URI"] for line in text.splitlines()
            if line.startswith("#EXT-X-MAP:")]
    return maps + [line for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("byterange", [False, True])
@pytest.mark.parametrize("track", TRACKS, ids=lambda t: t.id)
def test_media_playlist_passes_the_token_on(track: PackagedTrack, byterange: bool) -> None:
    plain = hls_media_playlist(track, byterange)
    text = hls_media_playlist(track, byterange, token_param="token")
    lines = text.splitlines()
    # RFC 8216bis §7: QUERYPARAM needs version 11; §4.4.2.3: defined before any reference
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:11", '#EXT-X-DEFINE:QUERYPARAM="token"']
    uris = _uri_lines(text)
    assert len(uris) == len(track.layout.fragments) + 1
    assert uris == [u + "?token={$token}" for u in _uri_lines(plain)]
    # nothing else moves: same tags, durations and byte ranges, in the same order
    rest = "\n".join(lines[3:]).replace("?token={$token}", "")
    assert rest + "\n" == "\n".join(plain.splitlines()[2:]) + "\n"


def test_media_playlist_exact_text_with_a_token() -> None:
    assert hls_media_playlist(TRACKS[2], byterange=False, token_param="tk") == (
        "#EXTM3U\n#EXT-X-VERSION:11\n#EXT-X-DEFINE:QUERYPARAM=\"tk\"\n#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4?tk={$tk}\"\n"
        "#EXTINF:2.00533,\n1.m4s?tk={$tk}\n#EXTINF:2.00533,\n2.m4s?tk={$tk}\n"
        "#EXTINF:2.00533,\n3.m4s?tk={$tk}\n#EXT-X-ENDLIST\n")


def test_write_all_with_a_token_passes_it_from_every_playlist() -> None:
    plain, tokened = write_all(TRACKS, None), write_all(TRACKS, None, "token")
    for entry in ("hls.m3u8", "hls-byterange.m3u8"):
        lines, base = tokened[entry].splitlines(), plain[entry].splitlines()
        assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:11", '#EXT-X-DEFINE:QUERYPARAM="token"']
        rest = lines[3:]
        assert len(rest) == len(base) - 2  # the same lines after #EXTM3U and the version
        for mine, theirs in zip(rest, base[2:], strict=True):
            if theirs.startswith("#EXT-X-MEDIA:"):
                assert mine == theirs.replace('.m3u8"', '.m3u8?token={$token}"')
            elif theirs and not theirs.startswith("#"):
                assert mine == theirs + "?token={$token}"
            else:
                assert mine == theirs
    for rel, text in tokened.items():
        if rel.endswith(".m3u8"):
            assert '#EXT-X-DEFINE:QUERYPARAM="token"' in text, rel


@pytest.mark.parametrize("segment_base", [False, True])
def test_mpd_asks_players_to_pass_the_mpd_query_on(segment_base: bool) -> None:
    root = ET.fromstring(dash_mpd(TRACKS, segment_base, token_param="token"))
    sets = root.findall("d:Period/d:AdaptationSet", NS)
    assert len(sets) == 2
    for aset in sets:
        (prop,) = aset.findall("d:SupplementalProperty", NS)
        assert prop.get("schemeIdUri") == URLPARAM_SCHEME
        (info,) = prop.findall("up:UrlQueryInfo", NS)
        assert info.attrib == {"queryTemplate": "$querypart$", "useMPDUrlQuery": "true"}
        # DASH schema order: descriptors come before the Representations
        children = [c.tag.rpartition("}")[2] for c in aset]
        assert children.index("SupplementalProperty") < children.index("Representation")
    # segment URLs themselves are untouched: the player appends the query
    plain = ET.fromstring(dash_mpd(TRACKS, segment_base))
    assert [e.attrib for e in root.iter() if "SupplementalProperty" not in e.tag
            and "UrlQueryInfo" not in e.tag] == [e.attrib for e in plain.iter()]


@pytest.mark.parametrize("name", ["", "to ken", "tok&en", 'a"b', "tök", "a=b"])
def test_token_param_must_be_a_variable_name(name: str) -> None:
    with pytest.raises(ValueError):
        hls_media_playlist(TRACKS[0], False, token_param=name)
    with pytest.raises(ValueError):
        check_token_param(name)
