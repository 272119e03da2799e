"""Joining the device's log with the capture: clock offset, matches, rate limit, coverage.

All functions take and return tables.  Conventions:

- ``offset`` is the device clock minus the capture clock, in seconds: a log line
  stamped T happened at capture time T - offset.
- Log times are whole seconds on most devices and the device truncates, so a line
  stamped T was written during [T, T+1) of device time.
- A *reference* is a place in the capture where an SPI (and sequence number) occurs: a
  top-level ESP/AH header, or the IPsec header quoted inside an ICMP error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import UsageError

BAD_SPI_KINDS = ("bad-spi", "replay")
EXACT_TOLERANCE_S = 2.0      # around the log line's second, after the offset
SPI_WINDOW_S = 15.0          # SPI-only matches: a rate-limited line may trail its packet
CLUSTER_WIDTH_S = 1.2        # whole-second log times spread offsets over one second
MAX_PAIRS_PER_SPI = 4000     # bounds the SPI-only offset search on huge captures


@dataclass(frozen=True)
class ClockOffset:
    seconds: float
    method: str          # spi+seq | spi | icmp-times | given | assumed
    matches: int         # pairs that agree with the estimate
    candidates: int      # pairs considered
    spread: float        # max - min of the agreeing pairs (seconds)

    def describe(self) -> str:
        if self.method == "given":
            return f"{self.seconds:+.1f} s (given)"
        if self.method == "assumed":
            return "0 s (assumed: nothing in the capture matched the log; use --clock-offset)"
        return (f"{self.seconds:+.1f} s (device clock minus capture clock; estimated from {self.matches} of "
                f"{self.candidates} {self.method} matches, spread {self.spread:.1f} s)")


def references(packets: pd.DataFrame) -> pd.DataFrame:
    """Every SPI occurrence in the capture: capture, frame, time, spi, seq, where
    (esp | quoted), the sender of the IPsec packet and its receiver."""
    top = packets[packets["kind"].isin(["esp", "ah", "esp-in-udp"]) & packets["spi"].notna()]
    quoted = packets[(packets["kind"] == "icmp-error") & packets["inner_spi"].notna()]
    cols = ["capture", "frame", "time", "spi", "seq", "where", "sender", "receiver", "router"]
    a = pd.DataFrame({
        "capture": top["capture"], "frame": top["frame"], "time": top["time"], "spi": top["spi"],
        "seq": top["seq"], "where": "esp", "sender": top["src"], "receiver": top["dst"], "router": pd.NA,
    })
    b = pd.DataFrame({
        "capture": quoted["capture"], "frame": quoted["frame"], "time": quoted["time"],
        "spi": quoted["inner_spi"], "seq": quoted["inner_seq"], "where": "quoted",
        "sender": quoted["inner_src"], "receiver": quoted["inner_dst"], "router": quoted["src"],
    })
    out = pd.concat([a, b], ignore_index=True) if len(b) else a.reset_index(drop=True)
    return out[cols]


def quotes_ipsec(packets: pd.DataFrame) -> pd.Series:
    """ICMP errors whose quoted packet is ESP/AH, or UDP 500/4500 (IKE, NAT-T)."""
    ports = packets["inner_sport"].isin([500, 4500]) | packets["inner_dport"].isin([500, 4500])
    inner = packets["inner_proto"].isin([50, 51]) | packets["inner_spi"].notna() | ports
    return (packets["kind"] == "icmp-error") & inner.fillna(False)


def whole_second_log(events: pd.DataFrame) -> bool:
    t = events["time"].dropna()
    return len(t) > 0 and bool((t.astype("int64") % 1_000_000_000 == 0).all())


def estimate_clock_offset(events: pd.DataFrame, packets: pd.DataFrame) -> ClockOffset:
    """Device clock minus capture clock, from the data.

    Exact (SPI, SEQ) pairs first, then SPI-only pairs, then bad-SPI line times against
    ICMP error times.  Each pair gives a candidate offset; the estimate is the centre of
    the densest one-second cluster (whole-second log times spread the candidates over a
    second), so stray pairs (a reused SPI, an unrelated packet) do not move it.
    """
    bad = events[events["kind"].isin(BAD_SPI_KINDS) & events["spi"].notna() & events["time"].notna()]
    refs = references(packets)
    half_second = 0.5 if whole_second_log(events) else 0.0
    for method, pairs in (
        ("spi+seq", lambda: _pairs_on(bad, refs, ["spi", "seq"])),
        ("spi", lambda: _pairs_spi_only(bad, refs)),
        ("icmp-times", lambda: _pairs_icmp_times(bad, packets)),
    ):
        d = pairs()
        if len(d) == 0:
            continue
        lo, hi, count = densest_cluster(d, CLUSTER_WIDTH_S)
        if method != "spi+seq" and count < 2:
            continue
        inliers = d[(d >= lo) & (d <= hi)]
        return ClockOffset(seconds=float(np.median(inliers)) + half_second, method=method, matches=int(count),
                           candidates=int(len(d)), spread=float(inliers.max() - inliers.min()))
    return ClockOffset(0.0, "assumed", 0, 0, 0.0)


def offset_candidates(events: pd.DataFrame, packets: pd.DataFrame, method: str = "spi+seq") -> np.ndarray:
    """The candidate offsets ``estimate_clock_offset`` clusters for one method (spi+seq |
    spi | icmp-times): log line time minus packet time, in seconds, one per pair.
    ``events`` must be on the device's clock (after ``analyze``: time=time_device)."""
    bad = events[events["kind"].isin(BAD_SPI_KINDS) & events["spi"].notna() & events["time"].notna()]
    if method == "spi+seq":
        return _pairs_on(bad, references(packets), ["spi", "seq"])
    if method == "spi":
        return _pairs_spi_only(bad, references(packets))
    if method == "icmp-times":
        return _pairs_icmp_times(bad, packets)
    raise ValueError(f"unknown offset method {method!r}")


