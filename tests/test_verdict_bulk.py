"""The verdict stage's array paths (issue 14 point 4: classify_lines and diagnose) give
exactly what the per-line versions they replaced give, on every fixture log and on
hand-made edge cases.  The references below are those versions, kept here as the
specification."""
from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badspi_pcap import analyze, diagnosis, schema
from badspi_pcap.causes import Context, embedded_icmp, replay
from badspi_pcap.causes.base import Match, columns, seconds
from badspi_pcap.causes.base import given as is_given
from badspi_pcap.causes.selectors import PacketIndex
from badspi_pcap.correlation import rate_limited
from badspi_pcap.masks import distinct_at, kind_in, present
from badspi_pcap.sequence import in_order
from conftest import FIXTURES
from test_bulk_paths import CAPTURES as BULK_CAPTURES
from test_bulk_paths import packets_of, selectors_for

LOGS = FIXTURES / "logs"
CASES = [(folder.name, log.name, with_sas) for folder in sorted(LOGS.iterdir()) if (folder / "truth.json").exists()
         for log in sorted(folder.glob("*.log")) for with_sas in (False, True)
         if not with_sas or list(folder.glob("*.txt"))]
IDS = [f"{s}/{f}{'+sa' if sas else ''}" for s, f, sas in CASES]


@lru_cache(maxsize=None)
def case(scenario: str, form: str, with_sas: bool):
    truth = json.loads((LOGS / scenario / "truth.json").read_text())
    sas = sorted(str(p) for p in (LOGS / scenario).glob("*.txt")) if with_sas else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return analyze([FIXTURES.parent / c["pcap"] for c in truth["captures"]], [LOGS / scenario / form], sas,
                       log_tz=truth["params"].get("tz"))


def fresh_context(a) -> Context:
    return Context(a.events, a.packets, a.matches, set(a.local_addresses), a.sas, a.options, a.thresholds, 1.0)


def covered_lines(a, kind: str) -> pd.DataFrame:
    """The covered lines of one kind as ``_explain`` hands them to a cause (with ``t``)."""
    lines = a.lines[a.lines["kind"].eq(kind) & a.lines["covered"]]
    return lines.drop(columns=["time", "time_local", "time_device"]).assign(t=seconds(lines["time"]))


def test_the_cases_cover_every_kind_of_line():
    """The comparisons below mean something: the fixtures have bad-SPI and replay lines,
    replay lines with and without an SPI (IOS without its SA table), several tunnels."""
    lines = pd.concat([case(*c).lines for c in CASES])
    assert {"bad-spi", "replay"} <= set(lines["kind"])
    replay_lines = lines[lines["kind"] == "replay"]
    assert replay_lines["spi"].isna().any() and replay_lines["spi"].notna().any()
    assert max(case(*c).lines["tunnel"].nunique() for c in CASES) >= 2


# ---------------------------------------------------------------- columns as lists

def test_columns_equal_table_from_pandas_on_every_table():
    frames = [getattr(case(*c), name) for c in CASES[:12] for name in ("events", "matches", "lines", "findings")]
    odd = pd.DataFrame({"o": pd.Series([1, None, np.nan, pd.NA], dtype=object), "f": [1.5, np.nan, 2.0, None],
                        "c": pd.Categorical(["a", None, "b", "a"]), "s": ["x", None, "y", "z"],
                        "t": pd.to_datetime([0, None, 2, 3], unit="s", utc=True)})
    for df in frames + [odd, odd.iloc[:0]]:
        got = columns(df)
        want = pa.Table.from_pandas(df, preserve_index=False).to_pydict()
        assert list(got) == list(want)
        for name in want:
            assert [type(v) for v in got[name]] == [type(v) for v in want[name]]
            assert [v if v == v else "nan" for v in got[name]] == [v if v == v else "nan" for v in want[name]]


# ---------------------------------------------------------------- tunnels, peers, vendors

def reference_tunnel_keys(lines, local):
    """``tunnel_keys`` as it was: each distinct combination of values named once, by row."""
    names: dict = {}
    keys = []
    for values in zip(*columns(lines, ("tunnel_id", "spi", "src", "dst", "peer")).values()):
        if values not in names:
            names[values] = diagnosis._tunnel_key(*values, local)
        keys.append(names[values])
    return np.array(keys, dtype=object)


def reference_peer(group, local):
    for values in columns(group, ("peer", "src", "dst")).values():
        counts = Counter(a for a in values if a is not None and a not in local)
        if counts:
            return min(counts, key=lambda a: (-counts[a], a))
    return ""


