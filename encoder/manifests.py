"""Writers of the HLS playlists and DASH MPDs of a title: pure, text out.

Four entry points, one per way a player can read the title, all pointing at the same
media:

- `hls.m3u8`: HLS multivariant playlist over CMAF segments; each rendition's media
  playlist `seg/<id>/index.m3u8` lists `init.mp4` (`#EXT-X-MAP`) and `<n>.m4s`.
- `hls-byterange.m3u8`: the same over one file per rendition; `file/<id>.m3u8` gives
  each segment as `#EXT-X-BYTERANGE:<length>@<offset>` into `<id>.mp4` (RFC 8216
  §4.3.2.2), so players send Range requests, Netflix-style.
- `dash.mpd`: DASH, SegmentTemplate with a SegmentTimeline over the CMAF segments.
- `dash-segmentbase.mpd`: DASH on-demand profile, one file per rendition: SegmentBase
  names the `sidx` (indexRange) and the init bytes; the player reads the index and then
  byte ranges.

We write the multivariant playlist and the MPDs ourselves rather than take ffmpeg's:
BANDWIDTH must count the audio a variant plays with (RFC 8216 §4.3.4.2: "the sum of
the peak rates of every rendition that could be played"), and only ours carry content
steering: `#EXT-X-CONTENT-STEERING` with a `PATHWAY-ID` on every variant (HLS), and
`<ContentSteering>` with a `serviceLocation` on the BaseURL (DASH), when a steering URI
is configured. All numbers come from the packaged tracks' box layouts.

Token pass-through (`token_param`, off by default): a player adds a steering clone's
PARAMS (`?token=...`) to the media playlist URLs, but resolves segment URIs against the
playlist URL, which drops its query. With `token_param="token"` every media playlist
imports its own URL's `token` (`#EXT-X-DEFINE:QUERYPARAM="token"`, RFC 8216bis §4.4.2.3,
protocol version 11 per §7) and writes each segment and EXT-X-MAP URI as
`1.m4s?token={$token}`. A client MUST fail to parse such a playlist when its URL lacks
the parameter, which is why it stays off for unsigned deployments. The multivariant
playlists import it the same way and pass it to the media playlist URIs
(`v1/index.m3u8?token={$token}`), so a player that loaded `hls.m3u8?token=<the title's
directory token>` (what steering hands out for a manifest) carries it down to every
segment; a content-steering clone that adds its own `token` makes a second one, and the
edge takes any that verifies. The MPDs get the DASH equivalent, ISO/IEC 23009-1 Annex I: a
`urn:mpeg:dash:urlparam:2014` UrlQueryInfo with `useMPDUrlQuery` on each AdaptationSet,
so players append the MPD URL's query to segment URLs. It is a SupplementalProperty:
players without Annex I (dash.js before 5, ffmpeg) ignore it and still play, e.g. with
the clone PARAMS that dash.js adds to every request itself.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from encoder.track import PackagedTrack

HLS = "hls.m3u8"
HLS_BYTERANGE = "hls-byterange.m3u8"
DASH = "dash.mpd"
DASH_SEGMENTBASE = "dash-segmentbase.mpd"
ENTRY_POINTS = (HLS, HLS_BYTERANGE, DASH, DASH_SEGMENTBASE)

HLS_VERSION = 7  # EXT-X-MAP in playlists of full segments, fMP4 (RFC 8216 §7)
HLS_VERSION_QUERYPARAM = 11  # EXT-X-DEFINE with QUERYPARAM (RFC 8216bis §7)
AUDIO_GROUP = "audio"
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
PROFILE_LIVE = "urn:mpeg:dash:profile:isoff-live:2011"
PROFILE_ON_DEMAND = "urn:mpeg:dash:profile:isoff-on-demand:2011"
CHANNEL_SCHEME = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
URLPARAM_SCHEME = "urn:mpeg:dash:urlparam:2014"  # ISO/IEC 23009-1 Annex I
URLPARAM_NS = "urn:mpeg:dash:schema:urlparam:2014"
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)  # RFC 8216bis §4.4.2.3


@dataclass(frozen=True, slots=True)
class Steering:
    """Content steering: the steering server's URI and the pathway this copy is on."""

    server_uri: str
    pathway: str = "cdn"


def media_playlist_path(track: PackagedTrack, byterange: bool) -> str:
    return f"file/{track.id}.m3u8" if byterange else f"{track.segment_dir}/index.m3u8"


def _quote(value: str) -> str:
    if any(c in value for c in '"\r\n'):
        raise ValueError(f"cannot quote {value!r} in a playlist attribute")
    return f'"{value}"'


def _extinf(seconds: float) -> str:
    return f"#EXTINF:{seconds:.5f},"


def target_duration(durations_s: Sequence[float]) -> int:
    """EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer is at most it
    (RFC 8216 §4.3.3.1)."""
    return max(1, *(math.floor(d + 0.5) for d in durations_s))


