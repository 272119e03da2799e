#!/usr/bin/env python3
"""The broken-input corpus: real captures damaged the ways transfers, tools and attackers
damage them, each case with what the readers must still read and the warning they give.

Nothing binary is committed: every case is built from a fixture when the tests run, by
the functions below.  ``expected.tsv`` beside this file holds each case's result (frames
counted, rows kept, warnings, or the error), one line per case and engine; the test
compares and also checks the rule that matters most: the rows of every frame whose record
lies before the damage are exactly the rows of the intact file.

    python tests/broken/corpus.py            # list the cases and their results
    python tests/broken/corpus.py --update   # rewrite expected.tsv after a deliberate change

Families (k = a record number: first, second, middle, last):
  cut-boundary-k   file cut after record k (every k, in test_broken_corpus)
  cut-header-k     cut 8 bytes into the header of record k+1 (pcapng: of block k+1)
  cut-data-k       cut half-way into the data of record k+1
  flip-WHAT        one byte flipped: magic, version, snaplen, link type, a record's time,
                   its caplen, the IP version nibble, a byte of the SPI
  magic-*          wrong magic: zeros, HTML, byte-swapped (every length then lies)
  lying-*          caplen 0xFFFFFFF0 / 64 KiB / one past the file, wirelen 0xFFFFFFFF;
                   pcapng block length 4 GB, trailing length disagreeing, unknown interface;
                   snoop len=999999999, more hex than len=, no hex at all
  gzip-cut-*       the gzip'd capture cut at a third and two thirds; trailing garbage
"""
from __future__ import annotations

import gzip
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "fixtures" / "pcaps"
EXPECTED = HERE / "expected.tsv"
SOURCES = {
    "icmp-net-unreach.pcap": FIXTURES / "lab" / "icmp-net-unreach.pcap",
    "ipv6.pcap": FIXTURES / "lab" / "ipv6.pcap",
    "natt.pcap": FIXTURES / "lab" / "natt.pcap",
    "ikev2four-null.pcap": FIXTURES / "corpus" / "tcpdump-ikev2four.pcap",
    "icmp-net-unreach.pcapng": FIXTURES / "lab" / "icmp-net-unreach.pcapng",
    "snoop-tcp-vlan.txt": FIXTURES / "corpus" / "netscreen-askws-q21209-tcp-vlan.txt",
    "snoop-ike-vlan.txt": FIXTURES / "corpus" / "netscreen-movingpackets-ike-vlan.txt",
}
# The other lab captures: cut at every record boundary in the long run (BADSPI_FUZZ_SCALE > 1).
MORE_CUTS = {p.name: p for p in sorted((FIXTURES / "lab").glob("*.pcap")) if p.name not in SOURCES}


@dataclass(frozen=True)
class Case:
    name: str                  # source/family-detail
    source: str
    build: Callable[[bytes], bytes]
    intact: int                # records before the damage: their rows must not change
    engines: tuple[str, ...]

    @property
    def suffix(self) -> str:
        base = Path(self.source).suffix
        return base + ".gz" if "gzip" in self.name else base


def kind(source: str) -> str:
    return {".pcap": "pcap", ".pcapng": "pcapng", ".txt": "snoop"}[Path(source).suffix]


def record_spans(source: str, data: bytes) -> list[tuple[int, int]]:
    """(start, end) file offsets of each frame's record (pcapng: packet block; snoop: the
    lines of one record up to its blank line)."""
    spans = []
    if kind(source) == "pcap":
        off = 24
        while off + 16 <= len(data):
            end = off + 16 + struct.unpack_from("<I", data, off + 8)[0]
            spans.append((off, end))
            off = end
    elif kind(source) == "pcapng":
        off = 0
        while off + 8 <= len(data):
            btype, blen = struct.unpack_from("<II", data, off)
            if btype in (2, 3, 6):
                spans.append((off, off + blen))
            off += blen
    else:
        lines = data.splitlines(keepends=True)
        pos, start = 0, None
        for line in lines:
            if b"(i) len=" in line or b"(o) len=" in line:
                start = pos
            pos += len(line)
            if start is not None and not line.strip():
                spans.append((start, pos))
                start = None
        if start is not None:
            spans.append((start, pos))
    return spans


