"""Scapy's raw readers: the path for pcapng, and the reference for our pcap walk.

Scapy reports damage through its logger and then stops; we turn those messages into
``Skipped`` records so the caller sees what was lost.  Scapy believes the lengths in the
file: its reads go through ``BoundedReads`` so a block claiming 4 GB fails as damage
instead of allocating 4 GB, and a reader that stops with data left says so.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import BinaryIO, Callable, Iterator

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapNgReader, RawPcapReader

from ..errors import InputError, Skipped
from .frames import FrameBatch, FrameCollector, frame_walk

BATCH_FRAMES = 50_000
SNAP = 1 << 18  # keep whole frames: Scapy's default read size is the MTU
MAX_READ = 16 << 20  # no sane pcapng block is larger (Wireshark's wiretap has the same limit)
MAX_NS = (1 << 63) - 1  # the latest time a timestamp[ns] holds (2262-04-11)


class BoundedReads:
    """The stream as Scapy sees it: one read of more than ``MAX_READ`` bytes (a lying
    block length) raises OSError, which Scapy reports as damage and stops at.  A read cut
    short by the end of the file is remembered (``cut``: offset, bytes got, bytes wanted)
    with the number of ``skipped`` records then, since Scapy passes over some in silence."""

    def __init__(self, stream: BinaryIO, skipped: list[Skipped]):
        self.stream = stream
        self.skipped = skipped
        self.cut: tuple[int, int, int, int] | None = None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > MAX_READ:
            raise OSError(f"a block or record claims {n} bytes, more than the {MAX_READ >> 20} MiB "
                          "a capture block can hold")
        where = self.stream.tell()
        data = self.stream.read(n)
        if 0 < len(data) < n:
            self.cut = (where, len(data), n, len(self.skipped))
        return data

    def __getattr__(self, name):
        return getattr(self.stream, name)


# (file name, skipped list) of the read running in this thread/context, if any
_READING: ContextVar[tuple[str, list[Skipped]] | None] = ContextVar("badspi_scapy_reading", default=None)
_INSTALL = threading.Lock()


def _collect(record: logging.LogRecord) -> bool:
    """A filter on Scapy's logger: during one of our reads, its warnings become that read's
    ``Skipped`` records and are not printed; otherwise the record goes on as Scapy meant."""
    reading = _READING.get()
    if reading is None:
        return True
    if record.levelno >= logging.WARNING:
        name, skipped = reading
        skipped.append(Skipped(name, "reader", f"Scapy: {record.getMessage()}"))
    return False


def _install_collector() -> None:
    """Put ``_collect`` first among the filters of ``scapy.runtime``, once per process.  It
    must come before Scapy's own filter, which drops a warning repeated from the same place
    within 5 s (the third damaged file read in a row would lose its warning).  Installed
    once, the logger is never rewired around a read, so reads in several threads each get
    their own messages."""
    logger = logging.getLogger("scapy.runtime")
    with _INSTALL:
        if _collect not in logger.filters:
            logger.filters.insert(0, _collect)


@contextmanager
def _scapy_messages(name: str, skipped: list[Skipped]):
    """Collect Scapy's warnings as ``Skipped`` while reading (in this thread/context)."""
    _install_collector()
    previous = _READING.get()
    _READING.set((name, skipped))
    try:
        yield
    finally:
        _READING.set(previous)


@frame_walk
def iter_scapy(stream: BinaryIO, fmt: str, name: str, progress: Callable[[], None] | None = None, *,
               skipped: list[Skipped]) -> Iterator[FrameBatch]:
    with _scapy_messages(name, skipped):
        try:
            reads = BoundedReads(stream, skipped)
            reader = (RawPcapNgReader if fmt == "pcapng" else RawPcapReader)(reads)
        except Scapy_Exception as e:
            said = "".join(f"; {s.reason}" for s in skipped if s.reason.split(":")[-1].strip())
            raise InputError(f"{name}: {e}{said}") from None
        collect = FrameCollector(BATCH_FRAMES)
        late = 0
        while True:
            try:
                data, meta = reader._read_packet(SNAP)
            except EOFError:
                break
            except Scapy_Exception as e:  # a damaged section header block after the first
                skipped.append(Skipped(name, "reader", f"Scapy: {e}"))
                break
            wirelen = meta.wirelen if meta.wirelen is not None else len(data)
            if fmt == "pcapng":
                ticks = ((meta.tshigh or 0) << 32) | (meta.tslow or 0)
                ns = ticks * 1_000_000_000 // meta.tsresol
                if ns > MAX_NS:
                    late += 1
                    ns = MAX_NS
                linktype = meta.linktype
            else:
                ns = meta.sec * 1_000_000_000 + meta.usec * (1 if reader.nano else 1000)
                linktype = reader.linktype & 0xFFFF  # upper bits: FCS info, pcap-linktype(7)
            if collect.add(data, wirelen, ns, linktype):
                yield from collect.drain()
                if progress:
                    progress()
        yield from collect.drain()
        if late:
            skipped.append(Skipped(name, "reader", f"{late} frames have a timestamp after 2262-04-11; "
                                                   "set to that date", late))
        if reads.cut is not None and reads.cut[3] == len(skipped):  # Scapy said nothing about it
            where, got, wanted, _ = reads.cut
            skipped.append(Skipped(name, f"offset {where}", f"the file ends inside a record or block "
                                                            f"({got} of {wanted} bytes); ignored"))
        _stopped_early(stream, collect.first - 1, name, skipped)
    if progress:
        progress()


def _stopped_early(stream: BinaryIO, frames: int, name: str, skipped: list[Skipped]) -> None:
    """Scapy stops at damage, sometimes without a word: say so when data is left."""
    try:
        where = stream.tell()
        left = stream.read(1)
    except (OSError, ValueError, EOFError):
        return
    if left:
        skipped.append(Skipped(name, f"offset {where}", f"reading stopped after frame {frames} at damaged data; "
                                                        "the rest of the file is not read"))
