"""What reading a capture (or a range of one) gathers: the packets table, counts, link
types and the time span.

Decoded rows are turned into Arrow table chunks every ``CHUNK_ROWS`` rows, so the NumPy
rows of a big capture are never all held next to the finished table.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .frames import FrameBatch
from .decode import BatchCounts, decode_rows, packets_table
from .linklayer import linktype_name
from .rows import Rows

CHUNK_ROWS = 1 << 18


@dataclass
class Collected:
    name: str                                   # the capture's name (its rows' ``capture``)
    parts: list[Rows] = field(default_factory=list)
    chunks: list[pa.Table] = field(default_factory=list)
    counts: BatchCounts = field(default_factory=BatchCounts)
    linktypes: dict[str, int] = field(default_factory=dict)
    first: int | None = None
    last: int | None = None

    def add(self, batch: FrameBatch) -> None:
        rows, counts = decode_rows(batch)
        self.parts.append(rows)
        if sum(len(p) for p in self.parts) >= CHUNK_ROWS:
            self._flush()
        self.counts.add(counts)
        if not len(batch):
            return
        lt = batch.linktype
        if (lt == lt[0]).all():   # the usual batch: one link type, no sort needed
            kinds, n = lt[:1], np.array([len(lt)])
        else:
            kinds, n = np.unique(lt, return_counts=True)
        for lt, k in zip(kinds.tolist(), n.tolist()):
            key = linktype_name(lt)
            self.linktypes[key] = self.linktypes.get(key, 0) + k
        lo, hi = int(batch.time_ns.min()), int(batch.time_ns.max())
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)

    def _flush(self) -> None:
        parts, self.parts = self.parts, []
        if any(len(p) for p in parts):
            self.chunks.append(packets_table(Rows.join(parts), self.name))

    def table(self) -> pa.Table:
        """The packets table of everything added (its chunks in file order)."""
        self._flush()
        if not self.chunks:
            return packets_table(Rows.empty(), self.name)
        return pa.concat_tables(self.chunks) if len(self.chunks) > 1 else self.chunks[0]

    def extend(self, other: "Collected", frame_offset: int) -> None:
        """Append a later part of the same capture (its frames numbered from 1)."""
        import pyarrow.compute as pc
        other._flush()
        for chunk in other.chunks:
            i = chunk.schema.get_field_index("frame")
            self.chunks.append(chunk.set_column(i, "frame", pc.add(chunk.column(i), frame_offset)))
        self.counts.add(other.counts)
        for k, v in other.linktypes.items():
            self.linktypes[k] = self.linktypes.get(k, 0) + v
        for t in (other.first, other.last):
            if t is not None:
                self.first = t if self.first is None else min(self.first, t)
                self.last = t if self.last is None else max(self.last, t)
