"""ESP/AH sequence numbers per SA, in capture order: what an anti-replay check would do.

An SA is (capture, source, destination, protocol, SPI): the receiver looks its SA up by
destination, protocol and SPI (RFC 4303 §2.1; Linux ``xfrm_state_lookup``), the source
keeps the senders of a multicast SA apart (OSPFv3 over AH: every router sends on the same
SPI, and RFC 4303 §3.4.3 turns the check off there), and each capture is one vantage
point, so captures are never mixed.  SPI 0 is reserved and never an SA (§2.1).  Within an SA the packets
are taken in capture order (frame numbers), which is the receiver's arrival order when
the capture is taken on the receiver's own link.

The receiver's check is RFC 4303 §3.4.3 (the Linux kernel's ``xfrm_replay_check``): with
``top`` the highest sequence number accepted so far, a packet is dropped when its
sequence number is 0, or ``seq <= top`` and either ``top - seq >= window`` or that
number was already accepted.  Dropped packets never move the window, and a packet that
was dropped or accepted before keeps failing later, so the whole check reduces to
columns computed in bulk: ``top`` is the running maximum of the earlier sequence
numbers and "already accepted" is "seen before".  (Packets that fail integrity do not
move the window either; a capture cannot tell those, so every packet counts as valid.)

Rows of the ``sequence`` table are the packets out of order: ``duplicate`` (the number was
seen before on the SA), ``late`` (below the highest seen, first time) and ``restart``
(the sender began again at small numbers on the same SPI: every packet of the new run
is a replay until it passes the old top).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from . import schema
from .masks import arrow, flags, kind_in, present
from .schema import IPSEC_KINDS

DEFAULT_WINDOW = 32          # the lab's kernel window; callers pass the receiver's
RESTART_MAX_SEQ = 16         # a sender starting again begins at 1 (RFC 4303 §3.3.3); allow a few lost
RESTART_MIN_RUN = 3          # ... and goes on counting up from there: the next packets follow it

SA_KEY = ["capture", "src", "dst", "proto", "spi"]


class Ordered(NamedTuple):
    """Where the IPsec packets with a sequence number are: ``pos``, their positions in
    ``packets`` (table order); ``order``, the permutation of those that sorts them by SA
    then capture order; ``sa``, each sorted row's SA number (0, 1, ... in sorted order);
    ``is_ah``, per row of ``pos``.  Positions, not a copy of the rows: a million packets
    would be copied once per window, and only the few rows a table keeps are taken."""

    packets: pd.DataFrame
    pos: np.ndarray
    order: np.ndarray
    sa: np.ndarray
    is_ah: np.ndarray

    def column(self, name: str) -> pd.Series:
        """One column at ``pos`` (table order)."""
        return pd.Series(self.packets[name].array.take(self.pos), copy=False)

    def take(self, at: np.ndarray, names) -> pd.DataFrame:
        """The columns ``names`` at positions ``at`` of ``pos``."""
        rows = self.pos[at]
        return pd.DataFrame({n: self.packets[n].array.take(rows) for n in names}, copy=False)


def ordered(packets: pd.DataFrame) -> Ordered:
    """The SA order of the IPsec packets (see ``Ordered``)."""
    keep = (kind_in(packets, IPSEC_KINDS) & present(packets, "spi") & present(packets, "seq")
            & flags(pc.not_equal(arrow(packets["spi"]), 0)))
    pos = np.flatnonzero(keep)
    is_ah = kind_in(packets, "ah")[keep]
    empty = np.zeros(0, dtype=np.int64)
    if not len(pos):
        return Ordered(packets, pos, empty, empty, is_ah)
    # One integer per SA from the codes of its key columns (factorize is far cheaper than
    # a multi-column groupby on Arrow strings).
    sa = np.zeros(len(pos), dtype=np.int64)
    bound = 1
    for column in SA_KEY:
        if column == "proto":     # codes in order of first appearance, as factorize gives them
            codes, n = (is_ah != is_ah[0]).astype(np.int64), len(np.unique(is_ah))
        else:
            codes, uniques = pd.factorize(packets[column].array[keep], use_na_sentinel=False)
            n = len(uniques)
        if bound * (n + 1) >= 1 << 62:   # renumbered densely so it never overflows
            sa = np.unique(sa, return_inverse=True)[1].astype(np.int64)
            bound = int(sa.max()) + 1
        sa = sa * (n + 1) + codes
        bound *= n + 1
    sa = np.unique(sa, return_inverse=True)[1].astype(np.int64)   # 0, 1, ... in key order
    order = np.lexsort((packets["frame"].array[keep].to_numpy(dtype=np.int64), sa))
    return Ordered(packets, pos, order, sa[order], is_ah)


def _group_starts(sa: np.ndarray) -> np.ndarray:
    """Index of the first row of each row's SA (rows sorted by SA)."""
    first = np.ones(len(sa), dtype=bool)
    first[1:] = sa[1:] != sa[:-1]
    return np.maximum.accumulate(np.where(first, np.arange(len(sa)), 0))


