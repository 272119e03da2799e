"""Embedded ICMP (KB10091 cause 2): the device read back its own ESP/AH packet from an
ICMP error that quotes it and logged it as a packet with a bad SPI.

A line's proof: an ICMP error quoting the line's SPI and SEQ at the line's time.  The
pattern: every rate-limit window of those ICMP errors has a line, and the quoted packets
are the device's own.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ..correlation import rate_limited
from ..masks import arrow, distinct, kind_in
from ..notation import spi_text, spi_texts
from .base import Claim, Context, Judgement, Proof, columns, frames_of, seconds
from .selectors import Selector

NAME = "embedded-icmp"
KINDS = ("bad-spi",)


def explain(line, ctx: Context) -> Proof | None:
    return _proof(ctx.matches_for(line.event_id))


def explain_many(lines: pd.DataFrame, ctx: Context) -> list[Proof | None]:
    """``explain`` of every line: only its matches count, so no row is made per line."""
    return [_proof(m) for m in ctx.matches_of(columns(lines, ["event_id"])["event_id"])]


def _proof(m) -> Proof | None:
    quoted = [x for x in m if x.role == "quoted-by-icmp"]
    if quoted:
        exact = [x for x in quoted if x.key == "spi+seq"]
        return Proof(NAME, "spi+seq" if exact else quoted[0].key, bool(exact), frames_of(exact or quoted))
    own = [x for x in m if x.role == "sent-by-device"]
    if own:
        # The line names a packet the device itself sent; no ICMP error seen for it.
        return Proof(NAME, own[0].key, False, frames_of(own))
    return None


def judge(claim: Claim, ctx: Context) -> Judgement:
    spis = claim.spis
    pairs = _quoted_pairs(claim)
    selectors = [Selector("icmp-quoting", spis=tuple(spis))] if spis else []
    selectors += [Selector("icmp-quoting", pair=p) for p in pairs]
    quoting = ctx.select(selectors, ["time", "src", "inner_src", "icmp_type", "icmp_code", "icmp_mtu"])
    rate, documented = ctx.rate_limit_s(claim.profile)
    expected, matched = windows(quoting, claim.lines, rate, ctx)
    own = bool(len(quoting)) and (bool(quoting["inner_src"].isin(ctx.local).all())
                                  or (bool(spis) and set(spis) <= ctx.outbound))
    affected = claim.profile.icmp_quote_affected(ctx.version(claim.profile))
    all_exact = claim.exact_count() == len(claim.lines)
    windows_ok = expected == 0 or matched / expected >= ctx.thresholds.confirm_windows
    verdict = "confirmed" if all_exact and windows_ok and own and affected is not False else "likely"
    return Judgement(verdict, tuple(selectors), facts={
        **icmp_facts(quoting), "expected_lines": expected, "windows_matched": matched, "own_packets": own,
        "rate_limit_s": rate, "rate_limit_documented": documented, "version_affected": affected})


def rule_out(claim: Claim, ctx: Context) -> Judgement | None:
    """On a tunnel whose covered lines no ICMP error explains: ruled out when the capture
    sees the tunnel's traffic and no ICMP error quotes its SPIs."""
    spis = claim.spis
    if not len(claim.covered) or not spis:
        return None
    seen_spis, seen_addresses = ctx.ipsec_endpoints
    sees = bool(set(spis) & seen_spis) or bool(claim.peer and claim.peer in seen_addresses)
    sel = Selector("icmp-quoting", spis=tuple(spis))
    if not sees or len(ctx.select([sel])):
        return None
    return Judgement("ruled-out", (sel,), facts={"icmp_errors": 0})


def unclaimed(ctx: Context, named_spis: set[int]) -> list[tuple[dict, Judgement]]:
    """ICMP errors quoting IPsec SPIs that no log line names: what the capture alone shows.
    Returns (finding identity, judgement) pairs, one per quoted SPI (in SPI order).  All
    SPIs in one pass over the ICMP errors: no table per SPI."""
    if not ctx.packet_index.by_spi("inner_spi"):    # most captures: no table to build
        return []
    quoted = ctx.packet_index.quotes[1]             # the rows with a quoted SPI (taken once)
    icmp = quoted[kind_in(quoted, "icmp-error")]
    icmp = icmp[~np.isin(icmp["inner_spi"].to_numpy(dtype=np.int64), np.array(sorted(named_spis), dtype=np.int64))]
    if icmp.empty:
        return []
    c = columns(icmp, ["inner_spi", "inner_dst", "src"])
    spi = np.array(c["inner_spi"], dtype=np.int64)
    order = np.argsort(spi, kind="stable")           # by SPI, table order within one
    spis, starts = np.unique(spi[order], return_index=True)
    times = np.split(seconds(icmp["time"])[order], starts[1:])
    peers: dict[int, set] = {}
    routers: dict[int, set] = {}
    for s, dst, src in zip(c["inner_spi"], c["inner_dst"], c["src"]):
        if dst is not None:
            peers.setdefault(s, set()).add(dst)
        if src is not None:
            routers.setdefault(s, set()).add(src)
    groups: dict[int, list] = {}
    for (s, t, code, m), n in group_sizes(icmp, ["inner_spi", "icmp_type", "icmp_code", "icmp_mtu"]):
        groups.setdefault(int(s), []).append({"type": int(t), "code": int(code), "mtu": None if m is None else int(m),
                                              "count": int(n)})
    out = []
    for s, t in zip(spis.tolist(), times):
        expected = int(rate_limited(t, ctx.thresholds.default_rate_limit_s).sum())
        ident = {"tunnel": f"SPI {spi_text(s)}", "peer": ", ".join(sorted(peers.get(s, ())))}
        facts = {"icmp_errors": len(t), "routers": sorted(routers.get(s, ())), "icmp": groups[s],
                 "expected_lines": expected}
        out.append((ident, Judgement("inconclusive", (Selector("icmp-quoting", spis=(s,)),), facts=facts, spis=[s])))
    return out


