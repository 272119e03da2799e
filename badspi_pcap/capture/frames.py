"""A batch of captured frames laid out for vectorised decoding.

Readers (own pcap walk, Scapy, snoop text) all produce ``FrameBatch``es: the frames'
bytes concatenated in one buffer plus per-frame arrays; a reader returns a ``FrameWalk``
(its batches and what it skipped).  The decoder never loops over
frames in Python; it reads fields for all frames at once with ``Fields``.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import Skipped


@dataclass
class FrameBatch:
    buf: np.ndarray        # uint8, every frame's captured bytes back to back
    start: np.ndarray      # int64 offset of each frame in buf
    caplen: np.ndarray     # int64 captured length
    wirelen: np.ndarray    # int64 length on the wire
    time_ns: np.ndarray    # int64 ns since the epoch (UTC)
    linktype: np.ndarray   # int64 DLT/LINKTYPE per frame (pcapng interfaces differ)
    frame: np.ndarray      # int64 1-based frame number in the capture

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def from_frames(cls, frames: list[bytes], wirelen, time_ns, linktype, first_frame: int) -> "FrameBatch":
        """Build a batch from separate frame byte strings (Scapy and snoop readers)."""
        caplen = np.fromiter((len(f) for f in frames), dtype=np.int64, count=len(frames))
        start = np.zeros(len(frames), dtype=np.int64)
        if len(frames) > 1:
            np.cumsum(caplen[:-1], out=start[1:])
        buf = np.frombuffer(b"".join(frames), dtype=np.uint8)
        return cls(
            buf=buf,
            start=start,
            caplen=caplen,
            wirelen=np.asarray(wirelen, dtype=np.int64),
            time_ns=np.asarray(time_ns, dtype=np.int64),
            linktype=np.broadcast_to(np.asarray(linktype, dtype=np.int64), (len(frames),)).copy(),
            frame=np.arange(first_frame, first_frame + len(frames), dtype=np.int64),
        )


class FrameWalk:
    """A reader's walk over one capture: iterate it for ``FrameBatch``es; ``skipped`` lists
    what the reader could not read, complete once the walk has ended."""

    def __init__(self, batches: Iterator[FrameBatch], skipped: list[Skipped]):
        self.batches, self.skipped = batches, skipped

    def __iter__(self) -> Iterator[FrameBatch]:
        return self.batches


def frame_walk(read: Callable[..., Iterator[FrameBatch]]) -> Callable[..., FrameWalk]:
    """A reader written as a generator that appends to its keyword-only ``skipped`` list,
    called without it: it returns a ``FrameWalk`` that carries the list."""

    @functools.wraps(read)
    def walk(*args, **kwargs) -> FrameWalk:
        skipped: list[Skipped] = []
        return FrameWalk(read(*args, skipped=skipped, **kwargs), skipped)
    return walk


class FrameCollector:
    """Frames read one at a time (Scapy, snoop text), handed out in batches."""

    def __init__(self, size: int):
        self.size = size
        self.first = 1
        self._clear()

    def _clear(self) -> None:
        self.frames: list[bytes] = []
        self.wirelen: list[int] = []
        self.times: list[int] = []
        self.linktypes: list[int] = []

    def add(self, data: bytes, wirelen: int, time_ns: int, linktype: int) -> bool:
        """Keep a frame; True when a full batch is ready for ``take``."""
        self.frames.append(data)
        self.wirelen.append(wirelen)
        self.times.append(time_ns)
        self.linktypes.append(linktype)
        return len(self.frames) >= self.size

    def take(self) -> FrameBatch | None:
        """The frames kept so far as one batch (None when there are none)."""
        if not self.frames:
            return None
        batch = FrameBatch.from_frames(self.frames, self.wirelen, self.times, self.linktypes, self.first)
        self.first += len(self.frames)
        self._clear()
        return batch

    def drain(self) -> Iterator[FrameBatch]:
        """``take`` as a generator: the kept frames as one batch, or nothing when there are none."""
        batch = self.take()
        if batch is not None:
            yield batch


class Fields:
    """Bounds-checked big-endian reads of one field from every frame at once.

    ``pos`` is an array of absolute offsets into the buffer (one per frame, or per
    selected frame with ``rows``).  A read that would run past the frame's captured end
    returns 0 and a False in the ``ok`` mask, so truncated frames never read their
    neighbours' bytes.
    """

    def __init__(self, batch: FrameBatch):
        self.buf = batch.buf
        self.end = batch.start + batch.caplen
        self._lowest_end = int(self.end.min()) if len(self.end) else 0
        # A read that fails the bounds check gathers from offset 0 instead (and is masked),
        # so the buffer only needs padding when it is shorter than the widest read.
        self._padded = batch.buf if len(batch.buf) >= 16 else np.concatenate([batch.buf, np.zeros(16, np.uint8)])
        # element i = the 16/32-bit big-endian value at byte i: one gather per field
        self._u16 = _unaligned(self._padded, ">u2")
        self._u32 = _unaligned(self._padded, ">u4")
        self._u64 = _unaligned(self._padded, ">u8")
        self._ends: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._items: dict[int, np.ndarray] = {}   # raw(): byte strings of one size at every offset

    def _limit(self, rows: np.ndarray, size: int) -> np.ndarray:
        """Per row, one past the last offset a ``size``-byte read may start at, as uint64
        (0 when none may), remembered: the same rows are read many times."""
        key = (id(rows), size)
        hit = self._ends.get(key)
        if hit is None or hit[0] is not rows:
            limit = self.end[rows] - (size - 1)
            if self._lowest_end < size - 1:   # else none is negative (frames rarely end this early)
                limit = np.maximum(limit, 0)
            hit = self._ends[key] = (rows, limit.view(np.uint64))
        return hit[1]

    def has(self, pos: np.ndarray, size: int, rows: np.ndarray) -> np.ndarray:
        # 0 <= pos <= end - size in one comparison: a negative pos is a huge unsigned one
        return np.asarray(pos, dtype=np.int64).view(np.uint64) < self._limit(rows, size)

    def _gather(self, pos: np.ndarray, size: int, rows: np.ndarray):
        ok = self.has(pos, size, rows)
        whole = bool(ok.all())   # the usual case: no masking needed
        return (pos if whole else np.where(ok, pos, 0)), ok, whole

    def u8(self, pos, rows):
        safe, ok, whole = self._gather(pos, 1, rows)
        v = self._padded[safe].astype(np.int64)
        return (v if whole else np.where(ok, v, 0)), ok

    def u16(self, pos, rows):
        safe, ok, whole = self._gather(pos, 2, rows)
        v = self._u16[safe].astype(np.int64)
        return (v if whole else np.where(ok, v, 0)), ok

    def u32(self, pos, rows):
        safe, ok, whole = self._gather(pos, 4, rows)
        v = self._u32[safe].astype(np.int64)
        return (v if whole else np.where(ok, v, 0)), ok

    def u64(self, pos: np.ndarray) -> np.ndarray:
        """8 bytes at ``pos``, unchecked: only for offsets ``has`` said are inside."""
        return self._u64[pos]

    def raw(self, pos, size: int, rows) -> tuple[np.ndarray, np.ndarray]:
        """``size`` bytes per row as an (n, size) uint8 matrix (zeros where not captured)."""
        safe, ok, whole = self._gather(pos, size, rows)
        if size <= len(self._padded):   # (at least 16) safe reads fit: one gather of size-byte items
            items = self._items.get(size)
            if items is None:
                items = self._items[size] = _unaligned(self._padded, f"V{size}")
            out = items[safe].view(np.uint8).reshape(len(safe), size)
        else:
            out = self._padded[safe[:, None] + np.arange(size)]
        if not whole:
            out[~ok] = 0
        return out, ok


def _unaligned(data: np.ndarray, dtype: str) -> np.ndarray:
    """Element i = the value at byte i (any alignment), so one gather reads a field."""
    size = np.dtype(dtype).itemsize
    return np.ndarray(shape=(max(len(data) - size + 1, 0),), dtype=dtype, buffer=data, strides=(1,))


def among(values: np.ndarray, items) -> np.ndarray:
    """``np.isin`` for a few constants, without its sorting."""
    items = tuple(items)
    out = values == items[0]
    for item in items[1:]:
        out |= values == item
    return out
