"""Causes of bad-SPI lines, decided from the correlated tables.

Each covered bad-SPI/replay line is explained on its own first (an ICMP error quoting
it, a Phase 2 that completes just after it, a Phase 2 negotiation around it, the peer
sending on it), then the lines of a tunnel are summed up into one finding per cause.
The thresholds are named constants so a report can say what they were.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .correlate import BAD_SPI_KINDS, covered, rate_limited

CONFIRM_LINES = 0.9          # share of covered lines a cause must explain to be confirmed
CONFIRM_WINDOWS = 0.8        # share of ICMP rate-limit windows that must have a line
INSTALL_WINDOW_S = 15.0      # a Phase 2 completing this soon after a line: SPI used before install
REKEY_WINDOW_S = 30.0        # a Phase 2 negotiation this near a line: rekey
COLLISION_WINDOW_S = 5.0     # both peers starting a rekey this close together: a collision
SMALL_SEQ = 16               # sequence numbers of a brand-new SA
STALE_MIN_SPAN_S = 5.0       # the peer kept sending this long on an SA the device does not have
P2_EXCHANGES = ("CREATE_CHILD_SA", "QUICK_MODE")

COLLECT = ("get tech", "get event", "get ike cookie", "get sa", "get sa stat", "get sa id <id>",
           "a sniffer trace on the untrust side at the time of the messages", "debug flow basic at the same time")

ACTIONS = {
    "embedded-icmp": (
        "ScreenOS before 5.4 misreads ICMP errors that quote its own ESP/AH packets as packets with a bad "
        "SPI. Upgrade to ScreenOS 5.4 or later. The messages are a symptom: fix what the router reports{detail}."
    ),
    "rekey-collision": (
        "Both gateways renegotiate Phase 2 at nearly the same time. Raise the rekey margin with "
        "`set ike soft-lifetime-buffer 40` (default 10 s), then tune it; keep lifetimes equal on both sides."
    ),
    "spi-before-install": (
        "The peer sends on a new SA before this device has installed it (KB10091 cause 3). Usually brief and "
        "harmless; if it repeats, raise `set ike soft-lifetime-buffer` and check the device's CPU load at rekey."
    ),
    "stale-sa": (
        "The peer keeps sending on an SA this device no longer has (after a reboot, failover or `clear sa`). "
        "Clear the SA on the peer, and enable DPD / VPN monitor and initial-contact so both sides resynchronise."
    ),
    "unexplained": "Collect: " + "; ".join(COLLECT) + ".",
    "not-covered": "These lines fall outside the capture. To check them, capture again while they occur: "
                   + "; ".join(COLLECT[:6]) + ".",
}


@dataclass(frozen=True)
class DiagnoseOptions:
    rate_limit_s: float = 10.0           # ScreenOS: one BAD SPI line per tunnel per 10 s (0 = log-self)
    resolution_s: float = 1.0            # log time resolution
    screenos_version: str | None = None  # e.g. "5.2r1": < 5.4 is affected by embedded ICMP


FINDING_COLUMNS = [
    "tunnel", "cause", "verdict", "summary", "lines", "lines_covered", "lines_explained",
    "icmp_errors", "expected_lines", "windows_matched", "spis", "peer", "routers", "icmp_codes",
    "first", "last", "clock_offset_s", "evidence_frames", "evidence_lines", "display_filter", "action",
]


def classify_lines(events: pd.DataFrame, matches: pd.DataFrame, packets: pd.DataFrame, spans,
                   local: set[str]) -> pd.DataFrame:
    """One row per bad-SPI/replay line (events on the capture clock) with its tunnel,
    whether the capture covers it (``coverage`` says why not) and its cause."""
    bad = events[events["kind"].isin(BAD_SPI_KINDS)].copy()
    if bad.empty:
        return bad.assign(tunnel=pd.Series(dtype="string"), cause=pd.Series(dtype="string"),
                          covered=pd.Series(dtype=bool), coverage=pd.Series(dtype="string"))
    bad["tunnel"] = tunnel_keys(bad, local)
    t = bad["time"].astype("int64").to_numpy() / 1e9
    in_time = covered(t, spans)
    seen = _seen_by_capture(bad, packets)
    bad["covered"] = in_time & seen
    bad["coverage"] = np.select([in_time & seen, ~in_time], ["covered", "outside the capture's time"],
                                "tunnel not seen in the capture")
    roles = matches.groupby("event")["role"].agg(set).to_dict() if len(matches) else {}
    order = _chronological_order(events)
    bad["order"] = order.loc[bad.index]
    installs = _Installs(events[events["kind"] == "p2-complete"].assign(order=order))
    negotiations = _phase2_times(events, packets)
    causes = []
    for idx, is_covered, spi, source, line_order, ts in zip(
            bad.index, bad["covered"], bad["spi"], bad["source"], bad["order"], t):
        r = roles.get(idx, set())
        if not is_covered:
            causes.append("not-covered")
        elif "quoted-by-icmp" in r or "sent-by-device" in r:
            # The line names a packet the device itself sent: it read it back from an ICMP error.
            causes.append("embedded-icmp")
        elif installs.completes_after(spi, source, line_order, ts):
            causes.append("spi-before-install")
        elif _nearest_distance(negotiations, ts) <= REKEY_WINDOW_S:
            causes.append("rekey-collision")
        elif "sent-by-peer" in r or "esp" in r:
            causes.append("stale-sa")
        else:
            causes.append("unexplained")
    bad["cause"] = causes
    return bad


def _nearest_distance(sorted_times: np.ndarray, t: float) -> float:
    if not len(sorted_times):
        return np.inf
    i = np.searchsorted(sorted_times, t)
    near = sorted_times[max(i - 1, 0):i + 1]
    return float(np.min(np.abs(near - t)))


def _chronological_order(events: pd.DataFrame) -> pd.Series:
    """Position of each line in time order within its file: the line number, negated for
    files written newest first (``get event``), so lines in the same second still sort."""
    order = events["line"].astype("int64").copy()
    for source, g in events.groupby("source"):
        t = g.sort_values("line")["time"].astype("int64").to_numpy()
        if len(t) > 1 and (np.diff(t) < 0).sum() > (np.diff(t) > 0).sum():
            order.loc[g.index] = -g["line"].astype("int64")
    return order


def _seen_by_capture(lines: pd.DataFrame, packets: pd.DataFrame) -> np.ndarray:
    """Lines about traffic the capture can see: their SPI occurs in it, or their
    addresses are IPsec/IKE endpoints (or quoted ones) in it."""
    ipsec = packets[packets["kind"] != "icmp-error"]
    icmp = packets[packets["kind"] == "icmp-error"]
    spis = set(ipsec["spi"].dropna()) | set(icmp["inner_spi"].dropna())
    addrs = set(ipsec["src"].dropna()) | set(ipsec["dst"].dropna()) | set(icmp["inner_src"].dropna()) \
        | set(icmp["inner_dst"].dropna())
    return (lines["spi"].isin(spis) | lines["src"].isin(addrs) | lines["dst"].isin(addrs)
            | lines["peer"].isin(addrs)).fillna(False).to_numpy(dtype=bool)


def _phase2_times(events: pd.DataFrame, packets: pd.DataFrame) -> np.ndarray:
    """When Phase 2 was negotiated: Phase 2 log lines and rekey exchanges in the capture."""
    p2 = events[events["kind"].isin(["p2-complete", "p2-initiated", "sa-rekeyed"])]["time"]
    ike = packets[(packets["kind"] == "ike") & packets["ike_exchange"].isin(P2_EXCHANGES)]["time"]
    times = pd.concat([p2, ike]).dropna()
    return np.sort(times.astype("int64").to_numpy() / 1e9)


class _Installs:
    """Phase 2 completions per SPI, to ask whether one follows a bad-SPI line."""

    def __init__(self, completes: pd.DataFrame):
        written = completes["time_device" if "time_device" in completes else "time"].astype("int64").to_numpy()
        table = pd.DataFrame({
            "spi": completes["spi"].to_numpy(), "t": completes["time"].astype("int64").to_numpy() / 1e9,
            # A whole-second stamp covers that whole second: within it, file order decides.
            "blur": np.where(written % 1_000_000_000 == 0, 1.0, 0.0),
            "source": completes["source"].to_numpy(), "order": completes["order"].to_numpy(),
        }).dropna(subset=["spi"])
        self.by_spi = {spi: g for spi, g in table.groupby("spi")}

    def completes_after(self, spi, source, line_order, ts: float) -> bool:
        """A Phase 2 with this SPI completes after the line, within INSTALL_WINDOW_S."""
        same = self.by_spi.get(spi) if pd.notna(spi) else None
        if same is None:
            return False
        dt = same["t"].to_numpy() - ts
        later_line = (same["source"].to_numpy() == source) & (same["order"].to_numpy() > line_order)
        after = (dt > 0) | (later_line & (dt > -same["blur"].to_numpy()))
        return bool((after & (dt <= INSTALL_WINDOW_S)).any())


def collision_evidence(packets: pd.DataFrame, local: set[str]) -> list[tuple[float, str]]:
    """Times when both sides started a Phase 2 rekey within COLLISION_WINDOW_S: (time, text)."""
    ike = packets[(packets["kind"] == "ike") & packets["ike_exchange"].isin(P2_EXCHANGES)]
    if ike.empty:
        return []
    requests = ike[ike["ike_response"].fillna(False) == False]  # noqa: E712 (nullable bool)
    if ike["ike_version"].eq(1).all():
        requests = ike  # IKEv1 has no response flag: every Quick Mode message counts
    requests = requests.sort_values("time")
    t = requests["time"].astype("int64").to_numpy() / 1e9
    src, dst = requests["src"].to_numpy(), requests["dst"].to_numpy()
    frame, exchange = requests["frame"].to_numpy(), requests["ike_exchange"].to_numpy()
    ends = np.searchsorted(t, t + COLLISION_WINDOW_S, side="right")
    out = []
    for i in range(len(t)):
        for j in range(i + 1, ends[i]):
            if src[i] != src[j] and dst[i] == src[j]:
                out.append((t[i], f"{exchange[i]} requests from {src[i]} and {src[j]} "
                                  f"{t[j] - t[i]:.2f} s apart (frames {frame[i]}, {frame[j]})"))
                break
    return out


def diagnose(lines: pd.DataFrame, matches: pd.DataFrame, packets: pd.DataFrame, local: set[str],
             clock_offset_s: float, options: DiagnoseOptions = DiagnoseOptions(),
             sas: pd.DataFrame | None = None) -> pd.DataFrame:
    """Findings: one row per (tunnel, cause) from the classified lines; see README.
    ``sas`` (an SA table) tells which SPIs are the device's own outbound ones."""
    outbound = set() if sas is None or sas.empty else set(sas.loc[sas["direction"] == "out", "spi"].dropna())
    findings = []
    for tunnel, group in lines.groupby("tunnel", sort=True) if len(lines) else []:
        findings.extend(_findings_for(tunnel, group, matches, packets, local, clock_offset_s, options, outbound))
    findings.extend(_capture_only(lines, packets, clock_offset_s, options))
    return pd.DataFrame(findings, columns=FINDING_COLUMNS)


