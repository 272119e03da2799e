"""What every report format shows, made from the typed tables: the verdict line, per
finding its summary, lines, evidence pairs, filter and action.  Prose is made here (and
in the cause modules' ``describe``), never parsed back."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .. import causes
from ..clock import signed, utc_offset_text
from .. import masks
from ..notation import spi_text
from ..vendors import SCREENOS_COLLECT, profile

VERDICT_ORDER = {"confirmed": 0, "likely": 1, "ruled-out": 2, "inconclusive": 3, "not-covered": 4}
KEY_TEXT = {"spi+seq": "same SPI and SEQ", "spi": "same SPI only", "tuple": "same addresses (no SPI quoted)",
            "phase2-order": "Phase 2 completes after it", "negotiation": "Phase 2 negotiation nearby"}
COVERAGE_TEXT = {"tunnel not seen in the capture": "on a tunnel the capture does not see"}
DT_EXPLAINED = "dt = packet time minus the line's time, both on the capture clock"


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


def plural(n, word: str, many: str | None = None) -> str:
    """'1 line', '2 lines', '0 lines'."""
    n = int(n or 0)
    return f"{n} {word if n == 1 else (many or word + 's')}"


def records(findings: pd.DataFrame) -> list[dict]:
    """The findings as plain dicts (None for nulls, lists for list columns, pd.Timestamp for
    times), in report order: per tunnel, strongest verdict first."""
    if findings.empty:
        return []
    rows = pa.Table.from_pandas(findings, preserve_index=False).to_pylist()
    # sorted here, not with pandas: a few rows (nulls last, as sort_values puts them)
    rows.sort(key=lambda r: (r["tunnel"] is None, r["tunnel"] or "", VERDICT_ORDER.get(r["verdict"], 9),
                             r["cause"] is None, r["cause"] or ""))
    for r in rows:
        for k in ("first", "last"):
            if r.get(k) is not None:
                r[k] = pd.Timestamp(r[k])
    return rows


def by_tunnel(findings: pd.DataFrame) -> list[tuple[str, list[dict]]]:
    """[(tunnel, its findings)], one heading per tunnel."""
    out: dict[str, list[dict]] = {}
    for r in records(findings):
        out.setdefault(r["tunnel"], []).append(r)
    return list(out.items())


def headline(findings: pd.DataFrame) -> str:
    """Every cause of every tunnel, with its line count:
    'tunnel 0x7: embedded-icmp CONFIRMED (2 lines), stale-sa CONFIRMED (2 lines)'."""
    parts = []
    for tunnel, rows in by_tunnel(findings):
        items = [f"{r['cause']} {r['verdict'].upper()} ({plural(r['lines_explained'], 'line')})"
                 for r in rows if r["verdict"] in ("confirmed", "likely")]
        items += [f"{plural(len(r['event_ids']), 'line')} unexplained"
                  for r in rows if r["cause"] == causes.UNEXPLAINED]
        items += [f"not covered by the capture ({plural(len(r['event_ids']), 'line')})"
                  for r in rows if r["cause"] == causes.NOT_COVERED]
        if not items and any(r["lines"] == 0 for r in rows):
            items = [f"{r['cause']} {r['verdict'].upper()} (no log line)" for r in rows]
        if not items:
            items = [f"{r['cause']} {r['verdict'].upper()}" for r in rows]
        parts.append(f"{tunnel}: {', '.join(items)}")
    return "; ".join(parts)


def summary(f: dict) -> str:
    """The finding's one-paragraph summary."""
    if f["cause"] == causes.NOT_COVERED:
        reasons = "; ".join(f"{plural(g['lines'], 'line')} {COVERAGE_TEXT.get(g['reason'], g['reason'])}"
                            for g in f["not_covered"] or [])
        n = len(f["event_ids"])
        return (f"{plural(n, 'line')} of the tunnel {'is' if n == 1 else 'are'} not covered by the capture "
                f"({reasons}; {span_text(f)}); {'it is' if n == 1 else 'they are'} neither confirmed nor ruled out.")
    if f["cause"] == causes.UNEXPLAINED:
        n = len(f["event_ids"])
        return (f"{plural(n, 'covered line')} {'has' if n == 1 else 'have'} no explanation in the capture (no "
                f"packet with the line's SPI, no ICMP error quoting it, no Phase 2 nearby): the capture may be on the "
                f"wrong side or filtered, or the clocks disagree.")
    module = causes.by_name(f["cause"])
    if module is not None and hasattr(module, "describe"):
        return module.describe(f)
    return f"{f['lines_explained']} of {plural(f['lines_covered'], 'covered line')} explained."


