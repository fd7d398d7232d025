"""The slice store: complete, verified slices on local disk, and their index in memory.

Layout under `cache_dir/v1/`:

    objects/ab/<sha256(key)>/meta.json    the object's metadata (key, size, ETag, ...)
    objects/ab/<sha256(key)>/<i>.<tag>    slice i, tag = 12 hex of sha256(ETag, size)
    tmp/                                  fills being written; emptied at start

The filesystem is the truth. A slice reaches its final name only by rename(2) from
tmp/ after the whole slice arrived and verified, so a name is a promise that the bytes
behind it are complete; a kill -9 at any moment leaves at worst a file in tmp/, which
start-up removes. The slice is fsync'd before its rename, so a power loss cannot leave a
final name whose bytes never reached the disk. The tag in the file name binds a slice to
one version of its object: a slice of an older ETag can never be served as part of a
newer one, even if a crash interrupted the clean-up, because index and probe only accept
the tag of meta.json. Several processes could share the directory (renames are atomic and
idempotent); one place, the policy held here, decides evictions.

The index is rebuilt in the background after a restart (a thread walks the 256 fan-out
directories), so the edge serves at once: until the walk ends, a key missing from the
index is probed on disk directly. Policy bookkeeping (`Policy.add`) follows the index, and
any slice beyond the configured capacity is evicted as it is found.

Window slices in memory (`edge.staging`): while the policy holds a new slice in its
admission window (`Policy.staged`), the store may keep its bytes in a memfd instead of a
file (`hold`), within `--window-memory`. Such a slice is `present` like any other and its
memfd sits in `Entry.fds`, so every hit path serves it by the same sendfile(2); it is
written to disk (`write_held`, then `landed`) only when the policy promotes it, and its
memory is freed, with no write, when it is evicted. A restart forgets it (the policy's
window starts empty too).

Freshness: each entry carries `fresh_until`, set whenever the origin answers for the
object (`learn`: every fill, every revalidation) from the origin's Cache-Control or
`--revalidate-after-s`; past it, the edge asks the origin again in the background while it
keeps serving (`EdgeApp._revalidate`). meta.json's mtime records the last confirmation
(written with the version, touched by `confirm`), so a restart keeps what freshness is
left.

An object stays in the index, and its directory on disk, while it has a slice cached or a
fill in flight (`release`): memory and metadata follow what is cached, not every object
ever requested. What the policy counts against the capacity is each slice's disk
footprint (`edge.slices.disk_bytes`: its blocks plus its object's directory and
meta.json), so bytes on disk stay within `--cache-size` however objects are cut; only
the 256 fan-out directories (at most 1 MiB) and fills in flight come on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import resource
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge.policy import Policy, SliceKey
from edge.slices import bounds, disk_bytes, slice_count
from edge.staging import Staging

log = logging.getLogger("ocdn.edge.store")

MAX_OPEN_FDS = 4096
MIN_FRESH_S = 1.0  # `no-cache` objects are re-checked at most once a second


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    key: str
    size: int
    etag: str
    last_modified: int | None
    content_type: str
    cache_control: str | None = None

    @property
    def tag(self) -> str:
        return hashlib.sha256(f"{self.etag}\0{self.size}".encode()).hexdigest()[:12]

    def same_version(self, other: ObjectMeta) -> bool:
        return self.etag == other.etag and self.size == other.size

    def fresh_for(self, default_s: float) -> float:
        """Seconds the origin's word on this version may be trusted before it is asked again:
        `s-maxage`, else `max-age`, from the origin's Cache-Control (`no-cache` and
        `no-store`: MIN_FRESH_S), else `default_s` (`--revalidate-after-s`)."""
        if not self.cache_control:
            return default_s
        max_age: float | None = None
        for part in self.cache_control.lower().split(","):
            name, _, value = part.strip().partition("=")
            value = value.strip().strip('"')
            if name in ("no-cache", "no-store"):
                return MIN_FRESH_S
            if name in ("s-maxage", "max-age") and value.isdigit():
                seconds = max(float(value), MIN_FRESH_S)
                if name == "s-maxage":  # a shared cache's own lifetime wins (RFC 9111 5.2.2.10)
                    return seconds
                max_age = seconds
        return default_s if max_age is None else max_age


@dataclass(slots=True)
class Entry:
    """One object in the index: its metadata and which slices are on disk."""

    meta: ObjectMeta
    directory: str
    present: set[int] = field(default_factory=set)
    # "<directory>/{index}.<tag>" without the index: hashing per request costs ~7 µs
    path_format: str = ""
    fds: dict[int, int] = field(default_factory=dict)  # open read-only fds of slices
    memory: dict[int, int] = field(default_factory=dict)  # slices held in memfds (also in fds)
    # perf_counter() until which the origin's word on `meta` holds (0: ask at the next hit,
    # as after a restart)
    fresh_until: float = 0.0

    def __post_init__(self) -> None:
        self.path_format = os.path.join(self.directory, "{}." + self.meta.tag)


def _key_dir(objects: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return os.path.join(objects, digest[:2], digest)


def _read_meta(directory: str) -> tuple[ObjectMeta | None, float]:
    """The object's metadata and when the origin last vouched for that version, as far as
    the disk knows: meta.json's mtime (written with the version, touched by each
    revalidation); (None, 0.0) if there is no readable metadata."""
    try:
        with open(os.path.join(directory, "meta.json"), "rb") as fh:
            doc = json.load(fh)
            confirmed = os.fstat(fh.fileno()).st_mtime
        return ObjectMeta(**doc), confirmed
    except (OSError, ValueError, TypeError):
        return None, 0.0


def _scan_dir(directory: str, meta: ObjectMeta, slice_bytes: int) -> list[int]:
    """Slices of `meta`'s version in `directory` whose size is right; others are removed."""
    present: list[int] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return present
    for name in names:
        if name == "meta.json":
            continue
        index_text, _, tag = name.partition(".")
        path = os.path.join(directory, name)
        if tag != meta.tag or not index_text.isdigit():
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        index = int(index_text)
        start, stop = bounds(index, meta.size, slice_bytes)
        try:
            ok = stop > start and os.stat(path).st_size == stop - start
        except OSError:
            ok = False
        if ok:
            present.append(index)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return present