def reference_mode(values):
    v = values.dropna()
    return v.mode().iloc[0] if len(v) else None


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_tunnels_peers_and_vendors_equal_the_per_line_versions(c):
    a = case(*c)
    local = set(a.local_addresses)
    events = a.events[a.events["kind"].isin(["bad-spi", "replay"])]
    assert (diagnosis.tunnel_keys(events, local) == reference_tunnel_keys(events, local)).all()
    groups = [(t, g) for t, g in a.lines.groupby("tunnel", sort=True)]
    assert [(t, list(g.index)) for t, g in diagnosis._by_tunnel(a.lines)] == [(t, list(g.index)) for t, g in groups]
    for t, g in diagnosis._by_tunnel(a.lines):
        pd.testing.assert_frame_equal(g, dict(groups)[t], check_exact=True)
        assert diagnosis._peer(g, local) == reference_peer(g, local)
        assert diagnosis._mode(g["vendor"]) == reference_mode(g["vendor"])


def test_tunnels_and_peers_on_hand_made_edge_cases():
    """Missing values in every column, the same peer by tunnel ID and by address, ties
    between peers (the first by name wins), local addresses left out, no value at all."""
    lines = pd.DataFrame({
        "tunnel_id": pd.array([None, 7, 7, None, None, None], dtype="Int64"),
        "spi": pd.array([0x10, None, 0x11, None, 0x12, None], dtype="UInt32"),
        "src": ["192.0.2.1", "198.51.100.9", None, "198.51.100.7", "192.0.2.1", None],
        "dst": ["198.51.100.8", "192.0.2.1", "192.0.2.1", "192.0.2.1", "198.51.100.9", None],
        "peer": [None, None, None, None, None, None],
        "vendor": ["asa", None, "ios", "ios", "asa", None]})
    local = {"192.0.2.1"}
    assert list(diagnosis.tunnel_keys(lines, local)) == list(reference_tunnel_keys(lines, local))
    assert list(diagnosis.tunnel_keys(lines, local))[-1] == "unknown tunnel"
    for rows in ([0, 1, 2, 3, 4, 5], [0, 3], [5], []):
        g = lines.iloc[rows]
        assert diagnosis._peer(g, local) == reference_peer(g, local)
        assert diagnosis._mode(g["vendor"]) == reference_mode(g["vendor"])
    assert diagnosis._peer(lines.iloc[[0, 3]], local) == "198.51.100.7"      # a tie: the first by name
    lines["tunnel"] = ["peer b", None, "peer a", "peer b", None, "peer a"]
    for got, (tunnel, want) in zip(diagnosis._by_tunnel(lines), lines.groupby("tunnel", sort=True), strict=True):
        assert got[0] == tunnel
        pd.testing.assert_frame_equal(got[1], want, check_exact=True)
    assert diagnosis._mode(lines["vendor"]) == "asa"                           # asa 2, ios 2: the first by name


# ---------------------------------------------------------------- matches and embedded ICMP

@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_matches_and_embedded_icmp_proofs_equal_the_per_line_versions(c):
    a = case(*c)
    ctx = fresh_context(a)
    every: dict = {}
    for e, cap, f, d, k, r in zip(*columns(a.matches, ("event_id", "capture", "frame", "dt", "key", "role")).values()):
        every.setdefault(int(e), []).append(Match(str(cap), int(f), float(d), str(k), str(r)))
    asked = [*every, -1, *list(every)[:3], 10 ** 9]     # lines without matches, lines asked twice
    assert fresh_context(a).matches_of(asked) == [every.get(e, []) for e in asked]
    for event in asked:
        assert ctx.matches_for(event) == every.get(event, [])
    lines = covered_lines(a, "bad-spi")
    plain = pd.DataFrame(columns(lines), dtype=object)
    one_by_one = [embedded_icmp.explain(line, fresh_context(a)) for line in plain.itertuples(index=False)]
    assert embedded_icmp.explain_many(lines, fresh_context(a)) == one_by_one


def test_embedded_icmp_proofs_are_exercised():
    assert sum(p is not None for c in CASES for p in embedded_icmp.explain_many(covered_lines(case(*c), "bad-spi"),
                                                                                fresh_context(case(*c)))) >= 20


