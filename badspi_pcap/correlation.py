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
from .masks import (SPARSE_FROM, distinct, distinct_at, frame_positions, kind_in, present, rows, rows_at, value_in,
                    values_at)
from .notation import NS_PER_S, whole_seconds
from .notation import seconds as _seconds
from .references import QUOTED, ROLES, ReferenceIndex, reference_index, spi_seq
from .schema import IPSEC_KINDS

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
    """Every SPI occurrence in the capture as a table: capture, frame, time, spi, seq,
    where (esp | quoted), the sender of the IPsec packet, its receiver and the router that
    quoted it (``ReferenceIndex.table``; the matching works on ``reference_index``)."""
    return reference_index(packets).table(packets)


def quotes_ipsec(packets: pd.DataFrame) -> np.ndarray:
    """ICMP errors whose quoted packet is ESP/AH, or UDP 500/4500 (IKE, NAT-T)."""
    icmp = kind_in(packets, "icmp-error")
    if len(packets) < SPARSE_FROM:       # a small table: the masks over it cost less than a selection
        return icmp & _quotes_ipsec(packets)
    out = np.zeros(len(packets), dtype=bool)
    out[np.flatnonzero(icmp)[_quotes_ipsec(rows(packets, icmp, ["inner_sport", "inner_dport", "inner_proto",
                                                               "inner_spi"]))]] = True
    return out


def _quotes_ipsec(packets: pd.DataFrame) -> np.ndarray:
    ports = value_in(packets, "inner_sport", [500, 4500]) | value_in(packets, "inner_dport", [500, 4500])
    return value_in(packets, "inner_proto", [50, 51]) | present(packets, "inner_spi") | ports


def whole_second_log(events: pd.DataFrame) -> bool:
    t = events["time"].dropna()
    return len(t) > 0 and bool(whole_seconds(t.astype("int64")).all())


