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
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .masks import arrow, flags, kind_in, one_array, present
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


def ordered(packets: pd.DataFrame, ipsec: np.ndarray | None = None) -> Ordered:
    """The SA order of the IPsec packets (see ``Ordered``).  ``ipsec``: the mask of the
    ESP/AH rows with an SPI and a sequence number, when already made."""
    if ipsec is None:
        ipsec = with_sequence_numbers(packets)
    keep = ipsec & flags(pc.not_equal(arrow(packets["spi"]), 0))
    pos = np.flatnonzero(keep)
    is_ah = kind_in(packets, "ah")[keep]
    empty = np.zeros(0, dtype=np.int64)
    if not len(pos):
        return Ordered(packets, pos, empty, empty, is_ah)
    # One integer per SA from the codes of its key columns (Arrow's hashing, codes in order
    # of first appearance: far cheaper than a multi-column groupby on Arrow strings).
    mask = pa.array(keep)
    sa = np.zeros(len(pos), dtype=np.int64)
    bound = 1
    for column in SA_KEY:
        if column == "proto":     # codes in order of first appearance, as for the other columns
            codes, n = (is_ah != is_ah[0]).astype(np.int64), len(np.unique(is_ah))
        else:
            codes, n = _codes(pc.filter(arrow(packets[column]), mask))
        if bound * (n + 1) >= 1 << 62:   # renumbered densely so it never overflows
            sa = _dense(sa)
            bound = int(sa.max()) + 1
        sa = sa * (n + 1) + codes
        bound *= n + 1
    sa = _dense(sa)   # 0, 1, ... in key order
    frame = packets["frame"].array[keep].to_numpy(dtype=np.int64)
    order = _by_sa_then_frame(sa, frame)
    return Ordered(packets, pos, order, sa[order], is_ah)


def in_order(packets: pd.DataFrame, ipsec: np.ndarray | None = None, spi_codes: tuple | None = None) -> bool:
    """No packet is out of order on its SA, told cheaply (most captures): on every SPI the
    sequence numbers rise in table order, none is 0, and the frames rise too (so each
    SA's capture order is its table order).  False says only "look closer" (``ordered``).
    ``ipsec``: ``with_sequence_numbers``; ``spi_codes``: the SPI column's codes and their
    values (``PacketIndex.spi_codes``), when already made."""
    if ipsec is None:
        ipsec = with_sequence_numbers(packets)
    spis = arrow(packets["spi"])
    if spi_codes is None:
        keep = ipsec & flags(pc.not_equal(spis, 0))
    else:
        all_codes, values = spi_codes
        keep = ipsec & (all_codes != values.index(0)) if 0 in values else ipsec
    seq = _numbers(pc.filter(arrow(packets["seq"]), pa.array(keep)))
    if not len(seq):
        return True
    if not seq.all():
        return False
    codes, n = _codes(pc.filter(spis, pa.array(keep))) if spi_codes is None else (all_codes[keep], len(values))
    small = codes.astype(np.uint8) if n <= 1 << 8 else codes.astype(np.uint16) if n <= 1 << 16 else codes
    order = np.argsort(small, kind="stable")      # a radix sort of small codes: by SPI, table order within one
    seq = seq[order]
    ok = seq[1:] > seq[:-1]
    frames = packets["frame"].to_numpy(dtype=np.int64)
    if not (frames[1:] > frames[:-1]).all():     # one capture in frame order (most): no need to look
        frame = _numbers(pc.filter(arrow(packets["frame"]), pa.array(keep)))[order]
        ok &= frame[1:] >= frame[:-1]
    ends = np.cumsum(np.bincount(codes, minlength=n))       # where each SPI's rows end in that order
    ok[ends[(ends > 0) & (ends < len(seq))] - 1] = True     # the last of one SPI and the first of the next
    return bool(ok.all())


def _numbers(values) -> np.ndarray:
    """An Arrow integer array without nulls as NumPy (no copy where it can)."""
    return one_array(values).to_numpy(zero_copy_only=False)


def with_sequence_numbers(packets: pd.DataFrame) -> np.ndarray:
    """Rows of the top-level ESP/AH packets with an SPI and a sequence number."""
    return kind_in(packets, IPSEC_KINDS) & present(packets, "spi") & present(packets, "seq")


def _codes(values) -> tuple[np.ndarray, int]:
    """Integer codes of the values in order of first appearance, missing values one code
    of their own (``pd.factorize(..., use_na_sentinel=False)``), and how many there are."""
    encoded = one_array(pc.dictionary_encode(values, null_encoding="encode"))
    return encoded.indices.to_numpy(zero_copy_only=False), len(encoded.dictionary)