def reference_windows(quoting, lines, rate, ctx):
    """``embedded_icmp.windows`` as it was: one binary search per rate-limit window."""
    times = np.sort(seconds(quoting["time"])) if len(quoting) else np.array([])
    logged = rate_limited(times, rate)
    line_times = np.sort(seconds(lines["time"])) if len(lines) else np.array([])
    width = max(rate, 0) + ctx.resolution_s + 2.0
    matched = 0
    for te in times[logged]:
        i = np.searchsorted(line_times, te - 2.0)
        matched += bool(i < len(line_times) and line_times[i] <= te + width)
    return int(logged.sum()), int(matched)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 120, allow_nan=False), max_size=40), st.lists(st.floats(0, 120, allow_nan=False),
                                                                            max_size=20), st.sampled_from([0, 1, 10]))
def test_rate_limit_windows_equal_one_search_per_window(icmp, lines, rate):
    def stamped(ts):
        return pd.DataFrame({"time": pd.to_datetime(np.asarray(ts, dtype=float) * 1e9, utc=True)})
    ctx = Context(schema.empty(schema.EVENTS), schema.empty(schema.PACKETS), schema.empty(schema.MATCHES), set())
    assert embedded_icmp.windows(stamped(icmp), stamped(lines), rate, ctx) == \
        reference_windows(stamped(icmp), stamped(lines), rate, ctx)


# ---------------------------------------------------------------- replay evidence

def reference_prepare(lines, ctx) -> dict:
    """``replay.prepare`` as it was: the lines' values, keys, windows, frames and whether
    they see their SA worked out line by line (the shared array steps, ``_named`` and
    ``_dropped``, as they are)."""
    c = columns(lines, [f for f in replay.LINE_FIELDS if f in lines])
    c.update({f: [None] * len(lines) for f in replay.LINE_FIELDS if f not in c})
    spis = [replay._spi(s, k, ctx) for s, k in zip(c["spi"], c["conn_id"])]
    has_seq = np.array([is_given(s) for s in c["seq"]], dtype=bool)
    seq = np.array([int(s) if ok else 0 for s, ok in zip(c["seq"], has_seq)], dtype=np.uint64)
    by_spi = np.array([s is not None for s in spis], dtype=bool)
    spi = np.array([s if s is not None else 0 for s in spis], dtype=np.uint64)
    from_seq = {k: replay._spi_from_seq(k, ctx) for k in set(c["conn_id"]) if is_given(k)}
    keys = np.array(["" if not ok else "spi+seq" if s is not None and not (is_given(k) and from_seq[k]) else "seq+time"
                     for s, k, ok in zip(spis, c["conn_id"], has_seq)], dtype=object)
    t = np.asarray(c["t"], dtype=float)
    line, pos, dt = replay._named(ctx, spi, seq, has_seq, by_spi, t)
    windows = [replay._window(s, v, ctx) for s, v in zip(spis, c["vendor"])]
    size = np.array([w.size if w.size is not None else 0 for w in windows], dtype=np.int64)
    known = np.array([w.size is not None for w in windows], dtype=bool)
    dropped = replay._dropped(ctx, size, known, keys, line, pos, dt)
    seen = {int(s) for s in ctx.packets.loc[replay._with_seq(ctx), "spi"].unique()}
    out = {}
    for i, event in enumerate(c["event_id"]):
        named = sorted({(str(cap), int(f)) for cap, f in zip(ctx.packets["capture"].to_numpy()[pos[line == i]],
                                                               ctx.packets["frame"].to_numpy()[pos[line == i]])})
        frames = tuple(named)
        sees = spis[i] is not None and (bool(frames) or spis[i] in seen)
        out[int(event)] = replay.LineEvidence(dropped.get(i), frames, sees)
    return out


REPLAY = [c for c in CASES if c[0].startswith(("replay-", "mixed-stale-replay"))]


@pytest.mark.parametrize("c", REPLAY, ids=[f"{s}/{f}{'+sa' if sas else ''}" for s, f, sas in REPLAY])
def test_replay_evidence_equals_the_per_line_version(c):
    a = case(*c)
    lines = covered_lines(a, "replay")
    ctx = fresh_context(a)
    replay.prepare(lines, ctx)
    assert ctx.__dict__.get("_replay_evidence", {}) == reference_prepare(lines, fresh_context(a))


