"""What the replay causes share: the capture's sequence table, the receiver's window, and
the packet a replay line names.

A replay line (ScreenOS 00042, ASA 402119, IOS PKT_REPLAY_ERR, Junos RT_IPSEC_REPLAY)
says the device dropped the packet with that SPI and sequence number as a replay.  Its
proof is that packet in the capture, on its way to the device, at the line's time, and
the sequence table (``badspi_pcap.sequence``) says why a receiver drops it: a copy of a
number that came before (duplicated path), a first arrival ``behind`` the top by the
window or more (reordered beyond the window), or a sender that began again at small
numbers (restarted sequence).  The packet must reach the device in the order the capture
saw it, so the capture has to be on the device's own link: a packet the capture saw in
order says the disorder happens after the capture point.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..notation import spi_text
from ..masks import arrow, flags, one_array, rows_at, value_codes
from ..sequence import in_order, ordered, sequence_rows, with_sequence_numbers
from .base import Claim, Context, Judgement, Proof, columns, given, seconds
from .selectors import Selector

KINDS = ("replay",)
SEQUENCE_KINDS = {"duplicate": "duplicated-path", "late": "reordered-beyond-window", "restart": "sequence-restart"}


@dataclass(frozen=True)
class Window:
    size: int | None      # packets; None: not known
    origin: str           # given | sa-table | vendor-default | unknown
    text: str             # where it comes from, for the report


class LineEvidence(NamedTuple):
    """What the capture says about one replay line (``evidence``)."""

    dropped: Proof | None                  # the replay cause whose out-of-order packet the line names
    frames: tuple[tuple[str, int], ...]    # the packets it names near its time (to the device, where any is)
    sees_sa: bool                          # the capture has ESP/AH with sequence numbers on the line's SPI


def window_for(line, ctx: Context) -> Window:
    """The receiver's anti-replay window: ``--replay-window``, else an SA table that shows
    it for the line's SPI, else the vendor's documented default."""
    return _window(line_spi(line, ctx), getattr(line, "vendor", None), ctx)


def _window(spi: int | None, vendor, ctx: Context) -> Window:
    memo = ctx.__dict__.setdefault("_replay_windows", {})
    if (spi, vendor) not in memo:
        memo[(spi, vendor)] = _find_window(spi, vendor, ctx)
    return memo[(spi, vendor)]


def _find_window(spi: int | None, vendor, ctx: Context) -> Window:
    given = getattr(ctx.options, "replay_window", None)
    if given is not None:
        return Window(int(given), "given", f"{int(given)} packets (--replay-window)")
    sas = ctx.sas
    if sas is not None and len(sas) and "replay_window" in sas and spi is not None:
        shown = sas[(sas["spi"] == spi) & sas["replay_window"].notna()]
        if len(shown):
            size = int(shown["replay_window"].iloc[0])
            return Window(size, "sa-table", f"{size} packets ({shown['source'].iloc[0]}:{int(shown['line'].iloc[0])})")
    prof = ctx.profile(vendor)
    if prof.replay_window is not None:
        fact = prof.replay_window_fact
        return Window(prof.replay_window, "vendor-default",
                      f"{prof.replay_window} packets ({prof.name} default: {fact.text}"
                      f"{f' [{fact.source.tag}]' if fact.source else ''})")
    return Window(None, "unknown", f"not known for {prof.name} ({prof.replay_window_fact.text}); "
                                   f"give --replay-window")


def line_spi(line, ctx: Context) -> int | None:
    """The line's SPI, or for an IOS line (connection id only) the inbound SA with that
    ``conn id`` in a ``show crypto ipsec sa`` given with --sa."""
    return _spi(getattr(line, "spi", None), getattr(line, "conn_id", None), ctx)


def _spi(spi, conn, ctx: Context) -> int | None:
    if given(spi):
        return int(spi)
    sas = ctx.sas
    if not given(conn) or sas is None or sas.empty or "conn_id" not in sas:
        return None
    memo = ctx.__dict__.setdefault("_replay_conn_spis", {})     # a few connections, many lines
    if int(conn) not in memo:
        hit = sas[(sas["conn_id"] == int(conn)) & sas["direction"].eq("in").fillna(False) & sas["spi"].notna()]
        memo[int(conn)] = int(hit["spi"].iloc[0]) if len(hit) else None
    return memo[int(conn)]


def _spi_from_seq(conn, ctx: Context) -> bool:
    """The line's SPI was not written by the device nor found through its connection id:
    the correlation took it from the sequence number and time."""
    if not given(conn):
        return False
    sas = ctx.sas
    if sas is None or sas.empty or "conn_id" not in sas:
        return True
    return not (sas["conn_id"] == int(conn)).fillna(False).any()


def sequence(ctx: Context, window: int) -> pd.DataFrame:
    """The capture's sequence table for this window, built once per analysis."""
    return _sequence(ctx, window)[0]


