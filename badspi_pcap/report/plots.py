"""Plots of an analysis, made with matplotlib's object API (no pyplot, so nothing opens a
window: figures render with Agg in scripts, tests and the CLI, and inline in Jupyter).

- ``plot_timeline(analysis, tunnel)``: one tunnel over time, on the capture's clock (UTC)
  with the device's clock as logged on the top axis: ESP packet rate per SPI, the ICMP
  errors quoting the tunnel (one lane per router and type/code), the BAD SPI lines (moved
  onto the capture clock by the clock offset, coloured by cause), IKE exchanges seen in
  the capture, Phase 2 completions and other IKE/VPN lines of the log, and SA lifetimes.
- ``plot_offset_histogram(analysis)``: the log-to-packet time differences of the
  (SPI, SEQ) pairs the clock offset is estimated from, with the estimate.
- ``timeline_tunnels(analysis)``: the tunnels worth a timeline, most important first.
- ``figure_png(fig)``: PNG bytes of a figure.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..correlation import BAD_SPI_KINDS, CLUSTER_WIDTH_S, densest_cluster, offset_candidates, rate_limited
from ..causes.base import P2_EXCHANGES
from ..masks import distinct, distinct_at, distinct_numbers, kind_in, present, rows, value_in
from ..notation import NS_PER_S, seconds, spi_text, whole_seconds
from ..schema import IPSEC_KINDS

CAUSE_COLORS = {
    "embedded-icmp": "#d62728", "rekey-collision": "#ff7f0e", "spi-before-install": "#9467bd",
    "stale-sa": "#8c564b", "unexplained": "#7f7f7f", "not-covered": "#b0b0b0",
}
# SPI colours avoid the cause colours, so a red mark always means embedded ICMP.
SPI_COLORS = ["#1f77b4", "#2ca02c", "#17becf", "#bcbd22", "#e377c2", "#393b79", "#637939", "#8c6d31",
              "#6baed6", "#74c476"]
ICMP_COLORS = ["#d62728", "#e6550d", "#ad494a", "#fd8d3c", "#843c39", "#e7969c"]
METHOD_WORDS = {"spi+seq": "exact SPI+SEQ", "spi": "SPI-only", "icmp-times": "ICMP-time", "given": "given",
                "assumed": "assumed"}
VERDICT_RANK = {"confirmed": 0, "likely": 1, "inconclusive": 2, "ruled-out": 3, "not-covered": 4}
BIN_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
MAX_BINS = 360
# Concise date ticks, but a second-level tick still reads as a time of day.
TICK_FORMATS = ["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%H:%M:%S"]
MAX_SPI_LINES = 8        # more SPIs than this: the named ones alone, the rest summed per direction
MAX_SA_ROWS = 12         # more SAs than this: one row per direction
MAX_GUIDES = 120         # vertical guides through every panel at each BAD SPI line
P1_EXCHANGES = ("IKE_SA_INIT", "IKE_AUTH", "MAIN_MODE", "AGGRESSIVE", "AGGRESSIVE_MODE", "IDENTITY_PROTECTION")


def rate_bin_seconds(span_s: float, max_bins: int = MAX_BINS) -> int:
    """The ESP rate bin for a time span: 1 s for a minute, minutes for a day, 30 min for a week."""
    return next((b for b in BIN_STEPS_S if span_s / b <= max_bins), BIN_STEPS_S[-1])


# ---------------------------------------------------------------- which tunnels, what belongs to them

def timeline_tunnels(analysis, *, seen_only: bool = False) -> list[str]:
    """Tunnel names (as in ``findings.tunnel``), strongest verdict first.  Without
    findings: one pseudo-tunnel ``peer X`` per remote IPsec endpoint in the capture.
    ``seen_only``: only tunnels with packets in the capture."""
    f = analysis.findings
    if len(f):
        rank = f.assign(_r=f["verdict"].map(VERDICT_RANK).fillna(9), _n=-f["lines_explained"].fillna(0))
        names = list(dict.fromkeys(rank.sort_values(["_r", "_n", "tunnel"])["tunnel"]))
        if seen_only:  # a tunnel's packets are found through its SPIs (tunnel_data)
            p = analysis.packets
            everywhere = np.ones(len(p), dtype=bool)
            seen = set(distinct_numbers(p, "spi", everywhere)) | set(distinct_numbers(p, "inner_spi", everywhere))
            known = known_spis(analysis)
            names = [n for n in names if known[n] & seen]
        return names
    esp = analysis.packets[analysis.packets["kind"].isin(list(IPSEC_KINDS))]
    local = set(analysis.local_addresses)
    if local:
        names = [f"peer {d if s in local else s}" for s, d in zip(esp["src"], esp["dst"])]
    else:  # which end is the device is not known: name the address pair
        names = [" <-> ".join(sorted((s, d))) for s, d in zip(esp["src"], esp["dst"])]
    return list(pd.Series(names, dtype=object).value_counts().index)


@dataclass
class TunnelData:
    """What a timeline shows for one tunnel; every table on the capture clock."""

    name: str
    tunnel_id: int | None
    peer: str | None
    spis: list[int]
    direction: dict[int, str]        # in | out (seen from the device) | a -> b
    esp: pd.DataFrame
    icmp: pd.DataFrame
    ike: pd.DataFrame
    lines: pd.DataFrame
    log_events: pd.DataFrame
    findings: pd.DataFrame
    named_spis: set[int] = field(default_factory=set)     # named by BAD SPI lines
    has_log: bool = True
    rate_limit_s: float = 10.0
    device: str = "device"           # what the device end is called: an address when it is not known

    def way(self, spi: int, *, short: bool = False) -> str:
        """in/out of an SPI as a label: 'inbound' ('in'), or 'a -> b' when the device is not known."""
        way = self.direction.get(spi, "?")
        if way in ("in", "out") and self.device != "device":
            return f"{self.device} -> {self.peer}" if way == "out" else f"{self.peer} -> {self.device}"
        return way if short or way not in ("in", "out") else f"{way}bound"


def tunnel_data(analysis, name: str) -> TunnelData:
    """Tunnel <-> SPIs: the SPIs its lines, findings, Phase 2 lines and SA tables name,
    plus the other SPIs of the same device <-> peer pair in the captures that carry them
    (the reverse SA, rekeyed SAs), unless another tunnel claims them."""
    tid, peer = _tunnel_key(analysis, name)
    known = known_spis(analysis, name)
    mine = known[name]
    others = set().union(*(s for t, s in known.items() if t != name)) if len(known) > 1 else set()
    p = analysis.packets
    local = set(analysis.local_addresses)
    ends = local
    if " <-> " in name:  # an address pair (device unknown): one end plays the device's part
        first, peer = name.split(" <-> ", 1)
        ends = {first}
    # Masks from Arrow kernels and one selection per table: the packets table is big.
    ipsec, icmp_errors = kind_in(p, IPSEC_KINDS) & present(p, "spi"), kind_in(p, "icmp-error")
    captures = distinct_at(p, "capture", ipsec & value_in(p, "spi", sorted(mine))) | \
        distinct_at(p, "capture", icmp_errors & value_in(p, "inner_spi", sorted(mine)))
    if not mine:  # a pseudo-tunnel "peer X" (no findings): its address pair in every capture
        captures = distinct(p["capture"])
    in_captures = value_in(p, "capture", sorted(captures))
    pair = ipsec & _pair_mask(p, "src", "dst", peer, ends) & in_captures
    spis = mine | (set(distinct_numbers(p, "spi", pair)) - others)
    esp = rows(p, ipsec & value_in(p, "spi", sorted(spis)), list(p.columns))
    quoted_pair = ~present(p, "inner_spi") & _pair_mask(p, "inner_src", "inner_dst", peer, ends) & in_captures
    icmp = rows(p, icmp_errors & (value_in(p, "inner_spi", sorted(spis)) | quoted_pair), list(p.columns))
    ike_captures = value_in(p, "capture", sorted(captures | distinct(esp["capture"])))
    ike = rows(p, kind_in(p, "ike") & ike_captures & _pair_mask(p, "src", "dst", peer, ends), list(p.columns)) \
        if peer else p.iloc[:0]
    lines = analysis.lines[analysis.lines["tunnel"] == name] if len(analysis.lines) else analysis.lines
    ev = analysis.events
    other = ev[~ev["kind"].isin(BAD_SPI_KINDS)]
    same = other["tunnel_id"].eq(tid).fillna(False) if tid is not None else pd.Series(False, index=other.index)
    if peer:
        same |= other["tunnel_id"].isna() & other["peer"].eq(peer).fillna(False)
    log_events = other[same.to_numpy(dtype=bool)]
    order = _first_seen(spis, esp, icmp, log_events)
    return TunnelData(name=name, tunnel_id=tid, peer=peer, spis=order, direction=_directions(order, esp, icmp, ends),
                      esp=esp, icmp=icmp, ike=ike, lines=lines, log_events=log_events,
                      findings=analysis.findings[analysis.findings["tunnel"] == name],
                      named_spis={int(s) for s in lines["spi"].dropna()} if len(lines) else set(),
                      has_log=len(analysis.events) > 0, rate_limit_s=_rate_limit(analysis),
                      device="device" if ends is local else next(iter(ends)))


def _rate_limit(analysis) -> float:
    """The rate limit the verdicts used (the vendor's, the given one, or the default)."""
    from ..causes.base import rate_limit
    from ..vendors import profile
    vendors = analysis.vendors
    return rate_limit(analysis.options, analysis.thresholds, vendors[0] if vendors else profile(None))[0]


def _tunnel_key(analysis, name: str) -> tuple[int | None, str | None]:
    mine = analysis.findings[analysis.findings["tunnel"] == name]
    ids = mine["tunnel_id"].dropna()
    tid = int(ids.iloc[0]) if len(ids) else None
    peers = [p for p in mine["peer"].dropna() if p]
    peer = peers[0].split(", ")[0] if peers else None
    if name.startswith("peer "):
        peer = name[5:]
    if peer is None and tid is not None:
        ev = analysis.events
        named = ev.loc[ev["tunnel_id"].eq(tid).fillna(False) & ev["peer"].notna(), "peer"]
        peer = named.iloc[0] if len(named) else None
    return tid, peer


def known_spis(analysis, name: str | None = None) -> dict[str, set[int]]:
    """Tunnel -> the SPIs its lines, findings, Phase 2 lines and SA tables name (one pass
    over each table, so many tunnels cost no more than one)."""
    out: dict[str, set[int]] = {t: set() for t in analysis.findings["tunnel"]}
    if name is not None:
        out.setdefault(name, set())
    lines = analysis.lines
    if len(lines):
        for tunnel, spis in lines.dropna(subset=["spi"]).groupby("tunnel")["spi"]:
            out.setdefault(tunnel, set()).update(int(s) for s in spis)
    for tunnel, spis in zip(analysis.findings["tunnel"], analysis.findings["spis"]):
        out[tunnel].update(int(s) for s in (spis if spis is not None else []))
    tunnel_ids = dict(zip(analysis.findings["tunnel"], analysis.findings["tunnel_id"]))
    if len(lines):
        tunnel_ids.update(zip(lines["tunnel"], lines["tunnel_id"]))
    by_id: dict[int, set[int]] = {}
    for table in (analysis.events, analysis.sas):
        if len(table) and "tunnel_id" in table:
            for tid, spis in table.dropna(subset=["tunnel_id", "spi"]).groupby("tunnel_id")["spi"]:
                by_id.setdefault(int(tid), set()).update(int(s) for s in spis)
    for tunnel, spis in out.items():
        tid = tunnel_ids.get(tunnel)
        if tid is not None and not pd.isna(tid):
            spis |= by_id.get(int(tid), set())
    return out


def _pair_mask(p: pd.DataFrame, src: str, dst: str, peer: str | None, local: set[str]) -> np.ndarray:
    """Packets between ``peer`` and one of ``local`` (any end when ``local`` is empty),
    by the columns ``src`` and ``dst``."""
    if not peer:
        return np.zeros(len(p), dtype=bool)
    a, b = value_in(p, src, [peer]), value_in(p, dst, [peer])
    if local:
        a &= value_in(p, dst, sorted(local))
        b &= value_in(p, src, sorted(local))
    return a | b


def _first_seen(spis, esp, icmp, log_events) -> list[int]:
    first = {}
    for table, col in ((esp, "spi"), (icmp, "inner_spi"), (log_events, "spi")):
        if len(table):
            for spi, t in table.dropna(subset=[col]).groupby(col, observed=True)["time"].min().items():
                first[int(spi)] = min(first.get(int(spi), t), t)
    far = pd.Timestamp.max.tz_localize("UTC")
    return sorted(spis, key=lambda s: (first.get(s, far), s))


def _directions(spis, esp, icmp, local) -> dict[int, str]:
    first_esp, first_quote = _first_rows(esp, "spi", ["src", "dst"]), _first_rows(icmp, "inner_spi",
                                                                                    ["inner_src", "inner_dst"])
    out = {}
    for spi in spis:
        src, dst = first_esp.get(spi) or first_quote.get(spi) or (None, None)
        out[spi] = "out" if src in local else "in" if dst in local else f"{src} -> {dst}" if src else "(log only)"
    return out


def _first_rows(table: pd.DataFrame, key: str, names: list[str]) -> dict[int, tuple]:
    """Per value of ``key``, the values of ``names`` in its first row."""
    known = table[table[key].notna()]
    if known.empty:
        return {}
    values, first = np.unique(known[key].to_numpy(dtype=np.int64), return_index=True)
    cells = [known[n].iloc[first].tolist() for n in names]
    return {int(v): tuple(c[i] for c in cells) for i, v in enumerate(values)}


# ---------------------------------------------------------------- timeline

def plot_timeline(analysis, tunnel: str | None = None, *, start=None, end=None, bin_s: float | None = None,
                  width: float = 12.0):
    """One tunnel over time (default: the tunnel of the strongest finding); ``start``/
    ``end`` (timestamps or strings, UTC) zoom in; ``bin_s`` overrides the rate bin."""
    from matplotlib.figure import Figure

    tunnels = timeline_tunnels(analysis)
    name = tunnel or (tunnels[0] if tunnels else None)
    if name is None:
        fig = Figure(figsize=(width, 2.0), layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No IPsec traffic and no bad-SPI lines: nothing to plot.", ha="center", va="center")
        return fig
    td = tunnel_data(analysis, name)
    t0, t1, outside = _time_range(analysis, td, start, end)
    span = max((t1 - t0).total_seconds(), 1.0)
    bin_s = bin_s or rate_bin_seconds(span)
    colors = {spi: SPI_COLORS[i % len(SPI_COLORS)] for i, spi in enumerate(td.spis)}

    lanes = _lanes(td, t0, t1)
    sa_rows = _sa_rows(td, t0, t1)
    heights = [3.0 if len(td.esp) else 0.9, 0.42 * max(len(lanes), 1) + 0.3, 0.32 * max(len(sa_rows), 1) + 0.3]
    fig = Figure(figsize=(width, sum(heights) + 1.6), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, height_ratios=heights)
    ax_rate, ax_lanes, ax_sa = axes

    _draw_rates(ax_rate, td, t0, t1, bin_s, colors)
    _draw_lanes(ax_lanes, lanes, t0, t1)
    _draw_sas(ax_sa, sa_rows, colors)
    for ax in axes:
        _shade_gaps(ax, analysis, t0, t1)
        _guides(ax, td, t0, t1)
    ax_sa.set_xlim(_num(t0), _num(t1))
    _time_axes(ax_rate, ax_sa, analysis)
    xlabel = "capture time (UTC)"
    if outside:
        xlabel += "\n" + outside
    ax_sa.set_xlabel(xlabel)
    fig.suptitle(_title(analysis, td), fontsize=11, x=0.01, ha="left")
    return fig


def _time_range(analysis, td: TunnelData, start, end):
    """The tunnel's packets and covered lines, padded; what falls outside is said."""
    times = [t for t in (td.esp["time"], td.icmp["time"], td.ike["time"]) if len(t)]
    if len(td.lines):
        times.append(td.lines.loc[td.lines["covered"].astype(bool), "time"])
    times = pd.concat(times).dropna() if times else pd.Series(dtype=object)
    if times.empty:  # nothing in a capture: show the log lines themselves
        times = (pd.concat([td.lines["time"], td.log_events["time"]]).dropna() if len(td.lines)
                 else td.log_events["time"])
    if times.empty:
        first = [c.first_time for c in analysis.captures if c.first_time is not None]
        last = [c.last_time for c in analysis.captures if c.last_time is not None]
        times = pd.Series(first + last) if first else pd.Series([pd.Timestamp.now(tz="UTC")])
    a, b = times.min(), times.max()
    near = max((b - a) * 0.1, pd.Timedelta(seconds=5))
    ev = td.log_events["time"].dropna()
    ev = ev[(ev >= a - near) & (ev <= b + near)]
    if len(ev):
        a, b = min(a, ev.min()), max(b, ev.max())
    pad = max((b - a) * 0.02, pd.Timedelta(seconds=0.5))
    t0 = pd.Timestamp(start, tz="UTC") if start is not None and pd.Timestamp(start).tzinfo is None else \
        pd.Timestamp(start) if start is not None else a - pad
    t1 = pd.Timestamp(end, tz="UTC") if end is not None and pd.Timestamp(end).tzinfo is None else \
        pd.Timestamp(end) if end is not None else b + pad
    notes = []
    if len(td.lines):
        lt = td.lines["time"]
        before, after = td.lines[lt < t0], td.lines[lt > t1]
        for rows, where in ((before, "before"), (after, "after")):
            if len(rows):
                when = rows["time"].min() if where == "before" else rows["time"].max()
                notes.append(f"{len(rows)} BAD SPI line{'s' if len(rows) > 1 else ''} {where} this range "
                             f"({'from' if where == 'before' else 'until'} "
                             f"{when.strftime('%Y-%m-%d %H:%M:%S')} UTC) not shown")
    return t0, t1, "; ".join(notes)


def _num(t):
    """Timestamps (scalar or Series, tz-aware) -> matplotlib date numbers."""
    import matplotlib.dates as mdates

    if isinstance(t, pd.Series):
        ns = t.astype("int64").to_numpy()
        return mdates.date2num(ns.astype("datetime64[ns]"))
    return mdates.date2num(np.datetime64(pd.Timestamp(t).tz_convert("UTC").tz_localize(None), "ns"))


def _draw_rates(ax, td: TunnelData, t0, t1, bin_s, colors) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    per, unit = (1, "s") if bin_s < 60 else (60, "min") if bin_s < 21600 else (3600, "h")
    edges = np.arange(t0.value / NS_PER_S, t1.value / NS_PER_S + bin_s, bin_s)
    edges_num = _num(pd.Series(pd.to_datetime((edges * NS_PER_S).astype("int64"), utc=True)))
    esp = td.esp[(td.esp["time"] >= t0) & (td.esp["time"] <= t1)]
    secs = seconds(esp["time"]) if len(esp) else np.array([])
    spi = esp["spi"].astype("int64").to_numpy() if len(esp) else np.array([], dtype=np.int64)
    present = [s for s in td.spis if (spi == s).any()]
    if len(present) <= MAX_SPI_LINES:
        series = [([s], _spi_label(td, s, int((spi == s).sum())), colors[s], 1.6) for s in present]
    else:
        quoted = set(td.icmp["inner_spi"].dropna().astype("int64")) if len(td.icmp) else set()
        named = [s for s in present if s in td.named_spis | quoted][:6]
        series = [([s], _spi_label(td, s, int((spi == s).sum())), colors[s], 1.8) for s in named]
        for way, color in (("out", "#6a6a6a"), ("in", "#a8a8a8")):
            rest = [s for s in present if s not in named and td.direction.get(s) == way]
            if rest:
                series.append((rest, f"{len(rest)} other SPIs {td.way(rest[0])}, {int(np.isin(spi, rest).sum())} pkts",
                               color, 1.0))
    # Outbound (device -> peer) above zero, inbound below: both directions stay visible.
    top = 0.0
    for members, label, color, lw in series:
        counts, _ = np.histogram(secs[np.isin(spi, members)], edges)
        sign = -1.0 if td.direction.get(members[0]) == "in" else 1.0
        used = np.flatnonzero(counts)
        lo, hi = (used[0], used[-1] + 1) if len(members) == 1 and len(used) else (0, len(counts))
        values = counts[lo:hi] / bin_s * per
        top = max(top, values.max(initial=0))
        ax.stairs(sign * values, edges_num[lo:hi + 1], color=color, linewidth=lw, label=label, baseline=None)
    ax.axhline(0, color="#444444", linewidth=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=per == 1 and bin_s == 1))
    ax.set_ylabel(f"ESP packets/{unit}\n({_duration(bin_s)} bins)", fontsize=9)
    if any(td.direction.get(m[0]) == "in" for m, *_ in series):
        device, peer = (td.device, td.peer) if td.device != "device" else ("device", "peer")
        for y, va, text in ((0.98, "top", f"▲ {device} → {peer}"), (0.02, "bottom", f"▼ {peer} → {device}")):
            ax.text(0.005, y, text, transform=ax.transAxes, va=va, fontsize=8, color="#555555")
        ax.set_ylim(-top * 1.15 - 0.1, top * 1.15 + 0.1)
    else:
        ax.set_ylim(bottom=0)
    ax.grid(True, axis="both", alpha=0.3)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, title="SPI", title_fontsize=8,
                  frameon=False)
    else:
        ax.text(0.5, 0.5, "no ESP/AH packets of this tunnel in the capture", transform=ax.transAxes, ha="center",
                va="center", color="#666666")
    missing = [spi_text(s) for s in td.named_spis if s not in present]
    if missing and series:
        ax.text(1.01, 0.0, "named by BAD SPI lines, no packets here:\n" + ", ".join(sorted(missing)[:4]),
                transform=ax.transAxes, fontsize=7.5, color="#555555", va="bottom")


