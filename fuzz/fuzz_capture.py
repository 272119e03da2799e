#!/usr/bin/env python3
"""Coverage-guided fuzzing of the capture readers and the header decoder (atheris).

The first input byte picks the target:

* 0 -- ``read_capture`` (own pcap walk) on the rest, written to a file: pcap, pcapng,
  NetScreen snoop text, gzip/bzip2/xz of those, or anything else;
* 1 -- the same with ``engine="scapy"``;
* 2 -- ``decode_batch`` on frames: byte 1 picks the link type (every supported one and
  an unsupported one), then frames follow as a 2-byte big-endian length and the bytes.

Only ``BadspiError`` may escape; rows must name frames that exist, and ``counts.frames``
must cover them.  Seeds are the fixture captures (plus compressed copies) and their
frames under every link header.

    python fuzz/fuzz_capture.py -max_total_time=600 -timeout=10      # the long run
    python fuzz/fuzz_capture.py -runs=2000                           # a quick one
    python fuzz/fuzz_capture.py CORPUS_DIR -max_total_time=3600      # keep the corpus
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import sys

import atheris

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import FIXTURES, fuzz, scratch_file  # noqa: E402

with atheris.instrument_imports(include=["badspi_pcap", "scapy.utils"]):
    import numpy as np
    from scapy.utils import RawPcapReader

    from badspi_pcap.capture import read_capture
    from badspi_pcap.capture.frames import FrameBatch
    from badspi_pcap.capture.decode import decode_batch
    from badspi_pcap.capture.linklayer import SUPPORTED
    from badspi_pcap.errors import BadspiError

LINKTYPES = sorted(SUPPORTED) + [105]
SCRATCH = scratch_file(".cap")
SEED_MAX = 32 << 10


def check_capture(data: bytes, engine: str) -> None:
    SCRATCH.write_bytes(data)
    try:
        result = read_capture(SCRATCH, engine=engine)
    except BadspiError:
        return
    frames = result.packets["frame"]
    assert len(result.packets) <= result.counts.frames
    if len(frames):
        assert frames.min() >= 1 and frames.max() <= result.counts.frames, (frames.max(), result.counts.frames)
        assert frames.is_monotonic_increasing


def check_frames(data: bytes) -> None:
    if len(data) < 1:
        return
    linktype = LINKTYPES[data[0] % len(LINKTYPES)]
    frames, pos = [], 1
    while pos + 2 <= len(data):
        n = struct.unpack_from(">H", data, pos)[0]
        frames.append(data[pos + 2: pos + 2 + n])
        pos += 2 + n
    batch = FrameBatch.from_frames(frames, [len(f) for f in frames], list(range(len(frames))), linktype, 1)
    table, counts = decode_batch(batch, "fuzz")
    assert counts.frames == len(frames)
    rows = table.column("frame").to_numpy()
    assert len(rows) <= len(frames) and (len(rows) == 0 or (rows.min() >= 1 and rows.max() <= len(frames)))
    assert len(np.unique(rows)) == len(rows)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 3, data[1:]
    if mode == 2:
        check_frames(rest)
    else:
        check_capture(rest, "auto" if mode == 0 else "scapy")


def seeds() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    files = sorted(p for p in (FIXTURES / "pcaps").rglob("*")
                   if p.suffix in (".pcap", ".pcapng", ".cap", ".txt") and p.stat().st_size <= SEED_MAX
                   and not p.name.endswith((".xfrm_stat.after.txt", ".xfrm_stat.before.txt",
                                            ".xfrm_stat.restored.txt")) and ".sas-" not in p.name)
    for p in files:
        data = p.read_bytes()
        for mode in (0, 1):
            out[f"{mode}-{p.name}"] = bytes([mode]) + data
    small = (FIXTURES / "pcaps" / "corpus" / "zeek-icmp6-toobig.pcap").read_bytes()
    for name, pack in (("gz", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress)):
        out[f"0-toobig.{name}"] = b"\0" + pack(small)
    for p in files:
        if p.suffix not in (".pcap", ".cap") or p.stat().st_size > 8 << 10:
            continue
        try:
            reader = RawPcapReader(str(p))
            frames = [data for data, _meta in reader][:20]
            reader.close()
        except Exception:
            continue
        body = b"".join(struct.pack(">H", len(f)) + f for f in frames)
        out[f"2-{p.name}"] = b"\2\0" + body  # linktype index 0 is DLT_NULL; mutation moves it
        out[f"2-eth-{p.name}"] = b"\2" + bytes([LINKTYPES.index(1)]) + body
    return out


def main() -> None:
    fuzz("capture", test_one_input, seeds(), SCRATCH, warm_up=40)


if __name__ == "__main__":
    main()
