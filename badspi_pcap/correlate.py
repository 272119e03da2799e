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
    if bad.empty:  # nothing to pair (a capture checked without logs): skip building references
        return ClockOffset(0.0, "assumed", 0, 0, 0.0)
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
    icmp = packets[packets["kind"] == "icmp-error"]   # the few rows quotes_ipsec can select
    icmp = icmp[quotes_ipsec(icmp)]
    local = set(icmp.loc[icmp["dst"] == icmp["inner_src"], "dst"].dropna())
    peers = set(events.loc[~events["kind"].isin(BAD_SPI_KINDS), "peer"].dropna())
    if sas is not None and len(sas):
        peers |= set(sas["gateway"].dropna())
    peers -= local
    if peers:
        esp = packets[packets["kind"].isin(["esp", "ah", "esp-in-udp", "ike"])]
        from_peer, to_peer = esp["src"].isin(peers).to_numpy(bool), esp["dst"].isin(peers).to_numpy(bool)
        local |= set(esp.loc[from_peer & ~to_peer, "dst"]) | set(esp.loc[to_peer & ~from_peer, "src"])
    return local


def match_events(events: pd.DataFrame, packets: pd.DataFrame, local: set[str],
                 resolution: float = 1.0) -> pd.DataFrame:
    """Links from bad-SPI/replay lines (on the capture clock) to the packets behind them.

    For each line: every reference with the same (SPI, SEQ) near the line's second;
    failing that, the nearest reference of each role with the same SPI within
    SPI_WINDOW_S; and, unless an ICMP error already matched, the nearest ICMP error
    quoting the line's address pair (NAT-T quotes that stop before the SPI).  ``dt`` is
    packet time minus line time, in seconds.  Each line costs a binary search in its
    SPI's references, so long logs against big captures stay fast.
    """
    cols = ["event", "source", "line", "capture", "frame", "dt", "key", "role"]
    if not (events["kind"].isin(BAD_SPI_KINDS) & events["time"].notna()).any():
        return pd.DataFrame([], columns=cols)   # no line to match: skip building the timelines
    refs = references(packets)
    refs = refs.assign(role=_roles(refs, local), t=_seconds(refs["time"])).sort_values("t", kind="stable")
    by_spi = {spi: _Timeline(g) for spi, g in refs.groupby("spi", observed=True)}
    short = packets[(packets["kind"] == "icmp-error") & packets["inner_spi"].isna()]
    short = short.assign(t=_seconds(short["time"]), role="quoted-by-icmp", pair=_pair_keys(short["inner_src"], short["inner_dst"]))
    by_pair = {pair: _Timeline(g.sort_values("t", kind="stable")) for pair, g in short.groupby("pair")}
    bad = events[events["kind"].isin(BAD_SPI_KINDS) & events["time"].notna()]
    rows = []
    for idx, spi, seq, src, dst, source, line, ns in zip(
            bad.index, bad["spi"], bad["seq"], bad["src"], bad["dst"], bad["source"], bad["line"],
            bad["time"].astype("int64")):
        t = ns / 1e9
        found = []
        timeline = by_spi.get(spi) if pd.notna(spi) else None
        if timeline is not None and pd.notna(seq):
            found = [(i, "spi+seq") for i in timeline.exact(seq, t - EXACT_TOLERANCE_S, t + resolution + EXACT_TOLERANCE_S)]
        if not found and timeline is not None:
            found = [(i, "spi") for i in timeline.nearest_per_role(t, t - SPI_WINDOW_S, t + resolution + 1)]
        hits = [(timeline, i, key) for i, key in found]
        if not any(timeline.role[i] == "quoted-by-icmp" for _, i, _ in hits) and pd.notna(src) and pd.notna(dst):
            # A NAT-T quote may stop before the SPI: match the quoted address pair.
            quotes = by_pair.get(_pair_key(src, dst))
            if quotes is not None:
                hits += [(quotes, i, "tuple") for i in quotes.nearest_per_role(t, t - SPI_WINDOW_S, t + resolution + 1)]
        for tl, i, key in hits:
            rows.append({"event": idx, "source": source, "line": line, "capture": tl.capture[i],
                         "frame": int(tl.frame[i]), "dt": float(tl.t[i] - t), "key": key, "role": tl.role[i]})
    return pd.DataFrame(rows, columns=cols)


class _Timeline:
    """References of one SPI (or one quoted address pair) as arrays sorted by time."""

    def __init__(self, g: pd.DataFrame):
        self.t = g["t"].to_numpy(dtype=float)
        self.seq = g["seq"].to_numpy(dtype=float, na_value=np.nan) if "seq" in g else np.full(len(g), np.nan)
        self.role = g["role"].to_numpy()
        self.capture = g["capture"].to_numpy()
        self.frame = g["frame"].to_numpy()

    def _window(self, lo: float, hi: float) -> range:
        return range(int(np.searchsorted(self.t, lo, "left")), int(np.searchsorted(self.t, hi, "right")))

    def exact(self, seq, lo: float, hi: float) -> list[int]:
        w = self._window(lo, hi)
        return [w.start + int(i) for i in np.flatnonzero(self.seq[w.start:w.stop] == float(seq))]

    def nearest_per_role(self, t: float, lo: float, hi: float) -> list[int]:
        w = self._window(lo, hi)
        if not len(w):
            return []
        roles = self.role[w.start:w.stop]
        distance = np.abs(self.t[w.start:w.stop] - t)
        out = []
        for r in np.unique(roles):
            mine = np.flatnonzero(roles == r)
            out.append(w.start + int(mine[np.argmin(distance[mine])]))
        return out


def _pair_key(a, b) -> str:
    return "|".join(sorted((str(a), str(b))))


def _pair_keys(a: pd.Series, b: pd.Series) -> list[str]:
    return [_pair_key(x, y) if pd.notna(x) and pd.notna(y) else "" for x, y in zip(a, b)]


def receivers(matches: pd.DataFrame, packets: pd.DataFrame, local: set[str]) -> set[str]:
    """Where the packets that made the device log a line went: the destination of an
    ICMP error matched to the line, else of the ESP/AH packet the line names exactly
    (unless the device itself sent that packet)."""
    if matches.empty:
        return set()
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