def tunnel_keys(lines: pd.DataFrame, local: set[str]) -> np.ndarray:
    """A tunnel name per line: the tunnel ID where the log gives one, else the peer."""
    keys = []
    for tid, spi, src, dst, peer in zip(lines["tunnel_id"], lines["spi"], lines["src"], lines["dst"], lines["peer"]):
        remote = next((a for a in (peer, src, dst) if pd.notna(a) and a not in local), None)
        if pd.notna(tid):
            keys.append(f"tunnel 0x{int(tid):x}")
        elif remote:
            keys.append(f"peer {remote}")
        elif pd.notna(spi):
            keys.append(f"SPI 0x{int(spi):08x}")
        else:
            keys.append("unknown tunnel")
    return np.array(keys, dtype=object)


def _findings_for(tunnel, group, matches, packets, local, offset, options, outbound):
    spis = sorted({int(s) for s in group["spi"].dropna()})
    spi_list = ", ".join(f"0x{s:08x}" for s in spis)
    peer = _peer(group, local)
    ev_lines = lambda g: [f"{s}:{n}" for s, n in zip(g["source"], g["line"])][:20]  # noqa: E731
    base = dict(tunnel=tunnel, lines=len(group), lines_covered=int(group["covered"].sum()), spis=spi_list,
                peer=peer, clock_offset_s=offset, icmp_errors=0, expected_lines=0, windows_matched=0,
                routers="", icmp_codes="", first=group["time"].min(), last=group["time"].max())
    covered_lines = group[group["covered"]]
    covered_spis = sorted({int(s) for s in covered_lines["spi"].dropna()})
    out = []
    quoting = _quoting(packets, covered_spis, peer, local)
    by_cause = {c: g for c, g in covered_lines.groupby("cause")}

    # Embedded ICMP: confirmed both ways, or ruled out when the capture saw the tunnel.
    icmp_lines = by_cause.get("embedded-icmp")
    if icmp_lines is not None or (len(covered_lines) and len(quoting)):
        out.append(_embedded_icmp(base, covered_lines, icmp_lines, quoting, matches, local, options, ev_lines,
                                  covered_spis, outbound))
    elif len(covered_lines) and _sees_tunnel(packets, covered_spis, peer):
        covered_text = ", ".join(f"0x{s:08x}" for s in covered_spis)
        out.append({**base, "cause": "embedded-icmp", "verdict": "ruled-out", "lines_explained": 0,
                    "summary": f"The capture sees the tunnel's traffic while {len(covered_lines)} lines were logged, "
                               f"but no ICMP error quotes SPI {covered_text}.",
                    "evidence_frames": "", "evidence_lines": ", ".join(ev_lines(covered_lines)),
                    "display_filter": f"(icmp || icmpv6) && {_spi_filter(covered_spis)}", "action": ""})

    for cause in ("spi-before-install", "rekey-collision", "stale-sa", "unexplained"):
        g = by_cause.get(cause)
        if g is None:
            continue
        out.append(_other_cause(cause, base, g, covered_lines, matches, packets, local, ev_lines, spis))

    outside = group[~group["covered"]]
    if len(outside):
        reasons = "; ".join(f"{n} {why}" for why, n in outside["coverage"].value_counts().items())
        out.append({**base, "cause": "not-covered", "verdict": "not-covered", "lines_explained": 0,
                    "summary": f"{len(outside)} of {len(group)} lines are not covered by the capture ({reasons}; "
                               f"{_span_text(outside)}); they are neither confirmed nor ruled out.",
                    "evidence_frames": "", "evidence_lines": ", ".join(ev_lines(outside)),
                    "display_filter": "", "action": ACTIONS["not-covered"]})
    return out


