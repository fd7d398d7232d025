"""Which modules ship compiled by mypyc, and whether the running ones are.

The edge's hit path (`HOT_PATH`) is plain, fully annotated Python that mypyc compiles into
C extensions when ocdn is installed (`setup.py`): the same source, ~40% fewer
instructions per hit. Without a C compiler, or with `OCDN_COMPILE=0`, the modules run
interpreted and behave the same.

In a source checkout the extensions are built in place, beside the `.py` files (`make
build`), and Python imports an extension before the source of the same name. So a `.py`
edited after the build would silently not run. The build writes a manifest
(`hotpath.json`, beside this file) of the sha256 of each source it compiled; `stale()`
finds the sources that no longer match it, and the edge and the test suite refuse to
start with them. Digests, not timestamps: an install or a checkout sets a file's mtime to
whenever it was written. This module imports only the standard library: `setup.py` uses
it before anything is installed.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys

HOT_PATH = (
    "common.http",
    "edge.app",
    "edge.metrics",
    "edge.slices",
    "edge.store",
    "edge.policy.base",
    "edge.policy.lru",
    "edge.policy.s3fifo",
    "edge.policy.sketch",
    "edge.policy.vod",
    "edge.policy.wtinylfu",
)

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hotpath.json")
_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def is_compiled(module: str) -> bool:
    """True if `module` is (or, not yet imported, would be) loaded from a C extension."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) if loaded is not None else _origin(module)
    return bool(origin) and str(origin).endswith(_EXTENSIONS)


def compiled() -> list[str]:
    """The `HOT_PATH` modules that run compiled."""
    return [m for m in HOT_PATH if is_compiled(m)]


def stale(modules: tuple[str, ...] = HOT_PATH, manifest: str = MANIFEST) -> list[str]:
    """The modules loaded from an extension whose `.py` beside it is not the source that
    was compiled (per `manifest`), as "path/to/module.py". A missing manifest makes every
    such module stale; an extension with no source beside it is trusted."""
    try:
        with open(manifest, encoding="utf-8") as fh:
            digests = json.load(fh)
    except (OSError, ValueError):
        digests = {}
    out = []
    for module in modules:
        origin = _origin(module)
        if not origin or not origin.endswith(_EXTENSIONS):
            continue
        source = os.path.join(os.path.dirname(origin), module.rsplit(".", 1)[-1] + ".py")
        try:
            digest = source_digest(source)
        except OSError:
            continue
        if not isinstance(digests, dict) or digests.get(module) != digest:
            out.append(os.path.relpath(source))
    return out


def source_digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def write_manifest(root: str, manifest: str, modules: tuple[str, ...] = HOT_PATH) -> None:
    """Record the digests of the sources under `root` that a build just compiled."""
    digests = {m: source_digest(os.path.join(root, *m.split(".")) + ".py") for m in modules}
    os.makedirs(os.path.dirname(manifest), exist_ok=True)
    with open(manifest, "w", encoding="utf-8") as fh:
        json.dump(digests, fh, indent=1, sort_keys=True)


def stale_message(paths: list[str]) -> str:
    return (f"{', '.join(paths)} changed after the hot path was compiled, so the old code "
            "would run: rebuild with `make build` (or `make clean-build` to run it "
            "interpreted)")


def _origin(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None
