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
from .batch import FrameBatch, FrameCollector
from .linklayer import ETHERNET, PPP

HEADER = re.compile(r"(\d{1,9})\.(\d{1,9}): ([a-z0-9/:.-]{1,15})\(([io])\) len=(\d{1,9}):([0-9a-fA-F]{12})->")
HEX_PAIR = re.compile(r"[0-9a-fA-F]{2}$")
BATCH_FRAMES = 50_000
MAX_FRAME = 65535


def iter_netscreen(stream: BinaryIO, name: str, skipped: list[Skipped],
                   progress: Callable[[], None] | None = None) -> Iterator[FrameBatch]:
    collect = FrameCollector(BATCH_FRAMES)
    current: dict | None = None

    def finish():
        nonlocal current
        if current is None:
            return
        data = bytes(current["hex"])
        if len(data) < 6:
            skipped.append(Skipped(name, f"line {current['line']}", "record without packet bytes; ignored"))
        else:
            if len(data) > current["len"]:
                skipped.append(Skipped(name, f"line {current['line']}",
                                       f"{len(data)} bytes dumped but len={current['len']}; extra bytes ignored"))
                data = data[: current["len"]]
            collect.add(data, current["len"], current["time"], _linktype(current["iface"], data, current["dst_mac"]))
        current = None

    cut: list[int] = []
    for number, raw in enumerate(bounded_lines(stream, cut), start=1):
        line = raw.decode("latin-1").rstrip("\r\n")
        if "(i) len=" in line or "(o) len=" in line:
            finish()
            m = HEADER.search(line)
            if not m:
                skipped.append(Skipped(name, f"line {number}", "unreadable snoop record header; record ignored"))
                continue
            sec, tenths, iface, _direction, length, _src, = m.groups()[:6]
            current = {"line": number, "iface": iface, "len": min(int(length), MAX_FRAME),
                       "time": int(sec) * 1_000_000_000 + int(tenths) * 100_000_000,
                       "dst_mac": line[m.end(): m.end() + 12], "hex": bytearray()}
            continue
        if current is None:
            continue
        if not line.strip():
            finish()
            continue
        current["hex"].extend(_hex_bytes(line))
        if len(collect.frames) >= BATCH_FRAMES:
            yield collect.take()
            if progress:
                progress()
    finish()
    for number in cut:
        skipped.append(Skipped(name, f"line {number}", f"line longer than {MAX_LINE} bytes; the rest is ignored"))
    batch = collect.take()
    if batch is not None:
        yield batch
    if progress:
        progress()


def _hex_bytes(line: str) -> bytes:
    """The leading ``hh hh ...`` pairs of a dump line; decoded info lines yield nothing."""
    out = bytearray()
    for token in line.strip().split(" ")[:16]:
        if not HEX_PAIR.match(token):
            break
        out.append(int(token, 16))
    return bytes(out)


def _linktype(iface: str, data: bytes, dst_mac: str) -> int:
    # wiretap: "seri*" is PPP; "adsl*" is Ethernet only when the frame starts with the
    # destination MAC from the header line; everything else is Ethernet.
    if iface.startswith("seri"):
        return PPP
    if iface.startswith("adsl"):
        return ETHERNET if data[:6].hex() == dst_mac.lower() else PPP
    return ETHERNET