def estimate_clock_offset(events: pd.DataFrame, packets: pd.DataFrame,
                          refs: ReferenceIndex | None = None) -> ClockOffset:
    """Device clock minus capture clock, from the data.

    Exact (SPI, SEQ) pairs first, then SPI-only pairs, then bad-SPI line times against
    ICMP error times.  Each pair gives a candidate offset; the estimate is the centre of
    the densest one-second cluster (whole-second log times spread the candidates over a
    second), so stray pairs (a reused SPI, an unrelated packet) do not move it.
    ``refs``: ``reference_index(packets)``, when already made.
    """
    bad = events[events["kind"].isin(BAD_SPI_KINDS) & events["spi"].notna() & events["time"].notna()] \
        if len(events) else events
    if bad.empty:  # nothing to pair (a capture checked without logs): skip building references
        return ClockOffset(0.0, "assumed", 0, 0, 0.0)
    refs = reference_index(packets) if refs is None else refs
    half_second = 0.5 if whole_second_log(events) else 0.0
    for method, pairs in (
        ("spi+seq", lambda: _pairs_spi_seq(bad, refs)),
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
        return _pairs_spi_seq(bad, reference_index(packets))
    if method == "spi":
        return _pairs_spi_only(bad, reference_index(packets))
    if method == "icmp-times":
        return _pairs_icmp_times(bad, packets)
    raise ValueError(f"unknown offset method {method!r}")


def _pairs_spi_seq(events: pd.DataFrame, refs: ReferenceIndex) -> np.ndarray:
    """Every (line, reference) pair with the same SPI and sequence number, at any time."""
    events = events[events["seq"].notna()]
    if events.empty or not len(refs):
        return np.array([])
    line_code = spi_seq(events["spi"].to_numpy(dtype=np.int64), events["seq"].to_numpy(dtype=np.int64))
    at, code = refs.with_spi_seq(line_code)
    line, ref = _expand(np.searchsorted(code, line_code, "left"), np.searchsorted(code, line_code, "right"))
    return events["time"].astype("int64").to_numpy()[line] / NS_PER_S - refs.ns[at[ref]] / NS_PER_S


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi) per query: (query, position) for every position in them, in order."""
    counts = np.maximum(hi - lo, 0)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.repeat(np.arange(len(lo)), counts), starts + np.arange(counts.sum())


def _pairs_spi_only(events: pd.DataFrame, refs: ReferenceIndex) -> np.ndarray:
    out = []
    order = np.argsort(refs.spi, kind="stable")       # each SPI's references stay in table order
    spis = refs.spi[order]
    for spi, group in events.groupby("spi", observed=True):
        at = order[np.searchsorted(spis, int(spi), "left"):np.searchsorted(spis, int(spi), "right")]
        times = refs.ns[at] / NS_PER_S
        if not len(times):
            continue
        if len(times) > MAX_PAIRS_PER_SPI:
            times = times[np.linspace(0, len(times) - 1, MAX_PAIRS_PER_SPI).astype(int)]
        ev = _seconds(group["time"])[:MAX_PAIRS_PER_SPI]
        out.append((ev[:, None] - times[None, :]).ravel())
    return np.concatenate(out) if out else np.array([])


def _pairs_icmp_times(events: pd.DataFrame, packets: pd.DataFrame) -> np.ndarray:
    icmp = rows(packets, quotes_ipsec(packets), ["time"])
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
    if len(out):         # no lines (a capture checked without logs): nothing to shift
        out["time"] = out["time"] - pd.Timedelta(seconds=offset.seconds)
    return out


def local_addresses(packets: pd.DataFrame, events: pd.DataFrame, sas: pd.DataFrame | None = None,
                    refs: ReferenceIndex | None = None) -> set[str]:
    """The device's own outside addresses, as the data shows them.

    An ICMP error goes back to the sender of the packet it quotes, so the destination of
    an ICMP error quoting IPsec is one of the device's addresses.  IPsec endpoints that
    are not known peers (from Phase 2 lines and SA tables) are the device too.
    ``refs``: ``reference_index(packets)``, when already made.
    """
    quoting = quotes_ipsec(packets)
    icmp = rows(packets, quoting, ["dst", "inner_src"]) if quoting.any() else None
    local = distinct(icmp.loc[icmp["dst"] == icmp["inner_src"], "dst"]) if icmp is not None else set()
    peers = distinct(events.loc[~events["kind"].isin(BAD_SPI_KINDS), "peer"]) if len(events) else set()
    if sas is not None and len(sas):
        peers |= distinct(sas["gateway"])
    peers -= local
    if peers:
        local |= _peer_ends(packets, peers, refs)
    return local


def _peer_ends(packets: pd.DataFrame, peers: set[str], refs: ReferenceIndex | None) -> set[str]:
    """The other end of the IPsec and IKE packets between a peer and a non-peer."""
    if refs is None:
        ipsec = kind_in(packets, [*IPSEC_KINDS, "ike"])
        from_peer, to_peer = value_in(packets, "src", sorted(peers)), value_in(packets, "dst", sorted(peers))
        return (distinct_at(packets, "dst", ipsec & from_peer & ~to_peer)
                | distinct_at(packets, "src", ipsec & to_peer & ~from_peer))
    # The index holds the IPsec packets with an SPI; the rest (IKE, IPsec cut before its
    # SPI) are few and taken on their own.
    is_peer = np.append(np.isin(refs.addresses, sorted(peers)), False)     # code -1: no address
    top = ~refs.quoted
    from_peer, to_peer = is_peer[refs.sender] & top, is_peer[refs.receiver] & top
    ends = refs.addresses_of(refs.receiver[from_peer & ~to_peer]) | refs.addresses_of(refs.sender[to_peer & ~from_peer])
    rest = kind_in(packets, "ike") | (kind_in(packets, IPSEC_KINDS) & ~present(packets, "spi"))
    if rest.any():
        ends |= _peer_ends(rows(packets, rest, ["kind", "src", "dst"]), peers, None)
    return ends


def match_events(events: pd.DataFrame, packets: pd.DataFrame, local: set[str],
                 resolution: float = 1.0, refs: ReferenceIndex | None = None) -> pd.DataFrame:
    """Links from bad-SPI/replay lines (on the capture clock) to the packets behind them.

    For each line: every reference with the same (SPI, SEQ) near the line's second;
    failing that, the nearest reference of each role with the same SPI within
    SPI_WINDOW_S; and, unless an ICMP error already matched, the nearest ICMP error
    quoting the line's address pair (NAT-T quotes that stop before the SPI).  ``dt`` is
    packet time minus line time, in seconds.  All lines are matched at once: references
    sorted by (key, time) and every line's window found by one sort-and-search, so the
    cost grows as n log n whatever the number of SPIs.  ``refs``: ``reference_index(packets)``,
    when already made.
    """
    from .schema import MATCHES, with_event_ids
    cols = MATCHES.names     # event_id, source, line, capture, frame, dt, key, role
    events = with_event_ids(events)
    bad = events[events["kind"].isin(BAD_SPI_KINDS) & events["time"].notna()]
    if bad.empty:
        return pd.DataFrame(columns=cols)
    refs = reference_index(packets) if refs is None else refs
    role = refs.roles(local)
    lines = pd.DataFrame({"ns": bad["time"].astype("int64").to_numpy(), "spi": _numbers(bad["spi"]),
                          "seq": _numbers(bad["seq"])})
    exact = _exact_hits(refs, role, lines, resolution)
    by_spi = _spi_hits(refs, role, lines, np.setdiff1d(np.arange(len(lines)), exact["e"]), resolution)
    hits = pd.concat([exact, by_spi], ignore_index=True)
    unquoted = ~np.isin(np.arange(len(lines)), hits.loc[hits["role"] == QUOTED, "e"])
    by_pair = _pair_hits(packets, bad, lines, np.flatnonzero(unquoted & bad["src"].notna().to_numpy()
                                                             & bad["dst"].notna().to_numpy()), resolution)
    # Lines in log order; per line the exact matches in time order, then one per role, then the pair.
    out = pd.concat([hits, by_pair], ignore_index=True).sort_values(["e", "stage", "per_role", "ns"], kind="stable")
    e = out["e"].to_numpy(dtype=np.int64)
    at = out["row"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "event_id": bad["event_id"].to_numpy(dtype=np.int64)[e], "source": bad["source"].to_numpy()[e],
        "line": bad["line"].to_numpy()[e], "capture": np.asarray(values_at(packets, "capture", at), dtype=object),
        "frame": values_at(packets, "frame", at).astype(np.int64),
        "dt": (out["ns"].to_numpy(dtype=np.int64) - lines["ns"].to_numpy()[e]) / NS_PER_S,
        "key": out["key"].to_numpy(), "role": ROLES[out["role"].to_numpy(dtype=np.int64)],
    }, columns=cols)


def _exact_hits(refs: ReferenceIndex, role: np.ndarray, lines: pd.DataFrame, resolution: float) -> pd.DataFrame:
    """Every reference with the line's (SPI, SEQ) within its second and the tolerance."""
    q = lines[lines["spi"].notna() & lines["seq"].notna()]
    line_code = spi_seq(q["spi"], q["seq"])
    at, code = refs.with_spi_seq(line_code)
    line, ref = _all_within(code, refs.ns[at], line_code, q["ns"].to_numpy(), _ns(EXACT_TOLERANCE_S),
                            _ns(resolution + EXACT_TOLERANCE_S))
    ref = at[ref]
    return _hits(q.index.to_numpy()[line], refs.row[ref], refs.ns[ref], role[ref], "spi+seq", stage=0)


