"""Replay lines whose packet the capture saw in order, or not at all: the duplication or
reordering happens on a path the capture point does not see (after it, or on another
link into the device).  Not a cause of its own: it says where to capture instead, and
is last in the table so the replay causes take every line they can prove.
"""
from __future__ import annotations

from .base import Claim, Context, Judgement, Proof
from .replay import LineEvidence, evidence, evidence_many, extra_facts

NAME = "replay-path-not-captured"
KINDS = ("replay",)


def explain(line, ctx: Context) -> Proof | None:
    return _proof(evidence(line, ctx))


def explain_many(lines, ctx: Context) -> list[Proof | None]:
    return [_proof(e) for e in evidence_many(lines, ctx)]


def _proof(e: LineEvidence) -> Proof | None:
    if e.dropped is not None:
        return None                       # a replay cause explains it
    if not e.frames and not e.sees_sa:
        return None                       # the capture does not see this SA at all
    return Proof(NAME, "in-order" if e.frames else "absent", False, e.frames)


def judge(claim: Claim, ctx: Context) -> Judgement:
    in_order = sum(p.key == "in-order" for p in claim.proofs.values())
    return Judgement("inconclusive", (), facts={"in_order": in_order, "absent": len(claim.lines) - in_order})


def describe(f) -> str:
    from ..report.common import plural
    x = extra_facts(f)
    return (f"{plural(f['lines_explained'], 'covered replay line')} name a packet the capture saw in order "
            f"({x.get('in_order', 0)}) or not at all ({x.get('absent', 0)}) on an SA it sees: the duplication or "
            f"reordering happens on a path this capture point does not see.")