def check_token_param(name: str) -> str:
    """A query parameter name usable as an HLS variable name; ValueError otherwise."""
    if not _VARIABLE_NAME.fullmatch(name):
        raise ValueError(f"a token parameter is 1+ of A-Z a-z 0-9 _ -, got {name!r}")
    return name


def _playlist_head(token_param: str | None) -> tuple[list[str], str]:
    """A playlist's first lines, and the query its URIs end in: with `token_param`, the
    playlist imports that parameter of its own URL and passes it on to every URI."""
    if token_param is None:
        return ["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION}"], ""
    name = check_token_param(token_param)
    return (["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION_QUERYPARAM}",
             f"#EXT-X-DEFINE:QUERYPARAM={_quote(name)}"], f"?{name}={{${name}}}")


def hls_media_playlist(track: PackagedTrack, byterange: bool,
                       token_param: str | None = None) -> str:
    """The media playlist of one rendition, in the segment or the byte-range layout; with
    `token_param`, every URI carries that query parameter of the playlist's own URL."""
    durations = track.segment_durations_s()
    lines, query = _playlist_head(token_param)
    lines += [f"#EXT-X-TARGETDURATION:{target_duration(durations)}",
              "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS"]
    layout = track.layout
    if byterange:
        uri = track.file_path.rsplit("/", 1)[-1] + query
        lines.append(f'#EXT-X-MAP:URI={_quote(uri)},BYTERANGE="{layout.init_size}@0"')
        for frag, seconds in zip(layout.fragments, durations, strict=True):
            lines += [_extinf(seconds), f"#EXT-X-BYTERANGE:{frag.size}@{frag.offset}", uri]
    else:
        lines.append(f"#EXT-X-MAP:URI={_quote('init.mp4' + query)}")
        for number, seconds in enumerate(durations, start=1):
            lines += [_extinf(seconds), f"{number}.m4s{query}"]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _split(tracks: Sequence[PackagedTrack]) -> tuple[list[PackagedTrack], PackagedTrack | None]:
    video = [t for t in tracks if t.kind == "video"]
    audio = next((t for t in tracks if t.kind == "audio"), None)
    if not video:
        raise ValueError("a title needs at least one video rendition")
    return video, audio


def _frame_rate_text(rate: Fraction | None, sep: str) -> str:
    if rate is None:
        return ""
    if sep == ".":
        return f"{float(rate):.3f}"
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def hls_master(tracks: Sequence[PackagedTrack], byterange: bool,
               steering: Steering | None = None, token_param: str | None = None) -> str:
    """The multivariant playlist: one variant per video rendition, in ladder order; with
    `token_param`, every media playlist URI carries that parameter of its own URL."""
    video, audio = _split(tracks)
    lines, query = _playlist_head(token_param)
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if steering is not None:
        lines.append(f"#EXT-X-CONTENT-STEERING:SERVER-URI={_quote(steering.server_uri)},"
                     f"PATHWAY-ID={_quote(steering.pathway)}")
    if audio is not None:
        lines.append(
            f"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID={_quote(AUDIO_GROUP)},NAME=\"default\","
            f"DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"{audio.layout.channels}\","
            f"URI={_quote(media_playlist_path(audio, byterange) + query)}")
    for t in video:
        peak = t.peak_bitrate_bps + (audio.peak_bitrate_bps if audio else 0)
        average = t.average_bitrate_bps + (audio.average_bitrate_bps if audio else 0)
        codecs = t.codec + (f",{audio.codec}" if audio else "")
        attrs = [f"BANDWIDTH={peak}", f"AVERAGE-BANDWIDTH={average}",
                 f"CODECS={_quote(codecs)}", f"RESOLUTION={t.layout.width}x{t.layout.height}"]
        if t.frame_rate:
            attrs.append(f"FRAME-RATE={_frame_rate_text(t.frame_rate, '.')}")
        if audio is not None:
            attrs.append(f"AUDIO={_quote(AUDIO_GROUP)}")
        if steering is not None:
            attrs.append(f"PATHWAY-ID={_quote(steering.pathway)}")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs),
                  media_playlist_path(t, byterange) + query]
    return "\n".join(lines) + "\n"


def _iso_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def segment_timeline(track: PackagedTrack) -> list[tuple[int, int, int]]:
    """(t, d, r) runs of the SegmentTimeline: r repeats of duration d starting at t."""
    runs: list[tuple[int, int, int]] = []
    for frag in track.layout.fragments:
        if runs:
            t, d, r = runs[-1]
            if frag.duration == d and frag.decode_time == t + d * (r + 1):
                runs[-1] = (t, d, r + 1)
                continue
        runs.append((frag.decode_time, frag.duration, 0))
    return runs


