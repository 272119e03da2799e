"""Property-based fuzzing (hypothesis) of the capture decoder and readers and the SA/log
readers: any bytes in, only the project's own errors out, every frame counted, rows only
for frames that exist, and damage never changes what was read before it.

The coverage-guided runs (atheris) are in ``fuzz/``; ``test_fuzz_atheris.py`` runs them
briefly in CI.  These run everywhere and shrink a failure to a small example."""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import time
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badspi_pcap.capture import read_capture
from badspi_pcap.capture.batch import FrameBatch
from badspi_pcap.capture.decode import decode_batch
from badspi_pcap.errors import BadspiError, InputError
from badspi_pcap.logs import parse_logs
from badspi_pcap.sas import parse_sas
from capture_builders import LINK_HEADERS, ip_packet, real_frames
from conftest import FIXTURES, PCAPS

LAB = PCAPS / "lab"
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF]
SCALE = int(os.environ.get("BADSPI_FUZZ_SCALE", "1"))  # more examples for a longer run (fuzz/README.md)
SLOW = 5.0  # seconds: far beyond what any of these inputs needs; a loop on a length would blow it


def _pool() -> list[bytes]:
    """IP packets of every kind the decoder keeps (and some it does not), from real captures."""
    pool = []
    for name in ("icmp-net-unreach.pcap", "ipv6.pcap", "natt.pcap", "ikev2-rekey.pcap", "icmp-frag-needed.pcap"):
        frames = real_frames(LAB / name)
        rows = read_capture(LAB / name).packets
        for _, group in rows.groupby("kind"):
            for frame in group["frame"].head(3):
                pool.append(ip_packet(frames[frame - 1][1]))
        kept = set(rows["frame"])
        pool += [ip_packet(f) for i, (_, f) in enumerate(frames, 1) if i not in kept][:2]
    return pool


POOL = _pool()
ETHERNET = (1, lambda ip: b"\x02" * 6 + b"\x04" * 6 + (b"\x86\xdd" if ip[:1] and ip[0] >> 4 == 6 else b"\x08\x00") + ip)
LINKS = [ETHERNET] + list(LINK_HEADERS.values()) + [
    (228, lambda ip: ip), (229, lambda ip: ip), (12, lambda ip: ip), (14, lambda ip: ip),
    (50, LINK_HEADERS["ppp"][1]), (105, lambda ip: ip),  # 105 (802.11) is not decoded: only counted
]


def mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for kind, where, value in edits:
        at = where % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= 1 << (value % 8)
        elif kind == "word":
            out[at:at + 4] = struct.pack(">I", INTERESTING[value % len(INTERESTING)])
        elif kind == "byte":
            out[at:at + 1] = bytes([INTERESTING[value % len(INTERESTING)] & 0xFF])
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = bytes([value & 0xFF]) * (value % 7 + 1)
        elif kind == "delete":
            del out[at:at + value % 9 + 1]
    return bytes(out)


edit = st.tuples(st.sampled_from(["flip", "word", "byte", "cut", "insert", "delete"]),
                 st.integers(0, 1 << 16), st.integers(0, 255))


@st.composite
def frames(draw):
    linktype, build = draw(st.sampled_from(LINKS))
    if draw(st.integers(0, 9)) == 0:
        return linktype, draw(st.binary(max_size=120))
    ip = draw(st.sampled_from(POOL))
    return linktype, mutate(build(ip), draw(st.lists(edit, max_size=3)))


def decode(items, first: int = 1):
    data = [d for _, d in items]
    batch = FrameBatch.from_frames(data, [len(d) + 4 for d in data], [(first + i) * 1000 for i in range(len(data))],
                                   [lt for lt, _ in items], first)
    return decode_batch(batch, "fuzz")


def rows_of(table, keep) -> list[dict]:
    return [r for r in table.to_pylist() if keep(r["frame"])]