def _sequence(ctx: Context, window: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The sequence table and its rows' positions in ``ctx.packets``."""
    cache = ctx.__dict__.setdefault("_replay_sequence", {})
    if "_replay_in_order" not in ctx.__dict__:
        ctx.__dict__["_replay_in_order"] = in_order(ctx.packets, _with_seq(ctx), ctx.packet_index.spi_codes)
        if ctx.__dict__["_replay_in_order"]:       # no packet out of order (most captures): no table
            ctx.__dict__["_replay_none"] = (schema.empty(schema.SEQUENCE), np.zeros(0, dtype=np.int64))
    if ctx.__dict__["_replay_in_order"]:
        return ctx.__dict__["_replay_none"]
    if window not in cache:
        if "_replay_ordered" not in ctx.__dict__:      # the SA order is the same for every window
            ctx.__dict__["_replay_ordered"] = ordered(ctx.packets, _with_seq(ctx))
        cache[window] = sequence_rows(ctx.packets, max(int(window), 0), ordered_rows=ctx.__dict__["_replay_ordered"])
    return cache[window]


def _with_seq(ctx: Context) -> np.ndarray:
    """Rows of the top-level ESP/AH packets with an SPI and a sequence number (made once)."""
    if "_replay_with_seq" not in ctx.__dict__:
        ctx.__dict__["_replay_with_seq"] = with_sequence_numbers(ctx.packets)
    return ctx.__dict__["_replay_with_seq"]


def _spis_seen(ctx: Context) -> set[int]:
    """The SPIs of those packets (made once)."""
    if "_replay_spis" not in ctx.__dict__:
        ctx.__dict__["_replay_spis"] = ctx.packet_index.spis_at(_with_seq(ctx))
    return ctx.__dict__["_replay_spis"]


LINE_FIELDS = ("event_id", "spi", "conn_id", "seq", "vendor", "t")


def evidence(line, ctx: Context) -> LineEvidence:
    """What the capture says about this replay line (see ``prepare``), made once."""
    return evidence_many(one_line(line), ctx)[0]


def evidence_many(lines: pd.DataFrame, ctx: Context) -> list[LineEvidence]:
    """``evidence`` of every line (columns ``LINE_FIELDS``), made together for those not
    asked before: every replay cause asks for the same lines."""
    last = ctx.__dict__.get("_replay_last")
    if last is not None and last[0] is lines:       # the cause table hands the next cause the same lines
        return last[1]
    memo = ctx.__dict__.setdefault("_replay_evidence", {})
    events = columns(lines, ["event_id"])["event_id"]
    new = np.array([e not in memo for e in events], dtype=bool)
    if new.any():
        prepare(lines if new.all() else lines[new], ctx)
    found = [memo[e] for e in events]
    ctx.__dict__["_replay_last"] = (lines, found)    # holds the lines: their identity is not reused
    return found


def prepare(lines: pd.DataFrame, ctx: Context) -> None:
    """``evidence`` for every line (columns ``LINE_FIELDS``) in a few array operations:
    the packets each line names (by SPI and sequence number, or, when no SPI is known
    (IOS without its SA table), by sequence number and time, within ``replay_match_s``
    plus the log's resolution of the line; those to the device where any is), and of
    those the copy the sequence table marks out of order nearest the line's time.
    Per line only the result is made: the lines' values are taken as arrays, and what
    depends on the SA table or the vendor is asked once per distinct value."""
    memo = ctx.__dict__.setdefault("_replay_evidence", {})
    if not len(lines):
        return
    n = len(lines)
    spi, by_spi = _line_spis(lines, ctx)
    seq, has_seq = _integers(lines, "seq")
    conn, has_conn = _integers(lines, "conn_id")
    from_seq = has_conn & np.isin(conn, [k for k in np.unique(conn[has_conn]).tolist() if _spi_from_seq(k, ctx)])
    keys = np.where(~has_seq, "", np.where(by_spi & ~from_seq, "spi+seq", "seq+time")).astype(object)
    t = lines["t"].to_numpy(dtype=float, na_value=np.nan) if "t" in lines else np.full(n, np.nan)

    line, pos, dt = _named(ctx, spi, seq, has_seq, by_spi, t)
    size, known = _window_sizes(lines, spi, by_spi, ctx)
    dropped = _dropped(ctx, size, known, keys, line, pos, dt)
    frames = _frames(ctx, line, pos, n)
    # a line that names packets by its SPI sees its SA: the SPIs are looked up only for the others
    sees = by_spi & (np.bincount(line, minlength=n) > 0)
    if (by_spi & ~sees).any():
        sees |= by_spi & np.isin(spi, np.array(sorted(_spis_seen(ctx)), dtype=np.uint64))
    proofs: list[Proof | None] = [None] * n
    for i, proof in dropped.items():
        proofs[i] = proof
    events = lines["event_id"].to_numpy(dtype=np.int64).tolist()
    memo.update(zip(events, map(LineEvidence._make, zip(proofs, frames, sees.tolist()))))


def _integers(lines: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The column's values as uint64 (0 where missing) and where they are given (a column
    the lines lack is missing everywhere)."""
    if name not in lines:
        return np.zeros(len(lines), dtype=np.uint64), np.zeros(len(lines), dtype=bool)
    values = arrow(lines[name])
    if pa.types.is_null(values.type):
        return np.zeros(len(lines), dtype=np.uint64), np.zeros(len(lines), dtype=bool)
    given_ = np.array(flags(pc.is_valid(values)))          # copies: the callers fill them in
    filled = one_array(pc.fill_null(values, 0).cast(pa.uint64()))
    return np.array(filled.to_numpy(zero_copy_only=False), dtype=np.uint64), given_


def _line_spis(lines: pd.DataFrame, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """``line_spi`` of every line as (SPI, known): the written SPI, else the inbound SA of
    the line's connection id, looked up once per connection."""
    spi, known = _integers(lines, "spi")
    conn, has_conn = _integers(lines, "conn_id")
    ask = ~known & has_conn
    for k in np.unique(conn[ask]).tolist():
        found = _spi(None, k, ctx)
        if found is not None:
            mine = ask & (conn == k)
            spi[mine], known[mine] = found, True
    return spi, known


def _window_sizes(lines: pd.DataFrame, spi, by_spi, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Per line the receiver's window size (0 where not known) and whether it is known:
    ``_window`` asked once per distinct (SPI, vendor)."""
    if "vendor" in lines:
        codes, vendors = value_codes(lines["vendor"])
    else:
        vendors, codes = [None], np.zeros(len(lines), dtype=np.int64)
    spi_key = np.where(by_spi, spi.astype(np.int64) + 1, 0)      # 0: no SPI
    pairs, first, which = np.unique(spi_key * len(vendors) + codes, return_index=True, return_inverse=True)
    windows = [_window(int(spi[i]) if by_spi[i] else None, vendors[codes[i]], ctx) for i in first.tolist()]
    size = np.array([w.size if w.size is not None else 0 for w in windows], dtype=np.int64)
    known = np.array([w.size is not None for w in windows], dtype=bool)
    return size[which.reshape(-1)], known[which.reshape(-1)]


def _frames(ctx: Context, line, pos, n: int) -> list[tuple]:
    """Per line the ((capture, frame), ...) of the packets it names, in order."""
    frames: list[tuple] = [()] * n
    if not len(line):
        return frames
    at, which = np.unique(pos, return_inverse=True)
    refs = list(zip(*columns(rows_at(ctx.packets, at, ["capture", "frame"]), ["capture", "frame"]).values()))
    by_line = np.argsort(line, kind="stable")          # each line's named packets: one slice
    lines, ref = line[by_line], which.reshape(-1)[by_line]
    count = np.bincount(line, minlength=n)
    one = count[lines] == 1
    for i, k in zip(lines[one].tolist(), ref[one].tolist()):
        frames[i] = (refs[k],)
    ends = np.cumsum(count)
    for i in np.flatnonzero(count > 1).tolist():
        frames[i] = tuple(sorted({refs[k] for k in ref[ends[i] - count[i]:ends[i]].tolist()}))
    return frames


def _named(ctx: Context, spi, seq, has_seq, by_spi, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, packet position, |packet time - line time|) of each packet a line names."""
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    p = ctx.packets
    if not has_seq.any() or p.empty:
        return none
    rows = np.flatnonzero(_with_seq(ctx) & _seq_in(p, np.unique(seq[has_seq])))
    if not len(rows):
        return none
    r = rows_at(p, rows, ["spi", "seq", "time", "dst"])
    r_spi, r_seq = r["spi"].to_numpy(dtype=np.uint64), r["seq"].to_numpy(dtype=np.uint64)
    lines, found = [], []
    by_key = (spi << np.uint64(32)) | seq, (r_spi << np.uint64(32)) | r_seq
    for mine, line_key, packet_key in ((has_seq & by_spi, *by_key), (has_seq & ~by_spi, seq, r_seq)):
        at = np.flatnonzero(mine)
        order = np.argsort(packet_key, kind="stable")
        sorted_keys = packet_key[order]
        lo = np.searchsorted(sorted_keys, line_key[at], "left")
        count = np.searchsorted(sorted_keys, line_key[at], "right") - lo
        start = np.repeat(lo - (np.cumsum(count) - count), count)
        lines.append(np.repeat(at, count))
        found.append(order[start + np.arange(int(count.sum()))])
    line, i = np.concatenate(lines), np.concatenate(found)
    dt = np.abs(seconds(r["time"])[i] - t[line])
    near = dt <= ctx.thresholds.replay_match_s + ctx.resolution_s
    line, i, dt = line[near], i[near], dt[near]
    to_device = r["dst"].isin(ctx.local).to_numpy(dtype=bool)[i]
    any_to_device = np.zeros(len(t), dtype=bool)
    any_to_device[line[to_device]] = True
    keep = to_device | ~any_to_device[line]
    return line[keep], rows[i[keep]], dt[keep]


def _seq_in(packets: pd.DataFrame, wanted: np.ndarray) -> np.ndarray:
    """Rows whose sequence number is one of ``wanted`` (sorted): a lookup table when their
    range is small (sequence numbers mostly are), else Arrow's hashing."""
    column = arrow(packets["seq"])
    if int(wanted[-1]) < 1 << 24:        # the table indexed by the number itself: one gather per row
        table = np.zeros(int(wanted[-1]) + 2, dtype=bool)
        table[wanted.astype(np.int64)] = True
        values = _filled(column, len(table) - 1)         # the last entry (False) for missing and larger ones
        return table[np.minimum(values, len(table) - 1)]
    if int(wanted[-1]) - int(wanted[0]) < 1 << 24:
        values = _filled(column, int(wanted[0]) - 1 if wanted[0] > 0 else int(wanted[-1]) + 1)
        return np.isin(values, wanted, kind="table")
    return flags(pc.is_in(column, value_set=pa.array(wanted, type=pa.uint32())))


def _filled(column, value: int) -> np.ndarray:
    """An Arrow integer column as NumPy, ``value`` where missing."""
    values = one_array(pc.fill_null(column, value))
    return values.to_numpy()


def _dropped(ctx: Context, size, known, keys, line, pos, dt) -> dict[int, Proof]:
    """Per line (by index), the proof of the replay cause whose out-of-order packet it names:
    the named packet the sequence table (at the line's window ``size``; ``known``: the
    window is known) holds nearest its time."""
    out: dict[int, Proof] = {}
    for window in np.unique(size[line]).tolist():
        table, at = _sequence(ctx, window)
        if table.empty:
            continue
        mine = size[line] == window
        order = np.argsort(at)
        i = np.minimum(np.searchsorted(at[order], pos[mine]), len(at) - 1)
        hit = at[order][i] == pos[mine]
        hl, row, hdt = line[mine][hit], order[i[hit]], dt[mine][hit]
        best = np.lexsort((row, hdt, hl))              # nearest in time, then first in the table
        first = np.ones(len(best), dtype=bool)
        first[1:] = hl[best][1:] != hl[best][:-1]
        hl, row = hl[best][first], row[best][first]
        kind, capture, frame = table["kind"].to_numpy()[row], table["capture"].to_numpy()[row], \
            table["frame"].to_numpy(dtype=np.int64)[row]
        seqs = table["seq"].to_numpy(dtype=np.int64)[row]
        drops = (window > 0) & ((seqs == 0) | (table["behind"].to_numpy(dtype=np.int64)[row] >= window)
                                | table["seen_before"].to_numpy(dtype=bool)[row])
        exact = (keys[hl] == "spi+seq") & (~known[hl] | drops)
        for j, k, e, cap, f in zip(hl.tolist(), kind.tolist(), exact.tolist(), capture.tolist(), frame.tolist()):
            out[j] = Proof(SEQUENCE_KINDS[k], str(keys[j]), bool(e), ((str(cap), int(f)),))
    return out


def explain_as(name: str, lines: pd.DataFrame, ctx: Context) -> list[Proof | None]:
    """Per line, a proof that it is cause ``name``: its packet is out of order the way
    ``name`` says.  Exact when found by SPI and sequence number and a receiver with the
    line's window drops it (with no window known, the device's own drop says it)."""
    return [e.dropped if e.dropped is not None and e.dropped.cause == name else None
            for e in evidence_many(lines, ctx)]


def one_line(line) -> pd.DataFrame:
    """A line (the cause table's named tuple) as the one row ``explain_many`` takes."""
    return pd.DataFrame({f: [getattr(line, f, None)] for f in LINE_FIELDS})


def claimed_rows(claim: Claim, ctx: Context) -> pd.DataFrame:
    """The sequence-table rows of the frames the claim's lines name."""
    frames = claim.frames()
    seq = sequence(ctx, 0)
    if not frames or seq.empty:
        return seq.iloc[:0]
    keys = pd.DataFrame(frames, columns=["capture", "frame"]).astype({"capture": seq["capture"].dtype,
                                                                      "frame": seq["frame"].dtype})
    return seq.merge(keys, on=["capture", "frame"])


def sa_rows(claim: Claim, ctx: Context, kind: str) -> pd.DataFrame:
    """Every row of ``kind`` on the claimed SAs (same capture, SPI and destination) in the
    span of the claimed frames' captures: what the capture shows, logged or not."""
    named = claimed_rows(claim, ctx)
    seq = sequence(ctx, 0)
    if named.empty:
        return seq.iloc[:0]
    keys = named[["capture", "dst", "spi"]].drop_duplicates()
    same = seq.merge(keys, on=["capture", "dst", "spi"])
    return same[same["kind"] == kind]


def seq_selector(rows: pd.DataFrame, ctx: Context, with_first_copies: bool = False) -> Selector | None:
    """ESP/AH on the rows' SPIs to their destination with those sequence numbers, from the
    first to the last of them (with the earlier copies of duplicates when asked)."""
    if rows.empty:
        return None
    times = list(seconds(rows["time"]))
    if with_first_copies:
        firsts = rows[rows["first_frame"].notna()]
        p = ctx.packets
        keys = pd.DataFrame({"capture": firsts["capture"].to_numpy(),
                             "frame": firsts["first_frame"].astype("int64").to_numpy()})
        earlier = p.merge(keys.astype({"capture": p["capture"].dtype, "frame": p["frame"].dtype}),
                          on=["capture", "frame"])
        times += list(seconds(earlier["time"]))
    seqs = tuple(sorted({int(s) for s in rows["seq"]}))
    spis = tuple(sorted({int(s) for s in rows["spi"]}))
    return Selector.spanning("ipsec-seq", times, spis=spis, dst=rows["dst"].mode().iloc[0], seqs=seqs)


def window_facts(claim: Claim, ctx: Context, rows: pd.DataFrame) -> dict:
    """Window used, where it comes from, and what the capture says a receiver drops at it."""
    line = next(claim.lines.itertuples(), None)
    window = window_for(line, ctx) if line is not None else Window(None, "unknown", "not known")
    facts = {"replay_window": window.size, "replay_window_origin": window.origin, "replay_window_text": window.text}
    if window.size is not None and len(rows):
        seq = sequence(ctx, window.size)
        keys = rows[["capture", "dst", "spi"]].drop_duplicates()
        same = seq.merge(keys, on=["capture", "dst", "spi"])
        facts["capture_drops"] = int(same["fails_check"].sum())
    return facts


def judged(claim: Claim, ctx: Context, pattern_ok: bool, evidence, facts: dict) -> Judgement:
    """CONFIRMED when every claimed line has its own proof and the cause's pattern holds."""
    all_exact = len(claim.lines) > 0 and claim.exact_count() == len(claim.lines)
    verdict = "confirmed" if all_exact and pattern_ok else "likely"
    return Judgement(verdict, tuple(e for e in evidence if e is not None), facts=facts)


# ---------------------------------------------------------------- capture alone, and prose

def vendor_windows(rows: pd.DataFrame, ctx: Context) -> list[dict]:
    """Per vendor with a documented default window: that window and how many of these
    rows a receiver with it drops (for "the window each vendor would need")."""
    from ..sequence import replay_failures
    from ..vendors import PROFILES

    out = []
    for prof in PROFILES.values():
        if prof.replay_window is not None:
            out.append({"vendor": prof.name, "window": prof.replay_window,
                        "drops": int(replay_failures(rows, prof.replay_window).sum()) if len(rows) else 0})
    return sorted(out, key=lambda v: (v["window"], v["vendor"]))


def capture_only(ctx: Context, named_spis: set[int], kind: str) -> list[tuple[dict, Judgement]]:
    """Per SA with rows of ``kind`` that no log line names: what the capture alone shows."""
    seq = sequence(ctx, 0)
    out: list[tuple[dict, Judgement]] = []
    if seq.empty:        # most captures: no packet out of order
        return out
    rows = seq[seq["kind"] == kind]
    if rows.empty:       # no groupby on an empty table
        return out
    for (capture, dst, spi), g in rows.groupby(["capture", "dst", "spi"], observed=True, sort=True):
        if int(spi) in named_spis:
            continue
        behind = g["behind"].astype("int64")
        headers = {}
        if kind == "duplicate":
            from .duplicated_path import copy_headers
            headers = copy_headers(g, ctx)
        facts = {**headers, "capture_only": True, "sequence_kind": kind, "count": len(g),
                 "sender": str(g["src"].iloc[0]),
                 "receiver": str(dst), "max_behind": int(behind.max()), "window_needed": int(behind.max()) + 1,
                 "vendor_windows": vendor_windows(g, ctx)}
        given = getattr(ctx.options, "replay_window", None)
        if given is not None:
            from ..sequence import replay_failures
            facts.update(replay_window=int(given), capture_drops=int(replay_failures(g, int(given)).sum()))
        ident = {"tunnel": f"SPI {spi_text(spi)}", "peer": str(g["src"].iloc[0])}
        selector = seq_selector(g, ctx, with_first_copies=kind == "duplicate")
        out.append((ident, Judgement("inconclusive", (selector,) if selector else (), facts=facts, spis=[int(spi)])))
    return out


def extra_facts(f) -> dict:
    """The cause-specific facts a finding keeps in its ``facts`` JSON column."""
    import json
    raw = f["facts"] if "facts" in f else None
    return json.loads(raw) if isinstance(raw, str) and raw else {}


def window_text(x: dict) -> str:
    if x.get("replay_window") is None:
        return f"the device's window is {x.get('replay_window_text', 'not known')}"
    return f"window {x['replay_window_text']}"


def vendor_windows_text(x: dict) -> str:
    parts = [f"{v['vendor']} {v['window']}: drops {v['drops']}" for v in x.get("vendor_windows", [])]
    return "; ".join(parts)


def capture_only_text(f, x: dict, what: str) -> str:
    from ..report.common import plural
    text = (f"The capture alone shows {plural(x['count'], what)} on SPI {spi_text(f['spis'][0])} "
            f"({x['sender']} -> {x['receiver']})")
    if x["sequence_kind"] == "duplicate":
        from .duplicated_path import headers_text
        text += f"{headers_text(x)}: a receiver drops every second copy, whatever its window"
    elif x["sequence_kind"] == "restart":
        text += (": the sender began again at small numbers on the same SPI, and a receiver drops these packets "
                 "until the new numbers pass the old top or the SA is replaced")
    else:
        text += (f", the deepest {x['max_behind']} behind: a receiver needs a window of at least "
                 f"{x['window_needed']} to take them all ({vendor_windows_text(x)})")
    if x.get("replay_window") is not None:
        text += f"; with --replay-window {x['replay_window']} it drops {x['capture_drops']}"
    return text + ". Give the device's log to confirm."
