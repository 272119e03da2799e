"""read_capture(..., jobs=N): a capture read in byte ranges by N processes gives exactly the
one-core table (rows, frame numbers, counts, link types, warnings).  Ranges are made tiny
here so that every fixture is cut in many places, at record boundaries and inside them."""
import struct
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import PCAPS

import badspi_pcap.capture.parallel as parallel
from badspi_pcap.capture import read_capture

CAPTURES = (sorted(PCAPS.glob("lab/*.pcap*")) + sorted(PCAPS.glob("corpus/*.pcap*"))
            + sorted(PCAPS.glob("corpus/*.cap")))


@pytest.fixture
def tiny_ranges(monkeypatch):
    def use(size):
        monkeypatch.setattr(parallel, "RANGE_MIN", size)
        monkeypatch.setattr(parallel, "RANGES_PER_JOB", 64)
        monkeypatch.setattr(parallel, "SEARCH", 4096)
    use(1024)
    return use


def same(a, b):
    pd.testing.assert_frame_equal(a.packets, b.packets)
    assert a.counts == b.counts
    assert a.linktypes == b.linktypes
    assert a.skipped == b.skipped
    assert (a.first_time, a.last_time) == (b.first_time, b.last_time)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_n_workers_give_the_one_core_table(tiny_ranges, path):
    one = read_capture(path)
    many = read_capture(path, jobs=3)
    same(many, one)


