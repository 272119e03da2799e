"""Hostile inputs that aim at memory and time: decompression bombs (gzip, bzip2, xz) for
captures and logs, lengths that claim gigabytes (pcap caplen, pcapng block length, snoop
len=, endless lines), and what Scapy would have swallowed silently.

Every bomb is built here, in chunks, so nothing big is stored or held; peak memory is
measured with tracemalloc (Python and NumPy allocations both count)."""
from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import tracemalloc
import zlib

import pytest

from badspi_pcap.capture import read_capture
from badspi_pcap.compressed import MAX_LINE, DecompressionLimit, resolve_limit
from badspi_pcap.errors import UsageError
from badspi_pcap.logs import parse_logs
from capture_builders import pcap_bytes, pcapng_bytes, real_frames
from conftest import FIXTURES, PCAPS

MiB = 1 << 20
FRAMES = real_frames(PCAPS / "lab" / "icmp-net-unreach.pcap")
ASA = (FIXTURES / "logs" / "reference" / "asa.log").read_bytes()
SMALL = DecompressionLimit(max_ratio=10, free=MiB // 4)
BIG_RECORD = 1 << 24  # the largest record a pcap with snaplen 2^24 may hold


def packed(parts, codec: str) -> bytes:
    """Compress an iterable of byte strings (zeros mostly) without holding the output."""
    c = {"gzip": lambda: zlib.compressobj(9, zlib.DEFLATED, 31), "bzip2": lambda: bz2.BZ2Compressor(9),
         "xz": lambda: lzma.LZMACompressor(preset=0)}[codec]()
    return b"".join([c.compress(p) for p in parts] + [c.flush()])


def zeros(total: int, chunk: int = 4 * MiB):
    block = bytes(chunk)
    for _ in range(total // chunk):
        yield block


def big_record_pcap(records: int):
    """A pcap of ``records`` all-zero records of 16 MiB each, as pieces."""
    yield pcap_bytes([], snaplen=BIG_RECORD)
    for i in range(records):
        yield struct.pack("<IIII", i, 0, BIG_RECORD, BIG_RECORD)
        yield from zeros(BIG_RECORD)


def peak_of(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def write(tmp_path):
    def write(name: str, data: bytes):
        path = tmp_path / name
        path.write_bytes(data)
        return path
    return write


# --- decompression bombs -------------------------------------------------------------

@pytest.mark.parametrize("codec", ["gzip", "bzip2", "xz"])
def test_capture_bomb_stops_at_the_ratio_and_keeps_what_came_before(write, codec):
    head = pcap_bytes(FRAMES[:10])
    path = write(f"bomb.pcap.{codec}", packed([head, *zeros(32 * MiB)], codec))
    got, peak = peak_of(lambda: read_capture(path, decompression_limit=SMALL))
    limits = [s for s in got.skipped if "stopped decompressing" in s.reason]
    assert len(limits) == 1
    reason = limits[0].reason
    assert reason.startswith(f"{codec}: stopped decompressing after ")
    assert "more than 10 times the compressed size (beyond the first 256.0 KiB)" in reason
    assert "BADSPI_NO_DECOMPRESSION_LIMIT=1" in reason and "decompression_limit=False" in reason
    assert got.packets["frame"].max() == 10 and set(got.packets["frame"]) <= set(range(1, 11))
    # The ratio is checked against the compressed bytes read so far, 64 KiB at a time.
    output = reason.split("after ")[1].split(" from")[0]
    assert output.endswith("KiB") or float(output.split()[0]) < 1.5, output
    assert peak < 24 * MiB


def test_default_limit_and_its_overrides(write, monkeypatch):
    # 80 MiB of zeros in 16 MiB records: about 80 KB of gzip.  The default limit stops it
    # after 64 MiB, inside the 5th record (kept as far as it got).
    path = write("bomb.pcap.gz", packed(big_record_pcap(5), "gzip"))
    assert path.stat().st_size < 100_000

    def outcome(**options):
        got = read_capture(path, **options)
        stopped = [s.reason for s in got.skipped if "stopped decompressing" in s.reason]
        assert not stopped or "more than 100 times the compressed size (beyond the first 64.0 MiB)" in stopped[0]
        return got.counts.frames, got.counts.truncated, bool(stopped)

    assert outcome() == (5, 1, True)
    assert outcome(decompression_limit=False) == (5, 0, False)
    monkeypatch.setenv("BADSPI_NO_DECOMPRESSION_LIMIT", "1")
    assert outcome() == (5, 0, False)
    monkeypatch.setenv("BADSPI_NO_DECOMPRESSION_LIMIT", "0")
    assert outcome() == (5, 1, True)


def test_absolute_size_cap(write):
    data = gzip.compress(pcap_bytes(FRAMES) * 40)  # about 1 MB, compresses well
    got = read_capture(write("many.pcap.gz", data), decompression_limit=DecompressionLimit(max_size=MiB // 2))
    reason = next(s.reason for s in got.skipped if "stopped decompressing" in s.reason)
    assert "more than the limit of 512.0 KiB" in reason


def test_real_compressed_captures_are_far_from_the_limit(write):
    tight = DecompressionLimit(max_ratio=5, free=0)
    for codec, pack in (("gz", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress)):
        data = (PCAPS / "lab" / "icmp-net-unreach.pcap").read_bytes()
        got = read_capture(write(f"x.pcap.{codec}", pack(data)), decompression_limit=tight)
        assert got.counts.frames == len(FRAMES) and not got.skipped


def test_bad_limit_value_is_a_usage_error(write):
    with pytest.raises(UsageError, match="decompression_limit must be"):
        read_capture(write("x.pcap.gz", gzip.compress(pcap_bytes(FRAMES[:2]))), decompression_limit=100)
    with pytest.raises(UsageError):
        resolve_limit("no")


@pytest.mark.parametrize("codec", ["gzip", "bzip2", "xz"])
def test_log_bomb_keeps_the_lines_before_it(write, codec):
    path = write(f"asa.log.{codec}", packed([ASA, *zeros(8 * MiB)], codec))
    result, peak = peak_of(lambda: parse_logs(path, decompression_limit=SMALL))
    assert len(result.events) == len(parse_logs(write("asa.log", ASA)).events)
    reasons = [s.reason for s in result.skipped]
    assert any(r.startswith("stopped decompressing after ") and "BADSPI_NO_DECOMPRESSION_LIMIT" in r
               for r in reasons), reasons
    assert any(f"line longer than {MAX_LINE} characters" in r for r in reasons)
    assert peak < 24 * MiB


def test_log_bomb_under_the_default_limit(write):
    path = write("asa.log.gz", packed([ASA, *zeros(96 * MiB)], "gzip"))
    result, peak = peak_of(lambda: parse_logs(path))
    assert len(result.events) == 6
    assert any("beyond the first 64.0 MiB" in s.reason for s in result.skipped)
    assert peak < 24 * MiB


def test_truncated_compressed_log_drops_the_cut_line(write):
    lines = [line for line in ASA.splitlines() if line.strip()]
    whole = gzip.compress(b"\n".join(lines * 50) + b"\n")
    result = parse_logs(write("cut.log.gz", whole[: len(whole) - 40]))
    reason = next(s.reason for s in result.skipped if "ends early" in s.reason)
    assert "a line cut off there is not read" in reason
    # Every line read is a whole line of the original.
    assert set(result.unparsed["text"]) <= {line.decode() for line in lines}


# --- lying lengths ---------------------------------------------------------------------

def _epb_offsets(data: bytes) -> list[int]:
    out, off = [], 0
    while off + 8 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if btype == 6:
            out.append(off)
        off += blen
    return out


@pytest.mark.parametrize("engine", ["auto", "scapy"])
@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("length", [0xFFFFFFF0, 0x7FFFFFFC, 64 * MiB])
def test_pcapng_block_length_of_gigabytes_allocates_nothing(write, length, compressed, engine):
    data = bytearray(pcapng_bytes([(1, 6, FRAMES[:20])]))
    bad = _epb_offsets(bytes(data))[10]
    struct.pack_into("<I", data, bad + 4, length)
    data = gzip.compress(bytes(data)) if compressed else bytes(data)
    got, peak = peak_of(lambda: read_capture(write("x.pcapng" + ".gz" * compressed, data), engine=engine))
    reasons = [s.reason for s in got.skipped]
    if engine == "auto":  # the own walk skips the lying block and reads on
        assert got.counts.frames == 19
        assert [s.where for s in got.skipped] == [f"offset {bad}"]
        assert reasons[0].startswith(f"corrupt block (impossible block length {length}); skipped ")
    else:                 # Scapy stops there
        assert got.counts.frames == 10
        assert f"Scapy: PcapNg: a block or record claims {length - 12} bytes, more than the 16 MiB" in reasons[0]
        assert reasons[1] == "reading stopped after frame 10 at damaged data; the rest of the file is not read"
    assert peak < 8 * MiB


@pytest.mark.parametrize("engine", ["auto", "scapy"])
@pytest.mark.parametrize("compressed", [False, True])
def test_pcap_caplen_of_four_gigabytes_allocates_nothing(write, engine, compressed):
    data = bytearray(pcap_bytes(FRAMES[:20]))
    off = 24
    for _ in range(12):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    struct.pack_into("<I", data, off + 8, 0xFFFFFFF0)  # record 13
    data = gzip.compress(bytes(data)) if compressed else bytes(data)
    got, peak = peak_of(lambda: read_capture(write("x.pcap" + ".gz" * compressed, data), engine=engine))
    assert peak < 12 * MiB
    assert got.skipped
    if engine == "auto":  # resynchronises after the bad header and reads the 7 records after it
        assert "corrupt record header (caplen 4294967280)" in got.skipped[0].reason
        tail = got.packets[got.packets["frame"] > got.counts.frames - 7]
        want = read_capture(write("y.pcap", pcap_bytes(FRAMES[13:20]))).packets
        assert tail["time"].tolist() == want["time"].tolist() and tail["spi"].tolist() == want["spi"].tolist()
    else:  # Scapy reads what is there as record 13 and stops
        assert got.skipped[0].reason == "Scapy: Pcap: packet has been truncated"
        assert got.counts.frames == 13


def test_snoop_len_of_a_billion_is_capped(write):
    text = (PCAPS / "corpus" / "netscreen-movingpackets-ike-vlan.txt").read_text()
    header = next(line for line in text.splitlines() if "len=" in line)
    length = header.split("len=")[1].split(":")[0]
    lying = text.replace(header, header.replace(f"len={length}:", "len=999999999:"), 1)
    want = read_capture(write("a.txt", text.encode()))
    got, peak = peak_of(lambda: read_capture(write("b.txt", lying.encode())))
    assert got.counts.frames == want.counts.frames
    assert got.packets.drop(columns=["capture", "length"]).equals(want.packets.drop(columns=["capture", "length"]))
    assert got.packets["length"].iloc[0] == 65535  # the claim is capped at the largest frame
    assert peak < 4 * MiB


@pytest.mark.parametrize("compressed", [False, True])
def test_endless_snoop_line_is_cut(write, compressed):
    text = (PCAPS / "corpus" / "netscreen-movingpackets-ike-vlan.txt").read_bytes()
    data = text + b" 45 00" * (4 * MiB)
    data = gzip.compress(data) if compressed else data
    want = read_capture(write("a.txt", text))
    got, peak = peak_of(lambda: read_capture(write("b.txt" + ".gz" * compressed, data)))
    assert got.counts.frames == want.counts.frames
    assert any("line longer than 65536 bytes; the rest is ignored" in s.reason for s in got.skipped)
    assert peak < 8 * MiB


def test_endless_log_line_is_cut_and_the_next_line_read(write):
    data = ASA.splitlines()[0] + b"\n" + b"x" * (8 * MiB) + b"\n" + ASA
    result, peak = peak_of(lambda: parse_logs(write("long.log", data)))
    assert len(result.events) == 7
    assert [s.where for s in result.skipped if "longer than" in s.reason] == ["line 2"]
    assert peak < 4 * MiB


def test_endless_utf16_log_line_is_cut(write):
    text = ASA.decode().splitlines()[0] + "\n" + "x" * (MAX_LINE * 3) + "\n" + ASA.decode()
    result = parse_logs(write("long16.log", text.encode("utf-16")))
    assert len(result.events) == 7
    assert [s.where for s in result.skipped if "longer than" in s.reason] == ["line 2"]


# --- what Scapy would have lost or thrown ------------------------------------------------

def test_pcapng_timestamp_beyond_2262_is_clamped_and_reported(write):
    data = bytearray(pcapng_bytes([(1, 6, FRAMES[:3])]))
    struct.pack_into("<II", data, _epb_offsets(bytes(data))[1] + 12, 0xFFFFFFFF, 0xFFFFFFFF)
    got = read_capture(write("late.pcapng", bytes(data)))  # was: OverflowError
    assert got.counts.frames == 3
    assert [s.reason for s in got.skipped] == ["1 frames have a timestamp after 2262-04-11; set to that date"]
    assert str(got.last_time) == "2262-04-11 23:47:16.854775807+00:00"


@pytest.mark.parametrize("engine", ["auto", "scapy"])
def test_damaged_second_section_header_is_reported_not_raised(write, engine):
    data = pcapng_bytes([(1, 6, FRAMES[:3])])
    shb = struct.pack("<II", 0x0A0D0D0A, 200) + b"\x4d\x3c\x2b\x1a" + struct.pack("<HH", 1, 0) + b"\xff" * 8
    got = read_capture(write("shb.pcapng", data + shb), engine=engine)  # was: Scapy_Exception escaping
    assert got.counts.frames == 3
    if engine == "auto":
        assert [(s.where, s.reason) for s in got.skipped] == [
            (f"offset {len(data)}", "the file ends inside a section header block (24 bytes); ignored")]
    else:
        assert "Invalid Section Header Block" in got.skipped[0].reason


@pytest.mark.parametrize("engine", ["auto", "scapy"])
def test_pcapng_that_stops_without_a_warning_says_so(write, engine):
    data = bytearray(pcapng_bytes([(1, 6, FRAMES[:6])]))
    third = _epb_offsets(bytes(data))[2]
    blen = struct.unpack_from("<I", data, third + 4)[0]
    struct.pack_into("<I", data, third + blen - 4, blen + 4)  # trailing length disagrees
    got = read_capture(write("tail.pcapng", bytes(data)), engine=engine)
    if engine == "auto":  # the own walk names the block and reads on after it
        assert got.counts.frames == 5
        assert [(s.where, s.reason) for s in got.skipped] == [
            (f"offset {third}", f"corrupt block (block length {blen} at its start but {blen + 4} at its end); "
                                f"skipped {blen} bytes")]
        return
    assert got.counts.frames == 2  # Scapy stops there without a word: we give one
    assert [(s.where, s.reason) for s in got.skipped] == [
        (f"offset {third + blen}", "reading stopped after frame 2 at damaged data; the rest of the file is not read")]


def test_every_damaged_file_in_a_row_gets_its_warning(write):
    # Scapy's log filter drops the third identical warning within 5 s: a batch of damaged
    # pcapng files lost the warnings of all but the first two.
    data = pcapng_bytes([(1, 6, FRAMES[:5])]) + b"\x06\0\0\0\x08\0\0\0"
    path = write("bad.pcapng", data)
    for _ in range(4):
        skipped = read_capture(path, engine="scapy").skipped
        assert [s.reason for s in skipped] == ["Scapy: PcapNg: Invalid block length !"]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_file_ending_inside_a_record_header_is_reported_by_scapy_engine_too(write, fmt):
    whole = (PCAPS / "lab" / f"icmp-net-unreach.{fmt}").read_bytes()
    extra, want = (whole[24:32], "(8 of 16 bytes)") if fmt == "pcap" else (whole[-100:-98], "(2 of 4 bytes)")
    got = read_capture(write(f"x.{fmt}", whole + extra), engine="scapy")  # Scapy stopped there in silence
    assert got.counts.frames == 144
    assert [(s.where, s.reason) for s in got.skipped] == [
        (f"offset {len(whole)}", f"the file ends inside a record or block {want}; ignored")]
