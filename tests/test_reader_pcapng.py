"""The own pcapng walk (engine auto) against Scapy's reader (engine scapy, the reference)
and tshark: every pcapng we ship, real packets re-framed in every block kind, byte order,
timestamp resolution and several sections, and the lockstep record walk forced through
its slow paths."""
import struct

import pandas as pd
import pytest
from capture_builders import block, real_frames, section
from conftest import PCAPS, require_tshark
from scapy.utils import RawPcapReader

import badspi_pcap.capture.chains as chains
from badspi_pcap.capture import read_capture

PCAPNGS = sorted(PCAPS.glob("corpus/*.pcapng")) + sorted(PCAPS.glob("lab/*.pcapng"))
PCAP_SOURCES = sorted(PCAPS.glob("lab/*.pcap")) + sorted(PCAPS.glob("corpus/*.pcap"))
SOURCE = PCAPS / "lab" / "icmp-net-unreach.pcap"


def same_read(a, b):
    pd.testing.assert_frame_equal(a.packets.drop(columns="capture"), b.packets.drop(columns="capture"))
    assert a.counts == b.counts
    assert a.linktypes == b.linktypes


@pytest.mark.parametrize("path", PCAPNGS, ids=lambda p: p.name)
def test_own_walk_equals_scapy_on_every_shipped_pcapng(path):
    ours, ref = read_capture(path), read_capture(path, engine="scapy")
    assert ours.engine == "own" and ref.engine == "scapy"
    same_read(ours, ref)
    assert ours.skipped == ref.skipped == []


# --- building pcapng files ----------------------------------------------------------------

def records(path) -> list[tuple[int, bytes, int]]:
    """(ns, captured bytes, wire length) of every record of a pcap."""
    reader = RawPcapReader(str(path))
    scale = 1 if reader.nano else 1000
    out = [(m.sec * 10**9 + m.usec * scale, data, m.wirelen) for data, m in reader]
    reader.close()
    return out


def write(tmp_path, data: bytes, name="x.pcapng"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("source", PCAP_SOURCES, ids=lambda p: p.name)
@pytest.mark.parametrize("endian", ["<", ">"])
def test_every_shipped_pcap_as_pcapng_reads_as_the_pcap(tmp_path, source, endian):
    from badspi_pcap.capture.pcap import PcapHeader
    hdr = PcapHeader(source.read_bytes()[:24])
    path = write(tmp_path, section(endian, records(source), tsresol=9, snaplen=262144, linktype=hdr.linktype))
    ours, ref, pcap = read_capture(path), read_capture(path, engine="scapy"), read_capture(source, engine="scapy")
    same_read(ours, ref)
    same_read(ours, pcap)


@pytest.mark.parametrize("kind", ["epb", "pb", "spb"])
@pytest.mark.parametrize("tsresol", [6, 9, 3, 0x80 | 20, 0x80 | 10])
def test_block_kinds_and_resolutions_equal_scapy(tmp_path, kind, tsresol):
    frames = real_frames(SOURCE)
    path = write(tmp_path, section("<", frames, tsresol=tsresol, kind=kind, snaplen=65535))
    ours, ref = read_capture(path), read_capture(path, engine="scapy")
    same_read(ours, ref)
    assert len(ours.packets) == 134
    if kind != "spb":  # a simple packet block has no timestamp (both give the epoch)
        want = read_capture(SOURCE).packets["time"].reset_index(drop=True)
        per_second = (2 if tsresol & 0x80 else 10) ** (tsresol & 0x7F)
        exact = per_second >= 1_000_000 and (per_second % 10 == 0)
        got = ours.packets["time"].reset_index(drop=True)
        if exact:
            assert got.equals(want)
        else:  # coarser ticks: within one tick
            assert ((want - got).dt.total_seconds().abs() <= 1 / per_second).all()


@pytest.mark.parametrize("frame", [b"", b"\x45\0\0\0"], ids=["empty", "4 bytes"])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_a_file_ending_in_a_short_simple_packet_block_reads_as_scapy_reads_it(tmp_path, frame, endian):
    # The block's header words past its end lie past the end of the file: reading them
    # for every packet block at once must not run off the data (it raised IndexError).
    head = section(endian, real_frames(SOURCE)[:3], snaplen=65535)
    path = write(tmp_path, head + block(endian, 3, struct.pack(endian + "I", len(frame)) + frame))
    ours, ref = read_capture(path), read_capture(path, engine="scapy")
    same_read(ours, ref)
    assert ours.counts.frames == 4 and ours.skipped == ref.skipped == []


@pytest.mark.parametrize("second_tsresol", [6, 9])
def test_sections_in_both_byte_orders_follow_each_other(tmp_path, second_tsresol):
    frames = real_frames(SOURCE)
    n = len(frames)
    path = write(tmp_path, section("<", frames) + section(">", frames, tsresol=second_tsresol)
                 + section("<", frames[:5]))
    ours = read_capture(path)
    assert ours.counts.frames == 2 * n + 5 and ours.skipped == []
    p = ours.packets.drop(columns="capture")
    first = p[p["frame"] <= n].reset_index(drop=True)
    second = p[(p["frame"] > n) & (p["frame"] <= 2 * n)].reset_index(drop=True)
    second["frame"] -= n
    pd.testing.assert_frame_equal(first, second)
    if second_tsresol == 6:
        same_read(ours, read_capture(path, engine="scapy"))
    else:
        # Scapy keeps the first section's interfaces in the next one (its times come out
        # wrong here); tshark starts each section afresh, as the own walk does.
        assert_times_as_tshark(path, ours)


def assert_times_as_tshark(path, ours):
    require_tshark()
    import subprocess
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch"],
                         capture_output=True, text=True, check=True).stdout
    epoch = {int(f): t for f, t in (line.split("\t") for line in out.splitlines())}
    assert len(epoch) == ours.counts.frames
    for frame, time in zip(ours.packets["frame"], ours.packets["time"]):
        assert abs(float(epoch[frame]) - time.timestamp()) < 1e-6, frame


