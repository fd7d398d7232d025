"""`ocdn publish`: a title directory into an S3 bucket, in an order players can trust.

The plan is made before a byte moves. The directory is checked against its
`title.json` (every listed file there, same size and SHA-256: a damaged title is not
published), the bucket must exist, and the objects already under the prefix are
listed. A file whose object has the same content (our `x-amz-meta-sha256`, or for
objects uploaded by other tools a single-part ETag equal to the file's MD5) is skipped,
so a rerun after a failure sends only what is missing. Media that exists with other
content is a conflict: media is cached as immutable for a year, so replacing it in place
would leave edges and players with a mix of old and new bytes; publish refuses (publish
the new encode under a new prefix, or pass --force).

Uploads run in phases, each finished before the next starts: media (`.mp4`, `.m4s`),
then media playlists, then the entry points (`hls*.m3u8`, `*.mpd`), then `title.json`.
A player that can fetch a manifest can therefore fetch all it points at. If anything in
a phase fails, later phases are not started and the error lists every file that is not
in the bucket. Files go up `concurrency` at a time, files above `multipart_threshold` in
parts (boto3's transfer manager); a failed file is retried twice with backoff, a 4xx
is not. Content-Type follows the file type; Cache-Control is long and immutable for
media, short for manifests and title.json.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path, PurePosixPath
from typing import Any

import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from tqdm import tqdm

from encoder import title
from encoder.config import PublishSettings
from encoder.errors import PublishError
from origin.s3 import S3Location, make_client, parse_s3_url

log = logging.getLogger("ocdn.publish")

RETRIES = 2
BACKOFF_S = 0.5
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".json": "application/json",
}


class Phase(IntEnum):
    MEDIA = 0
    MEDIA_PLAYLIST = 1
    ENTRY_POINT = 2
    INDEX = 3


def phase_of(rel: str) -> Phase:
    path = PurePosixPath(rel)
    if rel == title.TITLE_JSON:
        return Phase.INDEX
    if path.suffix in (".m3u8", ".mpd"):
        return Phase.ENTRY_POINT if len(path.parts) == 1 else Phase.MEDIA_PLAYLIST
    return Phase.MEDIA


def content_type(rel: str, audio_ids: frozenset[str] = frozenset()) -> str:
    path = PurePosixPath(rel)
    if path.suffix == ".mp4":
        owner = path.parent.name if path.name == "init.mp4" else path.stem
        return "audio/mp4" if owner in audio_ids else "video/mp4"
    return CONTENT_TYPES.get(path.suffix, "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Remote:
    """An object already in the bucket: its size, ETag, and our sha256 metadata if any."""

    size: int
    etag: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class Upload:
    rel: str
    key: str
    size: int
    sha256: str
    phase: Phase
    content_type: str
    cache_control: str


@dataclass(slots=True)
class Plan:
    uploads: list[Upload] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PublishReport:
    location: S3Location
    uploaded: list[str]
    skipped: list[str]
    bytes_uploaded: int


def make_plan(files: Sequence[title.FileEntry], location: S3Location,
              remote: dict[str, Remote], same: Callable[[title.FileEntry, Remote], bool],
              settings: PublishSettings, audio_ids: frozenset[str] = frozenset()) -> Plan:
    """What to upload, skip, or refuse (pure but for `same`, which may hash a file)."""
    plan = Plan()
    for f in sorted(files, key=lambda f: (phase_of(f.path), f.path)):
        key = location.key(f.path)
        phase = phase_of(f.path)
        existing = remote.get(key)
        if existing is not None and same(f, existing):
            plan.skipped.append(f.path)
            continue
        if existing is not None and phase == Phase.MEDIA and not settings.force:
            plan.conflicts.append(f.path)
            continue
        cache = settings.media_cache_control if phase == Phase.MEDIA \
            else settings.manifest_cache_control
        plan.uploads.append(Upload(f.path, key, f.size, f.sha256, phase,
                                   content_type(f.path, audio_ids), cache))
    return plan


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"{status} {err.get('Code', '')} {err.get('Message', '')}".strip()
    return str(exc) or type(exc).__name__


def _client_error_status(exc: Exception) -> int:
    if isinstance(exc, botocore.exceptions.ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


class Publisher:
    """Publishes one title directory to one s3://BUCKET/PREFIX."""

    def __init__(self, root: Path, settings: PublishSettings, client: Any = None) -> None:
        self.root = root
        self.settings = settings
        self.location = parse_s3_url(settings.to)
        self.client = client or make_client(settings.s3_endpoint or None,
                                            pool_size=settings.concurrency * 4,
                                            read_timeout_s=60.0)
        self._lock = threading.Lock()

    def check_bucket(self) -> None:
        where = f" at {self.settings.s3_endpoint}" if self.settings.s3_endpoint else ""
        try:
            self.client.head_bucket(Bucket=self.location.bucket)
        except botocore.exceptions.ClientError as exc:
            status = _client_error_status(exc)
            if status == 404:
                raise PublishError(f"bucket {self.location.bucket!r} does not exist{where}; "
                                   "nothing was published") from None
            if status == 403:
                raise PublishError(f"access to bucket {self.location.bucket!r} denied{where} "
                                   "(check the AWS credentials); nothing was published") from None
            raise PublishError(f"bucket {self.location.bucket!r}{where}: {_describe(exc)}; "
                               "nothing was published") from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise PublishError(f"cannot reach S3{where}: {exc}; nothing was published") from None

    def remote_objects(self) -> dict[str, Remote]:
        prefix = self.location.key("")
        sizes: dict[str, tuple[int, str]] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.location.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    sizes[obj["Key"]] = (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise PublishError(f"cannot list {self.settings.to}: {_describe(exc)}; "
                               "nothing was published") from None
        return {key: Remote(size, etag, None) for key, (size, etag) in sizes.items()}

    def _head_sha256(self, key: str) -> str | None:
        try:
            head = self.client.head_object(Bucket=self.location.bucket, Key=key)
        except botocore.exceptions.ClientError:
            return None
        return head.get("Metadata", {}).get("sha256")

    def same(self, f: title.FileEntry, remote: Remote) -> bool:
        if remote.size != f.size:
            return False
        if remote.sha256 is not None:
            return remote.sha256 == f.sha256
        return "-" not in remote.etag and remote.etag == _md5(self.root / f.path)

    def plan(self, files: Sequence[title.FileEntry], audio_ids: frozenset[str]) -> Plan:
        remote = self.remote_objects()
        candidates = {self.location.key(f.path): f for f in files}
        with ThreadPoolExecutor(self.settings.concurrency) as pool:
            shas = dict(zip(
                candidates,
                pool.map(lambda k: self._head_sha256(k) if k in remote
                         and remote[k].size == candidates[k].size else None, candidates),
                strict=True))
        remote = {k: Remote(r.size, r.etag, shas.get(k)) for k, r in remote.items()}
        return make_plan(files, self.location, remote, self.same, self.settings, audio_ids)

    def _upload(self, up: Upload, progress: Callable[[int], None]) -> None:
        config = TransferConfig(multipart_threshold=self.settings.multipart_threshold,
                                multipart_chunksize=self.settings.multipart_chunk,
                                max_concurrency=4, use_threads=True)
        extra = {"ContentType": up.content_type, "CacheControl": up.cache_control,
                 "Metadata": {"sha256": up.sha256}}
        for attempt in range(RETRIES + 1):
            sent = 0

            def callback(n: int) -> None:
                nonlocal sent
                sent += n
                progress(n)

            try:
                self.client.upload_file(str(self.root / up.rel), self.location.bucket, up.key,
                                        ExtraArgs=extra, Config=config, Callback=callback)
                return
            except Exception as exc:
                progress(-sent)
                status = _client_error_status(exc)
                if attempt == RETRIES or 400 <= status < 500:
                    raise
                log.warning("upload of %s failed (%s), retrying", up.rel, _describe(exc))
                time.sleep(BACKOFF_S * 2 ** attempt)

    def run(self) -> PublishReport:
        if not self.root.is_dir():
            raise PublishError(f"{self.root}: no such directory")
        doc = title.read(self.root)
        files = title.verify(self.root, doc)
        index = self.root / title.TITLE_JSON
        files.append(title.FileEntry(title.TITLE_JSON, index.stat().st_size,
                                     title.sha256_file(index)))
        audio_ids = frozenset(str(r.get("id")) for r in doc.get("renditions", [])
                              if r.get("type") == "audio")
        self.check_bucket()
        plan = self.plan(files, audio_ids)
        if plan.conflicts:
            raise PublishError(
                f"{len(plan.conflicts)} media files exist under {self.settings.to} with other "
                f"content (e.g. {plan.conflicts[0]}); media is cached as immutable, so publish "
                "this encode under a new prefix, or pass --force to overwrite; "
                "nothing was published")
        total = sum(u.size for u in plan.uploads)
        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="publishing",
                   file=sys.stderr, leave=False,
                   disable=not (self.settings.progress and sys.stderr.isatty()) or not total)

        def progress(n: int) -> None:
            with self._lock:
                bar.update(n)

        done: list[str] = []
        try:
            for phase in Phase:
                batch = [u for u in plan.uploads if u.phase == phase]
                failed: list[tuple[str, str]] = []
                with ThreadPoolExecutor(self.settings.concurrency) as pool:
                    futures = {pool.submit(self._upload, u, progress): u for u in batch}
                    for future, up in futures.items():
                        exc = future.exception()
                        if exc is None:
                            done.append(up.rel)
                        else:
                            failed.append((up.rel, _describe(exc)))  # type: ignore[arg-type]
                if failed:
                    sent = set(done)
                    first, why = failed[0]
                    raise PublishError(
                        f"{len(failed)} of {len(batch)} uploads of the {phase.name.lower()} "
                        f"phase to {self.settings.to} failed (first: {first}: {why}); later "
                        "phases were not started, so no manifest points at a missing file",
                        [u.rel for u in plan.uploads if u.rel not in sent])
        finally:
            bar.close()
        return PublishReport(self.location, done, plan.skipped, total)


def publish(root: Path, settings: PublishSettings, client: Any = None) -> PublishReport:
    return Publisher(root, settings, client).run()
