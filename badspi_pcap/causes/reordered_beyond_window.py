"""Reordered beyond the window: packets overtaken on the way (QoS queues, per-packet load
balancing, several paths) arrive so far behind the highest number already accepted that
they fall out of the receiver's anti-replay window, and it drops them as replays.

A line's proof: the packet with the line's SPI and sequence number arrived ``behind`` the
top, for the first time, with ``behind`` at least the window.  The facts say how deep the
reordering goes (late packets inside the window are accepted and logged nowhere: they are
the margin left) and the window that would take every late packet.
"""
from __future__ import annotations

from ..notation import spi_texts
from .base import Claim, Context, Judgement, Proof
from .replay import (capture_only, capture_only_text, claimed_rows, explain_as, extra_facts, judged, one_line,
                     sa_rows, seq_selector, window_facts, window_text)

NAME = "reordered-beyond-window"
KINDS = ("replay",)


def explain(line, ctx: Context) -> Proof | None:
    return explain_as(NAME, one_line(line), ctx)[0]


def explain_many(lines, ctx: Context) -> list[Proof | None]:
    return explain_as(NAME, lines, ctx)


def judge(claim: Claim, ctx: Context) -> Judgement:
    named = claimed_rows(claim, ctx)
    late = sa_rows(claim, ctx, "late")
    facts = window_facts(claim, ctx, late)
    window = facts["replay_window"]
    beyond = late[late["behind"].astype("int64") >= window] if window else named
    behind = late["behind"].astype("int64")
    facts.update({
        "late": len(late), "late_beyond_window": len(beyond) if window else None,
        "max_behind": int(behind.max()) if len(late) else None,
        "window_needed": int(behind.max()) + 1 if len(late) else None,
        # The device dropped the named packets, so its window is at most the smallest of their distances.
        "window_at_most": int(named["behind"].astype("int64").min()) if len(named) else None,
        "max_behind_accepted": int(behind[behind < window].max()) if window and (behind < window).any() else None,
    })
    pattern = len(named) == len(claim.lines) and (not window or bool((named["behind"].astype("int64") >= window).all()))
    return judged(claim, ctx, pattern, [seq_selector(beyond, ctx)], facts)


def unclaimed(ctx: Context, named_spis: set[int]):
    return capture_only(ctx, named_spis, "late")


def describe(f) -> str:
    from ..report.common import plural
    x = extra_facts(f)
    if x.get("capture_only"):
        return capture_only_text(f, x, "late packet")
    text = (f"{f['lines_explained']} of {plural(f['lines_covered'], 'covered replay line')} "
            f"{'names' if f['lines_covered'] == 1 else 'name'} a packet that arrived "
            f"late by the window or more, {f['lines_exact']} by the same SPI and SEQ; the capture shows "
            f"{plural(x.get('late', 0), 'late packet')} on SPI {spi_texts(f['spis'])}, "
            f"the deepest {x.get('max_behind')} behind: a window of {x.get('window_needed')} would take them all. "
            f"{window_text(x)[:1].upper()}{window_text(x)[1:]}")
    if x.get("replay_window") is None and x.get("window_at_most") is not None:
        text += f"; the device dropped a packet {x['window_at_most']} behind, so its window is at most that"
    if x.get("capture_drops") is not None:
        text += f"; at that window a receiver drops {x['capture_drops']} of the capture's packets"
    if x.get("max_behind_accepted") is not None:
        text += f"; late packets up to {x['max_behind_accepted']} behind were still accepted (the margin left)"
    return text + "."