@settings(max_examples=150 * SCALE, **SETTINGS)
@given(items=st.lists(frames(), max_size=24), split=st.integers(0, 24))
def test_decoder_counts_every_frame_and_frames_do_not_read_each_other(items, split):
    start = time.monotonic()
    table, counts = decode(items)
    assert time.monotonic() - start < SLOW
    assert counts.frames == len(items)
    numbers = table.column("frame").to_pylist()
    assert numbers == sorted(set(numbers)) and all(1 <= n <= len(items) for n in numbers)
    assert counts.truncated == len(items)  # every wire length was 4 more than captured
    # A frame's row depends on its own bytes only: decoding the halves apart changes nothing.
    split = min(split, len(items))
    head, _ = decode(items[:split])
    tail, _ = decode(items[split:], first=split + 1)
    assert rows_of(head, lambda f: f <= split) == rows_of(table, lambda f: f <= split)
    assert rows_of(tail, lambda f: f > split) == rows_of(table, lambda f: f > split)


# --- IPv6 extension header chains, outside and inside ICMPv6 quotes ------------------------

EXT = {0: "hop-by-hop", 43: "routing", 44: "fragment", 60: "destination", 135: "mobility", 139: "hip", 140: "shim6"}


@st.composite
def ipv6_chain(draw):
    """An IPv6 packet with a chain of extension headers ending in ESP (or something else)."""
    chain = draw(st.lists(st.sampled_from(sorted(EXT)), max_size=11))
    last = draw(st.sampled_from([50, 51, 17, 6, 58, 59, 255]))
    spi, seq = draw(st.integers(0, 2 ** 32 - 1)), draw(st.integers(0, 2 ** 32 - 1))
    body = b""
    kinds = chain + [last]
    for here, nxt in zip(chain, kinds[1:]):
        if here == 44:
            offset = draw(st.sampled_from([0, 0, 1, 0x1FFF]))
            body += struct.pack("!BBHI", nxt, 0, offset << 3, 7)
        else:
            units = draw(st.integers(0, 3))
            body += struct.pack("!BB", nxt, units) + b"\0" * (6 + 8 * units)
    upper = struct.pack("!II", spi, seq) + b"\xaa" * 16 if last == 50 else (
        struct.pack("!BBHII", 50, 4, 0, spi, seq) + b"\xbb" * 12 if last == 51 else b"\xcc" * 24)
    payload = body + upper
    header = struct.pack("!IHBB", 0x60000000, len(payload), kinds[0], 64) + b"\x20\x01" + b"\0" * 13 + b"\x01" \
        + b"\x20\x01" + b"\0" * 13 + b"\x02"
    return header + payload, chain, last, spi, seq


def model(packet: bytes, limit: int = 8):
    """What a plain walk of the chain finds: (protocol or None, offset of the upper layer,
    later fragment), walking at most ``limit`` extension headers as the decoder does."""
    if len(packet) < 40:
        return None, None, False
    nh, pos, later = packet[6], 40, False
    for _ in range(limit):
        if nh not in EXT:
            break
        if pos + 2 > len(packet) and nh != 44 or pos + 1 > len(packet):
            return None, None, later
        if nh == 44:
            if pos + 4 <= len(packet):
                later |= (struct.unpack_from("!H", packet, pos + 2)[0] >> 3) != 0
            nh, pos = packet[pos], pos + 8
        else:
            nh, pos = packet[pos], pos + (packet[pos + 1] + 1) * 8
    return (None if nh in EXT else nh), pos, later


@settings(max_examples=200 * SCALE, **SETTINGS)
@given(built=ipv6_chain(), cut=st.integers(0, 400))
def test_ipv6_extension_chains_agree_with_a_plain_walk(built, cut):
    packet, chain, last, spi, seq = built
    packet = packet[:max(cut, 40)] if cut < len(packet) else packet
    table, _ = decode([(1, ETHERNET[1](packet))])
    rows = table.to_pylist()
    proto, pos, later = model(packet)
    esp_like = proto in (50, 51) and not later
    if not esp_like:
        assert not [r for r in rows if r["kind"] in ("esp", "ah")]
        return
    assert len(rows) == 1 and rows[0]["kind"] == ("esp" if proto == 50 else "ah")
    at = pos + (0 if proto == 50 else 4)
    if at + 8 <= len(packet):
        assert (rows[0]["spi"], rows[0]["seq"]) == (spi, seq)
    else:
        assert rows[0]["seq"] is None and rows[0]["note"] == "frame ends before the ESP/AH sequence number"


