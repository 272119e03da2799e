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

import numpy as np
import pandas as pd

from ..notation import spi_text
from ..masks import kind_in, present, rows
from ..schema import IPSEC_KINDS
from ..sequence import ordered, sequence_table
from .base import Claim, Context, Judgement, Proof, seconds
from .selectors import Selector

KINDS = ("replay",)
SEQUENCE_KINDS = {"duplicate": "duplicated-path", "late": "reordered-beyond-window", "restart": "sequence-restart"}


@dataclass(frozen=True)
class Window:
    size: int | None      # packets; None: not known
    origin: str           # given | sa-table | vendor-default | unknown
    text: str             # where it comes from, for the report


def window_for(line, ctx: Context) -> Window:
    """The receiver's anti-replay window: ``--replay-window``, else an SA table that shows
    it for the line's SPI, else the vendor's documented default."""
    given = getattr(ctx.options, "replay_window", None)
    if given is not None:
        return Window(int(given), "given", f"{int(given)} packets (--replay-window)")
    sas = ctx.sas
    spi = line_spi(line, ctx)
    if sas is not None and len(sas) and "replay_window" in sas and spi is not None:
        shown = sas[(sas["spi"] == spi) & sas["replay_window"].notna()]
        if len(shown):
            size = int(shown["replay_window"].iloc[0])
            return Window(size, "sa-table", f"{size} packets ({shown['source'].iloc[0]}:{int(shown['line'].iloc[0])})")
    prof = ctx.profile(getattr(line, "vendor", None))
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
    spi = getattr(line, "spi", None)
    if spi is not None and not pd.isna(spi):
        return int(spi)
    conn = getattr(line, "conn_id", None)
    sas = ctx.sas
    if conn is None or pd.isna(conn) or sas is None or sas.empty or "conn_id" not in sas:
        return None
    hit = sas[(sas["conn_id"] == int(conn)) & sas["direction"].eq("in").fillna(False) & sas["spi"].notna()]
    return int(hit["spi"].iloc[0]) if len(hit) else None


def _spi_from_seq(line, ctx: Context) -> bool:
    """The line's SPI was not written by the device nor found through its connection id:
    the correlation took it from the sequence number and time."""
    conn = getattr(line, "conn_id", None)
    if conn is None or pd.isna(conn):
        return False
    sas = ctx.sas
    if sas is None or sas.empty or "conn_id" not in sas:
        return True
    return not (sas["conn_id"] == int(conn)).fillna(False).any()


def sequence(ctx: Context, window: int) -> pd.DataFrame:
    """The capture's sequence table for this window, built once per analysis."""
    cache = ctx.__dict__.setdefault("_replay_sequence", {})
    if window not in cache:
        if "_replay_ordered" not in ctx.__dict__:      # the SA order is the same for every window
            ctx.__dict__["_replay_ordered"] = ordered(ctx.packets)
        table = sequence_table(ctx.packets, max(int(window), 0), ordered_rows=ctx.__dict__["_replay_ordered"])
        # (capture, frame) -> row position, for the per-line lookups
        table.attrs["at"] = {(str(c), int(f)): i for i, (c, f) in enumerate(zip(table["capture"], table["frame"]))}
        cache[window] = table
    return cache[window]


class Arrivals:
    """The top-level ESP/AH packets as arrays sorted by (SPI, sequence number) and by
    sequence number, so a line finds its packets by binary search."""

    def __init__(self, packets: pd.DataFrame):
        p = rows(packets, kind_in(packets, IPSEC_KINDS) & present(packets, "spi") & present(packets, "seq"),
                 ["capture", "frame", "time", "dst", "spi", "seq"])
        spi = p["spi"].to_numpy(dtype=np.uint64)
        seq = p["seq"].to_numpy(dtype=np.uint64)
        self.t = seconds(p["time"])
        self.capture = shared_strings(p["capture"])
        self.frame = p["frame"].to_numpy(dtype=np.int64)
        self.dst = shared_strings(p["dst"])
        key = (spi << np.uint64(32)) | seq
        self.by_key = np.argsort(key, kind="stable")
        self.keys = key[self.by_key]
        self.by_seq = np.argsort(seq, kind="stable")
        self.seqs = seq[self.by_seq]
        self.spis = set(np.unique(spi).astype(np.int64).tolist())

    def with_spi(self, spi: int, seq: int) -> np.ndarray:
        k = np.uint64((spi << 32) | seq)
        return self.by_key[np.searchsorted(self.keys, k, "left"):np.searchsorted(self.keys, k, "right")]

    def with_seq(self, seq: int) -> np.ndarray:
        q = np.uint64(seq)
        return self.by_seq[np.searchsorted(self.seqs, q, "left"):np.searchsorted(self.seqs, q, "right")]