def _spi_label(td, spi, n) -> str:
    way = td.way(spi)
    quoted = bool(len(td.icmp)) and bool(td.icmp["inner_spi"].eq(spi).any())
    marks = [m for m, yes in (("BAD SPI", spi in td.named_spis), ("quoted by ICMP", quoted)) if yes]
    mark = f" ({', '.join(marks)})" if marks else ""
    return f"{spi_text(spi)} {way}, {n} pkts{mark}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


@dataclass
class _Lane:
    label: str
    marks: list = field(default_factory=list)   # (times Series, style dict, legend label)


def _lanes(td: TunnelData, t0, t1) -> list[_Lane]:
    """Lanes top to bottom: BAD SPI lines, ICMP errors per router and type/code, IKE in
    the capture, IKE/VPN lines of the log."""
    lanes = []
    lines = td.lines
    lane = _Lane("BAD SPI lines\n(log, on capture clock)") if td.has_log else None
    if not td.has_log and len(td.icmp):
        # No log: where a device that misreads these ICMP errors would log (rate limit).
        t = td.icmp["time"].sort_values()
        logged = rate_limited(seconds(t), td.rate_limit_s)
        lane = _Lane("BAD SPI lines an affected\ndevice would log (model)")
        lane.marks.append((t[logged],
                           dict(marker="D", s=36, facecolors="none", edgecolors=CAUSE_COLORS["embedded-icmp"],
                                           linewidths=1.2, zorder=4),
                           f"expected line (one per {td.rate_limit_s:g} s of ICMP errors)" if td.rate_limit_s
                           else "expected line (one per ICMP error)"))
    if len(lines):
        for cause, g in lines.groupby("cause", sort=False):
            covered = g["covered"].astype(bool)
            color = CAUSE_COLORS.get(cause, "#7f7f7f")
            if covered.any():
                lane.marks.append((g.loc[covered, "time"], dict(marker="D", s=36, color=color, edgecolors="black",
                                                                linewidths=0.5, zorder=4), f"line: {cause}"))
            if (~covered).any():
                lane.marks.append((g.loc[~covered, "time"], dict(marker="D", s=36, facecolors="none",
                                                                 edgecolors=color, linewidths=1.0, zorder=4),
                                   "line: not covered by the capture"))
    if lane is not None:
        lanes.append(lane)

    if len(td.icmp):
        from ..causes.embedded_icmp import icmp_facts
        from .common import icmp_text
        keys = ["src", "icmp_type", "icmp_code", "icmp_mtu"]
        groups = sorted(td.icmp.groupby(keys, dropna=False, observed=True), key=lambda kv: -len(kv[1]))
        for i, (key, g) in enumerate(groups[:6]):
            lanes.append(_Lane(f"ICMP from {key[0]}\n{icmp_text(icmp_facts(g))}",
                               [(g["time"], dict(marker="|", s=140, linewidths=1.6, color=ICMP_COLORS[i % 6], zorder=3),
                                 None)]))
        if len(groups) > 6:
            rest = pd.concat([g for _, g in groups[6:]])
            lanes.append(_Lane(f"ICMP, {len(groups) - 6} more kinds\n{len(rest)} errors",
                               [(rest["time"], dict(marker="|", s=140, linewidths=1.6, color="#999999"), None)]))

    if len(td.ike):
        ike = td.ike
        from_peer = ike["src"].eq(td.peer).fillna(False).to_numpy(dtype=bool)
        response = ike["ike_response"].fillna(False).to_numpy(dtype=bool)
        exch = ike["ike_exchange"].fillna("?")
        for label, mask in (("IKE Phase 1\n(capture)", exch.isin(P1_EXCHANGES)),
                            ("IKE Phase 2 / rekey\n(capture)", exch.isin(P2_EXCHANGES)),
                            ("IKE other\n(capture)", ~exch.isin(P1_EXCHANGES + P2_EXCHANGES))):
            m = mask.to_numpy(dtype=bool)
            if not m.any():
                continue
            lane = _Lane(label)
            peer = "peer" if td.device == "device" else td.peer
            for sent, marker, who in ((~from_peer, ">", td.device), (from_peer, "<", peer)):
                for resp, fill, what in ((~response, True, "request"), (response, False, "response")):
                    sel = m & sent & resp
                    if sel.any():
                        style = dict(marker=marker, s=42, zorder=3, linewidths=1.0, edgecolors="#222222",
                                     facecolors="#222222" if fill else "none")
                        lane.marks.append((ike.loc[sel, "time"], style, f"IKE {what} from {who}"))
            lanes.append(lane)

    ev = td.log_events
    if len(ev):
        p2 = ev[ev["kind"].isin(["p2-complete", "sa-created", "sa-rekeyed"])]
        rest = ev[~ev.index.isin(p2.index)]
        if len(p2):
            lanes.append(_Lane("Phase 2 complete\n(log)", [(p2["time"], dict(marker="s", s=34, color="#2ca02c",
                                                                             edgecolors="black", linewidths=0.5,
                                                                             zorder=3),
                                                                             "log: Phase 2 complete / SA up")]))
        if len(rest):
            lane = _Lane("other IKE/VPN lines\n(log)")
            down = rest["kind"].isin(["sa-deleted", "sa-deactivated", "vpn-down", "ike-error"])
            if (~down).any():
                lane.marks.append((rest.loc[~down, "time"], dict(marker="o", s=26, facecolors="none",
                                                                 edgecolors="#2ca02c", linewidths=1.2),
                                                                 "log: IKE/VPN up"))
            if down.any():
                lane.marks.append((rest.loc[down, "time"], dict(marker="x", s=30, color="#444444", linewidths=1.2),
                                   "log: SA/VPN down, IKE error"))
            lanes.append(lane)
    return lanes


