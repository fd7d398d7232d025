"""Token pass-through end to end: `ocdn encode --token-param token`, `ocdn publish` to a
real `ocdn origin`, and a real `ocdn edge` that requires signed URLs.

The test plays the player's part by hand, since ffmpeg's HLS demuxer knows no
EXT-X-DEFINE: it adds a steering clone's PARAMS (`token=<directory token for /t2/>`)
to each media playlist URL, substitutes `{$token}` from that URL's query
(RFC 8216bis §4.4.2.3), resolves every URI against the playlist URL (RFC 3986 §5.2, which
drops the query) and fetches it from the edge. For DASH it appends the MPD URL's query
to segment URLs, as ISO/IEC 23009-1 Annex I UrlQueryInfo asks.
"""

from __future__ import annotations

import re
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest

from common import tokens
from tests.support.procs import OCDN, edge_proc, env, http_get, origin_proc, running

from .playlists import attributes, parse_master

SECRET = "e2e-secret-0123456789abcdef"
RING = tokens.parse_key_file(f"e2e={SECRET}\n")
TITLE = "t2"
NS = {"d": "urn:mpeg:dash:schema:mpd:2011", "up": "urn:mpeg:dash:schema:urlparam:2014"}


@dataclass
class SignedCdn:
    edge: str
    title_dir: Path

    def local(self, url: str, byterange: tuple[int, int] | None = None) -> bytes:
        """The bytes the encoder wrote for an edge URL (and byte range: length, offset)."""
        rel = urlsplit(url).path.removeprefix(f"/{TITLE}/")
        data = (self.title_dir / rel).read_bytes()
        if byterange is None:
            return data
        length, offset = byterange
        return data[offset:offset + length]