def _spi_hits(refs: ReferenceIndex, role: np.ndarray, lines: pd.DataFrame, todo: np.ndarray,
              resolution: float) -> pd.DataFrame:
    """For the lines ``todo``, the nearest reference of each role with the line's SPI."""
    q = lines.iloc[todo]
    q = q[q["spi"].notna()]
    none = np.array([], dtype=np.int64)
    parts = [_hits(none, none, none, none, "spi", stage=1)]
    # Only the references with one of these lines' SPIs (most lines matched exactly).
    near = np.flatnonzero(np.isin(refs.spi, np.unique(q["spi"].to_numpy()).astype(np.uint32)))
    spi, ns, near_role = refs.spi[near].astype(float), refs.ns[near], role[near]
    for code in np.unique(near_role):         # by role, as a groupby would
        r = np.flatnonzero(near_role == code)
        line, ref = _nearest_within(spi[r], ns[r], q["spi"].to_numpy(), q["ns"].to_numpy(),
                                    _ns(SPI_WINDOW_S), _ns(resolution + 1))
        ref = near[r[ref]]
        parts.append(_hits(q.index.to_numpy()[line], refs.row[ref], refs.ns[ref], role[ref], "spi", stage=1))
    return pd.concat(parts, ignore_index=True)


def _pair_hits(packets: pd.DataFrame, bad: pd.DataFrame, lines: pd.DataFrame, todo: np.ndarray,
               resolution: float) -> pd.DataFrame:
    """For the lines ``todo``, the nearest ICMP error that quotes their address pair but no SPI."""
    is_short = kind_in(packets, "icmp-error") & ~present(packets, "inner_spi")
    short = np.flatnonzero(is_short)
    quotes = rows(packets, is_short, ["time", "inner_src", "inner_dst"])
    ns = quotes["time"].astype("int64").to_numpy()
    quoted_pair, line_pair = _pair_codes((quotes["inner_src"], quotes["inner_dst"]),
                                         (bad["src"].iloc[todo], bad["dst"].iloc[todo]))
    line, ref = _nearest_within(quoted_pair, ns, line_pair, lines["ns"].to_numpy()[todo], _ns(SPI_WINDOW_S),
                                _ns(resolution + 1))
    return _hits(todo[line], short[ref], ns[ref], np.full(len(ref), QUOTED), "tuple", stage=2)