def _draw_lanes(ax, lanes: list[_Lane], t0, t1) -> None:
    seen = {}
    for y, lane in enumerate(lanes):
        for times, style, label in lane.marks:
            times = times.dropna()
            times = times[(times >= t0) & (times <= t1)]
            if times.empty:
                continue
            h = ax.scatter(_num(times), np.full(len(times), -y), **style)
            if label and label not in seen:
                seen[label] = h
    ax.set_yticks([-y for y in range(len(lanes))], [lane.label for lane in lanes], fontsize=8)
    ax.set_ylim(-len(lanes) + 0.4, 0.6)
    ax.grid(True, axis="x", alpha=0.3)
    for y in range(len(lanes)):
        ax.axhline(-y, color="#dddddd", linewidth=0.6, zorder=0)
    if seen:
        ax.legend(list(seen.values()), list(seen.keys()), loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8,
                  frameon=False, scatterpoints=1)


def _sa_rows(td: TunnelData, t0, t1) -> list[tuple[str, list]]:
    """Per SA: the span its packets were seen (solid) and the lifetime a Phase 2 line
    announced (pale); one row per SPI, or per direction when there are many."""
    seen = td.esp.groupby("spi", observed=True)["time"].agg(["min", "max"]) if len(td.esp) else pd.DataFrame()
    life = {}
    p2 = td.log_events[td.log_events["kind"].isin(["p2-complete", "sa-created", "sa-rekeyed"])
                       & td.log_events["spi"].notna() & td.log_events["lifetime_s"].notna()]
    for spi, t, s in zip(p2["spi"], p2["time"], p2["lifetime_s"]):
        life.setdefault(int(spi), (t, t + pd.Timedelta(seconds=int(s))))
    bars = []
    for spi in td.spis:
        used = (seen.loc[spi, "min"], seen.loc[spi, "max"]) if spi in seen.index else None
        if used is None and spi not in life:
            continue
        bars.append((spi, used, life.get(spi)))
    if len(bars) <= MAX_SA_ROWS:
        return [(f"{spi_text(spi)} {td.way(spi, short=True)}", [(spi, used, lf)]) for spi, used, lf in bars]
    rows = {}
    for spi, used, lf in bars:
        way = td.direction.get(spi, "?")
        rows.setdefault(f"SAs {td.way(spi)}" if way in ("in", "out") else "other SAs", []).append((spi, used, lf))
    return list(rows.items())