@pytest.fixture(scope="module")
def signed_cdn(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Iterator[SignedCdn]:
    tmp = tmp_path_factory.mktemp("signed")
    keys = tmp / "url-keys"
    keys.write_text(f"e2e={SECRET}\n")
    title_dir = tmp / TITLE
    done = subprocess.run(
        [*OCDN, "encode", str(source), "--title", TITLE, "--out", str(title_dir),
         "--rungs", "90p@100k", "--segment-s", "1", "--preset", "ultrafast", "--no-progress",
         "--token-param", "token"],
        env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    origin = origin_proc(tmp)
    edge = edge_proc(tmp, "s3://media", "--token-secret-file", str(keys),
                     s3_endpoint=origin.url)
    with running(origin, edge):
        done = subprocess.run([*OCDN, "publish", str(title_dir), "--to", f"s3://media/{TITLE}",
                               "--s3-endpoint", origin.url, "--no-progress"],
                              env=env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        yield SignedCdn(edge.url, title_dir)


def directory_token() -> str:
    return tokens.sign(f"/{TITLE}/", int(time.time()) + 600, RING)


def with_params(url: str, **params: str) -> str:
    """What a player does with a pathway clone's URI-REPLACEMENT PARAMS."""
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"


def player_uris(playlist: str, playlist_url: str) -> list[tuple[str, tuple[int, int] | None]]:
    """Every (URL, byte range) of a media playlist as a player fetches them: `{$name}`
    replaced by the percent-decoded query parameter that EXT-X-DEFINE:QUERYPARAM names
    (a missing one fails the playlist), then resolved against the playlist's URL."""
    query = dict(parse_qsl(urlsplit(playlist_url).query))
    variables: dict[str, str] = {}

    def resolve(ref: str) -> str:
        def sub(m: re.Match[str]) -> str:
            assert m.group(1) in variables, f"{{${m.group(1)}}} is not defined"
            return variables[m.group(1)]
        return urljoin(playlist_url, re.sub(r"\{\$([A-Za-z0-9_-]+)\}", sub, ref))

    out: list[tuple[str, tuple[int, int] | None]] = []
    byterange: tuple[int, int] | None = None
    for line in playlist.splitlines():
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-DEFINE":
            name = attributes(value)["QUERYPARAM"]
            assert query.get(name), f"{playlist_url} has no {name}: the playlist must fail"
            variables[name] = query[name]
        elif tag == "#EXT-X-MAP":
            attrs = attributes(value)
            length, _, offset = attrs.get("BYTERANGE", "").partition("@")
            out.append((resolve(attrs["URI"]), (int(length), int(offset)) if length else None))
        elif tag == "#EXT-X-BYTERANGE":
            length, _, offset = value.partition("@")
            byterange = (int(length), int(offset))
        elif line and not line.startswith("#"):
            out.append((resolve(line), byterange))
            byterange = None
    return out


def fetch(url: str, byterange: tuple[int, int] | None = None) -> tuple[int, bytes]:
    headers = {}
    if byterange is not None:
        length, offset = byterange
        headers["Range"] = f"bytes={offset}-{offset + length - 1}"
    status, _, body = http_get(url, headers)
    return status, body


def strip_query(url: str) -> str:
    return url.partition("?")[0]


@pytest.mark.parametrize("entry", ["hls.m3u8", "hls-byterange.m3u8"])
def test_hls_playlists_pass_the_title_token_to_every_segment(signed_cdn: SignedCdn,
                                                             entry: str) -> None:
    token = directory_token()
    master_url = with_params(f"{signed_cdn.edge}/{TITLE}/{entry}", token=token)
    status, master = fetch(master_url)
    assert status == 200 and master == signed_cdn.local(master_url)
    pl = parse_master(master.decode())
    refs = [v.uri for v in pl.variants] + [m["URI"] for m in pl.media]
    assert len(refs) == 2  # the one video rendition and the audio
    fetched = 0
    assert '#EXT-X-DEFINE:QUERYPARAM="token"' in master.decode()
    assert fetch(strip_query(master_url))[0] == 403
    for ref in refs:
        # as a player does: {$token} from the multivariant playlist's own URL, then the
        # relative URI against that URL (steering's manifest URL carries the title's token)
        assert ref.endswith("?token={$token}"), ref
        playlist_url = urljoin(master_url, ref.replace("{$token}", token))
        assert dict(parse_qsl(urlsplit(playlist_url).query)) == {"token": token}
        status, body = fetch(playlist_url)
        assert status == 200 and body == signed_cdn.local(playlist_url)
        assert fetch(strip_query(playlist_url))[0] == 403
        uris = player_uris(body.decode(), playlist_url)
        assert len(uris) >= 4  # EXT-X-MAP and the segments of 3 s in 1 s
        for url, byterange in uris:
            assert dict(parse_qsl(urlsplit(url).query)) == {"token": token}
            status, data = fetch(url, byterange)
            assert status == (200 if byterange is None else 206), url
            assert data == signed_cdn.local(url, byterange), url
            assert fetch(strip_query(url), byterange)[0] == 403, url
            fetched += 1
    assert fetched >= 8


def test_a_media_playlist_without_the_token_fails_to_play(signed_cdn: SignedCdn) -> None:
    text = (signed_cdn.title_dir / "seg/v90-100k/index.m3u8").read_text()
    with pytest.raises(AssertionError, match="must fail"):
        player_uris(text, f"{signed_cdn.edge}/{TITLE}/seg/v90-100k/index.m3u8")


@pytest.mark.parametrize("entry", ["dash.mpd", "dash-segmentbase.mpd"])
def test_dash_segments_carry_the_mpd_query(signed_cdn: SignedCdn, entry: str) -> None:
    token = directory_token()
    mpd_url = with_params(f"{signed_cdn.edge}/{TITLE}/{entry}", token=token)
    status, body = fetch(mpd_url)
    assert status == 200
    root = ET.fromstring(body)
    query = urlsplit(mpd_url).query
    requests: list[tuple[str, tuple[int, int] | None]] = []
    for aset in root.findall("d:Period/d:AdaptationSet", NS):
        info = aset.find("d:SupplementalProperty/up:UrlQueryInfo", NS)
        assert info is not None and info.get("useMPDUrlQuery") == "true"
        assert info.get("queryTemplate") == "$querypart$"  # Annex I: the MPD URL's query
        for rep in aset.findall("d:Representation", NS):
            template = rep.find("d:SegmentTemplate", NS)
            if template is not None:
                init, media = template.get("initialization"), template.get("media")
                assert init and media
                refs = [init, media.replace("$Number$", "1")]
                requests += [(f"{urljoin(mpd_url, r)}?{query}", None) for r in refs]
            else:
                base = rep.find("d:BaseURL", NS)
                init_range = rep.find("d:SegmentBase/d:Initialization", NS)
                assert base is not None and base.text and init_range is not None
                first, _, last = str(init_range.get("range")).partition("-")
                requests.append((f"{urljoin(mpd_url, base.text)}?{query}",
                                 (int(last) - int(first) + 1, int(first))))
    assert len(requests) >= 2
    for url, byterange in requests:
        status, data = fetch(url, byterange)
        assert status == (200 if byterange is None else 206), url
        assert data == signed_cdn.local(url, byterange), url
        assert fetch(strip_query(url), byterange)[0] == 403, url
