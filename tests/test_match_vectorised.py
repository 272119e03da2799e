"""`match_events` matches all lines at once (sort-and-search, issue 17 point 9): it must
give exactly what matching line by line gives.  The reference below is the line-by-line
version it replaced, kept here as the specification."""
from __future__ import annotations

import numpy as np
import pandas as pd
from badspi_pcap import schema
from badspi_pcap.correlation import (BAD_SPI_KINDS, EXACT_TOLERANCE_S, SPI_WINDOW_S, _seconds, local_addresses,
                                   match_events, references)
from badspi_pcap.references import reference_index


def reference_match_events(events, packets, local, resolution=1.0):
    refs = references(packets)
    refs = refs.assign(role=roles(refs, local), t=_seconds(refs["time"])).sort_values("t", kind="stable")
    by_spi = {spi: Timeline(g) for spi, g in refs.groupby("spi", observed=True)}
    short = packets[(packets["kind"] == "icmp-error") & packets["inner_spi"].isna()]
    short = short.assign(t=_seconds(short["time"]), role="quoted-by-icmp",
                         pair=[pair(x, y) if pd.notna(x) and pd.notna(y) else "" for x, y in
                               zip(short["inner_src"], short["inner_dst"])])
    by_pair = {p: Timeline(g.sort_values("t", kind="stable")) for p, g in short.groupby("pair")}
    bad = events[events["kind"].isin(BAD_SPI_KINDS) & events["time"].notna()]
    rows = []
    columns = ("event_id", "spi", "seq", "src", "dst", "source", "line")
    for idx, spi, seq, src, dst, source, line, ns in zip(*(bad[c] for c in columns), bad["time"].astype("int64")):
        t = ns / 1e9
        found = []
        timeline = by_spi.get(spi) if pd.notna(spi) else None
        if timeline is not None and pd.notna(seq):
            hits = timeline.exact(seq, t - EXACT_TOLERANCE_S, t + resolution + EXACT_TOLERANCE_S)
            found = [(i, "spi+seq") for i in hits]
        if not found and timeline is not None:
            found = [(i, "spi") for i in timeline.nearest_per_role(t, t - SPI_WINDOW_S, t + resolution + 1)]
        hits = [(timeline, i, key) for i, key in found]
        if not any(timeline.role[i] == "quoted-by-icmp" for _, i, _ in hits) and pd.notna(src) and pd.notna(dst):
            quotes = by_pair.get(pair(src, dst))
            if quotes is not None:
                hits += [(quotes, i, "tuple") for i in quotes.nearest_per_role(t, t - SPI_WINDOW_S, t + resolution + 1)]
        for tl, i, key in hits:
            rows.append({"event_id": idx, "source": source, "line": line, "capture": tl.capture[i],
                         "frame": int(tl.frame[i]), "dt": float(tl.t[i] - t), "key": key, "role": tl.role[i]})
    return pd.DataFrame(rows, columns=["event_id", "source", "line", "capture", "frame", "dt", "key", "role"])


def roles(refs, local):
    """The role of each reference: quoted by an ICMP error, sent to the device, sent by it."""
    quoted = refs["where"].to_numpy() == "quoted"
    to_local, from_local = refs["receiver"].isin(local).to_numpy(), refs["sender"].isin(local).to_numpy()
    return np.select([quoted, to_local, from_local], ["quoted-by-icmp", "sent-by-peer", "sent-by-device"], "esp")


def pair(a, b) -> str:
    return "|".join(sorted((str(a), str(b))))


class Timeline:
    def __init__(self, g):
        self.t = g["t"].to_numpy(dtype=float)
        self.seq = g["seq"].to_numpy(dtype=float, na_value=np.nan) if "seq" in g else np.full(len(g), np.nan)
        self.role, self.capture, self.frame = g["role"].to_numpy(), g["capture"].to_numpy(), g["frame"].to_numpy()

    def window(self, lo, hi):
        return range(int(np.searchsorted(self.t, lo, "left")), int(np.searchsorted(self.t, hi, "right")))

    def exact(self, seq, lo, hi):
        w = self.window(lo, hi)
        return [w.start + int(i) for i in np.flatnonzero(self.seq[w.start:w.stop] == float(seq))]

    def nearest_per_role(self, t, lo, hi):
        w = self.window(lo, hi)
        if not len(w):
            return []
        roles, distance = self.role[w.start:w.stop], np.abs(self.t[w.start:w.stop] - t)
        return [w.start + int(np.flatnonzero(roles == r)[np.argmin(distance[roles == r])]) for r in np.unique(roles)]


ADDRESSES = ["192.0.2.1", "198.51.100.1", "203.0.113.9", "2001:db8::1"]
BASE = 1_700_000_000


