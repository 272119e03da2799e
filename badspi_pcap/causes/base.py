"""The pieces every cause module shares: thresholds, the analysis context, one line's
proof, a claim (the lines a cause explains on one tunnel) and the judgement on it.

A cause module declares ``NAME``, ``KINDS`` (the event kinds it explains) and two
functions: ``explain(line, ctx) -> Proof | None`` and ``judge(claim, ctx) -> Judgement``.
See docs in ``causes/__init__.py`` and README "Reading a verdict".
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..notation import seconds, whole_seconds
from ..masks import distinct, kind_in, rows
from ..schema import IPSEC_KINDS
from ..vendors import VendorProfile, profile
from .selectors import PacketIndex, Selector, select

P2_EXCHANGES = ("CREATE_CHILD_SA", "QUICK_MODE")


@dataclass(frozen=True)
class Thresholds:
    """Every number a verdict depends on; the JSON report includes them."""

    confirm_windows: float = 0.8      # share of ICMP rate-limit windows that must have a line (embedded-icmp)
    install_window_s: float = 15.0    # a Phase 2 completing this soon after a line: SPI used before install
    rekey_window_s: float = 30.0      # a Phase 2 negotiation this near a line: rekey
    collision_window_s: float = 5.0   # both peers starting a rekey this close together: a collision
    small_seq: int = 16               # sequence numbers of a brand-new SA
    stale_min_span_s: float = 5.0     # the peer kept sending this long on an SA the device does not have
    default_rate_limit_s: float = 10.0  # one line per tunnel per this many seconds when the vendor's is unknown
    replay_match_s: float = 2.0       # a replay line's packet within this of the line (beyond the log's resolution)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Proof(NamedTuple):
    """Why one line belongs to a cause.  ``exact``: the line's own proof (its SPI and SEQ
    found in the quoted or peer packet, or the Phase 2 order); otherwise only a hint.
    (A named tuple: one is made per line, cheaply.)"""

    cause: str
    key: str                                   # spi+seq | spi | tuple | phase2-order | negotiation
    exact: bool
    frames: tuple[tuple[str, int], ...] = ()   # (capture, frame) of the packet(s) behind the line


class Match(NamedTuple):
    """One row of the matches table: a packet behind a line."""

    capture: str
    frame: int
    dt: float
    key: str          # spi+seq | spi | tuple
    role: str         # quoted-by-icmp | sent-by-peer | sent-by-device | esp


def frames_of(matches) -> tuple[tuple[str, int], ...]:
    return tuple(sorted({(m.capture, m.frame) for m in matches}))


@dataclass
class Claim:
    """The lines one cause explains on one tunnel, handed to its ``judge``."""

    cause: str
    tunnel: str                   # display key: "tunnel 0x9a", "peer 198.51.100.1", "SPI 0x…"
    tunnel_id: int | None
    peer: str
    lines: pd.DataFrame           # the lines it explains (LINES columns), index = event_id
    proofs: dict                  # event_id -> Proof
    covered: pd.DataFrame         # every covered line of the cause's kinds on this tunnel
    profile: VendorProfile        # the vendor that wrote the lines

    @property
    def spis(self) -> list[int]:
        return sorted({int(s) for s in distinct(self.lines["spi"])})

    def exact_count(self) -> int:
        return sum(p.exact for p in self.proofs.values())

    def frames(self) -> list[tuple[str, int]]:
        return sorted({f for p in self.proofs.values() for f in p.frames})


@dataclass
class Judgement:
    """A cause's verdict on its claim.  ``facts`` fill typed finding columns (see
    schema.FINDINGS); prose is made from them at rendering, never stored."""

    verdict: str                              # confirmed | likely | inconclusive | ruled-out
    evidence: tuple[Selector, ...] = ()       # what selects the evidence frames (also the display filter)
    facts: dict[str, Any] = field(default_factory=dict)
    spis: list[int] | None = None             # default: the SPIs of the claimed lines


class Context:
    """Everything a cause may look at, built once per analysis; per-line lookups are
    dictionary or binary-search lookups so explaining N lines costs O(N log P)."""

    def __init__(self, events: pd.DataFrame, packets: pd.DataFrame, matches: pd.DataFrame, local: set[str],
                 sas: pd.DataFrame | None = None, options=None, thresholds: Thresholds | None = None,
                 resolution_s: float = 1.0):
        from ..options import AnalysisOptions

        self.events = events
        self.packets = packets
        self.matches = matches
        self.local = frozenset(local)
        self.sas = sas
        self.options = options or AnalysisOptions()
        self.thresholds = thresholds or Thresholds()
        self.resolution_s = resolution_s          # log time resolution (1.0: whole seconds)
        self.outbound = set() if sas is None or sas.empty else \
            {int(s) for s in sas.loc[sas["direction"] == "out", "spi"].dropna()}
        self._matches_by_event: dict[int, list[Match]] = {}     # made per line when asked
        self._collisions: list[tuple[float, tuple[int, int]]] | None = None

    # Built on first use: a capture checked without a log never asks (batch: many small captures).
    @cached_property
    def _order(self) -> pd.Series:
        return chronological_order(self.events)

    @cached_property
    def _match_rows(self) -> tuple[np.ndarray, list[int], dict[str, np.ndarray]]:
        """The matches table's event ids sorted, its rows in that order, and its columns as
        arrays: a line's ``Match`` tuples are made only when asked (replay lines never ask)."""
        m = self.matches
        if not len(m):
            return np.zeros(0, dtype=np.int64), [], {}
        events = m["event_id"].to_numpy(dtype=np.int64)
        order = np.argsort(events, kind="stable")        # table order within one line
        return events[order], order.tolist(), {n: m[n].to_numpy() for n in ("capture", "frame", "dt", "key", "role")}

    @cached_property
    def installs(self) -> "Installs":
        events = self.events
        return Installs(events[events["kind"] == "p2-complete"].assign(order=self._order), self.thresholds)

    @cached_property
    def negotiations(self) -> np.ndarray:
        return phase2_times(self.events, self.packets)

    # -- per line
    def matches_for(self, event_id: int) -> list[Match]:
        """The packets behind one line (matches table rows as ``Match``)."""
        return self.matches_of([event_id])[0]

    def matches_of(self, event_ids) -> list[list[Match]]:
        """``matches_for`` of many lines: their rows found by one binary search, each line's
        ``Match`` tuples made once."""
        memo = self._matches_by_event
        asked = [int(e) for e in event_ids]
        new = [e for e in dict.fromkeys(asked) if e not in memo]
        if new:
            events, order, c = self._match_rows
            starts = np.searchsorted(events, new, side="left").tolist()
            ends = np.searchsorted(events, new, side="right").tolist()
            for event, start, end in zip(new, starts, ends):
                memo[event] = [Match(str(c["capture"][i]), int(c["frame"][i]), float(c["dt"][i]), str(c["key"][i]),
                                     str(c["role"][i])) for i in order[start:end]]
        return [memo[e] for e in asked]

    def order(self, event_id: int) -> int:
        return int(self._order.get(event_id, 0))

    def nearest_negotiation(self, t: float, line=None) -> float:
        """Seconds from t to the nearest Phase 2 negotiation (log line or IKE exchange);
        with ``line``, only the negotiations of that line's tunnel (another tunnel's
        rekey explains nothing here)."""
        s = self.negotiations if line is None else self._tunnel_negotiations(line)
        if not len(s):
            return np.inf
        i = np.searchsorted(s, t)
        return float(np.min(np.abs(s[max(i - 1, 0):i + 1] - t)))

    def _tunnel_negotiations(self, line) -> np.ndarray:
        """Phase 2 times on the line's tunnel: log lines of the same tunnel ID or peer (where
        both sides say) and IKE exchanges with the line's peer (where the line names one)."""
        tid = getattr(line, "tunnel_id", None)
        tid = None if tid is None or pd.isna(tid) else int(tid)
        remote = _remote(line, self.local)
        memo = self.__dict__.setdefault("_negotiations_by_tunnel", {})
        if (tid, remote) not in memo:
            e = self.events[self.events["kind"].isin(["p2-complete", "p2-initiated", "sa-rekeyed"])]
            keep = np.ones(len(e), dtype=bool)
            if tid is not None:
                keep &= (e["tunnel_id"].isna() | e["tunnel_id"].eq(tid)).fillna(True).to_numpy(dtype=bool)
            if remote is not None:
                their = [_remote(r, self.local) for r in e[["peer", "src", "dst"]].itertuples(index=False)]
                keep &= np.array([r is None or r == remote for r in their], dtype=bool)
            p = self.packets
            ike = p[(p["kind"] == "ike") & p["ike_exchange"].isin(P2_EXCHANGES)]
            if remote is not None:
                ike = ike[(ike["src"].eq(remote) | ike["dst"].eq(remote)).fillna(False).to_numpy(dtype=bool)]
            times = pd.concat([e["time"][keep], ike["time"]]).dropna()
            memo[(tid, remote)] = np.sort(seconds(times)) if len(times) else np.array([])
        return memo[(tid, remote)]

    # -- per tunnel
    def profile(self, vendor: str | None) -> VendorProfile:
        return profile(vendor)

    def version(self, prof: VendorProfile) -> str | None:
        """The firmware version given or read for this vendor (ScreenOS only so far)."""
        return self.options.screenos_version if prof.key == "screenos" else None

    def rate_limit_s(self, prof: VendorProfile) -> tuple[float, bool]:
        return rate_limit(self.options, self.thresholds, prof)

    @property
    def collisions(self) -> list[tuple[float, tuple[int, int]]]:
        if self._collisions is None:
            self._collisions = collision_starts(self.packets, self.thresholds.collision_window_s)
        return self._collisions

    @property
    def packet_index(self) -> PacketIndex:
        """Packets by SPI (built once): ``select(ctx.packets, selectors, ctx.packet_index)``."""
        if self.__dict__.get("_packet_index") is None:
            self._packet_index = PacketIndex(self.packets)
        return self._packet_index

    def select(self, selectors, names=None) -> pd.DataFrame:
        """The packets the selectors select (through the index), once per set of selectors
        (a judge and its finding's evidence ask for the same); read-only.  ``names``: the
        columns the caller needs (at least; capture and frame always)."""
        memo = self.__dict__.setdefault("_selected", {})
        key = tuple(selectors)
        made = memo.setdefault(key, [])
        found = next((f for f in made if names is not None and set(names) <= set(f.columns)
                      or len(f.columns) == len(self.packets.columns)), None)
        if found is None:
            found = select(self.packets, key, self.packet_index, names)
            made.append(found)
        return found

    @property
    def ipsec_endpoints(self) -> tuple[set[int], set[str]]:
        """(SPIs, addresses) of the top-level ESP/AH packets, built once."""
        if self.__dict__.get("_ipsec_endpoints") is None:
            ipsec = rows(self.packets, kind_in(self.packets, IPSEC_KINDS), ["spi", "src", "dst"])
            self._ipsec_endpoints = ({int(s) for s in distinct(ipsec["spi"])},
                                     distinct(ipsec["src"]) | distinct(ipsec["dst"]))
        return self._ipsec_endpoints