def _draw_sas(ax, rows, colors) -> None:
    for y, (_, bars) in enumerate(rows):
        for spi, used, life in bars:
            color = colors.get(spi, "#888888")
            if life is not None:
                a, b = _num(life[0]), _num(life[1])
                ax.broken_barh([(a, b - a)], (-y - 0.34, 0.68), facecolors=color, alpha=0.18, edgecolor=color,
                               linewidth=0.6)
            if used is not None:
                a, b = _num(used[0]), _num(used[1])
                ax.broken_barh([(a, max(b - a, 1e-7))], (-y - 0.14, 0.28), facecolors=color)
    ax.set_yticks([-y for y in range(len(rows))], [r[0] for r in rows], fontsize=8)
    ax.set_ylim(-max(len(rows), 1) + 0.45, 0.55)
    ax.grid(True, axis="x", alpha=0.3)
    if not rows:
        ax.text(0.5, 0.5, "no SA of this tunnel seen", transform=ax.transAxes, ha="center", va="center",
                color="#666666")
    from matplotlib.patches import Patch
    ax.legend([Patch(color="#555555"), Patch(facecolor="#555555", alpha=0.18, edgecolor="#555555")],
              ["SA: packets seen", "SA: lifetime from its Phase 2 line"], loc="upper left", bbox_to_anchor=(1.005, 1.0),
              fontsize=8, frameon=False)
    ax.set_ylabel("SAs", fontsize=9)