@settings(max_examples=200 * SCALE, **SETTINGS)
@given(built=ipv6_chain(), cut=st.integers(0, 400))
def test_icmpv6_quotes_of_extension_chains(built, cut):
    quoted, chain, last, spi, seq = built
    quoted = quoted[:cut]
    icmp = struct.pack("!BBHI", 2, 0, 0, 1280) + quoted  # Packet Too Big
    outer = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 64) + b"\xfe\x80" + b"\0" * 13 + b"\x09" \
        + b"\x20\x01" + b"\0" * 13 + b"\x01" + icmp
    rows = decode([(1, ETHERNET[1](outer))])[0].to_pylist()
    assert len(rows) == 1 and rows[0]["kind"] == "icmp-error" and rows[0]["icmp_mtu"] == 1280
    proto, pos, later = model(quoted)
    esp_like = proto in (50, 51) and not later
    at = pos + (0 if proto == 50 else 4) if esp_like else 0
    row = rows[0]
    if esp_like and at + 8 <= len(quoted):
        assert (row["inner_spi"], row["inner_seq"]) == (spi, seq)
    elif esp_like and at + 4 <= len(quoted):
        assert (row["inner_spi"], row["inner_seq"]) == (spi, None)
    else:
        assert row["inner_spi"] is None and row["inner_seq"] is None
    if proto is None and len(quoted) >= 40 and not later:
        assert row["note"] == "quoted IPv6 extension headers cut off"


# --- ICMP quotes of every length -----------------------------------------------------------

QUOTED = ["inner_src", "inner_dst", "inner_proto", "inner_sport", "inner_dport", "inner_spi", "inner_seq"]


@pytest.mark.parametrize("capture", ["icmp-net-unreach.pcap", "ipv6.pcap", "natt.pcap", "icmp-frag-needed.pcap"])
def test_icmp_errors_cut_at_every_length(capture):
    """Every ICMP error of a real capture, cut after every byte: a quoted field is either
    null or its full value, and once there it stays there as the frame grows."""
    full = read_capture(LAB / capture).packets
    errors = full[full["kind"] == "icmp-error"].head(6)
    frames = real_frames(LAB / capture)
    items, index = [], []
    for _, row in errors.iterrows():
        data = frames[row["frame"] - 1][1]
        for length in range(len(data) + 1):
            items.append((1, data[:length]))
            index.append((row["frame"], length))
    table, counts = decode(items)
    assert counts.frames == len(items)
    got = table.to_pandas()
    got["orig"] = [index[f - 1][0] for f in got["frame"]]
    got["cut"] = [index[f - 1][1] for f in got["frame"]]
    for frame, rows in got.groupby("orig"):
        want = errors[errors["frame"] == frame].iloc[0]
        assert (rows["kind"] == "icmp-error").all()
        for col in QUOTED:
            present = rows[col].notna().to_numpy()
            assert (rows.loc[present, col] == want[col]).all(), (frame, col)
            assert (np.diff(present.astype(int)) >= 0).all(), (frame, col)  # never lost by more bytes
            if present.any() or pd.notna(want[col]):
                assert present[-1] == pd.notna(want[col])


# --- whole captures, mutated, through both readers -----------------------------------------

FILES = {"pcap": LAB / "natt.pcap", "pcapng": LAB / "icmp-net-unreach.pcapng",
         "ikev2": PCAPS / "corpus" / "tcpdump-ikev2four.pcap",
         "snoop": PCAPS / "corpus" / "netscreen-askws-q21209-tcp-vlan.txt"}


@lru_cache(maxsize=None)
def original(kind: str, engine: str) -> pd.DataFrame:
    return read_capture(FILES[kind], engine=engine).packets.drop(columns="capture")


