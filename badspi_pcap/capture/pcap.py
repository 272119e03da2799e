"""Classic pcap: the project's own record walk (the hot path for big captures).

The only per-record Python work is reading one length to find the next record; every
other header field is gathered afterwards with NumPy.  A record header that cannot be
right (a length beyond any snap length, a timestamp fraction out of range) starts a
resynchronisation search; what is skipped is reported, and a truncated last record is
kept with the bytes that are there.
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Callable, Iterator

import numpy as np

from ..errors import Skipped
from . import chains
from .frames import FrameBatch, _unaligned, frame_walk
from .source import PCAP_MAGICS

MAX_CAPLEN = 262144        # libpcap's MAXIMUM_SNAPLEN; larger records are corrupt
RESYNC_WINDOW = 1 << 20    # how far to look for the next good record after damage
CHUNK = 16 << 20      # bytes per window (decode batch); grows to this from FIRST_CHUNK
FIRST_CHUNK = 64 << 10


class PcapHeader:
    def __init__(self, head: bytes):
        self.endian, self.nano = PCAP_MAGICS[head[:4]]
        if len(head) < 24:
            raise ValueError("pcap file header is cut off")
        _vmaj, _vmin, _tz, _sig, self.snaplen, linktype = struct.unpack(self.endian + "HHiIII", head[4:24])
        # The upper 16 bits may carry FCS information (pcap-linktype(7)).
        self.linktype = linktype & 0xFFFF
        self.max_caplen = max(MAX_CAPLEN, min(self.snaplen, 1 << 24))


class PcapWalker:
    """Record steps and guesses over one window (see ``chains``)."""

    GUESS_SPAN = 1600  # bytes searched after each segment bound: an Ethernet frame and its header

    def __init__(self, data: np.ndarray, end: int, hdr: PcapHeader, frac_limit: int):
        self.data, self.end, self.hdr, self.frac_limit = data, end, hdr, frac_limit
        n = len(data)
        self.words = _unaligned(data, hdr.endian + "u4")
        self.headers = _unaligned(data, "V16")   # a record header's four words in one read
        self.caplen_at = struct.Struct(hdr.endian + "I").unpack_from
        self.mv = memoryview(data)
        self.hi_at = 2 if hdr.endian == "<" else 0   # where the upper 16 bits of the seconds are
        self.caplens = self.words[8:]          # element i: the captured length of a record at i
        self.n = n

    def step(self, pos: np.ndarray):
        nxt = self.advance(pos)
        return nxt, self.valid(pos, nxt)

    def advance(self, pos: np.ndarray) -> np.ndarray:
        """The next record's start after each of ``pos`` (garbage where ``valid`` says no)."""
        if self.n < 16:
            return pos + 16     # past any end: not valid
        # (a clamped read: pos + 16 > end, so nxt > end)
        return pos + (self.caplens[np.minimum(pos, len(self.caplens) - 1)] + 16)   # int64 + uint32: int64

    def valid(self, pos: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Whether the records at ``pos`` (followed by ``nxt``) are whole and plausible."""
        # nxt <= end also says the header is whole (cap >= 0)
        return (nxt - pos <= self.hdr.max_caplen + 16) & (nxt <= self.end)

    def step1(self, pos: int) -> int:
        if pos + 16 > self.end:
            return -1
        cap = self.caplen_at(self.mv, pos + 8)[0]
        nxt = pos + 16 + cap
        return -1 if cap > self.hdr.max_caplen or nxt > self.end else nxt

    def guess(self, bounds: np.ndarray, anchor: int, segment: int) -> np.ndarray:
        """Per bound, the first offset after it that looks like a record followed by
        another: sane lengths and fraction, and seconds within 18 hours of the anchor's."""
        out = np.full(len(bounds), -1, dtype=np.int64)
        span = self.GUESS_SPAN
        if anchor + 16 > self.end or not len(bounds) or bounds[-1] + span + 32 > self.end:
            return out
        hi = int(self.words[anchor]) >> 16
        # candidates: the top byte of the seconds matches (a byte compare is cheap)
        top_at = self.hi_at + (1 if self.hi_at == 2 else 0)
        grid = np.lib.stride_tricks.as_strided(self.data[bounds[0] + top_at:], shape=(len(bounds), span),
                                               strides=(segment, 1))
        rows, cols = np.divmod(np.flatnonzero(grid == hi >> 8), span)
        self._keep_first(out, rows, bounds[rows] + cols, hi)
        return out

    def _keep_first(self, out: np.ndarray, rows: np.ndarray, q: np.ndarray, hi: int) -> None:
        """For each row, the first candidate ``q`` (in order) that is a plausible record
        followed by another (or by the end of the window)."""
        ok = self._plausible(q, hi)
        rows, q = rows[ok], q[ok]
        nxt = q + 16 + self.words[q + 8].astype(np.int64)
        inside = nxt + 16 <= self.end
        ok = ~inside | self._plausible(np.where(inside, nxt, q), hi)
        rows, q = rows[ok], q[ok]
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else rows
        out[rows[first]] = q[first]

    def _plausible(self, q: np.ndarray, hi: int) -> np.ndarray:
        sec, frac, cap, wire = _headers(self, q).T
        sec_hi = sec >> 16
        return (((sec_hi == hi) | (sec_hi == (hi + 1) & 0xFFFF)) & (frac < self.frac_limit)
                & (cap <= self.hdr.max_caplen) & (wire >= cap) & (wire <= 1 << 24))


class WalkEnd:
    """Where a ranged walk ended: the offset of the first record at or past ``stop``."""

    def __init__(self):
        self.offset: int | None = None
        self.frames = 0
        self.section = None   # pcapng: the section state there


@frame_walk
def iter_pcap(stream: BinaryIO, name: str,
              progress: Callable[[], None] | None = None, chunk: int | None = None, *, skipped: list[Skipped],
              start: int = 24, stop: int | None = None, first_frame: int = 1,
              ended: WalkEnd | None = None) -> Iterator[FrameBatch]:
    """Batches of records from file offset ``start`` (a record boundary) on; with ``stop``,
    only the records that start before it (``ended`` then says where the next one is)."""
    from .windows import Windows, next_window

    largest = chunk or CHUNK
    size = min(FIRST_CHUNK, largest)  # grows: small files stay cheap, big ones get big windows
    hdr = PcapHeader(stream.read(24))
    windows = Windows(stream, base=24)
    if start != 24 and not windows.mapped:
        raise ValueError("a range of a capture can only be read from a plain file")
    frac_limit = 1_000_000_000 if hdr.nano else 1_000_000
    frame = first_frame
    file_offset = start          # file offset of data[0], for messages
    eof = False
    beyond = 1 << 20   # a ranged walk reads this far past its stop (more for a longer record)
    while not eof:
        want = size if stop is None else max(16, min(size, stop - file_offset + beyond))
        data, eof = windows.view(file_offset, want)
        end, off = len(data), 0
        walker = PcapWalker(data, end, hdr, frac_limit)
        parts: list[np.ndarray] = []
        heads: list[np.ndarray] = []    # the records' headers, read once
        while True:
            offs, off = chains.walk(walker, off, end)
            # Timestamps are checked for all records at once; a fraction out of range
            # means the walk went through garbage: cut there and treat it as damage.
            bad, head = _first_bad_fraction(walker, offs, frac_limit)
            if bad is not None:
                off = int(offs[bad])
                offs = offs[:bad]
            parts.append(offs)
            heads.append(head)
            if stop is not None and file_offset + off >= stop:
                break  # the rest belongs to the next range, damage included
            if off + 16 > end or (bad is None and walker.caplen_at(data, off + 8)[0] <= hdr.max_caplen):
                break  # the rest of the window is a record cut by the window: read more
            good, searched = _resync(data, off, end, hdr, frac_limit, eof)
            if good is None and not searched:
                break  # need more data to decide
            lost = (good if good is not None else min(end, off + RESYNC_WINDOW)) - off
            what = "skipped" if good is not None else "no good record within; skipped"
            skipped.append(Skipped(name, f"offset {file_offset + off}",
                                   f"corrupt record header (caplen {walker.caplen_at(data, off + 8)[0]}); "
                                   f"{what} {lost} bytes"))
            off += lost
        offsets = np.concatenate(parts) if len(parts) > 1 else parts[0]
        done = False
        if stop is not None:
            past = int(np.searchsorted(offsets, stop - file_offset))
            if past < len(offsets) or file_offset + off >= stop:
                # the records from here on belong to the next range
                off = int(offsets[past]) if past < len(offsets) else off
                offsets = offsets[:past]
                done = True
        if eof and off < end and not done:
            if end - off >= 16:
                cap = walker.caplen_at(data, off + 8)[0]
                skipped.append(Skipped(name, f"offset {file_offset + off}",
                                       f"last record truncated: {end - off - 16} of {cap} bytes present; "
                                       "kept what is there"))
                offsets = np.append(offsets, off)
            else:
                skipped.append(Skipped(name, f"offset {file_offset + off}",
                                       f"{end - off} trailing bytes, too short for a record header; ignored"))
            off = end
        if len(offsets):
            batch = _batch(walker, offsets, hdr, frame, np.concatenate(heads))
            frame += len(offsets)
            yield batch
        size, beyond = next_window(size, beyond, largest, stuck=off == 0 and not eof)
        file_offset += off
        if progress:
            progress()
        if done:
            break
    if ended is not None:
        ended.frames = frame - first_frame
        ended.offset = file_offset


def _headers(walker: PcapWalker, offsets: np.ndarray) -> np.ndarray:
    """The record headers at ``offsets`` (whole ones) as rows of (seconds, fraction,
    captured length, wire length)."""
    return walker.headers[offsets].view(walker.hdr.endian + "u4").reshape(len(offsets), 4)


def _first_bad_fraction(walker: PcapWalker, offsets: np.ndarray, frac_limit: int):
    """(index of the first record whose timestamp fraction is out of range or None, the
    headers (``_headers``) of the records before it)."""
    head = _headers(walker, offsets)
    bad = np.flatnonzero(head[:, 1] >= frac_limit)
    return (int(bad[0]), head[:bad[0]]) if len(bad) else (None, head)


def _batch(walker: PcapWalker, offs: np.ndarray, hdr: PcapHeader, first_frame: int, head) -> FrameBatch:
    if len(head) != len(offs):      # a truncated last record added, or records cut at a range's end
        head = _headers(walker, offs)
    sec, frac, caplen, wirelen = (head[:, k].astype(np.int64) for k in range(4))
    start = offs + 16
    caplen = np.minimum(caplen, walker.end - start)  # a truncated last record
    time_ns = sec * 1_000_000_000 + (frac if hdr.nano else frac * 1000)
    return FrameBatch(buf=walker.data, start=start, caplen=caplen, wirelen=wirelen, time_ns=time_ns,
                      linktype=np.full(len(offs), hdr.linktype, dtype=np.int64),
                      frame=np.arange(first_frame, first_frame + len(offs), dtype=np.int64))


def _resync(data: np.ndarray, off: int, end: int, hdr: PcapHeader, frac_limit: int, eof: bool):
    """Find the next record that looks right and is followed by another one (or by the
    end of the file).  Returns (offset or None, whether the whole window was searched).
    Candidates are found with NumPy, so a megabyte of garbage costs milliseconds."""
    stop = min(end, off + RESYNC_WINDOW + 16)
    searched = eof or stop == off + RESYNC_WINDOW + 16
    buf = np.frombuffer(data, dtype=np.uint8, count=stop - off, offset=off).astype(np.uint32)
    if len(buf) < 17:
        return None, searched
    big = hdr.endian == ">"

    def word(k):
        b = [buf[k + i: len(buf) - 16 + k + i + 1] for i in range(4)]
        if big:
            return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
        return (b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]

    frac, cap, wire = word(4), word(8), word(12)
    ok = (cap <= hdr.max_caplen) & (frac < frac_limit) & (wire >= cap) & (wire <= 1 << 24)
    ok[0] = False
    for rel in np.flatnonzero(ok):
        pos = off + int(rel)
        nxt = pos + 16 + int(cap[rel])
        if nxt == end and eof:
            return pos, True
        rel2 = nxt - off
        if rel2 < len(ok):
            if ok[rel2]:
                return pos, True
        elif nxt + 16 <= end:
            c2 = struct.unpack_from(hdr.endian + "IIII", data, nxt)
            if c2[2] <= hdr.max_caplen and c2[1] < frac_limit and c2[3] >= c2[2]:
                return pos, True
    return None, searched