def _shade_gaps(ax, analysis, t0, t1) -> None:
    """Grey where no capture was running: lines there cannot be checked."""
    spans = sorted((c.first_time, c.last_time) for c in analysis.captures if c.first_time is not None)
    cursor = t0
    gaps = []
    for a, b in spans:
        if a > cursor:
            gaps.append((cursor, min(a, t1)))
        cursor = max(cursor, b)
    if cursor < t1:
        gaps.append((cursor, t1))
    for a, b in gaps:
        if b > a:
            ax.axvspan(_num(a), _num(b), color="#000000", alpha=0.06, linewidth=0, zorder=0)


def _guides(ax, td, t0, t1) -> None:
    lines = td.lines
    if not len(lines):
        return
    inside = lines[(lines["time"] >= t0) & (lines["time"] <= t1)]
    if len(inside) > MAX_GUIDES:
        return
    for t, cause in zip(inside["time"], inside["cause"]):
        ax.axvline(_num(t), color=CAUSE_COLORS.get(cause, "#7f7f7f"), linewidth=0.8, alpha=0.45, linestyle="--",
                   zorder=1)


def _time_axes(ax_top, ax_bottom, analysis) -> None:
    """UTC below; the device's clock as its log shows it above (capture time + clock
    offset + the log's UTC offset)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax_bottom.xaxis.set_major_locator(locator)
    ax_bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, formats=TICK_FORMATS))
    if not len(analysis.events):
        return
    tz_s = log_utc_offset_s(analysis.events)
    shift = (analysis.clock_offset.seconds + tz_s) / 86400.0
    top = ax_top.secondary_xaxis("top", functions=(lambda x: x + shift, lambda x: x - shift))
    top_locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    top.xaxis.set_major_locator(top_locator)
    top.xaxis.set_major_formatter(mdates.ConciseDateFormatter(top_locator, formats=TICK_FORMATS, show_offset=False))
    lo = mdates.num2date(ax_top.get_xlim()[0] + shift)
    top.set_xlabel(f"device clock as logged, {lo:%Y-%m-%d} (UTC{_hhmm(tz_s)}; device clock "
                   f"{analysis.clock_offset.seconds:+.1f} s from the capture's)", fontsize=9)


def log_utc_offset_s(events: pd.DataFrame) -> float:
    """The UTC offset the log's times are written in (local minus UTC), the most common one."""
    ok = events[["time_local", "time_device"]].dropna() if "time_device" in events else events.iloc[:0]
    if ok.empty:
        return 0.0
    d = (ok["time_local"].astype("int64").to_numpy() - ok["time_device"].astype("int64").to_numpy()) / NS_PER_S
    return float(pd.Series(np.round(d / 60) * 60).mode().iloc[0])