def _embedded_icmp(base, covered_lines, icmp_lines, quoting, matches, local, options, ev_lines, spis, outbound):
    n_cov = len(covered_lines)
    n_icmp = 0 if icmp_lines is None else len(icmp_lines)
    times = quoting["time"].astype("int64").to_numpy() / 1e9
    expected = rate_limited(times, options.rate_limit_s)
    line_times = covered_lines["time"].astype("int64").to_numpy() / 1e9
    window = max(options.rate_limit_s, 0) + options.resolution_s + 2.0
    matched_windows = sum(bool(((line_times >= te - 2.0) & (line_times <= te + window)).any())
                          for te in times[expected])
    # The quoted packets are the device's own: sent from its address, or on SPIs its SA
    # table lists as outbound.
    own = bool(len(quoting)) and (quoting["inner_src"].isin(local).all() or (bool(spis) and set(spis) <= outbound))
    share_lines = n_icmp / n_cov if n_cov else 0.0
    share_windows = matched_windows / expected.sum() if expected.sum() else 0.0
    version_ok = _affected_version(options.screenos_version)
    if share_lines >= CONFIRM_LINES and share_windows >= CONFIRM_WINDOWS and own and version_ok is not False:
        verdict = "confirmed"
    elif n_icmp:
        verdict = "likely"
    else:
        verdict = "inconclusive"
    routers = sorted(set(quoting["src"].dropna()))
    codes = _icmp_code_text(quoting)
    mtus = sorted({int(m) for m in quoting["icmp_mtu"].dropna()})
    detail = _icmp_detail(quoting, routers, mtus)
    frames = matches[matches["event"].isin(icmp_lines.index) & (matches["role"] == "quoted-by-icmp")] \
        if icmp_lines is not None else matches.iloc[:0]
    summary = (f"{n_icmp} of {n_cov} covered lines match an ICMP error quoting the device's own SPI "
               f"{', '.join(f'0x{s:08x}' for s in spis)}"
               f" ({int((frames['key'] == 'spi+seq').groupby(frames['event']).any().sum()) if len(frames) else 0} "
               f"by SPI and sequence); {matched_windows} of {int(expected.sum())} ICMP rate-limit windows have a line; "
               f"{len(quoting)} ICMP errors from {', '.join(routers) or '-'} ({codes}).")
    if version_ok is False:
        summary += f" ScreenOS {options.screenos_version} should not log these (fixed in 5.4)."
    if not own and len(quoting):
        summary += " The quoted packets were not sent by an address known to be the device."
    return {**base, "cause": "embedded-icmp", "verdict": verdict, "summary": summary,
            "lines_explained": n_icmp, "icmp_errors": len(quoting), "expected_lines": int(expected.sum()),
            "windows_matched": int(matched_windows), "routers": ", ".join(routers), "icmp_codes": codes,
            "evidence_frames": _frames_text(frames), "evidence_lines": ", ".join(ev_lines(icmp_lines))
            if icmp_lines is not None else "",
            "display_filter": f"(icmp || icmpv6) && {_spi_filter(spis)}",
            "action": ACTIONS["embedded-icmp"].format(detail=detail)}