def rate_limit(options, thresholds: Thresholds, prof: VendorProfile) -> tuple[float, bool]:
    """(seconds between bad-SPI lines per tunnel, documented or given?): the option when
    given, else the vendor's documented limit, else the default (then not documented)."""
    if options.log_self:
        return 0.0, True
    if options.rate_limit_s is not None:
        return float(options.rate_limit_s), True
    if prof.bad_spi_rate_limit_s is not None:
        return prof.bad_spi_rate_limit_s, True
    return thresholds.default_rate_limit_s, False


def given(value) -> bool:
    """A value, not a null (None, NaN or pd.NA): ``pd.notna`` for one plain value, cheaply."""
    return value is not None and value is not pd.NA and value == value


def columns(df: pd.DataFrame, names=None) -> dict[str, list]:
    """Columns as Python lists (None for nulls), converted in bulk: iterating Arrow-backed
    pandas columns value by value is slow."""
    import pyarrow as pa
    names = list(df.columns) if names is None else list(names)
    # column by column, as Table.from_pandas converts each (without its per-call overhead)
    return {n: pa.array(df[n], from_pandas=True).to_pylist() for n in names}


def chronological_order(events: pd.DataFrame) -> pd.Series:
    """Position of each line in time order within its file, by event_id: the line number,
    negated for files written newest first (``get event``), so lines in the same second
    still sort."""
    if events.empty:
        return pd.Series(dtype="int64")
    order = pd.Series(events["line"].astype("int64").to_numpy(), index=events["event_id"].astype("int64").to_numpy())
    for _, g in events.groupby("source"):
        g = g.sort_values("line")
        t = g["time"].astype("int64").to_numpy()
        if len(t) > 1 and (np.diff(t) < 0).sum() > (np.diff(t) > 0).sum():
            order.loc[g["event_id"].astype("int64").to_numpy()] = -g["line"].astype("int64").to_numpy()
    return order