def test_if_tsoffset_is_added_as_tshark_does(tmp_path):
    # Scapy ignores if_tsoffset; Wireshark adds it.  Times stored relative to 1000 s earlier.
    frames = real_frames(SOURCE)[:20]
    path = write(tmp_path, section("<", frames, tsoffset=1000))
    ours = read_capture(path)
    ref = read_capture(path, engine="scapy")
    assert len(ours.packets) and (ours.packets["time"] - ref.packets["time"]).dt.total_seconds().eq(1000).all()
    assert_times_as_tshark(path, ours)


def test_packets_before_their_interface_are_skipped_and_reported(tmp_path):
    frames = real_frames(SOURCE)[:10]
    data = bytearray(section("<", frames))
    # move the interface description block behind the third packet block
    blocks, off = [], 0
    while off < len(data):
        blen = struct.unpack_from("<I", data, off + 4)[0]
        blocks.append(bytes(data[off:off + blen]))
        off += blen
    idb = blocks.pop(1)
    blocks.insert(4, idb)   # SHB, NRB, EPB, EPB, IDB, ...
    path = write(tmp_path, b"".join(blocks))
    ours, ref = read_capture(path), read_capture(path, engine="scapy")
    same_read(ours, ref)
    assert ours.counts.frames == 8
    assert [s.reason for s in ours.skipped] == [
        "2 packet blocks name an interface the file has not described (the first: id 0, 0 described); skipped"]


# --- the lockstep walk, forced through every path -------------------------------------------

@pytest.fixture
def tiny_segments(monkeypatch):
    """Segments of a few records, chains of at most 3 steps: guesses, joins, wrong
    guesses and unfinished chains all happen on small files."""
    def use(segment, steps, span):
        import badspi_pcap.capture.pcap as pcap
        import badspi_pcap.capture.pcapng as pcapng
        monkeypatch.setattr(chains, "SEGMENT", segment)
        monkeypatch.setattr(chains, "MIN_SEGMENTS", 2)
        monkeypatch.setattr(chains, "MAX_STEPS", steps)
        monkeypatch.setattr(pcap.PcapWalker, "GUESS_SPAN", span)
        monkeypatch.setattr(pcapng.PcapngWalker, "GUESS_SPAN", span)
    return use


@pytest.mark.parametrize("segment,steps,span", [(64, 3, 40), (256, 2, 200), (1024, 256, 1600), (4096, 1, 1600)])
@pytest.mark.parametrize("source", PCAP_SOURCES[:8] + PCAPNGS, ids=lambda p: p.name)
def test_lockstep_walk_equals_the_plain_loop(tiny_segments, source, segment, steps, span):
    want = read_capture(source)
    tiny_segments(segment, steps, span)
    got = read_capture(source)
    same_read(got, want)
    assert got.skipped == want.skipped


@pytest.mark.parametrize("segment", [64, 512])
def test_lockstep_walk_keeps_damage_reports(tiny_segments, tmp_path, segment):
    from broken.corpus import cases, run
    picked = [c for c in cases() if c.source.endswith((".pcap", ".pcapng")) and "gzip" not in c.name]
    want = {c.name: run(c, "auto", tmp_path) for c in picked}
    tiny_segments(segment, 2, 100)
    for c in picked:
        got, error = run(c, "auto", tmp_path)
        w, werror = want[c.name]
        assert error == werror, c.name
        if got is not None:
            same_read(got, w)
            assert got.skipped == w.skipped, c.name


def test_evidence_from_a_pcapng_is_read_with_the_same_walk(tmp_path):
    # The evidence writer picks frames by number: it must count them as read_capture does.
    from conftest import FIXTURES

    from badspi_pcap import analyze
    from badspi_pcap.report.evidence_pcap import write_evidence
    log = FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log"
    ng = analyze([PCAPS / "lab" / "icmp-net-unreach.pcapng"], [log], log_tz="Europe/Berlin")
    classic = analyze([SOURCE], [log], log_tz="Europe/Berlin")
    out_ng, out_classic = tmp_path / "ng.pcap", tmp_path / "classic.pcap"
    write_evidence(ng, out_ng)
    write_evidence(classic, out_classic)
    a, b = read_capture(out_ng).packets, read_capture(out_classic).packets
    assert (a["kind"] == "icmp-error").sum() == 35
    pd.testing.assert_frame_equal(a.drop(columns="capture"), b.drop(columns="capture"))