def test_replay_evidence_is_exercised_on_every_path():
    """Dropped packets named by SPI and sequence number (the fixtures); an IOS line whose
    SPI comes from its connection id in the SA table, and without that table by sequence
    number and time (its SPI taken away by hand)."""
    found = [e for c in REPLAY for e in replay.evidence_many(covered_lines(case(*c), "replay"),
                                                             fresh_context(case(*c)))]
    assert {e.dropped.key for e in found if e.dropped is not None} == {"spi+seq"}
    a = case("replay-duplicate", "ios.log", True)
    ios = covered_lines(a, "replay")
    ios["spi"] = pd.array([None] * len(ios), dtype=ios["spi"].dtype)
    assert len(ios) and ios["conn_id"].notna().all()
    for sas in (a.sas, a.sas.iloc[:0]):
        def context():
            return Context(a.events, a.packets, a.matches, set(a.local_addresses), sas, a.options, a.thresholds, 1.0)
        ctx = context()
        replay.prepare(ios, ctx)
        assert ctx.__dict__["_replay_evidence"] == reference_prepare(ios, context())
        keys = {e.dropped.key for e in ctx.__dict__["_replay_evidence"].values() if e.dropped is not None}
        assert keys == ({"spi+seq"} if len(sas) else {"seq+time"})


def test_replay_evidence_of_packets_seen_in_order():
    """The same log against the capture without the packets out of order (as a capture
    point before the duplicating hop would see it): the lines name packets, none dropped."""
    a = case("replay-duplicate", "screenos-syslog.log", False)
    _, out_of_order = replay._sequence(fresh_context(a), 0)
    upstream = a.packets.drop(a.packets.index[out_of_order]).reset_index(drop=True)

    def context():
        return Context(a.events, upstream, a.matches, set(a.local_addresses), a.sas, a.options, a.thresholds, 1.0)
    lines = covered_lines(a, "replay")
    ctx = context()
    replay.prepare(lines, ctx)
    assert ctx.__dict__["_replay_evidence"] == reference_prepare(lines, context())
    assert len(out_of_order) and all(e.dropped is None and e.frames and e.sees_sa
                                     for e in ctx.__dict__["_replay_evidence"].values())


def test_replay_evidence_of_lines_missing_values_and_columns():
    """Hand-made lines on a real capture: without a sequence number, without an SPI, an
    SPI the capture never saw, no ``conn_id``/``vendor`` column, and one line alone."""
    a = case("replay-duplicate", "screenos-syslog.log", False)
    lines = covered_lines(a, "replay")
    first = lines.iloc[:4].copy()
    first["seq"] = pd.array([None, *first["seq"].iloc[1:]], dtype=first["seq"].dtype)
    first["spi"] = pd.array([first["spi"].iloc[0], None, 0xDEAD, first["spi"].iloc[3]], dtype=first["spi"].dtype)
    for table in (first, first.drop(columns=["conn_id", "vendor"]), first.iloc[:1], first.iloc[:0]):
        ctx = fresh_context(a)
        replay.prepare(table, ctx)
        assert ctx.__dict__.get("_replay_evidence", {}) == reference_prepare(table, fresh_context(a))
    e = replay.evidence_many(first, fresh_context(a))
    assert e[0].frames == () and not e[2].sees_sa and e[3].frames      # the edge cases did happen


# ---------------------------------------------------------------- the capture's SPIs

@pytest.mark.parametrize("c", CASES[::3], ids=IDS[::3])
def test_spis_of_rows_and_in_order_equal_a_pass_over_the_column(c):
    p = case(*c).packets
    index = PacketIndex(p)
    icmp = kind_in(p, "icmp-error")
    for mask in (~icmp & present(p, "kind"), icmp, np.zeros(len(p), dtype=bool), np.ones(len(p), dtype=bool)):
        assert index.spis_at(mask) == distinct_at(p, "spi", mask)
    assert in_order(p, None, index.spi_codes) == in_order(p)


def test_frame_refs_of_lines_without_and_with_several_frames():
    refs = diagnosis.frame_refs([(), (("a.pcap", 3), ("b.pcap", 1)), (), (("a.pcap", 9),)])
    assert refs.tolist() == [[], [{"capture": "a.pcap", "frame": 3}, {"capture": "b.pcap", "frame": 1}], [],
                             [{"capture": "a.pcap", "frame": 9}]]
    assert diagnosis.frame_refs([]).tolist() == [] and diagnosis.frame_refs([()]).tolist() == [[]]


# ---------------------------------------------------------------- evidence selection

SELECTION_NAMES = (None, ["time"], ["time", "src", "inner_src", "icmp_type", "icmp_code", "icmp_mtu"], ["length"])


