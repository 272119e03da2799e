"""ScreenOS ``snoop`` text dumps, read as Wireshark's wiretap/netscreen.c reads them.

A record starts at a line holding ``(i) len=`` or ``(o) len=``:
``<secs>.<tenths>: <iface>(<i|o>) len=<n>:<src mac>-><dst mac>/<ethertype>...``.
Up to 8 indented decoded lines follow, then hex lines of up to 16 ``hh`` pairs (the
ASCII column after them is ignored).  Times count from the device's boot, so, like
Wireshark, we place them at the Unix epoch plus the uptime.
"""
from __future__ import annotations

import re
from typing import BinaryIO, Callable, Iterator

from ..compressed import MAX_LINE, bounded_lines
from ..errors import Skipped
from .frames import FrameBatch, FrameCollector, frame_walk
from .linklayer import ETHERNET, PPP

HEADER = re.compile(r"(\d{1,9})\.(\d{1,9}): ([a-z0-9/:.-]{1,15})\(([io])\) len=(\d{1,9}):([0-9a-fA-F]{12})->")
HEX_PAIR = re.compile(r"[0-9a-fA-F]{2}$")
BATCH_FRAMES = 50_000
MAX_FRAME = 65535


@frame_walk
def iter_netscreen(stream: BinaryIO, name: str, progress: Callable[[], None] | None = None, *,
                   skipped: list[Skipped]) -> Iterator[FrameBatch]:
    collect = FrameCollector(BATCH_FRAMES)
    current: dict | None = None

    def finish(at_end: bool = False):
        nonlocal current
        if current is None:
            return
        data = bytes(current["hex"])
        if len(data) < 6:
            skipped.append(Skipped(name, f"line {current['line']}", "record without packet bytes; ignored"))
        else:
            if at_end and len(data) < current["len"] and current["short"] != -1:
                skipped.append(Skipped(name, f"line {current['line']}",
                                       f"last record truncated: {len(data)} of {current['len']} bytes present; "
                                       "kept what is there"))
            if len(data) > current["len"]:
                skipped.append(Skipped(name, f"line {current['line']}",
                                       f"{len(data)} bytes dumped but len={current['len']}; extra bytes ignored"))
                data = data[: current["len"]]
            collect.add(data, current["len"], current["time"], _linktype(current["iface"], data, current["dst_mac"]))
        current = None

    cut: list[int] = []
    for number, raw in enumerate(bounded_lines(stream, cut), start=1):
        line = raw.decode("latin-1").rstrip("\r\n").replace("\x00", "")
        if "(i) len=" in line or "(o) len=" in line:
            finish()
            m = HEADER.search(line)
            if not m:
                skipped.append(Skipped(name, f"line {number}", "unreadable snoop record header; record ignored"))
                continue
            sec, tenths, iface, _direction, length, _src, = m.groups()[:6]
            if int(length) > MAX_FRAME:
                skipped.append(Skipped(name, f"line {number}", f"len={length} is more than any frame; "
                                                               f"taken as {MAX_FRAME}"))
            current = {"line": number, "iface": iface, "len": min(int(length), MAX_FRAME),
                       "time": int(sec) * 1_000_000_000 + int(tenths) * 100_000_000,
                       "dst_mac": line[m.end(): m.end() + 12], "hex": bytearray(), "short": None}
            continue
        if current is None:
            continue
        if not line.strip():
            finish()
            continue
        _add_hex(current, line, number, name, skipped)
        if len(collect.frames) >= BATCH_FRAMES:
            yield from collect.drain()
            if progress:
                progress()
    finish(at_end=True)
    for number in cut:
        skipped.append(Skipped(name, f"line {number}", f"line longer than {MAX_LINE} bytes; the rest is ignored"))
    yield from collect.drain()
    if progress:
        progress()


def _add_hex(record: dict, line: str, number: int, name: str, skipped: list[Skipped]) -> None:
    """Add a dump line's bytes to the record.  Every dump line holds 16 bytes but the last,
    so bytes after a shorter line, or after a line that is not clean hex, would land at
    the wrong offsets: the frame ends there instead, and the damage is reported."""
    if record["short"] == -1:
        return  # damaged: the rest of the record is ignored
    data, clean = _hex_bytes(line)
    if not data and clean and not record["hex"]:
        return  # a decoded info line before the dump
    damaged_at = None
    if not clean:
        damaged_at = number
    elif record["short"] is not None or (record["hex"] and not data):
        damaged_at = record["short"] or number
    if damaged_at is not None:
        skipped.append(Skipped(name, f"line {damaged_at}", f"damaged hex dump in the record of line {record['line']}; "
                                                           "the frame ends there"))
        record["short"] = -1
        return
    record["hex"].extend(data)
    if len(data) < 16:
        record["short"] = number


def _hex_bytes(line: str) -> tuple[bytes, bool]:
    """The ``hh hh ...`` pairs of a dump line (up to the double space before its ASCII
    column), and whether the line was clean: a line mixing pairs and other tokens there
    is a damaged dump line; one with no pair at all is a decoded info line."""
    tokens = line.strip().split(" ")[:16]
    if "" in tokens:
        tokens = tokens[: tokens.index("")]
    pairs = [t for t in tokens if HEX_PAIR.match(t)]
    if len(pairs) != len(tokens):
        return b"", not pairs
    return bytes(int(t, 16) for t in pairs), True


def _linktype(iface: str, data: bytes, dst_mac: str) -> int:
    # wiretap: "seri*" is PPP; "adsl*" is Ethernet only when the frame starts with the
    # destination MAC from the header line; everything else is Ethernet.
    if iface.startswith("seri"):
        return PPP
    if iface.startswith("adsl"):
        return ETHERNET if data[:6].hex() == dst_mac.lower() else PPP
    return ETHERNET