# ---------------------------------------------------------------- helpers

def windows(quoting: pd.DataFrame, lines: pd.DataFrame, rate: float, ctx: Context) -> tuple[int, int]:
    """(lines the rate limit lets through for these ICMP errors, of those windows how many
    have a line): a line for every window, counted both ways."""
    times = np.sort(seconds(quoting["time"])) if len(quoting) else np.array([])
    logged = rate_limited(times, rate)
    line_times = np.sort(seconds(lines["time"])) if len(lines) else np.array([])
    width = max(rate, 0) + ctx.resolution_s + 2.0
    te = times[logged]
    i = np.searchsorted(line_times, te - 2.0)       # each window's first line at or after its start
    has = i < len(line_times)
    matched = int((line_times[i[has]] <= te[has] + width).sum())
    return int(logged.sum()), matched


def icmp_facts(q: pd.DataFrame) -> dict:
    """ICMP error counts, routers and type/code/MTU groups (typed, for the finding)."""
    groups = [{"type": int(t), "code": int(c), "mtu": None if m is None else int(m), "count": int(n)}
              for (t, c, m), n in group_sizes(q, ["icmp_type", "icmp_code", "icmp_mtu"])]
    return {"icmp_errors": int(len(q)), "routers": sorted(distinct(q["src"])), "icmp": groups}


def group_sizes(frame: pd.DataFrame, keys: list[str]) -> list[tuple[tuple, int]]:
    """``frame.groupby(keys, dropna=False).size()`` as ((values...), rows) in key order,
    missing values last: Arrow's hash grouping instead of a pandas groupby per finding."""
    table = pa.table({k: arrow(frame[k]) for k in keys})
    counts = table.group_by(keys, use_threads=False).aggregate([([], "count_all")]).to_pylist()
    return sorted(((tuple(r[k] for k in keys), r["count_all"]) for r in counts),
                  key=lambda group: [(v is None, 0 if v is None else v) for v in group[0]])


def _quoted_pairs(claim: Claim) -> list[tuple[str, str]]:
    """Address pairs of the lines matched only by the quoted address pair (NAT-T quotes
    that stop before the SPI)."""
    tuple_lines = [e for e, p in claim.proofs.items() if p.key == "tuple"]
    if not tuple_lines:
        return []
    g = claim.lines.loc[tuple_lines]
    return sorted({(s, d) for s, d in zip(g["src"], g["dst"]) if pd.notna(s) and pd.notna(d)})



def describe(f) -> str:
    from ..report.common import icmp_text, plural
    n, cov = f["lines_explained"], f["lines_covered"]
    if f["verdict"] == "ruled-out":
        return (f"The capture sees the tunnel's traffic while {plural(cov, 'line')} were logged, but no ICMP error "
                f"quotes SPI {spi_list(f['spis'])}.")
    if not f["lines"]:
        return (f"{plural(f['icmp_errors'], 'ICMP error')} from {', '.join(f['routers']) or '-'} ({icmp_text(f)}) "
                f"quote the device's packets on SPI {spi_list(f['spis'])}. A device that logs these as bad SPI "
                f"would write about {plural(f['expected_lines'], 'line')} for them; give its log to confirm.")
    text = (f"{n} of {plural(cov, 'covered bad-SPI line')} name a packet the device sent itself, quoted back by an "
            f"ICMP error (SPI {spi_list(f['spis'])}); {f['lines_exact']} of them with the same SPI and SEQ. "
            f"{plural(f['icmp_errors'], 'ICMP error')} from {', '.join(f['routers']) or '-'} ({icmp_text(f)}); "
            f"logging at most one line per {f['rate_limit_s']:g} s per tunnel"
            f"{'' if f['rate_limit_documented'] else ' (assumed: not documented for this vendor)'}, the device "
            f"would write {plural(f['expected_lines'], 'line')} for them, and {f['windows_matched']} of those are "
            f"in the log.")
    if f["own_packets"] is False:
        text += " The quoted packets were not sent by an address known to be the device."
    if f["version_affected"] is False:
        text += f" ScreenOS {f['version']} should not log these (fixed in 5.4)."
    return text


def spi_list(spis) -> str:
    return spi_texts(spis) or "-"
