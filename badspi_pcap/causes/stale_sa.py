"""Stale SA (beyond KB10091): the peer keeps sending on an SA this device no longer has
(after a reboot, a failover or a manual clear), with no ICMP error and no Phase 2 near.

A line's proof: the packet the peer sent with the line's SPI and SEQ.  The pattern: the
peer kept sending on it for at least ``stale_min_span_s``.
"""
from __future__ import annotations

from .base import Claim, Context, Judgement, Proof, seconds
from .peer_packets import peer_match, peer_selector
from .selectors import select

NAME = "stale-sa"
KINDS = ("bad-spi",)


def explain(line, ctx: Context) -> Proof | None:
    key, exact, frames = peer_match(line, ctx)
    return Proof(NAME, key, exact, frames) if key else None


def judge(claim: Claim, ctx: Context) -> Judgement:
    sel = peer_selector(claim, ctx)
    packets = select(ctx.packets, [sel] if sel else [])
    span = float(seconds(packets["time"]).ptp()) if len(packets) else 0.0
    all_exact = claim.exact_count() == len(claim.lines)
    verdict = "confirmed" if all_exact and span >= ctx.thresholds.stale_min_span_s else "likely"
    return Judgement(verdict, (sel,) if sel else (), facts={"peer_packets": len(packets), "span_s": span})