def _other_cause(cause, base, g, covered_lines, matches, packets, local, ev_lines, spis):
    n_cov, n = len(covered_lines), len(g)
    frames = matches[matches["event"].isin(g.index)]
    share = n / n_cov if n_cov else 0.0
    g_spis = sorted({int(s) for s in g["spi"].dropna()})
    spi_text = ", ".join(f"0x{s:08x}" for s in g_spis)
    verdict, summary, filt = "likely", "", _spi_filter(g_spis)
    if cause == "spi-before-install":
        small = bool((g["seq"].dropna() <= SMALL_SEQ).all()) if g["seq"].notna().any() else False
        verdict = "confirmed" if small and share >= CONFIRM_LINES else "likely"
        summary = (f"{n} of {n_cov} covered lines name SPI {spi_text} {'with small sequence numbers ' if small else ''}"
                   f"and a Phase 2 completing with that SPI follows within {INSTALL_WINDOW_S:.0f} s.")
        filt = f"{filt} || isakmp"
    elif cause == "rekey-collision":
        collisions = collision_evidence(packets, local)
        t = g["time"].astype("int64").to_numpy() / 1e9
        near = [text for ct, text in collisions if np.min(np.abs(t - ct)) <= REKEY_WINDOW_S]
        verdict = "confirmed" if near and share >= 0.5 else "likely"
        summary = (f"{n} of {n_cov} covered lines fall within {REKEY_WINDOW_S:.0f} s of a Phase 2 negotiation"
                   + (f"; both peers started it: {near[0]}" if near else "; no simultaneous start was seen") + ".")
        filt = f"isakmp || {filt}"
    elif cause == "stale-sa":
        peer_packets = packets[packets["kind"].isin(["esp", "ah", "esp-in-udp"]) & packets["spi"].isin(g_spis)
                               & packets["dst"].isin(local)]
        span = (peer_packets["time"].max() - peer_packets["time"].min()).total_seconds() if len(peer_packets) else 0.0
        verdict = "confirmed" if span >= STALE_MIN_SPAN_S and share >= CONFIRM_LINES else "likely"
        summary = (f"{n} of {n_cov} covered lines match ESP the peer kept sending on SPI {spi_text} "
                   f"({len(peer_packets)} packets over {span:.0f} s) with no ICMP error and no Phase 2 nearby.")
        filt = f"{filt} && !icmp && !icmpv6"
    elif cause == "unexplained":
        verdict = "inconclusive"
        summary = (f"{n} covered lines have no matching packet in the capture (no ESP, no ICMP quote, no "
                   f"Phase 2 nearby): the capture may be on the wrong side, filtered, or the clocks disagree.")
    return {**base, "cause": cause if cause != "unexplained" else "inconclusive", "verdict": verdict,
            "summary": summary, "lines_explained": n if cause != "unexplained" else 0,
            "evidence_frames": _frames_text(frames), "evidence_lines": ", ".join(ev_lines(g)),
            "display_filter": filt, "action": ACTIONS[cause]}


