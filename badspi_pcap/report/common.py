"""What every report format shows: per finding, its lines and the packets that prove it."""
from __future__ import annotations

import pandas as pd

from ..summary import spi_text


DAMAGE_SHOWN = 5  # damaged-input warnings repeated at the top of a report


def damage_counts(analysis) -> dict[str, int]:
    """Input name -> how many damaged parts of it were skipped."""
    counts: dict[str, int] = {}
    for s in analysis.skipped:
        counts[s.source] = counts.get(s.source, 0) + 1
    return counts


def damage_headline(analysis) -> list[str]:
    """For the top of a report: a sentence, then the first warnings (all are listed at
    the end); empty when nothing was damaged."""
    skipped = analysis.skipped
    if not skipped:
        return []
    head = [f"{len(skipped)} damaged part(s) of the input skipped: the verdicts cover only what could be read"]
    head += [str(s) for s in skipped[:DAMAGE_SHOWN]]
    if len(skipped) > DAMAGE_SHOWN:
        head.append(f"... {len(skipped) - DAMAGE_SHOWN} more at the end")
    return head


def finding_lines(analysis, finding) -> pd.DataFrame:
    """The log lines a finding speaks about."""
    lines = analysis.lines
    if lines.empty or not str(finding["tunnel"]).startswith(("tunnel", "peer", "SPI", "unknown")):
        return lines.iloc[:0]
    mine = lines[lines["tunnel"] == finding["tunnel"]]
    if finding["cause"] == "not-covered":
        return mine[~mine["covered"]]
    if finding["verdict"] == "ruled-out":
        return mine[mine["covered"]]
    cause = "unexplained" if finding["cause"] == "inconclusive" else finding["cause"]
    return mine[mine["covered"] & (mine["cause"] == cause)]


def evidence_pairs(analysis, finding, limit: int = 3) -> pd.DataFrame:
    """Up to ``limit`` log line <-> frame pairs for a finding, best matches first."""
    lines = finding_lines(analysis, finding)
    cols = ["source", "line", "line_time", "line_spi", "line_seq", "capture", "frame", "packet_time", "what",
            "dt", "key"]
    if lines.empty or analysis.matches.empty:
        return pd.DataFrame(columns=cols)
    m = analysis.matches[analysis.matches["event"].isin(lines.index)]
    if finding["cause"] == "embedded-icmp":
        m = m[m["role"] == "quoted-by-icmp"]
    m = m.assign(rank=m["key"].map({"spi+seq": 0, "spi": 1, "tuple": 2}))
    m = m.sort_values(["rank", "event"]).drop_duplicates("event").head(limit)
    packets = analysis.packets.set_index(["capture", "frame"])
    rows = []
    for r in m.itertuples():
        ev = analysis.events.loc[r.event]
        p = packets.loc[(r.capture, r.frame)]
        rows.append({
            "source": ev["source"], "line": ev["line"], "line_time": ev["time_local"],
            "line_spi": spi_text(ev["spi"]), "line_seq": None if pd.isna(ev["seq"]) else f"0x{int(ev['seq']):x}",
            "capture": r.capture, "frame": r.frame, "packet_time": p["time"], "what": describe_packet(p),
            "dt": r.dt, "key": r.key,
        })
    return pd.DataFrame(rows, columns=cols)


def describe_packet(p) -> str:
    """One phrase for a packets-table row."""
    if p["kind"] == "icmp-error":
        mtu = f" MTU {int(p['icmp_mtu'])}" if pd.notna(p["icmp_mtu"]) else ""
        quoted = f"SPI {spi_text(p['inner_spi'])} seq {p['inner_seq']}" if pd.notna(p["inner_spi"]) else \
            f"proto {p['inner_proto']}"
        return (f"ICMP{'v6' if p['ip_version'] == 6 else ''} {p['icmp_type']}/{p['icmp_code']}{mtu} "
                f"{p['src']} -> {p['dst']} quoting {p['inner_src']} -> {p['inner_dst']} {quoted}")
    if p["kind"] == "ike":
        return f"IKEv{p['ike_version']} {p['ike_exchange']} {p['src']} -> {p['dst']}"
    return f"{p['kind'].upper()} {p['src']} -> {p['dst']} SPI {spi_text(p['spi'])} seq {p['seq']}"


def line_label(analysis, source: str) -> str:
    """File names are enough in a report unless two logs share one."""
    from pathlib import Path
    names = [Path(s).name for s in analysis.events["source"].unique()]
    name = Path(source).name
    return name if names.count(name) <= 1 else source
