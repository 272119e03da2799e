"""Rekey collision (KB10091 cause 1): both gateways renegotiate Phase 2 at nearly the same
time and one keeps sending on an SA the other dropped.

A line's proof: the packet the peer sent with the line's SPI and SEQ, within
``rekey_window_s`` of a Phase 2 negotiation.  The pattern: both peers started a Phase 2
exchange within ``collision_window_s`` of each other near the lines.
"""
from __future__ import annotations

import numpy as np

from .base import Claim, Context, Judgement, Proof, seconds
from .peer_packets import peer_match, peer_selector
from .selectors import Selector

NAME = "rekey-collision"
KINDS = ("bad-spi",)


def explain(line, ctx: Context) -> Proof | None:
    if ctx.nearest_negotiation(line.t) > ctx.thresholds.rekey_window_s:
        return None
    key, exact, frames = peer_match(line, ctx)
    return Proof(NAME, key or "negotiation", exact, frames)


def judge(claim: Claim, ctx: Context) -> Judgement:
    t = seconds(claim.lines["time"])
    window = ctx.thresholds.rekey_window_s
    near = [frames for ct, frames in ctx.collisions if np.min(np.abs(t - ct)) <= window]
    verdict = "confirmed" if near and claim.exact_count() == len(claim.lines) else "likely"
    selectors = [s for s in (peer_selector(claim, ctx),) if s]
    selectors.append(Selector("ike-phase2", start=float(t.min()) - window, end=float(t.max()) + window))
    return Judgement(verdict, tuple(selectors), facts={
        "collisions": len(near), "collision_frames": [list(f) for f in near[:3]]})