def _running_top(sa: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The highest sequence number before each row in its SA (0 for the first)."""
    # SA numbers above every 32-bit sequence number make one running maximum per SA.
    keyed = (sa << 33) + seq
    top = np.maximum.accumulate(keyed) - (sa << 33)
    before = np.zeros(len(seq), dtype=np.int64)
    before[1:] = top[:-1]
    before[_group_starts(sa) == np.arange(len(sa))] = 0
    return before


def _seen_before(*keys: np.ndarray, first: bool = False):
    """True where the same key tuple occurred at an earlier row (rows in capture order);
    with ``first``, also the row of each key's first occurrence."""
    n = len(keys[0])
    order = np.lexsort((np.arange(n), *reversed(keys)))
    same = np.ones(n - 1 if n else 0, dtype=bool)
    for k in keys:
        ks = k[order]
        same &= ks[1:] == ks[:-1]
    seen = np.zeros(n, dtype=bool)
    seen[order[1:][same]] = True
    if not first:
        return seen
    starts = np.ones(n, dtype=bool)
    starts[1:] = ~same
    first_row = np.empty(n, dtype=np.int64)
    first_row[order] = order[np.maximum.accumulate(np.where(starts, np.arange(n), 0))]
    return seen, first_row


def _restarts(sa: np.ndarray, seq: np.ndarray, top: np.ndarray, seen: np.ndarray, window: int) -> np.ndarray:
    """Rows where the sender began counting again: a small number far below the top,
    followed on the same SA by packets counting up from it, still below that top.  A
    sender that starts over repeats numbers it used before, so RESTART_MIN_RUN packets
    tell it; when the capture missed the first run (the number is new), the run must be
    a whole window long, which tells it from a late burst (followed by the top again)."""
    n, w = len(seq), max(window, 1)
    idx = np.arange(n)
    steps_up = np.zeros(n, dtype=bool)
    steps_up[1:] = (sa[1:] == sa[:-1]) & (seq[1:] > seq[:-1]) & (seq[1:] - seq[:-1] <= w)
    run = np.cumsum(~steps_up)
    run_end = np.searchsorted(run, run, side="right") - 1      # last row of each ascending run
    need = np.where(seen, RESTART_MIN_RUN - 1, max(w, RESTART_MIN_RUN))
    end = np.minimum(idx + need, n - 1)
    return (seq <= RESTART_MAX_SEQ) & (top - seq >= w) & (run_end - idx >= need) & (seq[end] < top)


def sequence_table(packets: pd.DataFrame, window: int = DEFAULT_WINDOW, *,
                   ordered_rows: Ordered | None = None) -> pd.DataFrame:
    """The ``sequence`` table: one row per packet out of order on its SA (see module doc).

    ``behind`` is how far below the highest earlier number it came, ``outside_window``
    whether that is at least ``window``, ``fails_check`` whether a receiver with that
    window drops it, ``first_frame`` the earlier copy of a duplicate (or of the number the
    restarted sender repeats).  ``ordered_rows``: ``ordered(packets)``, when already made.
    """
    o = ordered(packets) if ordered_rows is None else ordered_rows
    sa = o.sa
    if not len(o.pos):
        return schema.empty(schema.SEQUENCE)
    seq = o.column("seq").to_numpy(dtype=np.int64)[o.order]
    top = _running_top(sa, seq)
    seen, first_row = _seen_before(sa, seq, first=True)
    restart_at = _restarts(sa, seq, top, seen, window)

    # Runs after a restart: the old top stays the receiver's top until the new run passes it.
    idx = np.arange(len(seq))
    starts = _group_starts(sa)
    last_restart = np.maximum.accumulate(np.where(restart_at, idx, -1))
    in_run = (last_restart >= starts)
    epoch = np.cumsum(restart_at) - np.where(starts > 0, np.cumsum(restart_at)[starts - 1], 0)
    run_top = np.where(in_run, top[np.maximum(last_restart, 0)], 0)
    restarted = in_run & (seq <= run_top)
    seen_in_run = _seen_before(sa, epoch, seq)

    behind_top = seq <= top
    # Sequence number 0 is never sent (RFC 4303 3.3.3): it is a row ("late") wherever it comes.
    kind = np.select([restarted & ~seen_in_run, restarted, seen, (seq < top) | (seq == 0)],
                     ["restart", "duplicate", "duplicate", "late"], "")
    rows = ((behind_top & (idx != starts)) | (seq == 0)) & (kind != "")
    if not rows.any():   # no packet out of order (most captures): the empty table made once
        return schema.empty(schema.SEQUENCE)
    fails = fails_check(top - seq, seen, seq, window)

    frames = o.column("frame").to_numpy(dtype=np.int64)[o.order]
    first_frame = pd.arrays.IntegerArray(frames[first_row], ~seen)
    at = o.order[rows]
    out = o.take(at, ["capture", "frame", "time", "src", "dst", "spi", "seq"])
    return schema.to_frame(schema.from_columns(schema.SEQUENCE, {
        "capture": out["capture"], "frame": out["frame"], "time": out["time"], "src": out["src"],
        "dst": out["dst"], "proto": np.where(o.is_ah[at], "ah", "esp"), "spi": out["spi"], "seq": out["seq"],
        "kind": kind[rows], "top": top[rows].astype(np.uint32), "behind": (top - seq)[rows].astype(np.uint32),
        "seen_before": seen[rows], "outside_window": (top - seq)[rows] >= window,
        "fails_check": fails[rows], "window": np.full(int(rows.sum()), window, dtype=np.uint32),
        "first_frame": first_frame[rows],
    }))


def fails_check(behind, seen_before, seq, window: int) -> np.ndarray:
    """RFC 4303 §3.4.3 for packets at or below the top: dropped when ``behind >= window``
    or the number was seen before; sequence number 0 is never valid; window 0 = no check."""
    behind = np.asarray(behind, dtype=np.int64)
    if window <= 0:
        return np.zeros(len(behind), dtype=bool)
    at_or_below = behind >= 0
    return (np.asarray(seq) == 0) | (at_or_below & ((behind >= window) | np.asarray(seen_before, dtype=bool)))


def replay_failures(sequence: pd.DataFrame, window: int) -> pd.Series:
    """Which rows of a ``sequence`` table a receiver with ``window`` would drop."""
    return pd.Series(fails_check(sequence["behind"].to_numpy(dtype=np.int64),
                                 sequence["seen_before"].to_numpy(dtype=bool),
                                 sequence["seq"].to_numpy(dtype=np.int64), window), index=sequence.index)


def sequence_summary(packets: pd.DataFrame, sequence: pd.DataFrame | None = None,
                     window: int = DEFAULT_WINDOW) -> pd.DataFrame:
    """One row per SA: packets, duplicates, late (inside / outside ``window``), restarts,
    the largest ``behind`` of a late packet, the window that would accept every late
    packet (``window_needed``), and how many packets a receiver with ``window`` drops."""
    o = ordered(packets)
    if not len(o.pos):
        return schema.empty(schema.SEQUENCE_SUMMARY)
    # table order: the aggregates below do not depend on it
    p = o.take(np.arange(len(o.pos)), ["capture", "src", "dst", "spi", "frame", "seq"]) \
        .assign(proto=np.where(o.is_ah, "ah", "esp"))
    seqt = sequence_table(packets, window, ordered_rows=o) if sequence is None else sequence
    sas = (p.groupby(SA_KEY, sort=True, observed=True, dropna=False)
           .agg(packets=("frame", "size"), first_frame=("frame", "min"),
                seq_first=("seq", "min"), seq_last=("seq", "max")).reset_index())
    s = seqt.assign(fails=replay_failures(seqt, window).to_numpy(),
                    is_dup=seqt["kind"].eq("duplicate").to_numpy(), is_late=seqt["kind"].eq("late").to_numpy(),
                    is_restart=seqt["kind"].eq("restart").to_numpy())
    s["late_out"] = s["is_late"] & s["outside_window"].to_numpy(dtype=bool)
    s["late_behind"] = s["behind"].astype("Int64").where(s["is_late"])
    per = (s.groupby(SA_KEY, sort=True, observed=True, dropna=False)
           .agg(duplicates=("is_dup", "sum"), late=("is_late", "sum"), late_outside=("late_out", "sum"),
                restarts=("is_restart", "sum"), max_behind=("late_behind", "max"), fails=("fails", "sum"))
           .reset_index()) if len(s) else pd.DataFrame(columns=SA_KEY)
    out = sas.merge(per, on=SA_KEY, how="left")
    counts = ["duplicates", "late", "late_outside", "restarts", "fails"]
    for c in counts:
        out[c] = out[c].fillna(0).astype("int64") if c in out else 0
    out["max_behind"] = out["max_behind"].astype("Int64") if "max_behind" in out else pd.array([pd.NA] * len(out))
    out["window_needed"] = out["max_behind"] + 1
    out["window"] = window
    out = out.sort_values(["capture", "first_frame"]).reset_index(drop=True)
    return schema.to_frame(schema.from_columns(schema.SEQUENCE_SUMMARY, {c: out[c] for c in out.columns}))


def fails_at(sequence: pd.DataFrame, windows) -> dict[int, int]:
    """Packets dropped at each window size (for 'the window each vendor would need')."""
    return {int(w): int(replay_failures(sequence, int(w)).sum()) for w in windows}