def random_case(rng: np.random.Generator):
    n = int(rng.integers(0, 60))
    kinds = rng.choice(["esp", "ah", "esp-in-udp", "icmp-error", "ike"], n)
    spis = rng.integers(1, 6, n).astype(float)
    quoted = kinds == "icmp-error"
    inner_spi = np.where(quoted & (rng.random(n) < 0.6), spis, np.nan)
    # whole and half seconds: ties in time and in distance are common
    times = BASE + rng.choice(rng.integers(0, 80, 12), n) / 2   # few distinct times: many exact ties
    packets = schema.empty(schema.PACKETS)
    packets = pd.DataFrame({
        "capture": rng.choice(["a.pcap", "b.pcap"], n), "frame": np.arange(1, n + 1), "time":
        pd.to_datetime(times * 1e9, utc=True), "kind": kinds,
        "src": rng.choice(ADDRESSES, n), "dst": rng.choice(ADDRESSES, n),
        "spi": pd.array(np.where(quoted | (kinds == "ike"), np.nan, spis), dtype="UInt32"),
        "seq": pd.array(np.where(quoted | (kinds == "ike"), np.nan, rng.integers(1, 4, n)), dtype="UInt32"),
        "inner_spi": pd.array(inner_spi, dtype="UInt32"),
        "inner_seq": pd.array(np.where(np.isnan(inner_spi), np.nan, rng.integers(1, 4, n)), dtype="UInt32"),
        "inner_src": np.where(quoted, rng.choice(ADDRESSES, n), None),
        "inner_dst": np.where(quoted, rng.choice(ADDRESSES, n), None),
    })
    m = int(rng.integers(0, 40))
    events = pd.DataFrame({
        "source": "gw.log", "line": np.arange(1, m + 1), "kind": rng.choice(["bad-spi", "replay", "p2-complete"], m),
        "time": pd.to_datetime((BASE + rng.integers(-10, 50, m)) * 1e9, utc=True),
        "spi": pd.array(np.where(rng.random(m) < 0.85, rng.integers(1, 7, m), np.nan), dtype="UInt32"),
        "seq": pd.array(np.where(rng.random(m) < 0.6, rng.integers(1, 4, m), np.nan), dtype="UInt32"),
        "src": np.where(rng.random(m) < 0.7, rng.choice(ADDRESSES, m), None),
        "dst": np.where(rng.random(m) < 0.7, rng.choice(ADDRESSES, m), None),
    }, index=rng.permutation(np.arange(100, 100 + m)))
    events["event_id"] = events.index      # lines keep their id whatever their order (the matches' key)
    local = set(rng.choice(ADDRESSES, int(rng.integers(0, 3)), replace=False))
    return events, packets, local, float(rng.choice([0.0, 1.0]))


def normalised(df: pd.DataFrame) -> list[tuple]:
    return [(int(r.event_id), r.source, int(r.line), r.capture, int(r.frame), round(float(r.dt), 6), r.key, r.role)
            for r in df.itertuples(index=False)]


def test_all_lines_at_once_equal_line_by_line():
    keys = set()
    for seed in range(100):   # hundreds of matches of every key and role in all
        events, packets, local, resolution = random_case(np.random.default_rng(seed))
        want = reference_match_events(events, packets, local, resolution)
        got = match_events(events, packets, local, resolution)
        assert list(got.columns) == list(want.columns)
        assert normalised(got) == normalised(want), f"seed {seed}"
        keys |= set(got["key"]) | set(got["role"])
    assert keys == {"spi+seq", "spi", "tuple", "esp", "quoted-by-icmp", "sent-by-peer", "sent-by-device"}


def test_reference_table_lists_every_spi_in_packet_order():
    """``references`` (the table form of the index the matching works on): the top-level
    ESP/AH headers, then the headers ICMP errors quote, each in packet order."""
    for seed in range(30):
        _, packets, _, _ = random_case(np.random.default_rng(seed))
        top = packets[packets["kind"].isin(["esp", "ah", "esp-in-udp"]) & packets["spi"].notna()]
        quoted = packets[(packets["kind"] == "icmp-error") & packets["inner_spi"].notna()]
        def entries(rows, spi, seq, sender, receiver, where, router=None):
            return [(c, f, s, None if pd.isna(q) else int(q), where, a, b, None if router is None else r)
                    for c, f, s, q, a, b, r in zip(rows["capture"], rows["frame"], rows[spi], rows[seq], rows[sender],
                                                   rows[receiver], rows[router or "src"])]

        want = entries(top, "spi", "seq", "src", "dst", "esp") + \
            entries(quoted, "inner_spi", "inner_seq", "inner_src", "inner_dst", "quoted", router="src")
        refs = references(packets)
        got = [(c, f, s, None if pd.isna(q) else int(q), w, a, b, None if pd.isna(r) else r)
               for c, f, s, q, w, a, b, r in zip(refs["capture"], refs["frame"], refs["spi"], refs["seq"],
                                                 refs["where"], refs["sender"], refs["receiver"], refs["router"])]
        assert got == want, f"seed {seed}"
        assert (refs["time"].to_numpy() == pd.concat([top["time"], quoted["time"]]).to_numpy()).all()


