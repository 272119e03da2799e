"""Stale SA (beyond KB10091): the peer keeps sending on an SA this device no longer has
(after a reboot, a failover or a manual clear), with no ICMP error and no Phase 2 near.

A line's proof: the packet the peer sent with the line's SPI and SEQ.  The pattern: the
peer kept sending on it for at least ``stale_min_span_s``, counting from the first line's
packet to the end of the rate-limit interval after the last line (the packets a line
stands for).
"""
from __future__ import annotations

import numpy as np

from .base import Claim, Context, Judgement, Proof, seconds
from .peer_packets import peer_match, peer_selector

NAME = "stale-sa"
KINDS = ("bad-spi",)


def explain(line, ctx: Context) -> Proof | None:
    key, exact, frames = peer_match(line, ctx)
    return Proof(NAME, key, exact, frames) if key else None


def judge(claim: Claim, ctx: Context) -> Judgement:
    sel = peer_selector(claim, ctx, extend_s=ctx.rate_limit_s(claim.profile)[0])
    packets = ctx.select([sel] if sel else [])
    span = float(np.ptp(seconds(packets["time"]))) if len(packets) else 0.0
    all_exact = claim.exact_count() == len(claim.lines)
    verdict = "confirmed" if all_exact and span >= ctx.thresholds.stale_min_span_s else "likely"
    return Judgement(verdict, (sel,) if sel else (), facts={"peer_packets": len(packets), "span_s": span})


def describe(f) -> str:
    from ..report.common import plural
    from .embedded_icmp import spi_list
    return (f"{f['lines_explained']} of {plural(f['lines_covered'], 'covered bad-SPI line')} name ESP the peer kept "
            f"sending on SPI {spi_list(f['spis'])} ({plural(f['peer_packets'] or 0, 'packet')} over "
            f"{f['span_s'] or 0:.0f} s), {f['lines_exact']} with the same SPI and SEQ; no ICMP error and no Phase 2 "
            f"negotiation explains them.")
