#!/usr/bin/env python3
"""Scale corners of `analyze` (issue 17, point 9): log lines that match only by SPI, and
captures with very many SPIs.  Both used to cost pandas overhead per line or per SPI.

Builds, in a temporary folder:

* ``spi-only``: a capture with 1000 ESP SAs (20 packets each) and a ScreenOS log of
  N bad-SPI lines on those SPIs whose sequence numbers the capture never shows, so every
  line is matched by SPI alone (the nearest reference of each role within 15 s);
* ``many-spis``: a capture with N ESP SAs of 2 packets each (and ICMP errors quoting
  every thousandth), analysed alone and with a log of 1000 bad-SPI lines.

Prints the wall time of `analyze()` (reading included) and of `match_events` alone.

Usage:  python bench/bench_scale.py [--lines 100000] [--spis 100000]
"""
from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

START = 1_710_410_400          # 2024-03-14 10:00:00 UTC
LOCAL, PEER, ROUTER = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 1]), bytes([203, 0, 113, 9])


def _ip(src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, src, dst)
    return header + payload


def _frame(ip: bytes) -> bytes:
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip


def esp(src, dst, spi, seq) -> bytes:
    return _frame(_ip(src, dst, 50, struct.pack("!II", spi, seq) + b"\x00" * 48))


def icmp_quoting(spi, seq) -> bytes:
    inner = _ip(LOCAL, PEER, 50, struct.pack("!II", spi, seq))
    return _frame(_ip(ROUTER, LOCAL, 1, struct.pack("!BBHI", 3, 1, 0, 0) + inner))


def write_pcap(path: Path, frames) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for t, data in frames:
            sec, usec = int(t), int(round((t - int(t)) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)


def screenos_line(t: float, spi: int, seq: int) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(t)))
    head = time.strftime("%b %d %H:%M:%S", time.gmtime(int(t)))
    return (f"{head} gw gw: NetScreen device_id=gw  [Root]system-alert-00026: IPSec tunnel on interface "
            f"ethernet0/2 with tunnel ID 0x9a received a packet with a bad SPI. {PEER_TXT}->{LOCAL_TXT}/96, ESP, "
            f"SPI 0x{spi:08x}, SEQ 0x{seq:x}. ({stamp})")


PEER_TXT, LOCAL_TXT = "198.51.100.1", "192.0.2.1"


def spi_only_case(folder: Path, lines: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    spis = 0x10000000 + np.arange(1000)
    span = 3600.0
    when = START + (np.arange(20)[:, None] * span / 20 + np.arange(1000)[None, :] * span / 20 / 1000)  # [k, i]
    frames = sorted((float(when[k, i]), esp(PEER, LOCAL, int(spis[i]), k + 1)) for k in range(20) for i in range(1000))
    capture = folder / "spi-only.pcap"
    write_pcap(capture, frames)
    k, i = rng.integers(0, 20, lines), rng.integers(0, 1000, lines)
    times, chosen = when[k, i] + rng.uniform(0, 10, lines), spis[i]     # each line 0-10 s after a packet
    order = np.argsort(times)
    times, chosen = times[order], chosen[order]
    log = folder / "spi-only.log"
    log.write_text("\n".join(screenos_line(t, int(s), 0xfffff0) for t, s in zip(times, chosen)) + "\n")
    return capture, log


def many_spis_case(folder: Path, spis: int) -> tuple[Path, Path]:
    frames = []
    span = 3600.0
    for i in range(spis):
        spi = 0x20000000 + i
        t = START + i * span / spis
        frames.append((t, esp(LOCAL, PEER, spi, 1)))
        frames.append((t + 0.001, esp(LOCAL, PEER, spi, 2)))
        if i % 1000 == 0:
            frames.append((t + 0.002, icmp_quoting(spi, 2)))
    capture = folder / "many-spis.pcap"
    write_pcap(capture, frames)
    log = folder / "many-spis.log"
    picks = range(0, spis, max(1, spis // 1000))
    log.write_text("\n".join(screenos_line(START + i * span / spis, 0x20000000 + i, 2) for i in picks) + "\n")
    return capture, log


def timed(what: str, fn):
    started = time.perf_counter()
    out = fn()
    print(f"{what:58s} {time.perf_counter() - started:7.2f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--spis", type=int, default=100_000)
    args = parser.parse_args()
    from badspi_pcap import analyze
    from badspi_pcap.correlation import capture_spans, match_events
    from badspi_pcap.diagnosis import classify_lines
    from badspi_pcap.logs import parse_logs

    def spans(a):
        return capture_spans({r.capture: (r.first_time, r.last_time) for r in a.captures})

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        capture, log = spi_only_case(folder, args.lines)
        a = timed(f"analyze: {args.lines} SPI-only lines, 1000 SAs", lambda: analyze(capture, [log], clock_offset=0))
        assert (a.matches["key"] == "spi").sum() >= args.lines, a.matches["key"].value_counts()
        timed("  match_events alone", lambda: match_events(a.events, a.packets, set(a.local_addresses), 1.0))
        timed("  parse_logs alone", lambda: parse_logs([log]))
        timed("  classify_lines alone",
              lambda: classify_lines(a.events, a.matches, a.packets, spans(a), set(a.local_addresses)))
        capture, log = many_spis_case(folder, args.spis)
        timed(f"analyze: capture alone, {args.spis} SPIs", lambda: analyze(capture))
        b = timed(f"analyze: {args.spis} SPIs, 1000 lines", lambda: analyze(capture, [log], clock_offset=0))
        timed("  match_events alone", lambda: match_events(b.events, b.packets, set(b.local_addresses), 1.0))


if __name__ == "__main__":
    main()
