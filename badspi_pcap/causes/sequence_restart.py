"""Restarted sequence: the sender began again at small sequence numbers on the same SPI (a
failover to a unit without sequence synchronisation, a manually keyed SA re-added on one
side), so the receiver, whose window still sits at the old top, drops every packet as a
replay until the new numbers pass the old top or the SA is replaced.

A line's proof: the packet with the line's SPI and sequence number belongs to a run that
starts again at small numbers far below the top (the sequence table's ``restart`` rows).
"""
from __future__ import annotations

from .base import Claim, Context, Judgement, Proof
from .replay import claimed_rows, explain_as, judged, sa_rows, seq_selector, window_facts

NAME = "sequence-restart"
KINDS = ("replay",)


def explain(line, ctx: Context) -> Proof | None:
    return explain_as(NAME, line, ctx)


def judge(claim: Claim, ctx: Context) -> Judgement:
    named = claimed_rows(claim, ctx)
    rows = sa_rows(claim, ctx, "restart")
    first = rows.sort_values(["capture", "frame"]).head(1)
    facts = {"restart_packets": len(rows),
             "restart_frame": int(first["frame"].iloc[0]) if len(first) else None,
             "old_top": int(first["top"].iloc[0]) if len(first) else None,
             **window_facts(claim, ctx, rows)}
    pattern = len(named) == len(claim.lines)
    return judged(claim, ctx, pattern, [seq_selector(rows, ctx)], facts)
