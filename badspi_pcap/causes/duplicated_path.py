"""Duplicated path: the network delivers some ESP/AH packets twice (a routing loop, a
mirrored or duplicating path), and the receiver drops every second copy as a replay.

A line's proof: the packet with the line's SPI and sequence number reached the device a
second time (the sequence table marks the copy ``duplicate``).  The pattern: copies of
numbers that came before; how far apart the copies come says a duplicating device
(microseconds) from a loop or a second path (milliseconds or more).
"""
from __future__ import annotations

import numpy as np

from ..notation import spi_texts
from .base import Claim, Context, Judgement, Proof, seconds
from .replay import (capture_only, capture_only_text, claimed_rows, explain_as, extra_facts, judged, one_line,
                     sa_rows, seq_selector, window_facts)

NAME = "duplicated-path"
KINDS = ("replay",)


def explain(line, ctx: Context) -> Proof | None:
    return explain_as(NAME, one_line(line), ctx)[0]


def explain_many(lines, ctx: Context) -> list[Proof | None]:
    return explain_as(NAME, lines, ctx)


def judge(claim: Claim, ctx: Context) -> Judgement:
    named = claimed_rows(claim, ctx)
    rows = sa_rows(claim, ctx, "duplicate")
    gaps = _copy_gaps(rows, ctx)
    facts = {"duplicates": len(rows), "duplicate_lines": len(named), **copy_headers(rows, ctx),
             "copy_gap_ms_median": float(np.median(gaps) * 1e3) if len(gaps) else None,
             "copy_gap_ms_max": float(gaps.max() * 1e3) if len(gaps) else None,
             **window_facts(claim, ctx, rows)}
    pattern = len(named) == len(claim.lines) and bool(named["seen_before"].all())
    return judged(claim, ctx, pattern, [seq_selector(rows, ctx, with_first_copies=True)], facts)


def copy_headers(rows, ctx: Context) -> dict:
    """How each duplicate's outer IP header compares with its first copy: identical (same
    TTL and IP ID: a mirror or a device that copies packets), a lower TTL (the copy went
    round a loop), or otherwise different (another path)."""
    if rows.empty:
        return {}
    p = ctx.packets.set_index(["capture", "frame"])[["ip_ttl", "ip_id"]]
    copy = p.loc[list(zip(rows["capture"], rows["frame"].astype("int64")))].reset_index(drop=True)
    first = p.loc[list(zip(rows["capture"], rows["first_frame"].astype("int64")))].reset_index(drop=True)
    same_ttl = (copy["ip_ttl"] == first["ip_ttl"]).fillna(False)
    same_id = (copy["ip_id"] == first["ip_id"]).fillna(copy["ip_id"].isna() & first["ip_id"].isna())
    lower = (copy["ip_ttl"] < first["ip_ttl"]).fillna(False)
    drop = (first["ip_ttl"].astype("Int64") - copy["ip_ttl"].astype("Int64"))[lower]
    return {"copies_identical": int((same_ttl & same_id).sum()), "copies_ttl_lower": int(lower.sum()),
            "copies_ttl_drop": int(drop.max()) if len(drop) else None,
            "copies_other": int((~(same_ttl & same_id) & ~lower).sum())}


def _copy_gaps(rows, ctx: Context) -> np.ndarray:
    """Seconds between each duplicate and the first copy of its number."""
    if rows.empty:
        return np.array([])
    p = ctx.packets
    first = p.set_index(["capture", "frame"])["time"]
    keys = list(zip(rows["capture"], rows["first_frame"].astype("int64")))
    t_first = seconds(first.loc[keys].reset_index(drop=True))
    return seconds(rows["time"].reset_index(drop=True)) - t_first


def headers_text(x: dict) -> str:
    """What the copies' TTL and IP ID say about where they come from."""
    parts = []
    if x.get("copies_identical"):
        parts.append(f"{x['copies_identical']} identical to the first copy (same TTL and IP ID: a mirror or a "
                     f"device that duplicates packets)")
    if x.get("copies_ttl_lower"):
        parts.append(f"{x['copies_ttl_lower']} with a TTL up to {x['copies_ttl_drop']} lower (the copy went round "
                     f"a loop)")
    if x.get("copies_other"):
        parts.append(f"{x['copies_other']} with another IP header (another path)")
    return f"; {'; '.join(parts)}" if parts else ""


def unclaimed(ctx: Context, named_spis: set[int]):
    return capture_only(ctx, named_spis, "duplicate")


def describe(f) -> str:
    from ..report.common import plural
    x = extra_facts(f)
    if x.get("capture_only"):
        return capture_only_text(f, x, "duplicated packet")
    gap = x.get("copy_gap_ms_median")
    how = "" if gap is None else f"; the copies arrive {gap:.3f} ms apart (median, max {x['copy_gap_ms_max']:.3f} ms)"
    how += headers_text(x)
    return (f"{f['lines_explained']} of {plural(f['lines_covered'], 'covered replay line')} "
            f"{'names' if f['lines_covered'] == 1 else 'name'} a packet that reached "
            f"the device twice, {f['lines_exact']} by the same SPI and SEQ; the capture shows "
            f"{plural(x.get('duplicates', 0), 'duplicated packet')} on SPI "
            f"{spi_texts(f['spis'])}{how}. A copy is dropped whatever the window.")
