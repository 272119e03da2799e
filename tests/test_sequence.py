"""The sequence table against the lab's real-kernel replay scenarios and a literal
sliding-window receiver (RFC 4303 3.4.3 as Linux's xfrm_replay_check codes it)."""
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badspi_pcap import schema
from badspi_pcap.capture import read_capture
from badspi_pcap.sequence import fails_at, sequence_summary, sequence_table
from conftest import PCAPS

LAB = PCAPS / "lab"
REPLAY = ["replay-reorder", "replay-duplicate"]


def _truth(name):
    return json.loads((LAB / f"{name}.truth.json").read_text())


def _xfrm_delta(name, counter="XfrmInStateSeqError"):
    def read(which):
        rows = dict(line.split() for line in (LAB / f"{name}.xfrm_stat.{which}.txt").read_text().splitlines())
        return int(rows[counter])
    return read("after") - read("before")


@pytest.mark.parametrize("name", REPLAY)
def test_matches_the_lab_truth_frame_by_frame(name):
    truth = _truth(name)
    window = truth["esp_sequence_analysis"]["replay_window"]
    seq = sequence_table(read_capture(LAB / f"{name}.pcap").packets, window)
    for sa in truth["esp_sequence_analysis"]["per_spi"]:
        rows = seq[seq["spi"] == int(sa["spi"], 16)]
        dups = rows[rows["kind"] == "duplicate"]
        late = rows[rows["kind"] == "late"]
        assert [(int(f), int(s)) for f, s in zip(dups["frame"], dups["seq"])] == \
            [(d["frame"], d["seq"]) for d in sa["duplicates"]]
        assert [(int(f), int(s), int(b), bool(o)) for f, s, b, o in
                zip(late["frame"], late["seq"], late["behind"], late["outside_window"])] == \
            [(d["frame"], d["seq"], d["behind"], d["outside_window"]) for d in sa["late"]]
        assert int(rows["fails_check"].sum()) == sa["would_fail_replay_check"]
    assert set(seq["spi"]) == {int(sa["spi"], 16) for sa in truth["esp_sequence_analysis"]["per_spi"]}
    assert not (seq["kind"] == "restart").any()


@pytest.mark.parametrize("name", REPLAY)
def test_drops_at_the_kernels_window_equal_its_seq_error_counter(name):
    """gwA's kernel (window 32) counted XfrmInStateSeqError for exactly the packets the
    table says a 32-packet window drops (the capture is on gwA's own uplink)."""
    seq = sequence_table(read_capture(LAB / f"{name}.pcap").packets, 32)
    assert _xfrm_delta(name) > 0
    assert int(seq["fails_check"].sum()) == _xfrm_delta(name)
    assert fails_at(seq, [32])[32] == _xfrm_delta(name)


def test_summary_of_the_reordered_sa():
    packets = read_capture(LAB / "replay-reorder.pcap").packets
    summary = sequence_summary(packets, window=32)
    row = summary[summary["spi"] == 0x2000B002].iloc[0]
    assert (row["late"], row["late_outside"], row["duplicates"], row["max_behind"], row["window_needed"],
            row["fails"]) == (35, 7, 0, 62, 63, 7)
    other = summary[summary["spi"] == 0x1000A001].iloc[0]
    assert (other["late"], other["fails"]) == (0, 0) and pd.isna(other["max_behind"])
    # A window of 63 takes every late packet; 62 still drops the one 62 behind.
    seq = sequence_table(packets, 32)
    assert fails_at(seq, [62, 63, 64]) == {62: 2, 63: 0, 64: 0}


def test_duplicates_name_their_first_copy():
    packets = read_capture(LAB / "replay-duplicate.pcap").packets
    seq = sequence_table(packets, 32)
    by_frame = packets.set_index("frame")
    for frame, first in zip(seq["frame"], seq["first_frame"]):
        assert first < frame
        assert by_frame.loc[first, "seq"] == by_frame.loc[frame, "seq"]
        assert by_frame.loc[first, "spi"] == by_frame.loc[frame, "spi"]