def _seconds(series: pd.Series) -> np.ndarray:
    return series.astype("int64").to_numpy() / 1e9


def _pairs_on(events: pd.DataFrame, refs: pd.DataFrame, keys: list[str]) -> np.ndarray:
    if events.empty or refs.empty:
        return np.array([])
    left = events[keys + ["time"]].dropna()
    right = refs[keys + ["time"]].dropna()
    merged = left.merge(right, on=keys, suffixes=("_event", "_packet"))
    return _seconds(merged["time_event"]) - _seconds(merged["time_packet"])


def _pairs_spi_only(events: pd.DataFrame, refs: pd.DataFrame) -> np.ndarray:
    out = []
    for spi, group in events.groupby("spi", observed=True):
        times = _seconds(refs.loc[refs["spi"] == spi, "time"])
        if not len(times):
            continue
        if len(times) > MAX_PAIRS_PER_SPI:
            times = times[np.linspace(0, len(times) - 1, MAX_PAIRS_PER_SPI).astype(int)]
        ev = _seconds(group["time"])[:MAX_PAIRS_PER_SPI]
        out.append((ev[:, None] - times[None, :]).ravel())
    return np.concatenate(out) if out else np.array([])


def _pairs_icmp_times(events: pd.DataFrame, packets: pd.DataFrame) -> np.ndarray:
    icmp = packets[quotes_ipsec(packets)]
    if events.empty or icmp.empty:
        return np.array([])
    times = _seconds(icmp["time"])[:MAX_PAIRS_PER_SPI]
    ev = _seconds(events["time"])[:MAX_PAIRS_PER_SPI]
    return (ev[:, None] - times[None, :]).ravel()


def densest_cluster(values: np.ndarray, width: float) -> tuple[float, float, int]:
    """The interval of the given width holding most values: (low, high, count).
    Ties go to the interval nearest zero offset."""
    v = np.sort(np.asarray(values, dtype=float))
    ends = np.searchsorted(v, v + width, side="right")
    counts = ends - np.arange(len(v))
    best = counts.max()
    starts = np.flatnonzero(counts == best)
    centre = (v[starts] + v[ends[starts] - 1]) / 2
    i = starts[np.argmin(np.abs(centre))]
    return float(v[i]), float(v[ends[i] - 1]), int(best)


def apply_offset(events: pd.DataFrame, offset: ClockOffset) -> pd.DataFrame:
    """Events on the capture's clock: ``time`` shifted by the offset, the device's own
    UTC reading kept in ``time_device``."""
    out = events.copy()
    out["time_device"] = out["time"]
    out["time"] = out["time"] - pd.Timedelta(seconds=offset.seconds)
    return out