def test_big_generated_captures_in_many_ranges(tiny_ranges, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from make_capture import generate
    tiny_ranges(64 << 10)
    for fmt, ns in (("pcap", False), ("pcapng", True)):
        path = tmp_path / f"big.{fmt}"
        info = generate(str(path), 20_000, seed=3, fmt=fmt, ns=ns, quiet=True, sidecar=False)
        one = read_capture(path)
        assert one.counts.frames == 20_000 and len(one.packets) == info["relevant"]
        same(read_capture(path, jobs=2), one)
        same(read_capture(path, jobs=4), one)


def test_a_wrong_first_record_is_read_again_from_the_right_place(tiny_ranges, monkeypatch):
    # Every worker "finds" a start one byte after the true one: the parent must notice
    # that no range begins where the one before it ended, and read each again.
    path = PCAPS / "lab" / "icmp-net-unreach.pcap"
    found = parallel._first_record
    monkeypatch.setattr(parallel, "_first_record", lambda stream, task: (found(stream, task) or task.begin) + 1)
    same(read_capture(path, jobs=2), read_capture(path))


def test_interfaces_described_mid_file_reach_the_later_ranges(tiny_ranges, tmp_path):
    from capture_builders import block, option, real_frames, section
    frames = real_frames(PCAPS / "lab" / "icmp-net-unreach.pcap")
    data = section("<", frames[:40])
    # a second interface (raw IP, ns) described after 40 packets, then packets on both
    idb = block("<", 1, struct.pack("<HHI", 101, 0, 0) + option("<", 9, bytes([9])) + option("<", 0, b""))
    more = []
    for i, (ns, frame) in enumerate(frames[40:]):
        if i % 2:
            body = struct.pack("<5I", 1, ns >> 32, ns & 0xFFFFFFFF, len(frame) - 14, len(frame) - 14) + frame[14:]
        else:
            t = ns // 1000
            body = struct.pack("<5I", 0, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame)) + frame
        more.append(block("<", 6, body))
    path = tmp_path / "mid.pcapng"
    path.write_bytes(data + idb + b"".join(more))
    one = read_capture(path)
    assert one.linktypes == {"Ethernet": 40 + (len(frames) - 40 + 1) // 2, "raw IP": (len(frames) - 40) // 2}
    same(read_capture(path, jobs=3), one)


def test_broken_corpus_reads_the_same_on_several_workers(tiny_ranges, tmp_path):
    from broken.corpus import cases, run
    for case in cases():
        if "gzip" in case.name or not case.source.endswith((".pcap", ".pcapng")):
            continue
        one, error = run(case, "auto", tmp_path)
        if one is None:
            continue
        got = read_capture(tmp_path / ("broken" + case.suffix), jobs=3)
        same(got, one)


def test_parts_come_back_as_mapped_files_that_are_then_removed(tiny_ranges, tmp_path, monkeypatch):
    folder = tmp_path / "shm"
    monkeypatch.setattr(parallel, "_shared_folder", lambda: folder.mkdir() or str(folder))
    monkeypatch.setattr(parallel, "_room_for", lambda chunks, file: True)   # tmp_path is no /dev/shm
    files = []
    received = parallel._received
    monkeypatch.setattr(parallel, "_received", lambda part: files.append(part.file) or received(part))
    path = PCAPS / "lab" / "icmp-net-unreach.pcapng"
    same(read_capture(path, jobs=2), read_capture(path))
    mapped = [f for f in files if f]
    assert mapped and all(f.startswith(str(folder)) for f in mapped)
    assert not folder.exists()   # unlinked as mapped, the folder removed after the pool


def test_a_part_file_leaves_shared_memory_at_least_half_free(monkeypatch):
    import os
    from types import SimpleNamespace

    import pyarrow as pa
    chunk = pa.table({"x": pa.array(range(1 << 20), pa.int64())})   # 8 MiB
    cases = ((64, 64, True), (64, 41, True), (64, 40, False), (24 << 10, 24 << 10, True), (24 << 10, 100, False))
    for total_mib, free_mib, fits in cases:   # MiB of the file system, free
        fs = SimpleNamespace(f_frsize=4096, f_blocks=total_mib * 256, f_bavail=free_mib * 256)
        monkeypatch.setattr(os, "statvfs", lambda _: fs)
        assert parallel._room_for([chunk], "/dev/shm/x/0.arrow") is fits, (total_mib, free_mib)
        assert parallel._room_for([], "/dev/shm/x/0.arrow") is False   # an empty part: nothing to map


@pytest.mark.parametrize("how", ["no shared memory", "no room", "write fails"])
def test_parts_travel_through_the_pipe_when_they_cannot_go_through_a_file(tiny_ranges, tmp_path, monkeypatch, how):
    folder = tmp_path / "shm"
    if how == "no shared memory":     # macOS, Windows
        monkeypatch.setattr(parallel, "_shared_folder", lambda: None)
    elif how == "no room":            # a small /dev/shm (64 MiB in a container)
        monkeypatch.setattr(parallel, "_room_for", lambda chunks, file: False)
    else:                             # full between the check and the write: the folder is gone
        monkeypatch.setattr(parallel, "_shared_folder", lambda: str(folder))
        monkeypatch.setattr(parallel, "_room_for", lambda chunks, file: True)
    files = []
    received = parallel._received
    monkeypatch.setattr(parallel, "_received", lambda part: files.append(part.file) or received(part))
    path = PCAPS / "lab" / "icmp-net-unreach.pcap"
    same(read_capture(path, jobs=2), read_capture(path))
    assert files and not any(files)
    assert not folder.exists()


def test_compressed_and_small_inputs_stay_on_one_core(tmp_path, monkeypatch):
    import gzip
    calls = []
    monkeypatch.setattr(parallel, "read_parallel", lambda *a, **k: calls.append(a))
    path = tmp_path / "x.pcap.gz"
    path.write_bytes(gzip.compress((PCAPS / "lab" / "natt.pcap").read_bytes()))
    read_capture(path, jobs=4)
    read_capture(PCAPS / "lab" / "natt.pcap", jobs=4)   # far below RANGE_MIN
    assert calls == []


def test_cli_jobs_give_the_same_output(tiny_ranges, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from badspi_pcap.cli import cli
    calls = []
    real = parallel.read_parallel
    monkeypatch.setattr(parallel, "read_parallel", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    capture = PCAPS / "lab" / "icmp-net-unreach.pcapng"
    log = PCAPS / "lab" / "ikev2-rekey.charon-gwA.log"
    for command in (["packets", capture], ["analyze", capture, "-e", log, "--format", "json"]):
        args = list(map(str, command))
        one = CliRunner().invoke(cli, args, catch_exceptions=False)
        many = CliRunner().invoke(cli, args + ["--jobs", "2"], catch_exceptions=False)
        assert one.exit_code == many.exit_code == 0
        assert many.output == one.output
    assert calls == [str(capture)] * 2


@pytest.mark.parametrize("path", CAPTURES[:6] + [PCAPS / "lab" / "icmp-net-unreach.pcapng"], ids=lambda p: p.name)
def test_table_built_in_small_chunks_is_the_same(monkeypatch, path):
    import badspi_pcap.capture.collect as collect
    whole = read_capture(path)
    monkeypatch.setattr(collect, "CHUNK_ROWS", 7)
    same(read_capture(path), whole)


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    """The benchmark's 1M-packet capture (bench/make_capture.py), as pcap and as pcapng."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from make_capture import generate
    folder = tmp_path_factory.mktemp("million")
    out = {}
    for fmt in ("pcap", "pcapng"):
        path = folder / f"bench.{fmt}"
        out[fmt] = (path, generate(str(path), 1_000_000, seed=1, fmt=fmt, quiet=True, sidecar=False))
    yield out
    for path, _ in out.values():
        path.unlink()


def test_million_packets_one_core_many_cores_pcap_pcapng_and_scapy_agree(million):
    pcap, info = million["pcap"]
    pcapng, _ = million["pcapng"]
    one = read_capture(pcap)
    assert one.counts.frames == 1_000_000 and len(one.packets) == info["relevant"] and not one.skipped
    ng = read_capture(pcapng)
    pd.testing.assert_frame_equal(ng.packets.drop(columns="capture"), one.packets.drop(columns="capture"))
    assert ng.counts == one.counts
    same(read_capture(pcap, jobs=2), one)
    same(read_capture(pcapng, jobs=2), ng)
    ref = read_capture(pcapng, engine="scapy")   # Scapy's reader: the reference for the own walk
    pd.testing.assert_frame_equal(ref.packets, ng.packets)
    assert ref.counts == ng.counts
