"""Damaged captures: a clear error when nothing is readable, otherwise every packet
before (and, after a resync, beyond) the damage, with a report of what was skipped."""
import gzip
import struct

import pandas as pd
import pytest

from badspi_pcap import InputError
from badspi_pcap.capture import read_capture
from capture_builders import pcap_bytes, pcapng_bytes, real_frames
from conftest import PCAPS

SOURCE = PCAPS / "lab" / "icmp-net-unreach.pcap"
FRAMES = real_frames(SOURCE)
GOOD = read_capture(SOURCE).packets


def _record_offsets(data: bytes) -> list[int]:
    offs, off = [], 24
    while off < len(data):
        offs.append(off)
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    return offs


def same_rows(got, want):
    """Same rows, whatever the file was called."""
    pd.testing.assert_frame_equal(got.drop(columns="capture", errors="ignore").reset_index(drop=True),
                                  want.drop(columns="capture", errors="ignore").reset_index(drop=True))


def _write(tmp_path, data, name="x.pcap"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("engine", ["auto", "scapy"])
def test_empty_file(tmp_path, engine):
    with pytest.raises(InputError, match="empty file"):
        read_capture(_write(tmp_path, b""), engine=engine)


def test_not_a_capture(tmp_path):
    with pytest.raises(InputError, match=r"not a capture file .* it starts with 3c 68 74 6d"):
        read_capture(_write(tmp_path, b"<html><body>hello</body></html>"))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        read_capture(tmp_path / "nope.pcap")
    with pytest.raises(InputError, match="is a directory"):
        read_capture(tmp_path)


def test_header_only_and_cut_header(tmp_path):
    data = SOURCE.read_bytes()
    empty = read_capture(_write(tmp_path, data[:24]))
    assert len(empty.packets) == 0 and empty.counts.frames == 0
    assert [s.reason for s in empty.skipped] == ["no packets in the capture"]
    with pytest.raises(InputError, match="cut off"):
        read_capture(_write(tmp_path, data[:20]))


def test_truncated_last_record_keeps_everything_before(tmp_path):
    data = SOURCE.read_bytes()
    offs = _record_offsets(data)
    cut = offs[-1] + 16 + 30  # the last record loses all but 30 bytes
    got = read_capture(_write(tmp_path, data[:cut]))
    assert got.counts.frames == len(FRAMES)
    assert len(got.skipped) == 1 and "last record truncated" in got.skipped[0].reason
    assert got.skipped[0].where == f"offset {offs[-1]}"
    before = got.packets[got.packets["frame"] < len(FRAMES)]
    same_rows(before, GOOD[GOOD["frame"] < len(FRAMES)])


@pytest.mark.parametrize("cut", [3, 15])
def test_trailing_bytes_shorter_than_a_record_header(tmp_path, cut):
    data = SOURCE.read_bytes()
    got = read_capture(_write(tmp_path, data + data[24:24 + cut]))
    same_rows(got.packets, GOOD)
    assert "too short for a record header" in got.skipped[0].reason


def test_corrupt_record_header_resynchronises(tmp_path):
    data = bytearray(SOURCE.read_bytes())
    offs = _record_offsets(bytes(data))
    bad = offs[40]
    struct.pack_into("<I", data, bad + 8, 0x7FFFFFF0)  # absurd caplen in record 41
    got = read_capture(_write(tmp_path, bytes(data)))
    assert len(got.skipped) == 1
    s = got.skipped[0]
    assert s.where == f"offset {bad}" and "corrupt record header (caplen 2147483632)" in s.reason
    assert f"skipped {offs[41] - bad} bytes" in s.reason
    # Only frame 41 is lost; frames after it keep their contents (numbered one lower).
    expected = GOOD[GOOD["frame"] != 41].copy()
    expected.loc[expected["frame"] > 41, "frame"] -= 1
    same_rows(got.packets.drop(columns="frame"), expected.drop(columns="frame"))


def test_garbage_after_the_file_header(tmp_path):
    data = SOURCE.read_bytes()
    garbage = bytes(range(256)) * 64
    got = read_capture(_write(tmp_path, data[:24] + garbage))
    assert got.counts.frames == 0 or len(got.packets) == 0
    assert got.skipped and all("corrupt record header" in s.reason or "truncated" in s.reason
                               or "trailing" in s.reason for s in got.skipped)


def test_caplen_beyond_the_file(tmp_path):
    data = bytearray(SOURCE.read_bytes()[:24 + 16 + 60])
    struct.pack_into("<I", data, 24 + 8, 5000)  # caplen 5000, only 60 bytes there
    got = read_capture(_write(tmp_path, bytes(data)))
    assert got.counts.frames == 1
    assert "last record truncated: 60 of 5000 bytes present" in got.skipped[0].reason


def _pcapng_with_lying_block(length: int) -> tuple[bytes, int]:
    """The capture as pcapng, the 11th enhanced packet block's length set to ``length``."""
    data = bytearray(pcapng_bytes([(1, 6, FRAMES)]))
    off, seen = 0, 0
    while True:
        btype, blen = struct.unpack_from("<II", data, off)
        if btype == 6:
            seen += 1
            if seen == 11:
                struct.pack_into("<I", data, off + 4, length)
                return bytes(data), off
        off += blen


@pytest.mark.parametrize("length", [0xFFFFFFF0, 8, 13, 64])
def test_pcapng_block_length_lies(tmp_path, length):
    # The own walk (engine auto) skips the damaged block and goes on, like the pcap walk;
    # Scapy's reader stops there.  Both keep frames 1-10 as they are.
    data, bad = _pcapng_with_lying_block(length)
    got = read_capture(_write(tmp_path, data, "x.pcapng"))
    assert [s.where for s in got.skipped] == [f"offset {bad}"]
    problem = (f"block length {length} at its start but" if length == 64 else f"impossible block length {length}")
    assert f"corrupt block ({problem}" in got.skipped[0].reason and "skipped" in got.skipped[0].reason
    assert got.counts.frames == len(FRAMES) - 1
    expected = GOOD[GOOD["frame"] != 11].copy()
    expected.loc[expected["frame"] > 11, "frame"] -= 1
    same_rows(got.packets, expected)
    ref = read_capture(_write(tmp_path, data, "x.pcapng"), engine="scapy")
    assert ref.counts.frames == 10
    same_rows(ref.packets, GOOD[GOOD["frame"] <= 10])
    assert ref.skipped


def test_truncated_gzip_keeps_what_came_before(tmp_path):
    whole = gzip.compress(SOURCE.read_bytes())
    got = read_capture(_write(tmp_path, whole[: len(whole) * 2 // 3], "x.pcap.gz"))
    assert 0 < got.counts.frames < len(FRAMES)
    assert any("gzip stream ends early or is corrupt" in s.reason for s in got.skipped)
    n = len(got.packets)
    same_rows(got.packets, GOOD.head(n))


def test_corrupt_gzip_header(tmp_path):
    with pytest.raises(InputError, match="gzip data is corrupt"):
        read_capture(_write(tmp_path, b"\x1f\x8b\x08garbage-garbage", "x.gz"))


def test_unknown_link_type_is_reported_by_name(tmp_path):
    records = [(t, f) for t, f in FRAMES[:5]]
    got = read_capture(_write(tmp_path, pcap_bytes(records, linktype=105)))
    assert got.linktypes == {"IEEE 802.11": 5}
    assert [s.reason for s in got.skipped] == ["5 frames of unsupported IEEE 802.11 not decoded"]


def test_netscreen_damage_is_reported(tmp_path):
    text = (PCAPS / "corpus" / "netscreen-askws-q21209-tcp-vlan.txt").read_text()
    broken = text.replace("8954069.0: ethernet0/2(o) len=66", "8954069.0: ETHERNET0/2(o) len=66", 1)
    got = read_capture(_write(tmp_path, broken.encode(), "snoop.txt"))
    assert got.counts.frames == 15
    assert [s.reason for s in got.skipped] == ["unreadable snoop record header; record ignored"]