def local_addresses(packets: pd.DataFrame, events: pd.DataFrame, sas: pd.DataFrame | None = None) -> set[str]:
    """The device's own outside addresses, as the data shows them.

    An ICMP error goes back to the sender of the packet it quotes, so the destination of
    an ICMP error quoting IPsec is one of the device's addresses.  IPsec endpoints that
    are not known peers (from Phase 2 lines and SA tables) are the device too.
    """
    icmp = packets[quotes_ipsec(packets)]
    local = set(icmp.loc[icmp["dst"] == icmp["inner_src"], "dst"].dropna())
    peers = set(events.loc[~events["kind"].isin(BAD_SPI_KINDS), "peer"].dropna())
    if sas is not None and len(sas):
        peers |= set(sas["gateway"].dropna())
    peers -= local
    if peers:
        esp = packets[packets["kind"].isin(["esp", "ah", "esp-in-udp", "ike"])]
        for a, b in zip(esp["src"], esp["dst"]):
            if a in peers and b not in peers:
                local.add(b)
            elif b in peers and a not in peers:
                local.add(a)
    return local


def match_events(events: pd.DataFrame, packets: pd.DataFrame, local: set[str],
                 resolution: float = 1.0) -> pd.DataFrame:
    """Links from bad-SPI/replay lines (on the capture clock) to the packets behind them.

    For each line: every reference with the same (SPI, SEQ) near the line's second;
    failing that, the nearest reference of each role with the same SPI within
    SPI_WINDOW_S; and, unless an ICMP error already matched, the nearest ICMP error
    quoting the line's address pair (NAT-T quotes that stop before the SPI).  ``dt`` is
    packet time minus line time, in seconds.  All lines are matched at once: references
    sorted by (key, time) and every line's window found by one sort-and-search, so the
    cost does not grow with the number of SPIs or lines beyond n log n.
    """
    cols = ["event", "source", "line", "capture", "frame", "dt", "key", "role"]
    refs = references(packets)
    refs = refs.assign(role=_roles(refs, local), ns=refs["time"].astype("int64"))
    bad = events[events["kind"].isin(BAD_SPI_KINDS) & events["time"].notna()]
    if bad.empty:
        return pd.DataFrame(columns=cols)
    ns = bad["time"].astype("int64").to_numpy()
    spi = _numbers(bad["spi"])
    seq = _numbers(bad["seq"])
    early, late = _ns(EXACT_TOLERANCE_S), _ns(resolution + EXACT_TOLERANCE_S)
    near_lo, near_hi = _ns(SPI_WINDOW_S), _ns(resolution + 1)
    ref_spi, ref_seq, ref_ns = _numbers(refs["spi"]), _numbers(refs["seq"]), refs["ns"].to_numpy()
    parts = []

    # 1. (SPI, SEQ) within the line's second and the tolerance: every such reference.
    with_seq = ~np.isnan(spi) & ~np.isnan(seq)
    has = ~np.isnan(ref_spi) & ~np.isnan(ref_seq)
    exact = _all_within(_pair_code(ref_spi[has], ref_seq[has]), ref_ns[has], np.flatnonzero(has),
                        _pair_code(spi[with_seq], seq[with_seq]), ns[with_seq], np.flatnonzero(with_seq),
                        early, late)
    parts.append(exact.assign(stage=0, order=0))

    # 2. Failing that, by SPI alone: the nearest reference of each role in the window.
    matched = np.zeros(len(bad), dtype=bool)
    matched[exact["e"].to_numpy()] = True
    todo = np.flatnonzero(~matched & ~np.isnan(spi))
    roles = refs["role"].to_numpy()
    for order, role in enumerate(sorted(set(roles))):
        mine = np.flatnonzero((roles == role) & ~np.isnan(ref_spi))
        hit = _nearest_within(ref_spi[mine], ref_ns[mine], mine, spi[todo], ns[todo], todo, near_lo, near_hi)
        parts.append(hit.assign(stage=1, order=order))
    found = pd.concat(parts, ignore_index=True)

    # 3. Unless an ICMP error matched: ICMP errors quoting the line's address pair.
    quoted = found[refs["role"].to_numpy()[found["r"].to_numpy()] == "quoted-by-icmp"]["e"] if len(found) else []
    short = packets[(packets["kind"] == "icmp-error") & packets["inner_spi"].isna()]
    want = np.ones(len(bad), dtype=bool)
    want[np.asarray(quoted, dtype=np.int64)] = False
    want &= bad["src"].notna().to_numpy() & bad["dst"].notna().to_numpy()
    tuple_hits = pd.DataFrame(columns=["e", "r"])
    if len(short) and want.any():
        codes, uniques = pd.factorize(np.concatenate([_pair_keys(short["inner_src"], short["inner_dst"]),
                                                      _pair_keys(bad["src"], bad["dst"])]))
        short_code, event_code = codes[:len(short)].astype(float), codes[len(short):].astype(float)
        short_code[np.asarray(uniques)[codes[:len(short)]] == ""] = np.nan
        rows = np.flatnonzero(want)
        tuple_hits = _nearest_within(short_code, short["time"].astype("int64").to_numpy(), np.arange(len(short)),
                                     event_code[rows], ns[rows], rows, near_lo, near_hi)

    e = found["e"].to_numpy(dtype=np.int64)
    r = found["r"].to_numpy(dtype=np.int64)
    te = tuple_hits["e"].to_numpy(dtype=np.int64)
    tr = tuple_hits["r"].to_numpy(dtype=np.int64)
    out = pd.DataFrame({
        "event": np.concatenate([bad.index.to_numpy()[e], bad.index.to_numpy()[te]]),
        "source": np.concatenate([bad["source"].to_numpy()[e], bad["source"].to_numpy()[te]]),
        "line": np.concatenate([bad["line"].to_numpy()[e], bad["line"].to_numpy()[te]]),
        "capture": np.concatenate([refs["capture"].to_numpy()[r], short["capture"].to_numpy()[tr]]),
        "frame": np.concatenate([refs["frame"].to_numpy()[r], short["frame"].to_numpy()[tr]]).astype(np.int64),
        "dt": np.concatenate([ref_ns[r] - ns[e], short["time"].astype("int64").to_numpy()[tr] - ns[te]]) / 1e9,
        "key": np.concatenate([np.where(found["stage"].to_numpy() == 0, "spi+seq", "spi"),
                               np.full(len(te), "tuple")]),
        "role": np.concatenate([roles[r], np.full(len(te), "quoted-by-icmp")]),
        "_e": np.concatenate([e, te]),
        "_stage": np.concatenate([found["stage"].to_numpy(), np.full(len(te), 2)]),
        "_order": np.concatenate([found["order"].to_numpy(), np.zeros(len(te))]),
        "_t": np.concatenate([ref_ns[r], np.zeros(len(te), dtype=np.int64)]),
        "_r": np.concatenate([r, tr]),
    })
    # Lines in log order; per line exact matches in time order, then one per role, then the tuple.
    out = out.sort_values(["_e", "_stage", "_order", "_t", "_r"], kind="stable")
    return out[cols].reset_index(drop=True)


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _pair_code(spi: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """(SPI, SEQ) as one exact number (both are 32-bit)."""
    return spi.astype(np.uint64) << np.uint64(32) | seq.astype(np.uint64)


def _count_before(ref_key, ref_ns, q_key, q_ns, side: str) -> np.ndarray:
    """For each query (key, time): how many references sort before it by (key, time),
    i.e. ``np.searchsorted`` on pairs; ``side`` as there (ties: 'left' before, 'right' after)."""
    n = len(ref_key)
    is_query = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(len(q_key), dtype=np.int8)])
    tie = is_query if side == "right" else 1 - is_query
    order = np.lexsort((tie, np.concatenate([ref_ns, q_ns]), np.concatenate([ref_key, q_key])))
    queries_so_far = np.cumsum(is_query[order])
    at = np.empty(len(order), dtype=np.int64)
    at[order] = np.arange(len(order))
    q_at = at[n:]
    return q_at - (queries_so_far[q_at] - 1)