def _hhmm(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    m = int(round(abs(seconds) / 60))
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def _title(analysis, td: TunnelData) -> str:
    f = td.findings.assign(_r=td.findings["verdict"].map(VERDICT_RANK).fillna(9)).sort_values("_r")
    head = td.name
    if len(f):
        head += ": " + ", ".join(f"{c} {v.upper()}" for c, v in zip(f["cause"], f["verdict"]) if c != "not-covered") \
            if (f["cause"] != "not-covered").any() else ": lines not covered by the capture"
    facts = []
    if td.peer and td.device == "device":
        facts.append(f"peer {td.peer}")
    facts.append(f"{len(td.spis)} SPI{'s' if len(td.spis) != 1 else ''}")
    if len(td.lines):
        facts.append(f"{len(td.lines)} BAD SPI line{'s' if len(td.lines) != 1 else ''}")
        off = analysis.clock_offset
        how = METHOD_WORDS.get(off.method, off.method)
        facts.append(f"log moved {-off.seconds:+.1f} s onto the capture clock ({how})")
    if len(td.icmp):
        facts.append(f"{len(td.icmp)} ICMP errors quoting it")
    return head + "\n" + " · ".join(facts)


# ---------------------------------------------------------------- clock offset histogram

def plot_offset_histogram(analysis, *, width: float = 8.0):
    """Log line time minus packet time for every (SPI, SEQ) pair (SPI-only pairs when
    there are none), with the densest one-second cluster and the offset used."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    off = analysis.clock_offset
    events = analysis.events
    if "time_device" in events:
        events = events.assign(time=events["time_device"])
    method = off.method if off.method in ("spi+seq", "spi", "icmp-times") else "spi+seq"
    d = offset_candidates(events, analysis.packets, method) if len(events) else np.array([])
    if len(d) == 0 and method == "spi+seq" and len(events):
        method, d = "spi", offset_candidates(events, analysis.packets, "spi")
    fig = Figure(figsize=(width, 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(f"Clock offset: {off.describe()}", fontsize=9, loc="left", wrap=True)
    ax.set_xlabel("log line time − packet time (s) = device clock − capture clock")
    ax.set_ylabel("pairs")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(d) == 0:
        ax.text(0.5, 0.5, "no log line shares an SPI with a packet: nothing to estimate the offset from",
                ha="center", va="center", transform=ax.transAxes, color="#666666")
        ax.set_yticks([])
        ax.axvline(off.seconds, color="#d62728", linewidth=2)
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        return fig
    lo, hi, count = densest_cluster(d, CLUSTER_WIDTH_S)
    half = max(5.0, 3.0 * (hi - lo) + 2.0)
    centre = off.seconds
    view = d[(d >= centre - half) & (d <= centre + half)]
    out = len(d) - len(view)
    width_s = 0.1 if half <= 10 else half / 50
    edges = np.arange(centre - half, centre + half + width_s, width_s)
    ax.hist(view, bins=edges, color="#1f77b4", edgecolor="white", linewidth=0.4,
            label=f"{len(d)} {METHOD_WORDS[method]} pairs"
            + (f" ({out} outside this view, {d.min():+.0f}..{d.max():+.0f} s)" if out else ""))
    ax.axvspan(lo, hi, color="#2ca02c", alpha=0.15, label=f"densest {CLUSTER_WIDTH_S:g} s cluster: {count} pairs")
    used = "given" if off.method == "given" else "estimate"
    ax.axvline(off.seconds, color="#d62728", linewidth=2, label=f"{used}: {off.seconds:+.1f} s")
    ax.set_xlim(centre - half, centre + half)
    ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    if whole_seconds(events["time"].dropna().astype("int64")).all():
        ax.text(0.99, 0.97,
                "whole-second log times: pairs fill the second\nbelow the offset; estimate = median + 0.5 s",
                transform=ax.transAxes, ha="right", va="top", fontsize=8, color="#444444")
    return fig


def figure_png(fig, dpi: int = 100) -> bytes:
    """PNG bytes of a figure, rendered with Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
