"""Settings of `ocdn encode` (service `encoder`) and `ocdn publish` (service `publish`).

Each setting is declared once here; `common.config` makes the flags and resolves flag >
environment (`OCDN_ENCODER_SEGMENT_S`, `OCDN_PUBLISH_CONCURRENCY`) > TOML file
(`[encoder]` / `[publish]`) > default. The defaults are for real titles (x264 `medium`,
4 s segments); tests turn them down (`ultrafast`, 1 s, tiny custom rungs) through the
same knobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.config import ConfigError, option
from common.sizes import parse_size
from encoder.ladder import Rung, parse_bitrate, parse_ladder
from encoder.manifests import check_token_param
from origin.s3 import parse_s3_url

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")
LADDERS = ("default", "per-title")


def _choice(*choices: str):  # type: ignore[no-untyped-def]
    def parse(value: object) -> str:
        text = str(value).strip()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text
    return parse


def _positive(kind: type):  # type: ignore[no-untyped-def]
    def parse(value: object) -> float | int:
        try:
            number = kind(str(value).strip()) if not isinstance(value, int | float) else kind(value)
        except ValueError:
            raise ValueError(f"expected a positive number, got {value!r}") from None
        if isinstance(value, bool) or number <= 0:
            raise ValueError(f"expected a positive number, got {value!r}")
        return number  # type: ignore[no-any-return]
    return parse


def _rungs(value: object) -> tuple[Rung, ...] | None:
    text = str(value).strip()
    return None if text in ("", "default") else parse_ladder(text)


def _crfs(value: object) -> tuple[int, ...]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    out = []
    for item in items:
        text = str(item).strip()
        if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 51:
            raise ValueError(f"CRF values are integers 0-51, got {item!r}")
        out.append(int(text))
    if len(out) < 2:
        raise ValueError("give at least two CRF values")
    return tuple(sorted(set(out)))


def _bitrate(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else parse_bitrate(str(value))


def _s3_url(value: object) -> str:
    text = str(value).strip()
    location = parse_s3_url(text)
    if not location.prefix:
        raise ValueError(f"give a prefix for the title: s3://{location.bucket}/PREFIX")
    return text


def _token_param(value: object) -> str:
    text = str(value).strip()
    return check_token_param(text) if text else ""


def _http_url(value: object) -> str:
    text = str(value).strip()
    if text and not text.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return text


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    ladder: str = field(default="default", metadata=option(
        "ladder: the fixed default ladder, or per-title (trial encodes, VMAF, convex hull)",
        parse=_choice(*LADDERS)))
    rungs: tuple[Rung, ...] | None = field(default=None, metadata=option(
        "custom fixed ladder, e.g. 720p@3000k,360p@560k (default: 1080p@5.8M .. 240p@235k)",
        parse=_rungs))
    segment_s: float = field(default=4.0, metadata=option(
        "segment duration in seconds; keyframes are forced at every boundary",
        parse=_positive(float)))
    preset: str = field(default="medium", metadata=option(
        "x264 preset", parse=_choice(*X264_PRESETS)))
    audio_bitrate: int = field(default=128_000, metadata=option(
        "AAC bitrate (e.g. 128k)", parse=_bitrate))
    ffmpeg: str = field(default="", metadata=option(
        "ffmpeg binary to use (default: the one imageio-ffmpeg ships)"))
    threads: int = field(default=0, metadata=option(
        "ffmpeg threads (0: ffmpeg chooses)"))
    steering_url: str = field(default="", metadata=option(
        "content steering server URI for #EXT-X-CONTENT-STEERING and <ContentSteering> "
        "({title} is replaced by the title ID); none when empty", parse=_http_url))
    pathway: str = field(default="cdn", metadata=option(
        "HLS pathway ID / DASH serviceLocation of the published copy"))
    token_param: str = field(default="", metadata=option(
        "pass this URL query parameter (e.g. token) from each HLS playlist's URL on to the "
        "URIs inside it, multivariant to media playlists to segments "
        "(#EXT-X-DEFINE:QUERYPARAM, HLS version 11), and from the MPD's URL to its segments "
        "(DASH Annex I UrlQueryInfo), for edges that require signed URLs; off when empty, "
        "since an HLS player must then refuse a playlist URL without it",
        parse=_token_param))
    trial_crfs: tuple[int, ...] = field(default=(22, 27, 32, 37), metadata=option(
        "per-title: x264 CRF values of the trial grid", parse=_crfs))
    sample_count: int = field(default=3, metadata=option(
        "per-title: how many parts of the source the trials encode", parse=_positive(int)))
    sample_s: float = field(default=4.0, metadata=option(
        "per-title: seconds per sampled part", parse=_positive(float)))
    top_vmaf: float = field(default=95.0, metadata=option(
        "per-title: VMAF the top rung aims for", parse=_positive(float)))
    max_rungs: int = field(default=6, metadata=option(
        "per-title: most rungs to pick", parse=_positive(int)))
    progress: bool = field(default=True, metadata=option(
        "progress bars on a terminal"))
    force: bool = field(default=False, metadata=option(
        "replace an existing output directory"))

    def validate(self) -> None:
        if not 0.5 <= self.segment_s <= 30:
            raise ConfigError("segment_s", f"must be 0.5-30 seconds, got {self.segment_s}")
        if self.threads < 0:
            raise ConfigError("threads", "must not be negative")
        if not 0 < self.top_vmaf <= 100:
            raise ConfigError("top_vmaf", "must be in (0, 100]")


@dataclass(frozen=True, slots=True)
class PublishSettings:
    to: str = field(default="", metadata=option(
        "destination s3://BUCKET/PREFIX", parse=_s3_url))
    s3_endpoint: str = field(default="", metadata=option(
        "S3 endpoint URL (e.g. the embedded origin's http://127.0.0.1:9000)", parse=_http_url))
    concurrency: int = field(default=8, metadata=option(
        "files uploaded at once", parse=_positive(int)))
    multipart_threshold: int = field(default=16 << 20, metadata=option(
        "files at least this large go up in parts (SIZE)", parse=parse_size))
    multipart_chunk: int = field(default=16 << 20, metadata=option(
        "part size of multipart uploads (SIZE, at least 5MiB)", parse=parse_size))
    media_cache_control: str = field(default="public, max-age=31536000, immutable",
                                     metadata=option("Cache-Control of media files"))
    manifest_cache_control: str = field(default="public, max-age=60", metadata=option(
        "Cache-Control of playlists, MPDs and title.json"))
    force: bool = field(default=False, metadata=option(
        "overwrite media objects that exist with different content"))
    prefill: str = field(default="", metadata=option(
        "after publishing, ask the edges this steering service assigns to prefill the "
        "title's first seconds", flag="--prefill", parse=_http_url))
    admin_token_file: str = field(default="", metadata=option(
        "file holding the edges' admin bearer token (for --prefill)"))
    prefill_s: float = field(default=10.0, metadata=option(
        "seconds of every rendition to prefill", parse=_positive(float)))
    progress: bool = field(default=True, metadata=option("progress bar on a terminal"))

    def validate(self) -> None:
        if not self.to:
            raise ConfigError("to", "required: --to s3://BUCKET/PREFIX")
        if self.multipart_chunk < 5 << 20:
            raise ConfigError("multipart_chunk", "S3 parts are at least 5MiB")
        if self.prefill and not self.admin_token_file:
            raise ConfigError("admin_token_file", "--prefill needs --admin-token-file")