def _hits(line: np.ndarray, row: np.ndarray, ns: np.ndarray, role: np.ndarray, key: str, stage: int) -> pd.DataFrame:
    """Line positions ``line`` linked to the packets at ``row``; ``per_role`` orders the
    one-per-role SPI matches of a line by role (the others by time alone: -1)."""
    return pd.DataFrame({"e": line.astype(np.int64), "stage": stage, "key": key, "row": row.astype(np.int64),
                         "ns": ns.astype(np.int64), "role": role.astype(np.int64),
                         "per_role": role.astype(np.int64) if key == "spi" else -1})


def _ns(seconds: float) -> int:
    return int(round(seconds * NS_PER_S))


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _count_before(ref_key, ref_ns, q_key, q_ns, side: str) -> np.ndarray:
    """For each query (key, time): how many references sort before it by (key, time),
    i.e. ``np.searchsorted`` on pairs; ``side`` as there (ties: 'left' before, 'right' after).
    The references must be sorted by (key, time): each query's key is found by binary
    search, then its time inside that key's run by a binary search run on all queries
    at once (no sort of references and queries together)."""
    lo = np.searchsorted(ref_key, q_key, "left")
    hi = np.searchsorted(ref_key, q_key, "right")
    q_ns = np.asarray(q_ns)
    while True:
        todo = np.flatnonzero(lo < hi)
        if not len(todo):
            return lo
        mid = (lo[todo] + hi[todo]) // 2
        t = ref_ns[mid]
        after = t < q_ns[todo] if side == "left" else t <= q_ns[todo]
        lo[todo] = np.where(after, mid + 1, lo[todo])
        hi[todo] = np.where(after, hi[todo], mid)