def _dense(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys, return_inverse=True)[1]``: each key's rank among the distinct keys,
    by hashing (the distinct keys are few: one per SA) instead of sorting every row."""
    codes, n = _codes(pa.array(keys))
    distinct = np.empty(n, dtype=np.int64)
    distinct[codes] = keys
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(distinct)] = np.arange(n)
    return rank[codes]


def _by_sa_then_frame(sa: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``np.lexsort((frame, sa))``.  Packets come in frame order within each capture (and an
    SA lies in one capture), so a stable sort by SA alone (a radix sort on small numbers)
    gives it; checked, else the full sort."""
    small = sa.astype(np.uint16) if len(sa) and sa.max() < 1 << 16 else sa
    order = np.argsort(small, kind="stable")
    s, f = sa[order], frame[order]
    if ((f[1:] >= f[:-1]) | (s[1:] != s[:-1])).all():
        return order
    return np.lexsort((frame, sa))


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
    return sequence_rows(packets, window, ordered_rows=ordered_rows)[0]


def sequence_rows(packets: pd.DataFrame, window: int = DEFAULT_WINDOW, *,
                  ordered_rows: Ordered | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """``sequence_table`` and, per row, the position of its packet in ``packets``."""
    nothing = (schema.empty(schema.SEQUENCE), np.zeros(0, dtype=np.int64))
    if ordered_rows is None and in_order(packets):
        return nothing
    o = ordered(packets) if ordered_rows is None else ordered_rows
    sa = o.sa
    if not len(o.pos):
        return nothing
    seq = o.column("seq").to_numpy(dtype=np.int64)[o.order]
    top = _running_top(sa, seq)
    idx = np.arange(len(seq))
    starts = _group_starts(sa)
    # Only a packet at or below the top (or numbered 0) can be out of order: the costly
    # columns below are made for those rows alone (most captures have none).
    candidate = ((seq <= top) & (idx != starts)) | (seq == 0)
    if not candidate.any():
        return nothing
    at = np.flatnonzero(candidate)
    seen = np.zeros(len(seq), dtype=bool)       # a number above the top was never seen before
    seen[at], first_row = _seen_before_at(at, sa, seq)
    restart_at = _restarts(sa, seq, top, seen, window) if _may_restart(seq[at], top[at], window) \
        else np.zeros(len(seq), dtype=bool)

    if restart_at.any():
        # Runs after a restart: the old top stays the receiver's top until the new run passes it.
        last_restart = np.maximum.accumulate(np.where(restart_at, idx, -1))
        in_run = (last_restart >= starts)
        epoch = np.cumsum(restart_at) - np.where(starts > 0, np.cumsum(restart_at)[starts - 1], 0)
        run_top = np.where(in_run, top[np.maximum(last_restart, 0)], 0)
        restarted = (in_run & (seq <= run_top))[at]
        seen_in_run = _seen_before(sa, epoch, seq)[at]
    else:
        restarted = seen_in_run = np.zeros(len(at), dtype=bool)
    # Sequence number 0 is never sent (RFC 4303 3.3.3): it is a row ("late") wherever it comes.
    kind = np.select([restarted & ~seen_in_run, restarted, seen[at], (seq[at] < top[at]) | (seq[at] == 0)],
                     ["restart", "duplicate", "duplicate", "late"], "")
    keep = kind != ""
    at, kind, first_row = at[keep], kind[keep], first_row[keep]
    if not len(at):
        return nothing
    fails = fails_check(top[at] - seq[at], seen[at], seq[at], window)

    frames = o.column("frame").to_numpy(dtype=np.int64)[o.order]
    first_frame = pd.arrays.IntegerArray(frames[first_row], ~seen[at])
    rows = o.order[at]
    out = o.take(rows, ["capture", "frame", "time", "src", "dst", "spi", "seq"])
    behind = top[at] - seq[at]
    table = schema.to_frame(schema.from_columns(schema.SEQUENCE, {
        "capture": out["capture"], "frame": out["frame"], "time": out["time"], "src": out["src"],
        "dst": out["dst"], "proto": np.where(o.is_ah[rows], "ah", "esp"), "spi": out["spi"], "seq": out["seq"],
        "kind": kind, "top": top[at].astype(np.uint32), "behind": behind.astype(np.uint32),
        "seen_before": seen[at], "outside_window": behind >= window,
        "fails_check": fails, "window": np.full(len(at), window, dtype=np.uint32),
        "first_frame": first_frame,
    }))
    return table, o.pos[rows]


def _seen_before_at(at: np.ndarray, sa: np.ndarray, seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_seen_before(sa, seq, first=True)`` at the rows ``at`` only: found among the rows
    that share an (SA, number) with one of them, a few where the whole table is many."""
    key = pa.array((sa << 32) | seq)
    shared = np.flatnonzero(flags(pc.is_in(key, value_set=pc.unique(key.take(pa.array(at))))))
    seen, first = _seen_before(sa[shared], seq[shared], first=True)
    i = np.searchsorted(shared, at)
    return seen[i], shared[first[i]]


def _may_restart(seq: np.ndarray, top: np.ndarray, window: int) -> bool:
    """Any row a restart could begin at (see ``_restarts``: a small number far below the top)."""
    return bool(((seq <= RESTART_MAX_SEQ) & (top - seq >= max(window, 1))).any())


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
