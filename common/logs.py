"""Logging set-up shared by every service: one line per record, to stderr."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "info", name: str = "ocdn") -> logging.Logger:
    """Configure the root logger once; returns the service's logger."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level.upper())
    return logging.getLogger(name)


def parse_level(value: str) -> str:
    """Config parser for a log level name."""
    level = str(value).strip().lower()
    if level not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError(f"expected debug, info, warning, error or critical, got {value!r}")
    return level