def selections_equal(packets, selectors):
    from badspi_pcap.causes.selectors import select
    index = PacketIndex(packets)
    want = select(packets, selectors)            # every selector's own mask over the whole table
    for names in SELECTION_NAMES:
        got = select(packets, selectors, index, names)
        asked = want if names is None else want[list(dict.fromkeys(["capture", "frame", *names]))]
        pd.testing.assert_frame_equal(got, asked, check_exact=True)
    return len(want)


@pytest.mark.parametrize("path", BULK_CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_selection_of_asked_columns_equals_the_masks(path):
    """One take of the tested and asked columns (from the quotes table for quoted SPIs)
    selects what the selector's mask over the whole table selects; ``reads`` names every
    column the mask reads."""
    packets = packets_of(path)
    for s in selectors_for(packets):
        assert (s.mask(packets[list(s.reads)]) == s.mask(packets)).all()
        selections_equal(packets, [s])


def test_selection_sorts_captures_that_come_out_of_order():
    """Captures concatenated against their name order, several selectors at once, and a
    selector that names an SPI twice: still capture/frame order, each row once."""
    quoting = [p for p in BULK_CAPTURES if packets_of(p)["inner_spi"].notna().any()]
    packets = pd.concat([packets_of(p) for p in sorted(quoting, key=lambda p: p.name, reverse=True)],
                        ignore_index=True)
    assert list(dict.fromkeys(packets["capture"])) != sorted(set(packets["capture"]))
    selectors = selectors_for(packets)
    quoted = [s for s in selectors if s.what == "icmp-quoting" and s.spis]
    assert quoted and sum(selections_equal(packets, [s]) for s in selectors) > 0
    doubled = replace(quoted[0], spis=quoted[0].spis * 2)
    assert selections_equal(packets, [doubled]) == selections_equal(packets, quoted[:1]) > 0
    assert selections_equal(packets, selectors[:4]) > 0


def test_a_claim_keeps_classify_lines_proofs_exactly_when_the_old_check_did():
    """``_same_proofs`` (whole lists compared) against the check it replaced, line by line:
    a missing proof, another cause, another key, another exactness each refuse."""
    from badspi_pcap.causes import Proof

    def reference(kept, cause, keys, exact):
        return all(p is not None and p.cause == cause and p.key == k and bool(p.exact) == x
                   for p, k, x in zip(kept, keys, exact))
    a, b = Proof("embedded-icmp", "spi+seq", True, (("c", 1),)), Proof("embedded-icmp", "tuple", False)
    cases = (([a, b], ["spi+seq", "tuple"], [True, False]), ([], [], []),
             ([a, None], ["spi+seq", None], [True, False]), ([a, b], ["spi+seq", "spi"], [True, False]),
             ([a, b], ["spi+seq", "tuple"], [True, True]), ([a, b], ["spi+seq", None], [True, None]))
    for kept, keys, exact in cases:
        for cause in ("embedded-icmp", "stale-sa"):
            assert diagnosis._same_proofs(kept, cause, keys, exact) == reference(kept, cause, keys, exact)
    assert diagnosis._same_proofs([a, b], "embedded-icmp", ["spi+seq", "tuple"], [True, False])


def test_group_sizes_equal_pandas_groupby():
    """The ICMP type/code/MTU groups of every fixture capture's ICMP errors, and a hand-made
    table with missing MTUs and SPIs: the same groups, counts and order as pandas gives."""
    tables = [p[p["kind"] == "icmp-error"] for p in (packets_of(c) for c in BULK_CAPTURES)]
    tables.append(pd.DataFrame({"inner_spi": pd.array([2, 1, None, 2, 1, 2], dtype="UInt32"),
                                "icmp_type": pd.array([3, 3, 3, 11, 3, 3], dtype="UInt8"),
                                "icmp_code": pd.array([4, 1, 4, 0, 1, 4], dtype="UInt8"),
                                "icmp_mtu": pd.array([1400, None, None, None, None, 1300], dtype="UInt16")}))
    keys = ["inner_spi", "icmp_type", "icmp_code", "icmp_mtu"]
    assert sum(len(t) for t in tables) > 50
    for t in tables:
        for names in (keys, keys[1:]):
            want = [(tuple(None if pd.isna(v) else int(v) for v in k), int(n))
                    for k, n in t.groupby(names, dropna=False, observed=True).size().items()]
            assert embedded_icmp.group_sizes(t, names) == want
