"""Which modules ship compiled by mypyc, and whether the running ones are.

The edge's hit path (`HOT_PATH`) is plain, fully annotated Python that mypyc compiles into
C extensions when ocdn is installed (`setup.py`): the same source, a quarter fewer
instructions per hit. Without a C compiler, or with `OCDN_COMPILE=0`, the modules run
interpreted and behave the same.

In a source checkout the extensions are built in place, beside the `.py` files (`make
build`), and Python imports an extension before the source of the same name. So a `.py`
edited after the build would silently not run. `stale()` finds those, and the edge and
the test suite refuse to start with them. This module imports only the standard library:
`setup.py` reads `HOT_PATH` from it before anything is installed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
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

_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def is_compiled(module: str) -> bool:
    """True if `module` is (or, not yet imported, would be) loaded from a C extension."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) if loaded is not None else _origin(module)
    return bool(origin) and str(origin).endswith(_EXTENSIONS)


def compiled() -> list[str]:
    """The `HOT_PATH` modules that run compiled."""
    return [m for m in HOT_PATH if is_compiled(m)]


def stale(modules: tuple[str, ...] = HOT_PATH) -> list[str]:
    """The modules whose extension is older than the `.py` beside it, as
    "path/to/module.py" (the build no longer matches the source)."""
    out = []
    for module in modules:
        origin = _origin(module)
        if not origin or not origin.endswith(_EXTENSIONS):
            continue
        source = os.path.join(os.path.dirname(origin), module.rsplit(".", 1)[-1] + ".py")
        try:
            if os.stat(source).st_mtime > os.stat(origin).st_mtime:
                out.append(os.path.relpath(source))
        except OSError:
            continue  # an installed build may ship without its sources
    return out


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