def _packets(seqs, spi=0x100, dst="192.0.2.1", capture="c.pcap", kind="esp"):
    n = len(seqs)
    return schema.to_frame(schema.from_columns(schema.PACKETS, {
        "capture": [capture] * n, "frame": list(range(1, n + 1)),
        "time": pd.to_datetime(np.arange(n) * 1_000_000, utc=True), "kind": [kind] * n,
        "src": ["198.51.100.1"] * n, "dst": [dst] * n, "spi": [spi] * n, "seq": list(seqs)}))


def _receiver(seqs, window):
    """The check as the kernel codes it, one packet at a time: top + bitmap."""
    top, bitmap, drops = 0, 0, []
    for s in seqs:
        if window == 0:
            drops.append(False)
            continue
        if s == 0:
            drops.append(True)
            continue
        if s > top:
            shift = s - top
            bitmap = ((bitmap << shift) | 1) & ((1 << window) - 1) if shift < window else 1
            top = s
            drops.append(False)
            continue
        diff = top - s
        if diff >= window or bitmap >> diff & 1:
            drops.append(True)
            continue
        bitmap |= 1 << diff
        drops.append(False)
    return drops


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=200), st.integers(0, 70))
def test_bulk_check_equals_a_packet_by_packet_receiver(seqs, window):
    seq = sequence_table(_packets(seqs), window)
    dropped = set(seq.loc[seq["fails_check"], "frame"].astype(int))
    expect = {i + 1 for i, d in enumerate(_receiver(seqs, window)) if d}
    assert dropped == expect


def test_a_restarted_sender_is_a_restart_not_a_pile_of_duplicates():
    seqs = list(range(1, 201)) + list(range(1, 231))   # manual SA re-added on the sender only
    seq = sequence_table(_packets(seqs), 64)
    restart = seq[seq["kind"] == "restart"]
    assert list(restart["seq"].astype(int)) == list(range(1, 201))
    assert set(restart["top"].astype(int)) == {200}
    assert int(seq["fails_check"].sum()) == sum(_receiver(seqs, 64)) == 200
    assert (seq["kind"] != "duplicate").all() and (seq["kind"] != "late").all()


def test_a_late_burst_of_small_numbers_is_not_a_restart():
    # 5 packets of a young SA overtaken by 40 others: late, the next packets are back at the top
    seqs = list(range(6, 46)) + [1, 2, 3, 4, 5] + list(range(46, 60))
    seq = sequence_table(_packets(seqs), 32)
    assert list(seq["kind"]) == ["late"] * 5
    assert list(seq["behind"].astype(int)) == [44, 43, 42, 41, 40]


def test_sas_are_apart_by_capture_destination_and_spi():
    a = _packets([1, 2, 3, 4])
    b = _packets([1, 2], capture="other.pcap")
    c = _packets([2, 1], dst="192.0.2.9")
    seq = sequence_table(pd.concat([a, b, c], ignore_index=True), 32)
    assert list(zip(seq["dst"], seq["seq"].astype(int), seq["kind"])) == [("192.0.2.9", 1, "late")]


def test_no_ipsec_packets_gives_empty_typed_tables():
    empty = schema.empty(schema.PACKETS)
    assert list(sequence_table(empty).columns) == schema.SEQUENCE.names
    assert sequence_summary(empty).empty


def test_a_restart_the_capture_saw_only_the_end_of_the_first_run_of():
    seqs = list(range(5000, 5100)) + list(range(1, 120))   # the first run began before the capture
    seq = sequence_table(_packets(seqs), 32)
    assert (seq["kind"] == "restart").sum() == 119
    short = sequence_table(_packets(list(range(5000, 5100)) + list(range(1, 20)) + [5100]), 32)
    assert (short["kind"] == "late").all()   # 19 new numbers then the top again: a late burst
