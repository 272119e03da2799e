"""Vectorised cause helpers (issue 14 point 4) give exactly what the straightforward
per-group versions they replaced give, on every fixture capture.  The references below
are those versions, kept here as the specification."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from badspi_pcap import schema
from badspi_pcap.capture import read_capture
from badspi_pcap.causes import Context, Judgement, Selector, embedded_icmp
from badspi_pcap.causes.base import seconds
from badspi_pcap.correlation import rate_limited
from conftest import PCAPS

CAPTURES = sorted(p for d in ("lab", "lab2", "corpus") for p in (PCAPS / d).iterdir()
                  if p.suffix in (".pcap", ".pcapng", ".cap") and p.stat().st_size <= 1 << 20)


def reference_unclaimed(ctx, named_spis):
    """``embedded_icmp.unclaimed`` as it was: one groupby and one finding per quoted SPI."""
    p = ctx.packets
    icmp = p[(p["kind"] == "icmp-error") & p["inner_spi"].notna()]
    out = []
    for spi, q in icmp.groupby("inner_spi", observed=True):
        if int(spi) in named_spis:
            continue
        expected = int(rate_limited(seconds(q["time"]), ctx.thresholds.default_rate_limit_s).sum())
        ident = {"tunnel": f"SPI 0x{int(spi):08x}", "peer": ", ".join(sorted(set(q["inner_dst"].dropna())))}
        groups = [{"type": int(t), "code": int(c), "mtu": None if pd.isna(m) else int(m), "count": int(n)}
                  for (t, c, m), n in q.groupby(["icmp_type", "icmp_code", "icmp_mtu"], dropna=False,
                                                observed=True).size().items()]
        facts = {"icmp_errors": int(len(q)), "routers": sorted(set(q["src"].dropna())), "icmp": groups,
                 "expected_lines": expected}
        out.append((ident, Judgement("inconclusive", (Selector("icmp-quoting", spis=(int(spi),)),), facts=facts,
                                     spis=[int(spi)])))
    return out


def packets_of(path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_capture(path).packets


def quoted_spis(packets) -> list[int]:
    return sorted({int(s) for s in packets["inner_spi"].dropna()})


def test_the_fixtures_quote_spis():
    """The comparison below means something: fixtures quote SPIs (one each at most, so
    the captures are also compared all in one table)."""
    assert sum(len(quoted_spis(packets_of(p))) for p in CAPTURES) >= 5


@pytest.mark.parametrize("path", CAPTURES + ["all"], ids=lambda p: f"{p.parent.name}/{p.name}" if p != "all" else p)
def test_unclaimed_icmp_findings_equal_the_per_spi_reference(path):
    if path == "all":
        packets = pd.concat([packets_of(p) for p in CAPTURES], ignore_index=True)
        assert len(quoted_spis(packets)) >= 3
    else:
        packets = packets_of(path)
    ctx = Context(schema.empty(schema.EVENTS), packets, schema.empty(schema.MATCHES).iloc[:0], set())
    spis = quoted_spis(packets)
    for named in (set(), set(spis[:1]), set(spis[::2]), set(spis)):
        assert embedded_icmp.unclaimed(ctx, named) == reference_unclaimed(ctx, named)


def test_unclaimed_keeps_null_mtus_and_several_routers_apart():
    """Hand-made edge case: one SPI quoted by two routers, with and without an MTU, and a
    named SPI left out."""
    rows = [("icmp-error", 10.0, 0x1001, "192.0.2.1", "203.0.113.9", 3, 4, 1400),
            ("icmp-error", 11.0, 0x1001, "192.0.2.1", "203.0.113.7", 3, 1, None),
            ("icmp-error", 30.0, 0x1001, "192.0.2.1", "203.0.113.7", 3, 4, 1400),
            ("icmp-error", 12.0, 0x2002, "192.0.2.2", "203.0.113.7", 3, 1, None),
            ("esp", 13.0, None, None, "192.0.2.1", None, None, None)]
    cols = ["kind", "t", "inner_spi", "inner_dst", "src", "icmp_type", "icmp_code", "icmp_mtu"]
    d = pd.DataFrame(rows, columns=cols)
    packets = schema.to_frame(schema.from_columns(schema.PACKETS, {
        **{c: d[c] for c in cols[2:]}, "kind": d["kind"], "capture": ["x.pcap"] * len(d),
        "frame": np.arange(1, len(d) + 1), "time": pd.to_datetime(d["t"], unit="s", utc=True)}))
    ctx = Context(schema.empty(schema.EVENTS), packets, schema.empty(schema.MATCHES).iloc[:0], set())
    for named in (set(), {0x2002}):
        got = embedded_icmp.unclaimed(ctx, named)
        assert got == reference_unclaimed(ctx, named)
    first = embedded_icmp.unclaimed(ctx, set())[0][1].facts
    assert first["routers"] == ["203.0.113.7", "203.0.113.9"] and first["icmp_errors"] == 3
    assert [g["mtu"] for g in first["icmp"]] == [None, 1400]


def test_rows_at_equals_iloc_across_arrow_chunks():
    """``masks.rows_at`` takes from each Arrow chunk on its own: the same frame as
    ``iloc`` on a table of several chunks (as concatenated captures give), sorted rows or not."""
    from badspi_pcap.masks import rows_at
    packets = pd.concat([packets_of(p) for p in CAPTURES[:6]], ignore_index=True)
    assert packets["src"].array.__arrow_array__().num_chunks > 1
    rng = np.random.default_rng(7)
    for rows in (np.array([], dtype=np.int64), np.array([0]), np.arange(len(packets)),
                 np.unique(rng.integers(0, len(packets), 50)), rng.integers(0, len(packets), 20)):
        pd.testing.assert_frame_equal(rows_at(packets, rows), packets.iloc[rows], check_exact=True)
        pd.testing.assert_frame_equal(rows_at(packets, rows, ["capture", "spi"]),
                                      packets[["capture", "spi"]].iloc[rows], check_exact=True)
