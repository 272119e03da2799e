"""The reader agrees with tshark field by field on every real capture we ship.

Stored ground truth (made with TShark 4.0 by the corpus collectors) is compared
without needing tshark; the live comparisons run tshark here (CI installs it).
"""
from pathlib import Path

import pytest

from badspi_pcap.capture import read_capture
from compare_rows import differences
from conftest import PCAPS, require_tshark
from tshark_oracle import expected, read_ground_truth, run_tshark

GROUND_TRUTH = sorted((PCAPS / "ground-truth").glob("*.tsv"))
# tshark reassembled the IP fragments of these when the ground truth was made (rule 2
# in tshark_oracle); they are compared with a live tshark run without reassembly.
REASSEMBLED = {"spicy-ipsec_client.pcap"}
LAB = sorted(p for p in (PCAPS / "lab").glob("*.pcap*"))


def _expected_rows(rows):
    return [e for e in (expected(r) for r in rows) if e is not None]


def test_ground_truth_files_are_all_present():
    assert len(GROUND_TRUTH) >= 50
    for tsv in GROUND_TRUTH:
        assert (PCAPS / "corpus" / tsv.name[: -len(".tsv")]).exists(), tsv.name


@pytest.mark.parametrize("tsv", [t for t in GROUND_TRUTH if t.name[:-4] not in REASSEMBLED], ids=lambda p: p.name[:-4])
def test_corpus_capture_matches_stored_tshark_ground_truth(tsv: Path):
    capture = PCAPS / "corpus" / tsv.name[: -len(".tsv")]
    ours = read_capture(capture).packets
    want = _expected_rows(read_ground_truth(tsv))
    assert differences(ours, want) == []
    assert len(ours) == len(want)


@pytest.mark.parametrize("capture", LAB + [PCAPS / "corpus" / n for n in sorted(REASSEMBLED)], ids=lambda p: p.name)
def test_capture_matches_live_tshark_without_reassembly(capture: Path):
    require_tshark()
    ours = read_capture(capture).packets
    want = _expected_rows(run_tshark(capture, defragment=False))
    assert want, "tshark selected nothing: the comparison would be empty"
    assert differences(ours, want) == []


def test_comparison_notices_a_wrong_field():
    """Guard the oracle itself: a changed SPI or quoted sequence must show up."""
    capture = PCAPS / "lab" / "icmp-net-unreach.pcap"
    tsv_rows = _expected_rows(read_ground_truth_for(capture))
    ours = read_capture(capture).packets
    bad = ours.copy()
    bad.loc[bad.index[0], "spi"] = 1
    assert any("spi" in d for d in differences(bad, tsv_rows))
    bad = ours.copy()
    i = bad.index[bad["kind"] == "icmp-error"][0]
    bad.loc[i, "inner_seq"] = 999
    assert any("inner_seq" in d for d in differences(bad, tsv_rows))


def read_ground_truth_for(capture: Path):
    require_tshark()
    return run_tshark(capture)
