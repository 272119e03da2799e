"""SPI used before installed (KB10091 cause 3): the peer sends on a new SA before this
device has installed it; the bad-SPI line comes before the Phase 2 line that completes
with the same SPI.

A line's proof: the Phase 2 order (a Phase 2 with the line's SPI completes after it,
within ``install_window_s``).  The pattern: small sequence numbers (a brand-new SA).
"""
from __future__ import annotations

from .base import Claim, Context, Judgement, Proof, seconds
from .peer_packets import peer_match, peer_selector
from .selectors import Selector

NAME = "spi-before-install"
KINDS = ("bad-spi",)


def explain(line, ctx: Context) -> Proof | None:
    if not ctx.installs.completes_after(line.spi, line.source, ctx.order(line.event_id), line.t):
        return None
    _, _, frames = peer_match(line, ctx)
    return Proof(NAME, "phase2-order", True, frames)


def judge(claim: Claim, ctx: Context) -> Judgement:
    seqs = claim.lines["seq"].dropna()
    small = bool(len(seqs)) and bool((seqs <= ctx.thresholds.small_seq).all())
    verdict = "confirmed" if small and claim.exact_count() == len(claim.lines) else "likely"
    t = seconds(claim.lines["time"])
    selectors = [s for s in (peer_selector(claim, ctx),) if s]
    selectors.append(Selector("ike-phase2", start=float(t.min()) - ctx.thresholds.install_window_s,
                              end=float(t.max()) + ctx.thresholds.install_window_s))
    return Judgement(verdict, tuple(selectors), facts={"small_seq": small})