def _capture_only(lines, packets, offset, options):
    """ICMP errors quoting IPsec SPIs that no log line names: what the capture alone shows."""
    named = {int(s) for s in lines["spi"].dropna()} if len(lines) else set()
    icmp = packets[(packets["kind"] == "icmp-error") & packets["inner_spi"].notna()]
    out = []
    for spi, q in icmp.groupby("inner_spi", observed=True):
        if int(spi) in named:
            continue
        times = q["time"].astype("int64").to_numpy() / 1e9
        expected = int(rate_limited(times, options.rate_limit_s).sum())
        routers = sorted(set(q["src"].dropna()))
        mtus = sorted({int(m) for m in q["icmp_mtu"].dropna()})
        out.append({
            "tunnel": f"SPI 0x{int(spi):08x}", "cause": "embedded-icmp", "verdict": "inconclusive",
            "summary": (f"{len(q)} ICMP errors from {', '.join(routers)} ({_icmp_code_text(q)}) quote the device's "
                        f"packets on SPI 0x{int(spi):08x}, {_span_text(q)}. A device running ScreenOS < 5.4 "
                        f"would log about {expected} BAD SPI lines for them; give the event log to confirm."),
            "lines": 0, "lines_covered": 0, "lines_explained": 0, "icmp_errors": len(q), "expected_lines": expected,
            "windows_matched": 0, "spis": f"0x{int(spi):08x}", "peer": ", ".join(sorted(set(q["inner_dst"].dropna()))),
            "routers": ", ".join(routers), "icmp_codes": _icmp_code_text(q), "first": q["time"].min(),
            "last": q["time"].max(), "clock_offset_s": offset,
            "evidence_frames": _frames_text(q.assign(role="quoted-by-icmp")),
            "evidence_lines": "", "display_filter": f"(icmp || icmpv6) && esp.spi == 0x{int(spi):08x}",
            "action": ACTIONS["embedded-icmp"].format(detail=_icmp_detail(q, routers, mtus)),
        })
    return out