def _all_within(key, t, q_key, q_ns, before: int, after: int) -> tuple[np.ndarray, np.ndarray]:
    """(query, reference) positions of every pair with the same key and the reference in
    [t - before, t + after]; the references sorted by (key, time)."""
    lo = _count_before(key, t, q_key, q_ns - before, "left")
    return _expand(lo, _count_before(key, t, q_key, q_ns + after, "right"))


def _nearest_within(ref_key, ref_ns, q_key, q_ns, before: int, after: int) -> tuple[np.ndarray, np.ndarray]:
    """(query, reference) positions: for each query the reference with its key nearest in
    time within [t - before, t + after] (on a tie the earlier; among equal times the first)."""
    keep = np.flatnonzero(~np.isnan(ref_key))
    if not len(keep) or not len(q_key):
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    order = keep[np.lexsort((ref_ns[keep], ref_key[keep]))]
    key, t = ref_key[order], ref_ns[order]
    lo = _count_before(key, t, q_key, q_ns - before, "left")
    hi = _count_before(key, t, q_key, q_ns + after, "right")
    found = np.flatnonzero(hi > lo)
    lo, hi, q_key, q_ns = lo[found], hi[found], q_key[found], q_ns[found]
    at_or_after = np.clip(_count_before(key, t, q_key, q_ns, "left"), lo, hi - 1)
    before_i = np.clip(at_or_after - 1, lo, hi - 1)
    before_i = np.maximum(_count_before(key, t, q_key, t[before_i], "left"), lo)   # first of equal times
    closer = np.abs(t[before_i] - q_ns) <= np.abs(t[at_or_after] - q_ns)
    return found, order[np.where(closer, before_i, at_or_after)]


def _pair_codes(*pairs: tuple[pd.Series, pd.Series]) -> list[np.ndarray]:
    """For each (a, b) pair of address columns, a number per row that names the two
    addresses in either order, the same number in every pair given (NaN where one is
    missing)."""
    ends = [np.asarray(column.astype(object)) for pair in pairs for column in pair]
    codes, distinct = pd.factorize(np.concatenate(ends))     # -1: missing
    out, start = [], 0
    for a, b in zip(ends[::2], ends[1::2]):
        x, y = codes[start:start + len(a)], codes[start + len(a):start + len(a) + len(b)]
        start += len(a) + len(b)
        code = (np.minimum(x, y) * (len(distinct) + 1) + np.maximum(x, y)).astype(float)
        out.append(np.where((x < 0) | (y < 0), np.nan, code))
    return out


def receivers(matches: pd.DataFrame, packets: pd.DataFrame, local: set[str]) -> set[str]:
    """Where the packets that made the device log a line went: the destination of an
    ICMP error matched to the line, else of the ESP/AH packet the line names exactly
    (unless the device itself sent that packet)."""
    if matches.empty:
        return set()
    quoted = matches[matches["role"] == "quoted-by-icmp"]
    direct = matches[(matches["key"] == "spi+seq") & ~matches["event_id"].isin(quoted["event_id"])]
    wanted = pd.concat([quoted, direct])
    keys = set(zip(wanted["capture"].astype(str).tolist(), wanted["frame"].astype("int64").tolist()))
    hit = rows_at(packets, sorted(frame_positions(packets, keys).values()), ["kind", "src", "dst"])
    hit = hit[(hit["kind"] == "icmp-error") | ~hit["src"].isin(local)]
    return distinct(hit["dst"])


def rate_limited(times: np.ndarray, window: float) -> np.ndarray:
    """Which of these packet times (sorted seconds) would produce a log line on a device
    that logs at most one line per ``window`` seconds (window 0: every packet)."""
    times = np.sort(np.asarray(times, dtype=float))
    logged = np.zeros(len(times), dtype=bool)
    if window <= 0:
        logged[:] = True
        return logged
    # From each logged packet straight to the next one a window later (a binary search, then
    # the same comparison a packet-by-packet walk makes, so rounding decides alike).
    i, n = 0, len(times)
    while i < n:
        logged[i] = True
        last = times[i]
        j = max(int(np.searchsorted(times, last + window, "left")), i + 1)
        while j - 1 > i and times[j - 1] - last >= window:
            j -= 1
        while j < n and not times[j] - last >= window:
            j += 1
        i = j
    return logged