def _write_all(fd: int, chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        view = memoryview(chunk)
        done = 0
        # The index is a plain name, not the os.write call itself: compiled by mypyc, a
        # memoryview's slice start is evaluated twice (each chunk was written twice).
        while done < len(view):
            done += os.write(fd, view[done:])


def _read_fd(fd: int, size: int) -> Iterator[bytes]:
    """The first `size` bytes of `fd` in 1 MiB pieces (a held slice on its way to disk)."""
    offset = 0
    while offset < size:
        data = os.pread(fd, min(1 << 20, size - offset), offset)
        if not data:
            raise OSError(f"memory copy of a slice ended at {offset} of {size} bytes")
        offset += len(data)
        yield data


class SliceStore:
    def __init__(self, root: str | Path, slice_bytes: int, policy: Policy,
                 window_memory: int = 0, revalidate_after_s: float = 3600.0) -> None:
        self.root = Path(root) / "v1"
        self.objects_dir = str(self.root / "objects")
        self.tmp_dir = str(self.root / "tmp")
        self.slice_bytes = slice_bytes
        self.policy = policy
        self.index: dict[str, Entry] = {}
        self.indexed = False
        self.evictions = 0
        self.evicted_bytes = 0
        self._open_fds: dict[tuple[str, int], Entry] = {}
        self.max_open_fds = MAX_OPEN_FDS
        self._index_task: asyncio.Task[None] | None = None
        if window_memory and not hasattr(os, "memfd_create"):
            log.warning("no memfd_create here: --window-memory is ignored, every admitted "
                        "slice is written at once")
            window_memory = 0
        # Each held slice is a memfd: keep three quarters of the fd limit for connections
        # and slice files.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        held_max = 1 << 20 if nofile == resource.RLIM_INFINITY else max(nofile // 4, 1)
        self.staging = Staging(window_memory, held_max)
        self.revalidate_after_s = revalidate_after_s
        self._writing: set[SliceKey] = set()  # held slices being written to disk
        self._filling: dict[str, int] = {}  # fills in flight per object: they may commit

    # ---- start-up -------------------------------------------------------------

    def open(self) -> None:
        """Create the layout and empty tmp/ (fills cut short by a crash)."""
        os.makedirs(self.objects_dir, exist_ok=True)
        if os.path.isdir(self.tmp_dir):
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
        os.makedirs(self.tmp_dir, exist_ok=True)

    def start_indexing(self) -> asyncio.Task[None]:
        self._index_task = asyncio.get_running_loop().create_task(self._build_index())
        return self._index_task

    async def _build_index(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            fanout = sorted(os.listdir(self.objects_dir))
        except OSError:
            fanout = []
        found = 0
        for sub in fanout:
            batch = await loop.run_in_executor(None, self._scan_fanout, sub)
            for meta, directory, present, confirmed in batch:
                if meta.key in self.index:
                    continue  # probed or learned while we walked: already known
                if not present:  # metadata of an object with nothing cached (see `release`)
                    shutil.rmtree(directory, ignore_errors=True)
                    continue
                self._adopt(meta, directory, present, confirmed)
                found += len(present)
        self.indexed = True
        log.info("index ready: %d objects, %d slices, %d bytes",
                 len(self.index), found, self.policy.used_bytes)

    def _scan_fanout(self, sub: str) -> list[tuple[ObjectMeta, str, list[int], float]]:
        out: list[tuple[ObjectMeta, str, list[int], float]] = []
        base = os.path.join(self.objects_dir, sub)
        try:
            dirs = os.listdir(base)
        except OSError:
            return out
        for name in dirs:
            directory = os.path.join(base, name)
            meta, confirmed = _read_meta(directory)
            if meta is None:
                shutil.rmtree(directory, ignore_errors=True)
                continue
            out.append((meta, directory, _scan_dir(directory, meta, self.slice_bytes),
                        confirmed))
        return out

    def _adopt(self, meta: ObjectMeta, directory: str, present: Iterable[int],
               confirmed: float) -> Entry:
        """Index an object found on disk; `confirmed` (wall clock) is when the origin last
        vouched for its version, so a restart keeps what freshness is left."""
        entry = Entry(meta, directory)
        left = confirmed + meta.fresh_for(self.revalidate_after_s) - time.time()
        entry.fresh_until = time.perf_counter() + left if left > 0 else 0.0
        self.index[meta.key] = entry
        for index in present:
            start, stop = bounds(index, meta.size, self.slice_bytes)
            entry.present.add(index)
            self._evict(self.policy.add(SliceKey(meta.key, index), disk_bytes(stop - start)))
            if SliceKey(meta.key, index) not in self.policy:
                self._unlink_slice(entry, index)
        return entry

    # ---- lookups --------------------------------------------------------------

    def lookup(self, key: str) -> Entry | None:
        entry = self.index.get(key)
        if entry is not None or self.indexed:
            return entry
        directory = _key_dir(self.objects_dir, key)
        meta, confirmed = _read_meta(directory)
        if meta is None or meta.key != key:
            return None
        return self._adopt(meta, directory, _scan_dir(directory, meta, self.slice_bytes),
                           confirmed)

    def confirm(self, entry: Entry) -> None:
        """The origin vouched again for the entry's version: fresh again, here and (by
        meta.json's mtime) after a restart."""
        entry.fresh_until = time.perf_counter() + entry.meta.fresh_for(self.revalidate_after_s)
        with contextlib.suppress(OSError):  # no file yet: only held in memory
            os.utime(os.path.join(entry.directory, "meta.json"))

    def slice_path(self, entry: Entry, index: int) -> str:
        return entry.path_format.format(index)

    def slice_fd(self, entry: Entry, index: int) -> int:
        """A read-only fd of a present slice, kept open for later hits (an open(2) and a
        close(2) per request cost ~11 µs of a 64 KiB hit); OSError if the file is gone.

        The store closes it when the slice leaves (evict, purge, new version), before
        unlinking. It never closes one here: a response may hold several fds at once, so
        the cap (MAX_OPEN_FDS) is enforced by `trim_fds`, once the response is written.
        """
        fd = entry.fds.get(index)
        if fd is not None:
            return fd
        fd = os.open(entry.path_format.format(index), os.O_RDONLY | os.O_CLOEXEC)
        entry.fds[index] = fd
        self._open_fds[(entry.meta.key, index)] = entry
        return fd

    def open_slice(self, entry: Entry, index: int) -> int:
        """A new fd of a present slice that the caller closes (for a response that may
        outlive the slice's eviction); OSError if the file is gone."""
        fd = entry.memory.get(index)
        if fd is not None:
            return os.dup(fd)
        return os.open(entry.path_format.format(index), os.O_RDONLY | os.O_CLOEXEC)

    def has_slice(self, entry: Entry, index: int) -> bool:
        """The present slice is really there: held in memory, or its file exists."""
        return index in entry.memory or os.path.exists(entry.path_format.format(index))

    def trim_fds(self) -> None:
        """Close the oldest cached fds beyond MAX_OPEN_FDS (call when no fd is in use)."""
        fds = self._open_fds
        while len(fds) > self.max_open_fds:
            (_, old_index), old_entry = next(iter(fds.items()))
            self.close_fd(old_entry, old_index)

    def close_fd(self, entry: Entry, index: int) -> None:
        """Close the cached fd of a slice, if one is open (its file left or went away);
        for a slice held in memory, this frees the memory."""
        self._open_fds.pop((entry.meta.key, index), None)
        fd = entry.fds.pop(index, None)
        if entry.memory.pop(index, None) is not None:
            self.staging.release(SliceKey(entry.meta.key, index))
        if fd is not None:
            os.close(fd)

    def _close_fds(self, entry: Entry) -> None:
        for index in list(entry.fds):
            self.close_fd(entry, index)

    # ---- changes --------------------------------------------------------------

    def learn(self, meta: ObjectMeta) -> Entry:
        """Record what the origin says about an object; a new version drops the old slices.
        Either way the origin has just vouched for the version: it is fresh again."""
        fresh_until = time.perf_counter() + meta.fresh_for(self.revalidate_after_s)
        entry = self.lookup(meta.key)
        if entry is not None:
            if entry.meta.same_version(meta):
                entry.fresh_until = fresh_until
                return entry
            log.warning("etag or size changed for %s (%s/%d -> %s/%d): dropping its slices",
                        meta.key, entry.meta.etag, entry.meta.size, meta.etag, meta.size)
            self.drop(meta.key)
        entry = Entry(meta, _key_dir(self.objects_dir, meta.key))
        entry.fresh_until = fresh_until
        self.index[meta.key] = entry
        return entry

    def commit(self, meta: ObjectMeta, index: int, chunks: Iterable[bytes]) -> str | None:
        """Write a verified slice to tmp/ and rename it into place (runs in a thread).

        Returns the final path, or None when the write failed (nothing is left behind).
        """
        directory = _key_dir(self.objects_dir, meta.key)
        tmp = os.path.join(self.tmp_dir, uuid.uuid4().hex)
        final = os.path.join(directory, f"{index}.{meta.tag}")
        try:
            os.makedirs(directory, exist_ok=True)
            current = _read_meta(directory)[0]
            if current is None or not current.same_version(meta):
                with open(tmp, "w") as fh:
                    json.dump(asdict(meta), fh)
                os.replace(tmp, os.path.join(directory, "meta.json"))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                _write_all(fd, chunks)
                # The bytes reach the disk before the name does: after a power loss the
                # final name may be missing (a refetch), never present with lost bytes.
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            return final
        except OSError as exc:
            log.error("cannot store slice %d of %s: %s", index, meta.key, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return None

    def committed(self, meta: ObjectMeta, index: int) -> bool:
        """Mark a renamed slice present, if its object is still that version and the
        policy still wants it (an eviction or purge may have raced the write)."""
        entry = self.index.get(meta.key)
        key = SliceKey(meta.key, index)
        if entry is None or not entry.meta.same_version(meta) or key not in self.policy:
            directory = _key_dir(self.objects_dir, meta.key)
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, f"{index}.{meta.tag}"))
            if entry is None:  # released or purged while the write ran: leave no metadata
                with contextlib.suppress(OSError):
                    if os.listdir(directory) == ["meta.json"]:
                        shutil.rmtree(directory)
            return False
        entry.present.add(index)
        return True

    @staticmethod
    def to_memory(chunks: list[bytes]) -> int:
        """A memfd holding `chunks` (runs in a thread); OSError if memory is short."""
        fd = os.memfd_create("ocdn-slice", os.MFD_CLOEXEC)
        try:
            _write_all(fd, chunks)
        except OSError:
            os.close(fd)
            raise
        return fd

    def hold(self, meta: ObjectMeta, index: int, fd: int) -> bool:
        """Serve a verified slice from the memfd `fd` while the policy keeps it in its
        window; False (and `fd` closed) if it must not: the memory budget is full, the
        policy promoted or evicted it meanwhile, or the object changed. The caller then
        writes it to disk if the policy still wants it."""
        entry = self.index.get(meta.key)
        key = SliceKey(meta.key, index)
        start, stop = bounds(index, meta.size, self.slice_bytes)
        if (entry is None or not entry.meta.same_version(meta) or index in entry.present
                or not self.policy.staged(key) or not self.staging.hold(key, stop - start)):
            os.close(fd)
            return False
        entry.memory[index] = fd
        entry.fds[index] = fd
        entry.present.add(index)
        return True

    def held(self, key: SliceKey) -> tuple[ObjectMeta, int, int] | None:
        """For a slice held in memory and not already on its way to disk: its metadata, a
        dup of its memfd (for `write_held`, which closes it) and its size; marks it as
        being written."""
        entry = self.index.get(key.obj)
        if entry is None or key in self._writing:
            return None
        fd = entry.memory.get(key.index)
        if fd is None:
            return None
        self._writing.add(key)
        start, stop = bounds(key.index, entry.meta.size, self.slice_bytes)
        return entry.meta, os.dup(fd), stop - start

    def write_held(self, meta: ObjectMeta, index: int, fd: int, size: int) -> str | None:
        """Write a held slice's memfd to disk as `commit` does (runs in a thread), then
        close `fd` (here, not by the caller: a caller cancelled at shutdown must not close
        an fd this thread still reads, whose number could be reused meanwhile)."""
        try:
            return self.commit(meta, index, _read_fd(fd, size))
        finally:
            os.close(fd)

    def landed(self, meta: ObjectMeta, index: int, ok: bool) -> bool:
        """A held slice's write ended: on success its file replaces the memory copy (if the
        policy still wants it, see `committed`); on failure the slice is forgotten."""
        key = SliceKey(meta.key, index)
        self._writing.discard(key)
        entry = self.index.get(meta.key)
        if not ok:
            self.policy.remove(key)
            if entry is not None and index in entry.memory:
                self._unlink_slice(entry, index)
                if not entry.present:
                    self.release(meta.key)
            return False
        if not self.committed(meta, index):
            return False
        if entry is not None and index in entry.memory:
            self.close_fd(entry, index)  # hits open the file from now on
        return True

    def evict(self, keys: Iterable[SliceKey]) -> None:
        """Delete slices the policy evicted."""
        self._evict(keys)

    def _evict(self, keys: Iterable[SliceKey]) -> None:
        for key in keys:
            entry = self.index.get(key.obj)
            if entry is None:
                continue
            if key.index in entry.present:
                entry.present.discard(key.index)
                start, stop = bounds(key.index, entry.meta.size, self.slice_bytes)
                self.evicted_bytes += stop - start
                self._unlink_slice(entry, key.index)
                if not entry.present:
                    self.release(key.obj)
            self.evictions += 1

    def fill_started(self, key: str) -> None:
        """A fill of one of `key`'s slices is in flight: `release` keeps the object's entry
        and directory until it ends, since it may commit into them."""
        self._filling[key] = self._filling.get(key, 0) + 1

    def fill_ended(self, key: str) -> None:
        """A fill started with `fill_started` left flight (committed, bypassed or failed):
        the object is forgotten if nothing of it is cached (`release`)."""
        left = self._filling.pop(key, 1) - 1
        if left > 0:
            self._filling[key] = left
        self.release(key)

    def release(self, key: str) -> None:
        """Forget an object with no slice cached and no fill in flight: its index entry and
        its directory (meta.json) go. Without this, every object ever requested would keep
        an entry in memory and, once cached, a directory on disk. Called when an object's
        last slice is evicted and when a fill ends; a no-op otherwise. Constant time: the
        fills in flight are counted per object, not looked up slice by slice."""
        entry = self.index.get(key)
        if entry is None or entry.present or key in self._filling:
            return
        del self.index[key]
        self._close_fds(entry)
        shutil.rmtree(entry.directory, ignore_errors=True)

    def _unlink_slice(self, entry: Entry, index: int) -> None:
        entry.present.discard(index)
        self.close_fd(entry, index)
        with contextlib.suppress(OSError):
            os.unlink(self.slice_path(entry, index))

    def drop(self, key: str) -> bool:
        """Forget an object and delete its slices and metadata (purge, changed ETag)."""
        entry = self.index.pop(key, None)
        if entry is None:
            entry = self.lookup(key)
            if entry is None:
                return False
            self.index.pop(key, None)
        self._close_fds(entry)
        count = max(slice_count(entry.meta.size, self.slice_bytes), 0)
        for index in range(count):
            self.policy.remove(SliceKey(key, index))
        shutil.rmtree(entry.directory, ignore_errors=True)
        return True

    def drop_prefix(self, prefix: str) -> int:
        """Purge every indexed object whose key starts with `prefix`; returns how many."""
        keys = [k for k in self.index if k.startswith(prefix)]
        for key in keys:
            self.drop(key)
        return len(keys)

    @property
    def used_bytes(self) -> int:
        return self.policy.used_bytes

    @property
    def capacity_bytes(self) -> int:
        return self.policy.capacity_bytes
