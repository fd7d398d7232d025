"""The edge's `/status` document: written by the edge, read by steering.

Steering ranks on it, so its fields are a contract: add fields freely, never rename.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class EdgeState(StrEnum):
    UP = "up"
    DRAINING = "draining"  # finishes current sessions, takes no new ones
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class EdgeStatus:
    id: str
    site: str
    state: EdgeState
    connections: int
    egress_bytes_per_s: float
    cache_bytes_used: int
    cache_bytes_capacity: int
    hit_ratio: float  # bytes served from cache / bytes served, since start

    def to_json(self) -> str:
        doc = asdict(self)
        doc["state"] = self.state.value
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text: str | bytes) -> EdgeStatus:
        """Parse a status document; ValueError when a field is missing or mistyped."""
        try:
            doc: Any = json.loads(text)
            return cls(
                id=str(doc["id"]),
                site=str(doc.get("site", "")),
                state=EdgeState(doc["state"]),
                connections=int(doc["connections"]),
                egress_bytes_per_s=float(doc["egress_bytes_per_s"]),
                cache_bytes_used=int(doc["cache_bytes_used"]),
                cache_bytes_capacity=int(doc["cache_bytes_capacity"]),
                hit_ratio=float(doc["hit_ratio"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"invalid status document: {exc}") from None
