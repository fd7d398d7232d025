"""Publishing to the real embedded S3-compatible origin (moto on loopback)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from encoder.config import PublishSettings
from encoder.errors import OutputError, PublishError
from encoder.pipeline import EncodeResult
from encoder.publish import Phase, content_type, phase_of, publish
from origin.s3 import make_client
from origin.server import EmbeddedOrigin

from .conftest import free_port


@pytest.fixture
def title_dir(tmp_path: Path, encoded: EncodeResult) -> Path:
    return Path(shutil.copytree(encoded.out, tmp_path / "t1"))


def settings(origin: EmbeddedOrigin, prefix: str, **kw: Any) -> PublishSettings:
    return PublishSettings(to=f"s3://media/{prefix}", s3_endpoint=origin.endpoint,
                           progress=False, **kw)


def keys(origin: EmbeddedOrigin, prefix: str) -> set[str]:
    client = make_client(origin.endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="media", Prefix=prefix + "/")
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


class Recording:
    """A real client that records uploads and can fail chosen keys."""

    def __init__(self, endpoint: str, fail: set[str] | None = None, status: int = 500) -> None:
        self.client = make_client(endpoint)
        self.fail = fail or set()
        self.status = status
        self.uploads: list[str] = []
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def upload_file(self, filename: str, bucket: str, key: str, **kw: Any) -> None:
        if any(key.endswith(f) for f in self.fail):
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected"},
                 "ResponseMetadata": {"HTTPStatusCode": self.status}}, "PutObject")
        self.client.upload_file(filename, bucket, key, **kw)
        with self.lock:
            self.uploads.append(key)


@pytest.mark.parametrize(("rel", "phase", "ctype"), [
    ("seg/v180-400k/1.m4s", Phase.MEDIA, "video/iso.segment"),
    ("seg/v180-400k/init.mp4", Phase.MEDIA, "video/mp4"),
    ("seg/a-128k/init.mp4", Phase.MEDIA, "audio/mp4"),
    ("file/a-128k.mp4", Phase.MEDIA, "audio/mp4"),
    ("file/v90-100k.mp4", Phase.MEDIA, "video/mp4"),
    ("file/v90-100k.m3u8", Phase.MEDIA_PLAYLIST, "application/vnd.apple.mpegurl"),
    ("seg/a-128k/index.m3u8", Phase.MEDIA_PLAYLIST, "application/vnd.apple.mpegurl"),
    ("hls.m3u8", Phase.ENTRY_POINT, "application/vnd.apple.mpegurl"),
    ("dash.mpd", Phase.ENTRY_POINT, "application/dash+xml"),
    ("title.json", Phase.INDEX, "application/json"),
])
def test_phase_and_content_type(rel: str, phase: Phase, ctype: str) -> None:
    assert phase_of(rel) == phase
    assert content_type(rel, frozenset({"a-128k"})) == ctype


def test_publish_uploads_everything_in_order(origin: EmbeddedOrigin, title_dir: Path) -> None:
    client = Recording(origin.endpoint)
    report = publish(title_dir, settings(origin, "titles/a"), client)
    on_disk = {p.relative_to(title_dir).as_posix() for p in title_dir.rglob("*") if p.is_file()}
    assert keys(origin, "titles/a") == {f"titles/a/{rel}" for rel in on_disk}
    assert sorted(report.uploaded) == sorted(on_disk) and report.skipped == []
    phases = [phase_of(k.removeprefix("titles/a/")) for k in client.uploads]
    assert phases == sorted(phases), "a manifest went up before what it points at"
    assert client.uploads[-1] == "titles/a/title.json"

    s3 = make_client(origin.endpoint)
    seg = s3.head_object(Bucket="media", Key="titles/a/seg/v180-400k/1.m4s")
    assert seg["ContentType"] == "video/iso.segment"
    assert "immutable" in seg["CacheControl"]
    assert len(seg["Metadata"]["sha256"]) == 64
    master = s3.head_object(Bucket="media", Key="titles/a/hls.m3u8")
    assert master["ContentType"] == "application/vnd.apple.mpegurl"
    assert master["CacheControl"] == "public, max-age=60"
    body = s3.get_object(Bucket="media", Key="titles/a/hls.m3u8")["Body"].read()
    assert body == (title_dir / "hls.m3u8").read_bytes()


def test_rerun_skips_what_is_there(origin: EmbeddedOrigin, title_dir: Path) -> None:
    publish(title_dir, settings(origin, "titles/b", multipart_threshold=64 << 10))
    client = Recording(origin.endpoint)
    report = publish(title_dir, settings(origin, "titles/b", multipart_threshold=64 << 10), client)
    assert report.uploaded == [] and client.uploads == []
    assert len(report.skipped) == len(list(p for p in title_dir.rglob("*") if p.is_file()))


def test_large_files_go_up_in_parts(origin: EmbeddedOrigin, title_dir: Path) -> None:
    publish(title_dir, settings(origin, "titles/mp", multipart_threshold=64 << 10))
    s3 = make_client(origin.endpoint)
    big = s3.head_object(Bucket="media", Key="titles/mp/file/v180-400k.mp4")
    assert big["ETag"].strip('"').endswith("-1")
    small = s3.head_object(Bucket="media", Key="titles/mp/hls.m3u8")
    assert "-" not in small["ETag"]


def test_missing_bucket(origin: EmbeddedOrigin, title_dir: Path) -> None:
    bad = PublishSettings(to="s3://no-such-bucket/t", s3_endpoint=origin.endpoint, progress=False)
    with pytest.raises(PublishError, match=r"does not exist.*nothing was published"):
        publish(title_dir, bad)


def test_unreachable_endpoint(title_dir: Path) -> None:
    bad = PublishSettings(to="s3://media/t", s3_endpoint=f"http://127.0.0.1:{free_port()}",
                          progress=False)
    with pytest.raises(PublishError, match="cannot reach S3"):
        publish(title_dir, bad)


def test_failed_media_upload_publishes_no_manifest(origin: EmbeddedOrigin,
                                                   title_dir: Path) -> None:
    broken = Recording(origin.endpoint, fail={"seg/v90-100k/2.m4s"}, status=403)
    with pytest.raises(PublishError) as err:
        publish(title_dir, settings(origin, "titles/c"), broken)
    message = str(err.value)
    assert "seg/v90-100k/2.m4s" in message and "rerun" in message
    assert "hls.m3u8" in err.value.missing and "title.json" in err.value.missing
    there = keys(origin, "titles/c")
    assert not any(k.endswith((".m3u8", ".mpd", ".json")) for k in there)
    assert "titles/c/seg/v90-100k/1.m4s" in there

    fixed = Recording(origin.endpoint)
    report = publish(title_dir, settings(origin, "titles/c"), fixed)
    assert "seg/v90-100k/2.m4s" in report.uploaded
    assert "seg/v90-100k/1.m4s" in report.skipped
    assert fixed.uploads[-1] == "titles/c/title.json"


def test_transient_errors_are_retried(origin: EmbeddedOrigin, title_dir: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("encoder.publish.BACKOFF_S", 0.01)

    class Flaky(Recording):
        failures = 0

        def upload_file(self, filename: str, bucket: str, key: str, **kw: Any) -> None:
            if key.endswith("hls.m3u8") and self.failures < 2:
                self.failures += 1
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="x")
            super().upload_file(filename, bucket, key, **kw)

    client = Flaky(origin.endpoint)
    publish(title_dir, settings(origin, "titles/r"), client)
    assert client.failures == 2 and "titles/r/hls.m3u8" in client.uploads


def test_changed_media_is_a_conflict(origin: EmbeddedOrigin, title_dir: Path) -> None:
    publish(title_dir, settings(origin, "titles/d"))
    make_client(origin.endpoint).put_object(Bucket="media", Key="titles/d/seg/v90-100k/1.m4s",
                                            Body=b"other bytes")
    (title_dir / "hls.m3u8").write_text((title_dir / "hls.m3u8").read_text())
    client = Recording(origin.endpoint)
    with pytest.raises(PublishError, match=r"other content.*new prefix.*--force"):
        publish(title_dir, settings(origin, "titles/d"), client)
    assert client.uploads == []
    report = publish(title_dir, settings(origin, "titles/d", force=True))
    assert report.uploaded == ["seg/v90-100k/1.m4s"]


def test_damaged_directory_is_refused(origin: EmbeddedOrigin, title_dir: Path) -> None:
    (title_dir / "seg/v90-100k/1.m4s").write_bytes(b"corrupt")
    (title_dir / "seg/v90-100k/2.m4s").unlink()
    with pytest.raises(OutputError, match=r"does not match its title.json") as err:
        publish(title_dir, settings(origin, "titles/e"))
    assert "2.m4s: missing" in str(err.value) and "1.m4s: size" in str(err.value)
    assert keys(origin, "titles/e") == set()


def test_not_a_title_directory(origin: EmbeddedOrigin, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"no title.json"):
        publish(tmp_path, settings(origin, "titles/f"))
    with pytest.raises(PublishError, match="no such directory"):
        publish(tmp_path / "nope", settings(origin, "titles/f"))
