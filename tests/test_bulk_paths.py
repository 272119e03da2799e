"""The bulk paths of the cause table (issue 14 point 4) give what the straightforward paths
give: replay lines explained all at once equal each line explained alone, selection
through the packet index equals the selectors' own masks, and the sequence table's
shortcuts (``in_order``, the candidate rows) equal the full computation."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badspi_pcap import schema
from badspi_pcap.analysis import analyze
from badspi_pcap.capture import read_capture
from badspi_pcap.causes import Context, Selector, for_kind
from badspi_pcap.causes.base import columns, seconds
from badspi_pcap.causes.selectors import PacketIndex, select
from badspi_pcap.sequence import in_order, ordered, sequence_rows
from conftest import FIXTURES, PCAPS

LOGS = FIXTURES / "logs"
REPLAY_CASES = [(s, f) for s in ("replay-reorder", "replay-duplicate", "mixed-stale-replay")
                for f in ("screenos-syslog.log", "asa.log", "ios.log") if (LOGS / s / f).exists()]
CAPTURES = sorted(p for d in ("lab", "lab2", "corpus") for p in (PCAPS / d).iterdir()
                  if p.suffix in (".pcap", ".pcapng", ".cap") and p.stat().st_size <= 1 << 20)


def run(scenario, form, with_sas):
    t = json.loads((LOGS / scenario / "truth.json").read_text())
    sas = [LOGS / scenario / "show-crypto-ipsec-sa.txt"] if with_sas and form == "ios.log" else []
    return analyze([FIXTURES.parent / c["pcap"] for c in t["captures"]], [LOGS / scenario / form], sas,
                   log_tz=t["params"]["tz"])


@pytest.mark.parametrize("with_sas", [True, False], ids=["sa-table", "no-sa-table"])
@pytest.mark.parametrize("scenario,form", REPLAY_CASES, ids=[f"{s}/{f}" for s, f in REPLAY_CASES])
def test_replay_lines_explained_together_equal_each_line_alone(scenario, form, with_sas):
    a = run(scenario, form, with_sas)
    replay = a.lines[a.lines["kind"].eq("replay") & a.lines["covered"]]
    assert len(replay) or (form == "ios.log" and not with_sas)      # IOS names no SPI without its SA table
    # each line alone: a fresh context per line, the causes asked one by one in table order
    plain = pd.DataFrame(columns(replay.drop(columns=["time", "time_local", "time_device"])), dtype=object)
    plain["t"] = seconds(replay["time"])
    for line, (_, row) in zip(plain.itertuples(index=False), replay.iterrows()):
        ctx = Context(a.events, a.packets, a.matches, set(a.local_addresses), a.sas, a.options, a.thresholds, 1.0)
        proof = next((p for c in for_kind("replay") if (p := c.explain(line, ctx)) is not None), None)
        assert (proof.cause if proof else "unexplained") == row["cause"]
        if proof:
            assert (proof.key, proof.exact) == (row["proof"], row["exact"])
            assert [{"capture": c, "frame": f} for c, f in proof.frames] == list(row["frames"])
    if scenario.startswith("replay-") and (form != "ios.log" or with_sas):
        assert replay["exact"].any()      # the lines name packets out of order: the bulk path was exercised


def packets_of(path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_capture(path).packets


def selectors_for(packets) -> list[Selector]:
    """Every kind of selector on what the capture holds."""
    out = [Selector("ike-phase2")]
    t = seconds(packets["time"])
    mid = float(np.median(t)) if len(t) else 0.0
    for spi in sorted({int(s) for s in packets["inner_spi"].dropna()})[:3]:
        out.append(Selector("icmp-quoting", spis=(spi,)))
    quoted = packets[packets["inner_spi"].isna() & packets["inner_src"].notna()]
    for src, dst in list(zip(quoted["inner_src"], quoted["inner_dst"]))[:1]:
        out.append(Selector("icmp-quoting", pair=(src, dst)))
    esp = packets[packets["spi"].notna()]
    for spi, g in list(esp.groupby("spi", observed=True))[:3]:
        dst = g["dst"].mode().iloc[0]
        out += [Selector("ipsec-to", spis=(int(spi),)), Selector("ipsec-to", spis=(int(spi),), dst=dst, end=mid),
                Selector("ipsec-seq", spis=(int(spi),), dst=dst,
                         seqs=tuple(sorted({int(s) for s in g["seq"].dropna()})[:5]), start=mid - 1.0)]
    return out


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_selection_through_the_index_equals_the_masks(path):
    packets = packets_of(path)
    index = PacketIndex(packets)
    for selector in selectors_for(packets):
        pd.testing.assert_frame_equal(select(packets, [selector], index), select(packets, [selector]),
                                      check_exact=True)


def test_the_index_is_exercised_on_quoted_and_top_level_spis():
    kinds = {s.what for p in CAPTURES for s in selectors_for(packets_of(p))}
    assert {"icmp-quoting", "ipsec-to", "ipsec-seq", "ike-phase2"} <= kinds


def random_packets(draw_seqs, spis, captures, shuffle_frames):
    n = len(draw_seqs)
    capture = [captures[i % len(captures)] for i in range(n)]
    frame = np.zeros(n, dtype=np.int64)
    for c in set(capture):
        at = [i for i in range(n) if capture[i] == c]
        frame[at] = np.arange(1, len(at) + 1)
    if shuffle_frames:
        frame = frame[::-1].copy()
    return schema.to_frame(schema.from_columns(schema.PACKETS, {
        "capture": capture, "frame": frame, "time": pd.to_datetime(np.arange(n) * 1_000_000, utc=True),
        "kind": ["ah" if spi == 3 else "esp" for spi in spis], "src": ["198.51.100.1"] * n,
        "dst": ["192.0.2.1" if spi != 2 else "192.0.2.2" for spi in spis], "spi": spis, "seq": draw_seqs}))


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 70))
def test_sequence_shortcuts_equal_the_full_table(data, window):
    """``in_order`` says "no packet out of order" only when the full table is empty, and the
    table made from the candidate rows equals the one made through ``ordered``, with each
    row's packet position."""
    n = data.draw(st.integers(1, 80))
    seqs = data.draw(st.one_of(st.lists(st.integers(0, 40), min_size=n, max_size=n),
                               st.just(list(range(1, n + 1)))))
    spis = data.draw(st.lists(st.sampled_from([0, 1, 2, 3]), min_size=n, max_size=n))
    packets = random_packets(seqs, spis, data.draw(st.sampled_from([["a"], ["a", "b"]])), data.draw(st.booleans()))
    full, at = sequence_rows(packets, window, ordered_rows=ordered(packets))
    table, positions = sequence_rows(packets, window)
    pd.testing.assert_frame_equal(table, full, check_exact=True)
    assert np.array_equal(positions, at)
    assert (packets["frame"].to_numpy()[at] == full["frame"].to_numpy()).all()
    assert (packets["capture"].to_numpy()[at] == full["capture"].to_numpy()).all()
    if in_order(packets):
        assert full.empty