def action(f: dict) -> str:
    """What to do, in the commands of the vendor that wrote the lines."""
    prof = profile(f["vendor"])
    if f["verdict"] == "ruled-out":
        return ""
    if f["cause"] == causes.UNEXPLAINED:
        return "Collect: " + "; ".join(prof.collect or SCREENOS_COLLECT) + "."
    if f["cause"] == causes.NOT_COVERED:
        return ("To check these lines, capture again while they occur, and collect: "
                + "; ".join((prof.collect or SCREENOS_COLLECT)[:6]) + ".")
    if f["cause"] == "embedded-icmp":
        return _embedded_icmp_action(f, prof)
    return prof.action(f["cause"])


def _embedded_icmp_action(f: dict, prof) -> str:
    detail = icmp_detail(f)
    if not f["lines"]:
        return ("ScreenOS before 5.4 logs ICMP errors like these as packets with a bad SPI (KB10091); give the "
                f"device's log to see whether it does. Either way, fix what the router reports{detail}.")
    if prof.key != "screenos":
        return prof.action("embedded-icmp").format(detail=detail)
    if f["version_affected"] is None:
        return (f"The ScreenOS version is unknown: `{prof.version_command}` shows it (Software Version). ScreenOS "
                f"before 5.4 logs ICMP errors that quote its own ESP/AH packets as packets with a bad SPI (KB10091): "
                f"if it is older, upgrade to 5.4 or later. Either way, fix what the router reports{detail}.")
    if f["version_affected"] is False:
        return (f"ScreenOS {f['version']} is documented not to log these (fixed in 5.4): collect "
                + "; ".join(prof.collect) + f", and open a case. Fix what the router reports{detail}.")
    return prof.action("embedded-icmp").format(detail=detail)


def icmp_text(f: dict) -> str:
    names = {(3, 0): "net unreachable", (3, 1): "host unreachable", (3, 3): "port unreachable",
             (3, 4): "fragmentation needed", (3, 13): "administratively prohibited", (11, 0): "TTL exceeded",
             (1, 0): "no route (ICMPv6)", (1, 1): "administratively prohibited (ICMPv6)",
             (1, 3): "address unreachable (ICMPv6)", (2, 0): "packet too big (ICMPv6)"}
    parts = []
    for g in f["icmp"] or []:
        label = names.get((g["type"], g["code"]), f"type {g['type']} code {g['code']}")
        if g["mtu"] is not None:
            label += f", MTU {g['mtu']}"
        parts.append(f"{g['count']}x {label}")
    return "; ".join(parts)


def icmp_detail(f: dict) -> str:
    routers = ", ".join(f["routers"] or [])
    if not f["icmp_errors"]:
        return ""
    mtus = sorted({g["mtu"] for g in f["icmp"] or [] if g["mtu"] is not None})
    if mtus:
        return (f": router {routers} reports a path MTU of {', '.join(map(str, mtus))} bytes; lower the tunnel MTU "
                f"/ TCP MSS or clear DF so the ESP packets fit")
    return f": router {routers} could not deliver the device's ESP packets to the peer"


def span_text(f: dict) -> str:
    a, b = f["first"], f["last"]
    if a is None:
        return "no time"
    fmt = "%Y-%m-%d %H:%M:%S"
    return f"from {a.strftime(fmt)} to {b.strftime(fmt)} UTC, capture clock"


# ---------------------------------------------------------------- lines and evidence

def finding_lines(analysis, f: dict) -> pd.DataFrame:
    """The log lines a finding speaks about (by event id)."""
    ids = [i for i in f["event_ids"] or [] if i in analysis.lines.index]
    return analysis.lines.loc[ids]


def device_time(line) -> str:
    """'21:06:03 device (UTC+01:00)': as the device wrote it, with its zone."""
    local, utc = line["time_local"], line["time_device"]
    if local is None or pd.isna(local):
        return "-"
    text = pd.Timestamp(local).strftime("%H:%M:%S")
    if utc is None or pd.isna(utc):
        return f"{text} device"
    zone = (pd.Timestamp(local) - pd.Timestamp(utc).tz_localize(None)).total_seconds()
    return f"{text} device ({utc_offset_text(round(zone / 60) * 60)})"