def test_device_addresses_from_the_reference_index_equal_the_table_scan():
    """``local_addresses`` given the reference index (IPsec packets by address code, IKE and
    SPI-less IPsec taken on their own) finds what the scan of the whole table finds."""
    found = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        events, packets, _, _ = random_case(rng)
        events = events.assign(peer=rng.choice(ADDRESSES + [None], len(events)))
        # some IPsec packets cut before their SPI
        packets.loc[rng.random(len(packets)) < 0.1, "spi"] = pd.NA
        packets = packets.assign(inner_sport=pd.NA, inner_dport=pd.NA,
                                 inner_proto=np.where(packets["inner_spi"].notna(), 50, np.nan))
        want = local_addresses(packets, events)
        assert local_addresses(packets, events, None, reference_index(packets)) == want, f"seed {seed}"
        found += len(want)
    assert found > 20
    # An ICMP error quoting a packet from the peer: the quoted packet's ends are not the
    # ends of an IPsec packet in the capture (here 203.0.113.9 appears nowhere else).
    events = random_case(np.random.default_rng(7))[0]
    quote = pd.DataFrame({"capture": ["a.pcap"] * 2, "frame": [1, 2], "kind": ["esp", "icmp-error"],
                          "time": pd.to_datetime([BASE * 1e9] * 2, utc=True),
                          "src": ["192.0.2.1", "198.51.100.7"], "dst": ["198.51.100.1", "198.51.100.1"],
                          "spi": pd.array([5, None], dtype="UInt32"), "seq": pd.array([1, None], dtype="UInt32"),
                          "inner_spi": pd.array([None, 6], dtype="UInt32"),
                          "inner_seq": pd.array([None, 1], dtype="UInt32"),
                          "inner_src": [None, "192.0.2.1"], "inner_dst": [None, "203.0.113.9"],
                          "inner_sport": pd.NA, "inner_dport": pd.NA, "inner_proto": [np.nan, 50]})
    events = events.iloc[:1].assign(kind="p2-complete", peer="192.0.2.1")
    assert local_addresses(quote, events) == {"198.51.100.1"}
    assert local_addresses(quote, events, None, reference_index(quote)) == {"198.51.100.1"}


def test_a_few_rows_of_a_big_table_taken_by_position_equal_the_mask():
    """``masks.rows`` takes a sparse selection of a big table by position: the same table."""
    from conftest import PCAPS
    from badspi_pcap import read_packets
    from badspi_pcap.masks import SPARSE_FROM, kind_in, rows

    small = read_packets(PCAPS / "lab" / "icmp-net-unreach.pcap")
    big = pd.concat([small] * (SPARSE_FROM // len(small) + 1), ignore_index=True)
    for kinds in ("icmp-error", "esp"):     # few rows (by position), most rows (by mask)
        mask = kind_in(big, kinds)
        pd.testing.assert_frame_equal(rows(big, mask, list(big.columns)), big[mask], check_exact=True)


def test_frame_positions_find_each_capture_frame_and_skip_absent_keys():
    """``masks.frame_positions`` (evidence pairs, receivers): the row of each (capture,
    frame), also where two captures share frame numbers; keys not in the table are left out."""
    from conftest import PCAPS
    from badspi_pcap import read_packets
    from badspi_pcap.masks import frame_positions

    a = read_packets(PCAPS / "lab" / "icmp-net-unreach.pcap").assign(capture="a.pcap")
    b = read_packets(PCAPS / "lab" / "icmp-frag-needed.pcap").assign(capture="b.pcap")
    packets = pd.concat([a, b], ignore_index=True)
    shared = sorted(set(a["frame"]) & set(b["frame"]))[:5]
    assert shared
    keys = {("a.pcap", f) for f in shared} | {("b.pcap", f) for f in shared} | {("c.pcap", shared[0]),
                                                                               ("a.pcap", 10**9)}
    want = {(c, int(f)): i for i, (c, f) in enumerate(zip(packets["capture"], packets["frame"])) if (c, int(f)) in keys}
    assert frame_positions(packets, keys) == want
    assert len(want) == 2 * len(shared)
