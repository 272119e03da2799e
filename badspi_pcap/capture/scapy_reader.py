"""Scapy's raw readers: the path for pcapng, and the reference for our pcap walk.

Scapy reports damage through its logger and then stops; we turn those messages into
``Skipped`` records so the caller sees what was lost.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapNgReader, RawPcapReader

from ..errors import InputError, Skipped
from .batch import FrameBatch

BATCH_FRAMES = 50_000
SNAP = 1 << 18  # keep whole frames: Scapy's default read size is the MTU


@contextmanager
def _scapy_messages(name: str, skipped: list[Skipped]):
    class Collect(logging.Handler):
        def emit(self, record):
            skipped.append(Skipped(name, "reader", f"Scapy: {record.getMessage()}"))

    logger = logging.getLogger("scapy.runtime")
    handler = Collect(level=logging.WARNING)
    previous = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = previous


def iter_scapy(stream: BinaryIO, fmt: str, name: str, skipped: list[Skipped],
               progress: Callable[[], None] | None = None) -> Iterator[FrameBatch]:
    with _scapy_messages(name, skipped):
        try:
            reader = (RawPcapNgReader if fmt == "pcapng" else RawPcapReader)(stream)
        except Scapy_Exception as e:
            raise InputError(f"{name}: {e}") from None
        frames, wirelen, times, linktypes = [], [], [], []
        first = 1
        while True:
            try:
                data, meta = reader._read_packet(SNAP)
            except EOFError:
                break
            frames.append(data)
            wirelen.append(meta.wirelen if meta.wirelen is not None else len(data))
            if fmt == "pcapng":
                ticks = ((meta.tshigh or 0) << 32) | (meta.tslow or 0)
                times.append(ticks * 1_000_000_000 // meta.tsresol)
                linktypes.append(meta.linktype)
            else:
                times.append(meta.sec * 1_000_000_000 + meta.usec * (1 if reader.nano else 1000))
                linktypes.append(reader.linktype & 0xFFFF)  # upper bits: FCS info, pcap-linktype(7)
            if len(frames) >= BATCH_FRAMES:
                yield FrameBatch.from_frames(frames, wirelen, times, linktypes, first)
                first += len(frames)
                frames, wirelen, times, linktypes = [], [], [], []
                if progress:
                    progress()
        if frames:
            yield FrameBatch.from_frames(frames, wirelen, times, linktypes, first)
    if progress:
        progress()