def _sorted_refs(key, ns, ids):
    order = np.lexsort((ns, key))   # stable: ties keep the references' order
    return key[order], ns[order], ids[order]


def _all_within(ref_key, ref_ns, ref_ids, q_key, q_ns, q_ids, before: int, after: int) -> pd.DataFrame:
    """Every (query, reference) with the same key and the reference in [t - before, t + after]."""
    key, t, ids = _sorted_refs(ref_key, ref_ns, ref_ids)
    lo = _count_before(key, t, q_key, q_ns - before, "left")
    hi = _count_before(key, t, q_key, q_ns + after, "right")
    counts = np.maximum(hi - lo, 0)
    first = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    at = first + np.arange(counts.sum())
    return pd.DataFrame({"e": np.repeat(q_ids, counts), "r": ids[at]})


def _nearest_within(ref_key, ref_ns, ref_ids, q_key, q_ns, q_ids, before: int, after: int) -> pd.DataFrame:
    """For each query, the reference with the same key nearest in time within
    [t - before, t + after] (on a tie, the earlier; among equal times, the first)."""
    keep = ~np.isnan(ref_key)
    if not keep.any() or not len(q_key):
        return pd.DataFrame({"e": np.array([], dtype=np.int64), "r": np.array([], dtype=np.int64)})
    key, t, ids = _sorted_refs(ref_key[keep], ref_ns[keep], ref_ids[keep])
    lo = _count_before(key, t, q_key, q_ns - before, "left")
    hi = _count_before(key, t, q_key, q_ns + after, "right")
    mid = _count_before(key, t, q_key, q_ns, "left")          # the first at or after the line
    after_i = np.clip(mid, lo, np.maximum(hi - 1, lo))
    before_i = np.clip(mid - 1, lo, np.maximum(hi - 1, lo))
    # the earliest reference with the same time as the one just before the line
    before_i = np.where(hi > lo, _count_before(key, t, q_key, t[np.minimum(before_i, len(t) - 1)], "left"), before_i)
    before_i = np.maximum(before_i, lo)
    d_before = np.abs(t[np.minimum(before_i, len(t) - 1)] - q_ns)
    d_after = np.abs(t[np.minimum(after_i, len(t) - 1)] - q_ns)
    pick = np.where(d_before <= d_after, before_i, after_i)
    ok = hi > lo
    return pd.DataFrame({"e": q_ids[ok], "r": ids[pick[ok]]})


