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
from .batch import FrameBatch
from .source import PCAP_MAGICS

MAX_CAPLEN = 262144        # libpcap's MAXIMUM_SNAPLEN; larger records are corrupt
RESYNC_WINDOW = 1 << 20    # how far to look for the next good record after damage
CHUNK = 8 << 20
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


def iter_pcap(stream: BinaryIO, name: str, skipped: list[Skipped],
              progress: Callable[[], None] | None = None, chunk: int | None = None) -> Iterator[FrameBatch]:
    largest = chunk or CHUNK
    chunk = min(FIRST_CHUNK, largest)  # grows: small files stay cheap, big ones get big reads
    head = stream.read(24)
    hdr = PcapHeader(head)
    caplen_at = struct.Struct(hdr.endian + "I").unpack_from
    dtype = np.dtype(hdr.endian + "u4")
    frac_limit = 1_000_000_000 if hdr.nano else 1_000_000
    frame = 1
    file_offset = 24           # file offset of data[0], for messages
    data = b""
    eof = False
    while not eof:
        data, eof = _read_more(stream, data, chunk)
        chunk = min(chunk * 4, largest)
        end, off = len(data), 0
        offsets: list[int] = []
        while True:
            off = _walk(data, off, end, hdr.max_caplen, caplen_at, offsets)
            # Timestamps are checked for all records at once; a fraction out of range
            # means the walk went through garbage: cut there and treat it as damage.
            bad = _first_bad_fraction(data, offsets, dtype, frac_limit)
            if bad is not None:
                off = offsets[bad]
                del offsets[bad:]
            if off + 16 > end or (bad is None and caplen_at(data, off + 8)[0] <= hdr.max_caplen):
                break  # the rest of the chunk is a record cut by the read: read more
            good, searched = _resync(data, off, end, hdr, frac_limit, eof)
            if good is None and not searched:
                break  # need more data to decide
            lost = (good if good is not None else min(end, off + RESYNC_WINDOW)) - off
            what = "skipped" if good is not None else "no good record within; skipped"
            skipped.append(Skipped(name, f"offset {file_offset + off}",
                                   f"corrupt record header (caplen {caplen_at(data, off + 8)[0]}); {what} {lost} bytes"))
            off += lost
        if eof and off < end:
            if end - off >= 16:
                cap = caplen_at(data, off + 8)[0]
                skipped.append(Skipped(name, f"offset {file_offset + off}",
                                       f"last record truncated: {end - off - 16} of {cap} bytes present; kept what is there"))
                offsets.append(off)
            else:
                skipped.append(Skipped(name, f"offset {file_offset + off}",
                                       f"{end - off} trailing bytes, too short for a record header; ignored"))
            off = end
        if offsets:
            batch = _batch(data, np.asarray(offsets, dtype=np.int64), dtype, hdr, frame)
            frame += len(offsets)
            yield batch
        file_offset += off
        data = bytes(data[off:])
        if progress:
            progress()


def _walk(data, off: int, end: int, maxcap: int, caplen_at, offsets: list[int]) -> int:
    """Append the offsets of whole records from ``off`` on; stop at a record cut by the
    end of the data or at an impossible length.  The one per-record Python loop."""
    append = offsets.append
    while off + 16 <= end:
        cap = caplen_at(data, off + 8)[0]
        nxt = off + 16 + cap
        if cap > maxcap or nxt > end:
            return off
        append(off)
        off = nxt
    return off


def _read_more(stream: BinaryIO, carry: bytes, chunk: int):
    """``carry`` plus up to ``chunk`` more bytes, read straight into one new buffer."""
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        more = stream.read(chunk)
        return (carry + more if carry else more), not more
    buf = bytearray(len(carry) + chunk)
    buf[:len(carry)] = carry
    got = readinto(memoryview(buf)[len(carry):])
    del buf[len(carry) + got:]
    return buf, got == 0


def _first_bad_fraction(data, offsets: list[int], dtype, frac_limit: int) -> int | None:
    if not offsets:
        return None
    offs = np.asarray(offsets, dtype=np.int64)
    frac = np.frombuffer(data, dtype=np.uint8)[(offs + 4)[:, None] + np.arange(4)].copy().view(dtype).ravel()
    bad = np.flatnonzero(frac >= frac_limit)
    return int(bad[0]) if len(bad) else None


def _batch(data: bytes, offs: np.ndarray, dtype, hdr: PcapHeader, first_frame: int) -> FrameBatch:
    buf = np.frombuffer(data, dtype=np.uint8)
    words = _gather_words(buf, offs, dtype)
    sec, frac, caplen, wirelen = (words[:, i].astype(np.int64) for i in range(4))
    start = offs + 16
    caplen = np.minimum(caplen, len(data) - start)  # a truncated last record
    time_ns = sec * 1_000_000_000 + (frac if hdr.nano else frac * 1000)
    return FrameBatch(buf=buf, start=start, caplen=caplen, wirelen=wirelen, time_ns=time_ns,
                      linktype=np.full(len(offs), hdr.linktype, dtype=np.int64),
                      frame=np.arange(first_frame, first_frame + len(offs), dtype=np.int64))


def _gather_words(buf: np.ndarray, offs: np.ndarray, dtype) -> np.ndarray:
    """The four 32-bit words of each record header, as an (n, 4) array."""
    idx = offs[:, None] + np.arange(16)
    raw = np.ascontiguousarray(buf[idx])
    return raw.view(dtype).reshape(len(offs), 4)


def _resync(data: bytes, off: int, end: int, hdr: PcapHeader, frac_limit: int, eof: bool):
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
