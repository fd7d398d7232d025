"""`title.json`: what a title directory holds, written last, read by publish and tests.

It records the title's renditions (resolution, target, average and peak bitrate,
codecs, segment count) and every file of the directory with its size and SHA-256, so a
publisher can upload exactly the listed files, skip the ones a bucket already holds with
the same checksum, and detect a directory changed or damaged since it was encoded.
`title.json` itself is not in its own list. Building the document is pure; `write` and
`verify` do the file I/O.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from encoder.errors import OutputError
from encoder.manifests import DASH, DASH_SEGMENTBASE, HLS, HLS_BYTERANGE
from encoder.track import PackagedTrack

TITLE_JSON = "title.json"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative, "/"-separated
    size: int
    sha256: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def walk(root: Path) -> Iterator[str]:
    """Relative paths of the regular files under `root`, sorted, title.json excluded."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            rel = Path(dirpath, name).relative_to(root).as_posix()
            if rel != TITLE_JSON:
                yield rel


def list_files(root: Path) -> list[FileEntry]:
    return [FileEntry(rel, (root / rel).stat().st_size, sha256_file(root / rel))
            for rel in walk(root)]


def rendition_entry(track: PackagedTrack) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": track.id, "type": track.kind, "codecs": track.codec,
        "bitrate_bps": track.target_bitrate_bps,
        "average_bitrate_bps": track.average_bitrate_bps,
        "peak_bitrate_bps": track.peak_bitrate_bps,
        "duration_s": round(track.layout.duration_s, 6),
        "segments": track.segment_count,
        "file": track.file_path, "segment_dir": track.segment_dir,
    }
    if track.kind == "video":
        entry.update(width=track.layout.width, height=track.layout.height,
                     resolution=f"{track.layout.width}x{track.layout.height}")
        if track.frame_rate is not None:
            entry["frame_rate"] = str(track.frame_rate)
    else:
        entry.update(channels=track.layout.channels, sample_rate=track.layout.sample_rate)
    return entry


def build(title: str, tracks: Sequence[PackagedTrack], files: Sequence[FileEntry],
          segment_s: float, ladder: str, source: dict[str, Any],
          steering_uri: str | None, per_title: dict[str, Any] | None = None) -> dict[str, Any]:
    """The title.json document (pure)."""
    doc = {
        "format": FORMAT,
        "title": title,
        "ladder": ladder,
        "segment_s": segment_s,
        "duration_s": round(max(t.layout.duration_s for t in tracks), 6),
        "source": source,
        "manifests": {"hls": HLS, "hls_byterange": HLS_BYTERANGE, "dash": DASH,
                      "dash_segmentbase": DASH_SEGMENTBASE},
        "content_steering": steering_uri,
        "renditions": [rendition_entry(t) for t in tracks],
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files],
    }
    if per_title is not None:
        doc["per_title"] = per_title
    return doc


def write(root: Path, doc: dict[str, Any]) -> Path:
    path = root / TITLE_JSON
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
    return path


def read(root: Path) -> dict[str, Any]:
    path = root / TITLE_JSON
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputError(f"{root}: no {TITLE_JSON} (not an encoded title directory)") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: unreadable: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        raise OutputError(f"{path}: not a title.json (no file list)")
    return doc


def entries(doc: dict[str, Any]) -> list[FileEntry]:
    try:
        return [FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in doc["files"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise OutputError(f"title.json: bad file entry: {exc}") from None


def verify(root: Path, doc: dict[str, Any] | None = None) -> list[FileEntry]:
    """The title's files, after checking each exists with its recorded size and SHA-256."""
    listed = entries(doc if doc is not None else read(root))
    problems = []
    for f in listed:
        path = root / f.path
        if ".." in Path(f.path).parts or Path(f.path).is_absolute():
            problems.append(f"{f.path}: path leaves the title directory")
        elif not path.is_file():
            problems.append(f"{f.path}: missing")
        elif path.stat().st_size != f.size:
            problems.append(f"{f.path}: size {path.stat().st_size}, title.json says {f.size}")
        elif sha256_file(path) != f.sha256:
            problems.append(f"{f.path}: checksum differs from title.json")
    if problems:
        raise OutputError(f"{root}: the directory does not match its title.json:\n  "
                          + "\n  ".join(problems[:20]))
    return listed