def sample(n: int) -> list[int]:
    return sorted({0, n // 2, n - 1} & set(range(n)))


def _set(data: bytes, at: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def _flip(data: bytes, at: int, mask: int = 0xFF) -> bytes:
    out = bytearray(data)
    out[at] ^= mask
    return bytes(out)


FULL = {"icmp-net-unreach.pcap", "natt.pcap"}  # every family; the other pcaps: cuts and lengths


def _pcap_cases(source: str, data: bytes, spans) -> list[Case]:
    n, both = len(spans), ("auto", "scapy")
    cases = []
    for k in sample(n):
        start, end = spans[k]
        cases.append(Case(f"{source}/cut-header-{k}", source, lambda d, s=start: d[:s + 8], k, both))
        cases.append(Case(f"{source}/cut-data-{k}", source, lambda d, s=start, e=end: d[:(s + 16 + e) // 2], k, both))
    mid_start, mid_end = spans[n // 2]
    last_start, _ = spans[-1]
    flips = {
        "magic": (0, 0), "version": (4, 0), "snaplen": (18, 0), "linktype": (20, 0),
        f"time-{n // 2}": (mid_start + 1, n // 2), f"caplen-{n // 2}": (mid_start + 11, n // 2),
        f"caplen-low-{n // 2}": (mid_start + 8, n // 2),
        f"ip-version-{n // 2}": (mid_start + 16 + (14 if source != "ikev2four-null.pcap" else 4), n // 2),
        f"spi-{n // 2}": (mid_start + 16 + 14 + 20 + 2, n // 2),
    }
    if source not in FULL:
        flips = {k: v for k, v in flips.items() if k.startswith(("linktype", "ip-version"))}
    for what, (at, intact) in flips.items():
        cases.append(Case(f"{source}/flip-{what}", source, lambda d, a=at: _flip(d, a),
                          intact if at >= 24 else 0, both))
    more = [
        Case(f"{source}/magic-zeros", source, lambda d: b"\0\0\0\0" + d[4:], 0, both),
        Case(f"{source}/magic-html", source, lambda d: b"<html><body>" + d[12:], 0, both),
        Case(f"{source}/magic-swapped", source, lambda d: d[:4][::-1] + d[4:], 0, both),
        Case(f"{source}/lying-caplen-4g-{n // 2}", source,
             lambda d, s=mid_start: _set(d, s + 8, "<I", 0xFFFFFFF0), n // 2, both),
        Case(f"{source}/lying-caplen-64k-{n // 2}", source,
             lambda d, s=mid_start: _set(d, s + 8, "<I", 65535), n // 2, both),
        Case(f"{source}/lying-caplen-last", source,
             lambda d, s=last_start: _set(d, s + 8, "<I", len(d) - s - 16 + 1), n - 1, both),
        Case(f"{source}/lying-wirelen-{n // 2}", source,
             lambda d, s=mid_start: _set(d, s + 12, "<I", 0xFFFFFFFF), n // 2, both),
        Case(f"{source}/garbage-after", source, lambda d: d + bytes(range(7, 250, 3)), n, both),
        Case(f"{source}/gzip-cut-third", source, lambda d: gzip.compress(d, mtime=0)[: len(d) // 3], 0, both),
        Case(f"{source}/gzip-cut-two-thirds", source,
             lambda d: gzip.compress(d, mtime=0)[: len(gzip.compress(d, mtime=0)) * 2 // 3], 0, both),
        Case(f"{source}/gzip-trailing-zeros", source, lambda d: gzip.compress(d, mtime=0) + bytes(512), n, both),
    ]
    if source not in FULL:
        more = [c for c in more if "/lying-" in c.name]
    return cases + more


def _pcapng_cases(source: str, data: bytes, spans) -> list[Case]:
    n, both = len(spans), ("auto", "scapy")  # auto: the own block walk; scapy: the reference
    cases = []
    for k in sample(n):
        start, end = spans[k]
        cases.append(Case(f"{source}/cut-header-{k}", source, lambda d, s=start: d[:s + 6], k, both))
        cases.append(Case(f"{source}/cut-data-{k}", source, lambda d, s=start, e=end: d[:(s + e) // 2], k, both))
    mid_start, mid_end = spans[n // 2]
    cases += [
        Case(f"{source}/flip-magic", source, lambda d: _flip(d, 0), 0, both),
        Case(f"{source}/flip-byte-order", source, lambda d: _flip(d, 8), 0, both),
        Case(f"{source}/flip-linktype", source, lambda d: _flip(d, 28 + 8), 0, both),
        Case(f"{source}/flip-caplen-{n // 2}", source, lambda d, s=mid_start: _flip(d, s + 23), n // 2, both),
        Case(f"{source}/flip-ip-version-{n // 2}", source, lambda d, s=mid_start: _flip(d, s + 28 + 14), n // 2, both),
        Case(f"{source}/magic-zeros", source, lambda d: b"\0\0\0\0" + d[4:], 0, both),
        Case(f"{source}/lying-block-length-4g-{n // 2}", source,
             lambda d, s=mid_start: _set(d, s + 4, "<I", 0xFFFFFFF0), n // 2, both),
        Case(f"{source}/lying-block-length-short-{n // 2}", source,
             lambda d, s=mid_start: _set(d, s + 4, "<I", 8), n // 2, both),
        Case(f"{source}/lying-trailing-length-{n // 2}", source,
             lambda d, s=mid_start, e=mid_end: _set(d, e - 4, "<I", 0x1234), n // 2, both),
        Case(f"{source}/lying-interface-{n // 2}", source,
             lambda d, s=mid_start: _set(d, s + 8, "<I", 7), n // 2, both),
        Case(f"{source}/lying-caplen-4g-{n // 2}", source,
             lambda d, s=mid_start: _set(d, s + 20, "<I", 0xFFFFFFF0), n // 2, both),
        Case(f"{source}/garbage-after", source, lambda d: d + bytes(range(7, 250, 3)), n, both),
        Case(f"{source}/gzip-cut-two-thirds", source,
             lambda d: gzip.compress(d, mtime=0)[: len(gzip.compress(d, mtime=0)) * 2 // 3], 0, both),
        # A second section after the first: in the other byte order, then with a broken header.
        Case(f"{source}/second-section-big-endian", source, lambda d: d + big_endian_pcapng(d), n, both),
        Case(f"{source}/second-section-bad-magic", source, lambda d: d + _flip(d, 8), n, both),
        Case(f"{source}/epb-shorter-than-its-header-{n // 2}", source,
             lambda d, s=mid_start, e=mid_end: d[:s] + _epb_stub(d[s:e]) + d[e:], n // 2, both),
    ]
    return cases


def big_endian_pcapng(data: bytes) -> bytes:
    """A little-endian pcapng rewritten in big-endian byte order (block by block: header
    words, interface and packet fields, option codes and lengths; packet bytes unchanged)."""
    out, off = [], 0
    while off + 8 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        body = data[off + 8:off + blen - 4]
        if btype == 0x0A0D0D0A:
            major, minor, length = struct.unpack_from("<HHq", body, 4)
            new = struct.pack(">IHHq", 0x1A2B3C4D, major, minor, length) + _swap_options(body[16:])
        elif btype == 1:
            linktype, snaplen = struct.unpack_from("<HxxI", body)
            new = struct.pack(">HxxI", linktype, snaplen) + _swap_options(body[8:])
        elif btype == 6:
            fields = struct.unpack_from("<5I", body)
            cap = fields[3]
            padded = cap + (-cap % 4)
            new = struct.pack(">5I", *fields) + body[20:20 + padded] + _swap_options(body[20 + padded:])
        else:
            raise ValueError(f"block type {btype} not handled")
        out.append(struct.pack(">II", btype, blen) + new + struct.pack(">I", blen))
        off += blen
    return b"".join(out)


def _swap_options(raw: bytes) -> bytes:
    out, pos = [], 0
    while pos + 4 <= len(raw):
        code, length = struct.unpack_from("<HH", raw, pos)
        value = raw[pos + 4:pos + 4 + length + (-length % 4)]
        if code == 14 and length == 8:  # if_tsoffset: a number
            value = struct.pack(">q", struct.unpack("<q", value)[0])
        out.append(struct.pack(">HH", code, length) + value)
        pos += 4 + len(value)
        if code == 0:
            break
    return b"".join(out)


def _epb_stub(block: bytes) -> bytes:
    """An enhanced packet block of 24 bytes: type, length, interface, time, no lengths."""
    return struct.pack("<II", 6, 24) + block[8:20] + struct.pack("<I", 24)


def _snoop_cases(source: str, data: bytes, spans) -> list[Case]:
    n, auto = len(spans), ("auto",)
    text = data.decode("latin-1")
    header = next(line for line in text.splitlines() if "len=" in line)
    length = header.split("len=")[1].split(":")[0]
    cases = []
    for k in sample(n):
        start, end = spans[k]
        mid = data.index(b"\n", (start + end) // 2) + 1
        cases.append(Case(f"{source}/cut-data-{k}", source, lambda d, m=mid: d[:m], k, auto))
        cases.append(Case(f"{source}/cut-mid-line-{k}", source, lambda d, m=mid: d[:m + 30], k, auto))

    def edit(old: str, new: str):
        return lambda d: d.decode("latin-1").replace(old, new, 1).encode("latin-1")

    cases += [
        Case(f"{source}/lying-len-999999999", source, edit(f"len={length}:", "len=999999999:"), 0, auto),
        Case(f"{source}/lying-len-10", source, edit(f"len={length}:", "len=10:"), 0, auto),
        Case(f"{source}/broken-header", source, edit(header, header.replace("ethernet", "ETHERNET")), 0, auto),
        Case(f"{source}/no-hex", source, edit(header, header + "\n"), 0, auto),
        Case(f"{source}/garbage-hex", source, lambda d: d.replace(b" 00 ", b" zz ", 1), 0, auto),
        Case(f"{source}/nul-bytes", source, lambda d: d.replace(b"\n", b"\n\0", 3), 0, auto),
        Case(f"{source}/gzip-cut-two-thirds", source,
             lambda d: gzip.compress(d, mtime=0)[: len(gzip.compress(d, mtime=0)) * 2 // 3], 0, auto),
    ]
    return cases


def cases() -> list[Case]:
    out = []
    for source, path in SOURCES.items():
        data = path.read_bytes()
        spans = record_spans(source, data)
        out += {"pcap": _pcap_cases, "pcapng": _pcapng_cases, "snoop": _snoop_cases}[kind(source)](source, data, spans)
    return out


def run(case: Case, engine: str, workdir: Path):
    """Read the case: (CaptureContents, None) or (None, the error message)."""
    from badspi_pcap.capture import read_capture
    from badspi_pcap.errors import BadspiError

    path = workdir / ("broken" + case.suffix)
    path.write_bytes(case.build(SOURCES[case.source].read_bytes()))
    try:
        return read_capture(path, engine=engine), None
    except BadspiError as e:
        return None, str(e).replace(str(path), "FILE")


def describe(result, error) -> tuple[str, str]:
    """(result, warnings) columns of expected.tsv."""
    if error is not None:
        return f"error: {error}", ""
    return (f"frames={result.counts.frames} rows={len(result.packets)}",
            " | ".join(f"{s.where}: {s.reason}" for s in result.skipped))


def table(workdir: Path) -> list[str]:
    lines = ["case\tengine\tresult\twarnings"]
    for case in cases():
        for engine in case.engines:
            lines.append("\t".join((case.name, engine, *describe(*run(case, engine, workdir)))))
    return lines


def main(argv: list[str]) -> int:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        lines = table(Path(tmp))
    if "--update" in argv:
        EXPECTED.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {len(lines) - 1} cases to {EXPECTED}")
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