def utc_time(t) -> str:
    """'20:05:26.334 UTC'."""
    if t is None or pd.isna(t):
        return "-"
    return pd.Timestamp(t).strftime("%H:%M:%S.%f")[:-3] + " UTC"


def evidence_pairs(analysis, f: dict, limit: int = 3) -> pd.DataFrame:
    """Up to ``limit`` log line <-> packet pairs for a finding, exact proofs first."""
    cols = ["source", "line", "device_time", "line_spi", "line_seq", "capture", "frame", "packet_time", "what",
            "dt", "key"]
    lines = finding_lines(analysis, f)
    if lines.empty or f["cause"] in (causes.NOT_COVERED, causes.UNEXPLAINED) or f["verdict"] == "ruled-out":
        return pd.DataFrame(columns=cols)
    lines = lines.assign(_x=~lines["exact"].fillna(False).astype(bool)).sort_values(["_x", "time"], kind="stable")
    # Each line's first proof frame; the first ``limit`` lines whose frame is in the capture.
    firsts = [(fr[0]["capture"], int(fr[0]["frame"])) if fr is not None and len(fr) else None
              for fr in lines["frames"]]
    at = masks.frame_positions(analysis.packets, {k for k in firsts if k is not None})
    chosen = [i for i, k in enumerate(firsts) if k in at][:limit]
    wanted = sorted(at[firsts[i]] for i in chosen)
    by_position = dict(zip(wanted, (p for _, p in masks.rows_at(analysis.packets, wanted).iterrows())))
    packets = [by_position[at[firsts[i]]] for i in chosen]
    m = analysis.matches
    m = m[m["event_id"].isin(lines["event_id"].iloc[chosen])]
    dts = {(int(e), c, int(n)): d for e, c, n, d in zip(m["event_id"], m["capture"], m["frame"], m["dt"])}
    rows = []
    for i, p in zip(chosen, packets):
        ln, (cap, num) = lines.iloc[i], firsts[i]
        d = dts.get((int(ln["event_id"]), cap, num))
        if d is None:
            d = (p["time"] - ln["time"]).total_seconds()
        rows.append({
            "source": ln["source"], "line": int(ln["line"]), "device_time": device_time(ln),
            "line_spi": spi_text(ln["spi"]), "line_seq": None if pd.isna(ln["seq"]) else f"0x{int(ln['seq']):x}",
            "capture": cap, "frame": num, "packet_time": p["time"], "what": describe_packet(p), "dt": float(d),
            "key": KEY_TEXT.get(ln["proof"], ln["proof"]),
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
    names = [Path(s).name for s in analysis.events["source"].unique()]
    name = Path(source).name
    return name if names.count(name) <= 1 else source


def frames_by_capture(f: dict) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for e in f["evidence"] or []:
        out.setdefault(e["capture"], []).append(int(e["frame"]))
    return out


# ---------------------------------------------------------------- header facts

def clock_lines(analysis) -> list[str]:
    """The clock offset in words, then what the times in the report mean (said once)."""
    off = analysis.clock_offset
    if off.method == "assumed":
        first = "no line matched a packet: the clocks are assumed to agree (give --clock-offset if they do not)"
    else:
        ahead = "ahead of" if off.seconds >= 0 else "behind"
        first = f"the device's clock is {signed(abs(off.seconds))[1:]} {ahead} the capture's"
        if off.method == "given":
            first += " (given with --clock-offset)"
        else:
            how = {"spi+seq": "exact SPI+SEQ pair", "spi": "SPI-only pair", "icmp-times": "ICMP error time"}
            first += (f" (estimated from {off.matches} of {plural(off.candidates, how.get(off.method, off.method))}"
                      f" agreeing within {off.spread:.1f} s)")
    return [first, "device times are as the device wrote them, in its zone; packet times are UTC; " + DT_EXPLAINED]


def vendor_lines(analysis) -> list[str]:
    """Per vendor whose lines are in the log: its name and version (or the command that shows it)."""
    out = []
    for prof in analysis.vendors:
        version = analysis.options.screenos_version if prof.key == "screenos" else None
        out.append(f"{prof.name} {version}" if version else
                   f"{prof.name}, version unknown (`{prof.version_command}` shows it)")
    return out


def now_utc() -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
