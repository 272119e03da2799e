"""Embedded ICMP (KB10091 cause 2): the device read back its own ESP/AH packet from an
ICMP error that quotes it and logged it as a packet with a bad SPI.

A line's proof: an ICMP error quoting the line's SPI and SEQ at the line's time.  The
pattern: every rate-limit window of those ICMP errors has a line, and the quoted packets
are the device's own.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..correlate import rate_limited
from .base import Claim, Context, Judgement, Proof, seconds
from .selectors import Selector

NAME = "embedded-icmp"
KINDS = ("bad-spi",)


def explain(line, ctx: Context) -> Proof | None:
    m = ctx.matches_for(line.event_id)
    quoted = m[m["role"] == "quoted-by-icmp"]
    if len(quoted):
        exact = bool((quoted["key"] == "spi+seq").any())
        use = quoted[quoted["key"] == "spi+seq"] if exact else quoted
        return Proof(NAME, "spi+seq" if exact else str(use["key"].iloc[0]), exact, _frames(use))
    own = m[m["role"] == "sent-by-device"]
    if len(own):
        # The line names a packet the device itself sent; no ICMP error seen for it.
        return Proof(NAME, str(own["key"].iloc[0]), False, _frames(own))
    return None


def judge(claim: Claim, ctx: Context) -> Judgement:
    spis = claim.spis
    pairs = _quoted_pairs(claim)
    selectors = [Selector("icmp-quoting", spis=tuple(spis))] if spis else []
    selectors += [Selector("icmp-quoting", pair=p) for p in pairs]
    quoting = _quoting(ctx.packets, selectors)
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
    ipsec = ctx.packets[ctx.packets["kind"].isin(["esp", "ah", "esp-in-udp"])]
    sees = bool(ipsec["spi"].isin(spis).any() or (claim.peer and (ipsec["src"].eq(claim.peer)
                                                                  | ipsec["dst"].eq(claim.peer)).any()))
    sel = Selector("icmp-quoting", spis=tuple(spis))
    if not sees or sel.mask(ctx.packets).any():
        return None
    return Judgement("ruled-out", (sel,), facts={"icmp_errors": 0})


def unclaimed(ctx: Context, named_spis: set[int]) -> list[tuple[dict, Judgement]]:
    """ICMP errors quoting IPsec SPIs that no log line names: what the capture alone shows.
    Returns (finding identity, judgement) pairs, one per quoted SPI."""
    p = ctx.packets
    icmp = p[(p["kind"] == "icmp-error") & p["inner_spi"].notna()]
    out = []
    for spi, q in icmp.groupby("inner_spi", observed=True):
        if int(spi) in named_spis:
            continue
        expected = int(rate_limited(seconds(q["time"]), ctx.thresholds.default_rate_limit_s).sum())
        ident = {"tunnel": f"SPI 0x{int(spi):08x}", "peer": ", ".join(sorted(set(q["inner_dst"].dropna())))}
        out.append((ident, Judgement("inconclusive", (Selector("icmp-quoting", spis=(int(spi),)),),
                                     facts={**icmp_facts(q), "expected_lines": expected},
                                     spis=[int(spi)])))
    return out


# ---------------------------------------------------------------- helpers

def windows(quoting: pd.DataFrame, lines: pd.DataFrame, rate: float, ctx: Context) -> tuple[int, int]:
    """(lines the rate limit lets through for these ICMP errors, of those windows how many
    have a line): a line for every window, counted both ways."""
    times = np.sort(seconds(quoting["time"])) if len(quoting) else np.array([])
    logged = rate_limited(times, rate)
    line_times = np.sort(seconds(lines["time"])) if len(lines) else np.array([])
    width = max(rate, 0) + ctx.resolution_s + 2.0
    matched = 0
    for te in times[logged]:
        i = np.searchsorted(line_times, te - 2.0)
        matched += bool(i < len(line_times) and line_times[i] <= te + width)
    return int(logged.sum()), int(matched)


def icmp_facts(q: pd.DataFrame) -> dict:
    """ICMP error counts, routers and type/code/MTU groups (typed, for the finding)."""
    groups = []
    for (t, c, m), n in q.groupby(["icmp_type", "icmp_code", "icmp_mtu"], dropna=False, observed=True).size().items():
        groups.append({"type": int(t), "code": int(c), "mtu": None if pd.isna(m) else int(m), "count": int(n)})
    return {"icmp_errors": int(len(q)), "routers": sorted(set(q["src"].dropna())), "icmp": groups}


def _quoting(packets: pd.DataFrame, selectors) -> pd.DataFrame:
    mask = np.zeros(len(packets), dtype=bool)
    for s in selectors:
        mask |= s.mask(packets)
    return packets[mask]


def _quoted_pairs(claim: Claim) -> list[tuple[str, str]]:
    """Address pairs of the lines matched only by the quoted address pair (NAT-T quotes
    that stop before the SPI)."""
    tuple_lines = [e for e, p in claim.proofs.items() if p.key == "tuple"]
    if not tuple_lines:
        return []
    g = claim.lines.loc[tuple_lines]
    return sorted({(s, d) for s, d in zip(g["src"], g["dst"]) if pd.notna(s) and pd.notna(d)})


def _frames(m: pd.DataFrame) -> tuple[tuple[str, int], ...]:
    return tuple(sorted({(str(c), int(f)) for c, f in zip(m["capture"], m["frame"])}))