def _remote(row, local) -> str | None:
    """The far end a line or Phase 2 line names: its peer, else the address that is not
    the device's."""
    for name in ("peer", "src", "dst"):
        value = getattr(row, name, None)
        if value is not None and not pd.isna(value) and value not in local:
            return str(value)
    return None


def phase2_times(events: pd.DataFrame, packets: pd.DataFrame) -> np.ndarray:
    """When Phase 2 was negotiated: Phase 2 log lines and rekey exchanges in the capture."""
    p2 = events[events["kind"].isin(["p2-complete", "p2-initiated", "sa-rekeyed"])]["time"]
    ike = packets[(packets["kind"] == "ike") & packets["ike_exchange"].isin(P2_EXCHANGES)]["time"]
    times = pd.concat([p2, ike]).dropna()
    return np.sort(seconds(times)) if len(times) else np.array([])


class Installs:
    """Phase 2 completions per SPI, to ask whether one follows a bad-SPI line."""

    def __init__(self, completes: pd.DataFrame, thresholds: Thresholds):
        self.window = thresholds.install_window_s
        written = completes["time_device" if "time_device" in completes else "time"].astype("int64").to_numpy()
        table = pd.DataFrame({
            "spi": completes["spi"].to_numpy(), "t": seconds(completes["time"]),
            # A whole-second stamp covers that whole second: within it, file order decides.
            "blur": np.where(whole_seconds(written), 1.0, 0.0),
            "source": completes["source"].to_numpy(), "order": completes["order"].to_numpy(),
        }).dropna(subset=["spi"])
        self.by_spi = {int(spi): (g["t"].to_numpy(), g["blur"].to_numpy(), g["source"].to_numpy(),
                                  g["order"].to_numpy()) for spi, g in table.groupby("spi")}

    def completes_after(self, spi, source, line_order, ts: float) -> bool:
        """A Phase 2 with this SPI completes after the line, within the install window."""
        same = self.by_spi.get(int(spi)) if pd.notna(spi) else None
        if same is None:
            return False
        t, blur, sources, order = same
        dt = t - ts
        later_line = (sources == source) & (order > line_order)
        after = (dt > 0) | (later_line & (dt > -blur))
        return bool((after & (dt <= self.window)).any())


def collision_starts(packets: pd.DataFrame, window_s: float) -> list[tuple[float, tuple[int, int]]]:
    """Times when both sides started a Phase 2 rekey within ``window_s``: (time, (frame a, frame b))."""
    ike = packets[(packets["kind"] == "ike") & packets["ike_exchange"].isin(P2_EXCHANGES)]
    if ike.empty:
        return []
    requests = ike[ike["ike_response"].fillna(False) == False]  # noqa: E712 (nullable bool)
    if ike["ike_version"].eq(1).all():
        requests = ike  # IKEv1 has no response flag: every Quick Mode message counts
    requests = requests.sort_values("time")
    t = seconds(requests["time"])
    src, dst = requests["src"].to_numpy(), requests["dst"].to_numpy()
    frame = requests["frame"].to_numpy()
    ends = np.searchsorted(t, t + window_s, side="right")
    out = []
    for i in range(len(t)):
        for j in range(i + 1, ends[i]):
            if src[i] != src[j] and dst[i] == src[j]:
                out.append((float(t[i]), (int(frame[i]), int(frame[j]))))
                break
    return out
