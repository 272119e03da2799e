"""Restarted sequence: the sender began again at small sequence numbers on the same SPI (a
failover to a unit without sequence synchronisation, a manually keyed SA re-added on one
side), so the receiver, whose window still sits at the old top, drops every packet as a
replay until the new numbers pass the old top or the SA is replaced.

A line's proof: the packet with the line's SPI and sequence number belongs to a run that
starts again at small numbers far below the top (the sequence table's ``restart`` rows).
"""
from __future__ import annotations

from ..notation import spi_texts
from .base import Claim, Context, Judgement, Proof
from .replay import (capture_only, capture_only_text, claimed_rows, explain_as, extra_facts, judged, one_line,
                     sa_rows, seq_selector, window_facts)

NAME = "sequence-restart"
KINDS = ("replay",)


def explain(line, ctx: Context) -> Proof | None:
    return explain_as(NAME, one_line(line), ctx)[0]


def explain_many(lines, ctx: Context) -> list[Proof | None]:
    return explain_as(NAME, lines, ctx)


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


def unclaimed(ctx: Context, named_spis: set[int]):
    return capture_only(ctx, named_spis, "restart")


def describe(f) -> str:
    from ..report.common import plural
    x = extra_facts(f)
    if x.get("capture_only"):
        return capture_only_text(f, x, "restarted-sequence packet")
    return (f"{f['lines_explained']} of {plural(f['lines_covered'], 'covered replay line')} "
            f"{'names' if f['lines_covered'] == 1 else 'name'} a packet of a sequence "
            f"that began again at small numbers on SPI {spi_texts(f['spis'])} (from frame "
            f"{x.get('restart_frame')}, below the old top {x.get('old_top')}); the capture shows "
            f"{plural(x.get('restart_packets', 0), 'such packet')}, all dropped until the SA is replaced.")
