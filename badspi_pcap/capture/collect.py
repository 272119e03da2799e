"""What reading a capture (or a range of one) gathers: decoded rows, counts, link types
and the time span; parts of one capture join in file order."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .batch import FrameBatch
from .decode import BatchCounts, decode_rows
from .linklayer import linktype_name
from .rows import Rows


@dataclass
class Collected:
    parts: list[Rows] = field(default_factory=list)
    counts: BatchCounts = field(default_factory=BatchCounts)
    linktypes: dict[str, int] = field(default_factory=dict)
    first: int | None = None
    last: int | None = None

    def add(self, batch: FrameBatch) -> None:
        rows, counts = decode_rows(batch)
        self.parts.append(rows)
        self.counts.add(counts)
        if not len(batch):
            return
        kinds, n = np.unique(batch.linktype, return_counts=True)
        for lt, k in zip(kinds.tolist(), n.tolist()):
            key = linktype_name(lt)
            self.linktypes[key] = self.linktypes.get(key, 0) + k
        lo, hi = int(batch.time_ns.min()), int(batch.time_ns.max())
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)

    def rows(self) -> Rows:
        """All rows, joined (the parts are let go: they would double the memory)."""
        joined = Rows.join(self.parts)
        self.parts = [joined]
        return joined

    def extend(self, other: "Collected", frame_offset: int) -> None:
        """Append a later part of the same capture (its frames numbered from 1)."""
        for rows in other.parts:
            rows.frame = rows.frame + frame_offset
            self.parts.append(rows)
        self.counts.add(other.counts)
        for k, v in other.linktypes.items():
            self.linktypes[k] = self.linktypes.get(k, 0) + v
        for t in (other.first, other.last):
            if t is not None:
                self.first = t if self.first is None else min(self.first, t)
                self.last = t if self.last is None else max(self.last, t)