def shared_strings(values: pd.Series) -> np.ndarray:
    """``values.astype(str).to_numpy()`` with one string object per distinct value: 8 bytes
    a row instead of a string each (a million rows hold a few addresses)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(pd.Series(uniques).astype(str).to_numpy(), dtype=object)[codes]


def arrivals(ctx: Context) -> Arrivals:
    cache = ctx.__dict__
    if "_replay_arrivals" not in cache:
        cache["_replay_arrivals"] = Arrivals(ctx.packets)
    return cache["_replay_arrivals"]


def named_packets(line, ctx: Context) -> tuple[list[int], str]:
    """Positions (in ``arrivals(ctx)``) of the packets the line names near its time: by
    SPI and sequence number (key ``spi+seq``), or, when no SPI is known (IOS without its
    SA table), by sequence number and time (key ``seq+time``).  Computed once per line."""
    memo = ctx.__dict__.setdefault("_replay_named", {})
    event = getattr(line, "event_id", None)
    if event is None:
        return _named_packets(line, ctx)
    if int(event) not in memo:
        memo[int(event)] = _named_packets(line, ctx)
    idx, key = memo[int(event)]
    return list(idx), key


def _named_packets(line, ctx: Context) -> tuple[list[int], str]:
    seq = getattr(line, "seq", None)
    if seq is None or pd.isna(seq):
        return [], ""
    a = arrivals(ctx)
    spi = line_spi(line, ctx)
    idx, key = (a.with_spi(spi, int(seq)), "spi+seq") if spi is not None else (a.with_seq(int(seq)), "seq+time")
    if spi is not None and _spi_from_seq(line, ctx):
        key = "seq+time"
    idx = idx[np.abs(a.t[idx] - float(line.t)) <= ctx.thresholds.replay_match_s + ctx.resolution_s]
    to_device = np.array([d in ctx.local for d in a.dst[idx]], dtype=bool)   # few: no np.isin
    return (idx[to_device] if to_device.any() else idx).tolist(), key


def dropped_packet(line, ctx: Context):
    """(cause, sequence-table row, key, window) for the packet this line says was
    dropped: the copy the table marks out of order nearest the line's time; cause None
    when the capture saw the named packet only in order (or not at all).  Computed once
    per line (every replay cause asks)."""
    memo = ctx.__dict__.setdefault("_replay_dropped", {})
    event = int(line.event_id)
    if event not in memo:
        memo[event] = _dropped_packet(line, ctx)
    return memo[event]


def _dropped_packet(line, ctx: Context):
    window = window_for(line, ctx)
    idx, key = named_packets(line, ctx)
    seq = sequence(ctx, window.size if window.size is not None else 0)
    a = arrivals(ctx)
    hits = [(abs(a.t[i] - float(line.t)), seq.attrs["at"][k]) for i in idx
            if (k := (a.capture[i], int(a.frame[i]))) in seq.attrs["at"]]
    if not hits:
        return None, None, key, window
    row = seq.iloc[min(hits)[1]]
    return SEQUENCE_KINDS[row["kind"]], row, key, window


def explain_as(name: str, line, ctx: Context) -> Proof | None:
    """A proof that ``line`` is cause ``name``: its packet is out of order the way
    ``name`` says.  Exact when found by SPI and sequence number and a receiver with the
    line's window drops it (with no window known, the device's own drop says it)."""
    cause, row, key, window = dropped_packet(line, ctx)
    if cause != name:
        return None
    drops = window.size is None or _drops(row, window.size)
    exact = key == "spi+seq" and bool(drops)
    return Proof(name, key, exact, ((str(row["capture"]), int(row["frame"])),))


def _drops(row, window: int) -> bool:
    if window <= 0:
        return False
    return bool(int(row["seq"]) == 0 or int(row["behind"]) >= window or bool(row["seen_before"]))


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
