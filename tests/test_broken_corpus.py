"""The broken-input corpus (tests/broken/): real captures cut at every record boundary and
inside records, with flipped bytes, wrong magic and lying lengths.  For each case: what is
still read (the rows of every record before the damage, unchanged) and which warning is
given (tests/broken/expected.tsv; see tests/broken/corpus.py for how to update it)."""
from __future__ import annotations

import os
from functools import lru_cache

import pandas as pd
import pytest

from badspi_pcap.capture import read_capture
from broken.corpus import EXPECTED, MORE_CUTS, SOURCES, cases, describe, kind, record_spans, run

CASES = cases()
FULL = int(os.environ.get("BADSPI_FUZZ_SCALE", "1")) > 1
CUT = {**SOURCES, **(MORE_CUTS if FULL else {})}


def _expected() -> dict[tuple[str, str], tuple[str, str]]:
    lines = EXPECTED.read_text(encoding="utf-8").splitlines()[1:]
    return {(c, e): (r, w) for c, e, r, w in (line.split("\t") for line in lines)}


WANT = _expected()


@lru_cache(maxsize=None)
def original(source: str, engine: str) -> pd.DataFrame:
    return read_capture(CUT[source], engine=engine).packets.drop(columns="capture")


def rows_before(result, frames: int) -> pd.DataFrame:
    p = result.packets.drop(columns="capture")
    return p[p["frame"] <= frames].reset_index(drop=True)


def test_expected_lists_every_case():
    assert set(WANT) == {(c.name, e) for c in CASES for e in c.engines}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_broken_case(case, tmp_path):
    for engine in case.engines:
        result, error = run(case, engine, tmp_path)
        assert describe(result, error) == WANT[(case.name, engine)], engine
        if result is None:
            continue
        # Every record before the damage is read, and read as in the intact file.
        assert result.counts.frames >= case.intact
        want = original(case.source, engine)
        pd.testing.assert_frame_equal(rows_before(result, case.intact),
                                      want[want["frame"] <= case.intact].reset_index(drop=True))


def _boundaries(source: str, engine: str) -> list[int]:
    """Which cuts to try: every record boundary with BADSPI_FUZZ_SCALE > 1 (the long run);
    in CI every one, except every 2nd for the long pcap captures with Scapy's reader
    (about 20 ms a file there)."""
    n = len(record_spans(source, CUT[source].read_bytes()))
    step = 1
    if kind(source) == "pcap" and n > 30 and not FULL and engine != "auto":
        step = 2
    return sorted(set(range(0, n + 1, step)) | {n})


@pytest.mark.parametrize("source", sorted(CUT))
def test_cut_at_every_record_boundary(source, tmp_path):
    data = CUT[source].read_bytes()
    spans = record_spans(source, data)
    engines = ("auto", "scapy") if kind(source) in ("pcap", "pcapng") else ("auto",)
    path = tmp_path / ("cut" + CUT[source].suffix)
    for engine in engines:
        want = original(source, engine)
        for k in _boundaries(source, engine):
            if k == 0 and kind(source) == "snoop":
                continue  # no record at all is no snoop file
            path.write_bytes(data[: spans[k - 1][1]] if k else data[: spans[0][0]])
            got = read_capture(path, engine=engine)
            assert got.counts.frames == k, (engine, k)
            assert [s.reason for s in got.skipped] == (["no packets in the capture"] if k == 0 else []), (engine, k)
            pd.testing.assert_frame_equal(rows_before(got, k), want[want["frame"] <= k].reset_index(drop=True))


# --- what the corpus found -------------------------------------------------------------

SNOOP_IKE = SOURCES["snoop-ike-vlan.txt"].read_text()


def test_snoop_damaged_hex_line_ends_the_frame_instead_of_shifting_it(tmp_path):
    # A damaged dump line used to be skipped, so the lines after it landed 16 bytes early:
    # a frame with wrong bytes at every offset after the damage, and no warning.
    lines = SNOOP_IKE.splitlines()
    dump = [i for i, line in enumerate(lines) if len(line.split()) >= 17]
    second = dump[1]
    lines[second] = lines[second].replace(lines[second].split()[3], "zz", 1)
    path = tmp_path / "d.txt"
    path.write_text("\n".join(lines) + "\n")
    got = read_capture(path)
    assert [(s.where, s.reason) for s in got.skipped] == [
        (f"line {second + 1}", "damaged hex dump in the record of line 1; the frame ends there")]
    assert got.counts.frames == 1 and got.counts.truncated == 1


def test_snoop_nul_bytes_are_dropped_not_taken_for_the_end_of_the_dump(tmp_path):
    path = tmp_path / "n.txt"
    path.write_text(SNOOP_IKE.replace("\n   ", "\n\0   "))
    got = read_capture(path)
    want = read_capture(SOURCES["snoop-ike-vlan.txt"])
    assert not got.skipped
    pd.testing.assert_frame_equal(got.packets.drop(columns="capture"), want.packets.drop(columns="capture"))


def test_padding_after_a_gzip_stream_is_named_as_such(tmp_path):
    import gzip

    path = tmp_path / "p.pcap.gz"
    path.write_bytes(gzip.compress(SOURCES["natt.pcap"].read_bytes()) + bytes(512))
    got = read_capture(path)  # was: "gzip stream ends early or is corrupt (incorrect header check)"
    assert got.counts.frames == 86
    assert [s.reason for s in got.skipped] == [
        "gzip: data after the end of the compressed stream is not compressed "
        "(it starts with 00 00 00 00 00 00 00 00); ignored"]