def _sub(parent: ET.Element, tag: str, **attrs: str | int) -> ET.Element:
    return ET.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrs.items()})


def _segments(rep: ET.Element, track: PackagedTrack, segment_base: bool) -> None:
    layout = track.layout
    if segment_base:
        assert layout.index_range is not None
        _sub(rep, "BaseURL").text = track.file_path
        start, stop = layout.index_range
        base = _sub(rep, "SegmentBase", timescale=layout.timescale,
                    indexRange=f"{start}-{stop - 1}", indexRangeExact="true")
        _sub(base, "Initialization", range=f"0-{layout.init_size - 1}")
        return
    template = _sub(rep, "SegmentTemplate", timescale=layout.timescale, startNumber=1,
                    initialization=f"{track.segment_dir}/init.mp4",
                    media=f"{track.segment_dir}/$Number$.m4s")
    timeline = _sub(template, "SegmentTimeline")
    for t, d, r in segment_timeline(track):
        attrs: dict[str, str | int] = {"t": t, "d": d}
        if r:
            attrs["r"] = r
        _sub(timeline, "S", **attrs)


def _url_query_info(aset: ET.Element) -> None:
    """Annex I: append the MPD URL's query ($querypart$) to this set's segment URLs."""
    prop = _sub(aset, "SupplementalProperty", schemeIdUri=URLPARAM_SCHEME)
    prop.set("xmlns:up", URLPARAM_NS)  # literal, like the MPD's xmlns: no ns0 prefixes
    _sub(prop, "up:UrlQueryInfo", queryTemplate="$querypart$", useMPDUrlQuery="true")


def dash_mpd(tracks: Sequence[PackagedTrack], segment_base: bool,
             steering: Steering | None = None, token_param: str | None = None) -> str:
    """The MPD: one video AdaptationSet (every rendition), one audio AdaptationSet; with
    `token_param`, each set asks players to pass the MPD URL's query on to segments."""
    video, audio = _split(tracks)
    duration = max(t.layout.duration_s for t in tracks)
    longest = max(max(t.segment_durations_s()) for t in tracks)
    mpd = ET.Element("MPD", {
        "xmlns": MPD_NS, "type": "static",
        "profiles": PROFILE_ON_DEMAND if segment_base else PROFILE_LIVE,
        "mediaPresentationDuration": _iso_duration(duration),
        "minBufferTime": _iso_duration(max(2.0, longest)),
    })
    if steering is not None:
        _sub(mpd, "ContentSteering", defaultServiceLocation=steering.pathway,
             queryBeforeStart="true").text = steering.server_uri
        _sub(mpd, "BaseURL", serviceLocation=steering.pathway).text = "./"
    period = _sub(mpd, "Period", id="0", start="PT0S")
    top = video[0]
    vset = _sub(period, "AdaptationSet", id=0, contentType="video", mimeType="video/mp4",
                segmentAlignment="true", startWithSAP=1,
                maxWidth=max(t.layout.width for t in video),
                maxHeight=max(t.layout.height for t in video))
    if top.frame_rate:
        vset.set("frameRate", _frame_rate_text(top.frame_rate, "/"))
    if token_param is not None:
        _url_query_info(vset)
    for t in video:
        rep = _sub(vset, "Representation", id=t.id, bandwidth=t.peak_bitrate_bps,
                   codecs=t.codec, width=t.layout.width, height=t.layout.height, sar="1:1")
        _segments(rep, t, segment_base)
    if audio is not None:
        aset = _sub(period, "AdaptationSet", id=1, contentType="audio", mimeType="audio/mp4",
                    segmentAlignment="true", startWithSAP=1)
        _sub(aset, "AudioChannelConfiguration", schemeIdUri=CHANNEL_SCHEME,
             value=audio.layout.channels)
        if token_param is not None:
            _url_query_info(aset)
        rep = _sub(aset, "Representation", id=audio.id, bandwidth=audio.peak_bitrate_bps,
                   codecs=audio.codec, audioSamplingRate=audio.layout.sample_rate)
        _segments(rep, audio, segment_base)
    ET.indent(mpd, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(mpd, encoding="unicode") + "\n"


def write_all(tracks: Sequence[PackagedTrack], steering: Steering | None,
              token_param: str | None = None) -> dict[str, str]:
    """Every playlist and MPD of the title: {relative path: text}."""
    files: dict[str, str] = {}
    for t in tracks:
        for byterange in (False, True):
            files[media_playlist_path(t, byterange)] = hls_media_playlist(t, byterange,
                                                                          token_param)
    files[HLS] = hls_master(tracks, False, steering, token_param)
    files[HLS_BYTERANGE] = hls_master(tracks, True, steering, token_param)
    files[DASH] = dash_mpd(tracks, False, steering, token_param)
    files[DASH_SEGMENTBASE] = dash_mpd(tracks, True, steering, token_param)
    return files