@lru_cache(maxsize=None)
def record_ends(kind: str) -> tuple[int, ...]:
    """File offset where each frame's record ends (pcap records, pcapng packet blocks)."""
    data = FILES[kind].read_bytes()
    ends = []
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        off = 0
        while off + 8 <= len(data):
            btype, blen = struct.unpack_from("<II", data, off)
            off += blen
            if btype in (2, 3, 6):
                ends.append(off)
    else:
        endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        off = 24
        while off + 16 <= len(data):
            off += 16 + struct.unpack_from(endian + "I", data, off + 8)[0]
            ends.append(off)
    return tuple(ends)


@settings(max_examples=120 * SCALE, **SETTINGS)
@given(kind=st.sampled_from(sorted(FILES)), engine=st.sampled_from(["auto", "scapy"]),
       edits=st.lists(edit, min_size=1, max_size=4), pack=st.sampled_from([None, "gz", "bz2", "xz"]))
def test_mutated_captures_keep_everything_before_the_damage(tmp_path_factory, kind, engine, edits, pack):
    data = FILES[kind].read_bytes()
    broken = mutate(data, edits)
    first_change = next((i for i, (a, b) in enumerate(zip(data, broken)) if a != b), min(len(data), len(broken)))
    if pack:
        broken = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[pack](broken)
    path = tmp_path_factory.mktemp("m") / "broken"
    path.write_bytes(broken)
    start = time.monotonic()
    try:
        got = read_capture(path, engine=engine)
    except BadspiError:
        return
    assert time.monotonic() - start < SLOW
    rows = got.packets.drop(columns="capture")
    numbers = rows["frame"].tolist()
    assert numbers == sorted(set(numbers)) and all(1 <= n <= got.counts.frames for n in numbers)
    if kind == "snoop":
        return
    intact = sum(1 for end in record_ends(kind) if end <= first_change)
    want = original(kind, engine)
    assert got.counts.frames >= intact
    pd.testing.assert_frame_equal(rows[rows["frame"] <= intact].reset_index(drop=True),
                                  want[want["frame"] <= intact].reset_index(drop=True))


# --- logs and SA tables (beyond test_logs_properties: compression, UTF-16-like bytes, SA tables)

REAL_LOGS = sorted(p for p in (FIXTURES / "logs" / "reference").glob("*.log"))
SA_TABLES = sorted({p for pattern in ("*sa*.txt", "*xfrm*.txt", "*statistics*.txt")
                    for p in (FIXTURES / "logs" / "reference").glob(pattern)})


def _counted(result) -> None:
    assert not [s for s in result.skipped if "parser error" in s.reason], result.skipped
    for s in result.stats.to_dict("records"):
        assert s["lines"] == s["recognised"] + s["ignored"] + s["unparsed"] + s["duplicates"], s


@settings(max_examples=100 * SCALE, **SETTINGS)
@given(source=st.sampled_from(REAL_LOGS), edits=st.lists(edit, max_size=6),
       pack=st.sampled_from(["gz", "bz2", "xz", "utf-16", "utf-16-be"]), cut=st.one_of(st.none(), st.integers(0, 4000)))
def test_mutated_logs_compressed_or_utf16_and_cut_anywhere(tmp_path_factory, source, edits, pack, cut):
    text = mutate(source.read_bytes(), edits)
    if pack.startswith("utf-16"):
        data = text.decode("latin-1").encode(pack if pack.endswith("be") else "utf-16")
    else:
        data = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[pack](text)
    data = data if cut is None else data[:cut]
    path = tmp_path_factory.mktemp("l") / "x.log"
    path.write_bytes(data)
    try:
        result = parse_logs(path, year=2021)
    except InputError:
        return
    _counted(result)


@settings(max_examples=100 * SCALE, **SETTINGS)
@given(source=st.sampled_from(SA_TABLES), edits=st.lists(edit, max_size=6))
def test_mutated_sa_tables_never_break_a_parser(tmp_path_factory, source, edits):
    path = tmp_path_factory.mktemp("s") / "sa.txt"
    path.write_bytes(mutate(source.read_bytes(), edits))
    try:
        result = parse_sas(path)
    except InputError:
        return
    assert not [s for s in result.skipped if "parser error" in s.reason], result.skipped
    assert result.sas["spi"].dropna().between(0, 2 ** 32 - 1).all()