def _pair_keys(a: pd.Series, b: pd.Series) -> np.ndarray:
    """'a|b' with the two addresses in sorted order ('' where one is missing)."""
    known = (a.notna() & b.notna()).to_numpy()
    x = a.astype(object).where(known, "").astype(str).to_numpy(dtype=object)
    y = b.astype(object).where(known, "").astype(str).to_numpy(dtype=object)
    pair = np.where(x <= y, x + "|" + y, y + "|" + x)
    return np.where(known, pair, "").astype(object)


def receivers(matches: pd.DataFrame, packets: pd.DataFrame, local: set[str]) -> set[str]:
    """Where the packets that made the device log a line went: the destination of an
    ICMP error matched to the line, else of the ESP/AH packet the line names exactly
    (unless the device itself sent that packet)."""
    quoted = matches[matches["role"] == "quoted-by-icmp"]
    direct = matches[(matches["key"] == "spi+seq") & ~matches["event"].isin(quoted["event"])]
    hit = packets.merge(pd.concat([quoted, direct])[["capture", "frame"]].drop_duplicates(), on=["capture", "frame"])
    hit = hit[(hit["kind"] == "icmp-error") | ~hit["src"].isin(local)]
    return set(hit["dst"].dropna())


def _roles(refs: pd.DataFrame, local: set[str]) -> np.ndarray:
    quoted = refs["where"].to_numpy() == "quoted"
    to_local = refs["receiver"].isin(local).to_numpy()
    from_local = refs["sender"].isin(local).to_numpy()
    return np.select([quoted, to_local, from_local], ["quoted-by-icmp", "sent-by-peer", "sent-by-device"], "esp")


def rate_limited(times: np.ndarray, window: float) -> np.ndarray:
    """Which of these packet times (sorted seconds) would produce a log line on a device
    that logs at most one line per ``window`` seconds (window 0: every packet)."""
    times = np.sort(np.asarray(times, dtype=float))
    logged = np.zeros(len(times), dtype=bool)
    last = -np.inf
    for i, t in enumerate(times):
        if window <= 0 or t - last >= window:
            logged[i] = True
            last = t
    return logged


def capture_spans(packets_by_capture: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]]):
    """[(start, end)] in seconds of every capture that has packets."""
    return [(a.value / 1e9, b.value / 1e9) for a, b in packets_by_capture.values() if a is not None]


def covered(times_s: np.ndarray, spans, margin: float = 1.0) -> np.ndarray:
    """Which times fall inside a capture's time span (with a small margin)."""
    times_s = np.asarray(times_s, dtype=float)
    out = np.zeros(len(times_s), dtype=bool)
    for a, b in spans:
        out |= (times_s >= a - margin) & (times_s <= b + margin)
    return out


def parse_clock_offset(text: str | float | None) -> float | None:
    """'+37', '-2h0m13s', '-7213.5', '01:00:00' -> seconds."""
    if text is None or isinstance(text, (int, float)):
        return text
    s = str(text).strip()
    sign = -1.0 if s.startswith("-") else 1.0
    body = s.lstrip("+-")
    try:
        if ":" in body:
            parts = [float(p) for p in body.split(":")]
            value = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
        elif any(c in body for c in "hms"):
            value, number = 0.0, ""
            for c in body:
                if c.isdigit() or c == ".":
                    number += c
                else:
                    value += float(number) * {"h": 3600, "m": 60, "s": 1}[c]
                    number = ""
            value += float(number) if number else 0.0
        else:
            value = float(body)
    except (ValueError, KeyError):
        raise UsageError(f"cannot read clock offset {text!r}: use seconds (+37, -7213.5), 1h2m3s or HH:MM:SS") from None
    return sign * value