def _quoting(packets, spis, peer, local) -> pd.DataFrame:
    """ICMP errors quoting the tunnel: by SPI, or by the device -> peer address pair when
    the quote stops before the SPI (NAT-T quotes of 8 bytes)."""
    icmp = packets[packets["kind"] == "icmp-error"]
    by_spi = icmp["inner_spi"].isin(spis)
    by_pair = icmp["inner_spi"].isna() & icmp["inner_src"].isin(local) & icmp["inner_dst"].eq(peer) \
        & (icmp["inner_proto"].isin([50, 51]) | icmp["inner_dport"].eq(4500) | icmp["inner_sport"].eq(4500))
    return icmp[(by_spi | by_pair.fillna(False)).to_numpy(dtype=bool)]


def _sees_tunnel(packets, spis, peer) -> bool:
    ipsec = packets[packets["kind"].isin(["esp", "ah", "esp-in-udp"])]
    return bool(ipsec["spi"].isin(spis).any() or (peer and (ipsec["src"].eq(peer) | ipsec["dst"].eq(peer)).any()))


def _peer(group, local) -> str:
    addrs = [a for a in pd.concat([group["peer"], group["src"], group["dst"]]).dropna() if a not in local]
    # the most frequent; a tie goes to the first seen (a set's order changes from process to process)
    return Counter(addrs).most_common(1)[0][0] if addrs else ""


def _affected_version(version: str | None):
    """True for ScreenOS < 5.4, False for 5.4+, None when unknown."""
    if not version:
        return None
    import re
    m = re.match(r"(\d+)\.(\d+)", version)
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2))) < (5, 4)


def _icmp_code_text(q: pd.DataFrame) -> str:
    names = {(3, 0): "net unreachable", (3, 1): "host unreachable", (3, 3): "port unreachable",
             (3, 4): "fragmentation needed", (3, 13): "administratively prohibited", (11, 0): "TTL exceeded",
             (1, 0): "no route (ICMPv6)", (1, 1): "administratively prohibited (ICMPv6)",
             (1, 3): "address unreachable (ICMPv6)", (2, 0): "packet too big (ICMPv6)"}
    parts = []
    for (t, c, m), n in q.groupby(["icmp_type", "icmp_code", "icmp_mtu"], dropna=False, observed=True).size().items():
        label = names.get((int(t), int(c)), f"type {int(t)} code {int(c)}")
        if pd.notna(m):
            label += f", MTU {int(m)}"
        parts.append(f"{n}x {label}")
    return "; ".join(parts)


def _icmp_detail(q, routers, mtus) -> str:
    if q.empty:
        return ""
    span = _span_text(q)
    if mtus:
        return (f": router {', '.join(routers)} reports a path MTU of {', '.join(map(str, mtus))} bytes ({span}); "
                f"lower the tunnel MTU / TCP MSS or clear DF so the ESP packets fit")
    return f": router {', '.join(routers)} could not deliver the device's ESP packets to the peer ({span})"


def _span_text(df: pd.DataFrame) -> str:
    a, b = df["time"].min(), df["time"].max()
    fmt = "%Y-%m-%d %H:%M:%S"
    return f"from {a.strftime(fmt)} to {b.strftime(fmt)} UTC"


def _frames_text(frames: pd.DataFrame, limit: int = 12) -> str:
    if frames.empty:
        return ""
    f = frames.drop_duplicates(["capture", "frame"]).head(limit)
    return ", ".join(f"{c}#{int(n)}" for c, n in zip(f["capture"], f["frame"]))


def _spi_filter(spis) -> str:
    if not spis:
        return "esp"
    if len(spis) == 1:
        return f"esp.spi == 0x{spis[0]:08x}"
    return "esp.spi in {" + " ".join(f"0x{s:08x}" for s in spis) + "}"
