"""The causes of bad-SPI (and replay) lines, one small module each, and the table of them.

A cause module declares:

- ``NAME``: the cause as findings name it (``embedded-icmp``);
- ``KINDS``: the event kinds it explains (``("bad-spi",)``; replay causes ``("replay",)``);
- ``explain(line, ctx) -> Proof | None``: whether this one line is this cause, with its
  proof (``Proof.exact``: the line's own proof, not just a hint);
- ``judge(claim, ctx) -> Judgement``: the verdict on the lines it explains on one tunnel,
  the selectors of its evidence frames and its typed facts;
- optionally ``explain_many(lines, ctx) -> list[Proof | None]``: ``explain`` for many lines
  at once (the lines table with ``t``; the cause table uses it where a cause has it),
  ``describe(finding) -> str`` (the summary sentence, made at rendering),
  ``rule_out(claim, ctx)`` (a verdict when it explains no line of a tunnel) and
  ``unclaimed(ctx, named_spis)`` (findings without log lines, from the capture alone).

``CAUSES`` is the table: a line goes to the first cause, in this order, whose ``KINDS``
holds the line's kind and whose ``explain`` returns a proof.  See
notes/CAUSES-INTERFACE.md and README "Reading a verdict".
"""
from __future__ import annotations

from . import (duplicated_path, embedded_icmp, rekey_collision, reordered_beyond_window, replay_unseen,
               sequence_restart, spi_before_install, stale_sa)
from .base import Claim, Context, Judgement, Proof, Thresholds
from .selectors import Selector, display_filter, select

CAUSES: tuple = (embedded_icmp, spi_before_install, rekey_collision, stale_sa,
                 # replay lines (kind "replay"); the last one takes what the capture cannot prove
                 sequence_restart, duplicated_path, reordered_beyond_window, replay_unseen)

# Not causes: what a line gets when no cause explains it.
UNEXPLAINED = "unexplained"
NOT_COVERED = "not-covered"


def by_name(name: str):
    """The module of a cause (None for unexplained / not-covered)."""
    return next((c for c in CAUSES if c.NAME == name), None)


def for_kind(kind: str) -> tuple:
    """The causes that explain lines of this event kind, in table order."""
    return tuple(c for c in CAUSES if kind in c.KINDS)


def explained_kinds() -> set[str]:
    return {k for c in CAUSES for k in c.KINDS}


__all__ = ["CAUSES", "Claim", "Context", "Judgement", "NOT_COVERED", "Proof", "Selector", "Thresholds",
           "UNEXPLAINED", "by_name", "display_filter", "explained_kinds", "for_kind", "select"]