def capture_spans(packets_by_capture: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]]):
    """[(start, end)] in seconds of every capture that has packets."""
    return [(a.value / NS_PER_S, b.value / NS_PER_S) for a, b in packets_by_capture.values()
            if a is not None and b is not None]


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


def spis_from_conn_ids(events: pd.DataFrame, sas: pd.DataFrame | None) -> pd.DataFrame:
    """Cisco IOS ``PKT_REPLAY_ERR`` names a crypto connection id and a sequence number, no
    SPI: give such lines the SPI of the inbound SA with that ``conn id`` in a ``show crypto
    ipsec sa`` (given with --sa), so they join by SPI and sequence number like any other.
    A connection id that names several SPIs is left alone."""
    if sas is None or sas.empty or "conn_id" not in sas or "conn_id" not in events:
        return events
    inbound = sas[sas["direction"].eq("in").fillna(False) & sas["conn_id"].notna() & sas["spi"].notna()]
    spis = inbound.groupby(inbound["conn_id"].astype("int64"))["spi"].agg(lambda s: set(s.astype("int64")))
    lookup = {int(c): next(iter(v)) for c, v in spis.items() if len(v) == 1}
    peers = dict(zip(inbound["spi"].astype("int64"), inbound["gateway"]))
    need = (events["spi"].isna() & events["conn_id"].notna()).to_numpy(dtype=bool)
    if not need.any() or not lookup:
        return events
    found = events.loc[need, "conn_id"].astype("int64").map(lookup).dropna().astype("int64")
    out = events.copy()
    out.loc[found.index, "spi"] = found.to_numpy()
    # The SA's peer names the tunnel, as the addresses of other vendors' lines do.
    peer = found.map(peers)
    peer = peer[peer.notna() & out.loc[found.index, "peer"].isna()]
    out.loc[peer.index, "peer"] = peer.to_numpy()
    return out


def spis_from_seq_and_time(events: pd.DataFrame, packets: pd.DataFrame, resolution_s: float,
                           local: set[str]) -> pd.DataFrame:
    """Replay lines still without an SPI (IOS without its SA table) on the capture clock:
    when the ESP/AH packets to the device (``local``, where known) with the line's sequence
    number around its time all belong to one SA, take that SA's SPI and sender.  A weaker
    join than SPI and SEQ (the replay causes never count it as a line's own proof)."""
    need = events["kind"].eq("replay") & events["spi"].isna() & events["seq"].notna()
    if not need.any():
        return events
    p = packets[packets["kind"].isin(list(IPSEC_KINDS)) & packets["seq"].notna() & packets["spi"].notna()]
    # The device is the destination of the packets it logs.
    device = set(local) | set(events.loc[events["kind"].isin(BAD_SPI_KINDS), "dst"].dropna())
    if device:
        p = p[p["dst"].isin(list(device)).fillna(False).to_numpy(dtype=bool)]
    by_seq = {int(q): g for q, g in p.groupby(p["seq"].astype("int64"))}
    out = events.copy()
    tol = EXACT_TOLERANCE_S + resolution_s
    for idx, seq, t in zip(out.index[need.to_numpy(dtype=bool)], out.loc[need, "seq"], out.loc[need, "time"]):
        g = by_seq.get(int(seq))
        if g is None:
            continue
        near = g[(g["time"] - t).abs().dt.total_seconds() <= tol]
        sas = set(zip(near["spi"].astype("int64"), near["src"]))
        if len(sas) == 1:
            spi, src = sas.pop()
            out.loc[idx, "spi"] = spi
            if pd.isna(out.loc[idx, "peer"]):
                out.loc[idx, "peer"] = src
    return out

