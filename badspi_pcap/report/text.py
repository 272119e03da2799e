"""Plain-text tables that paste cleanly into a case note (no box-drawing characters)."""
from __future__ import annotations

import pandas as pd

from ..errors import CONTROL as _CONTROL


def clean(value) -> str:
    """Text safe for a terminal: control characters (escape sequences too) become '?'."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return _CONTROL.sub("?", str(value)).replace("\n", " ").replace("\t", " ")


def format_table(df: pd.DataFrame, *, max_width: int = 60, right: tuple[str, ...] = ()) -> str:
    """Render ``df`` as aligned columns; cells longer than ``max_width`` are cut with '…'.

    Numeric columns and the columns named in ``right`` are right-aligned.
    """
    if df.empty:
        return "(none)"
    headers = [str(c) for c in df.columns]
    cells = [[_cut(clean(v), max_width) for v in row] for row in df.itertuples(index=False, name=None)]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    align_right = [c in right or pd.api.types.is_numeric_dtype(df[c].dtype) for c in df.columns]

    def line(values):
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, align_right)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


VERDICT_ORDER = {"confirmed": 0, "likely": 1, "ruled-out": 2, "inconclusive": 3, "not-covered": 4}


def headline(findings) -> str:
    """Per tunnel, its strongest finding: 'tunnel 0x9a: embedded-icmp CONFIRMED; ...'."""
    ranked = findings.assign(_o=findings["verdict"].map(VERDICT_ORDER)).sort_values(["tunnel", "_o"])
    parts = []
    for tunnel, g in ranked.groupby("tunnel", sort=True):
        best = g.iloc[0]
        what = "not covered by the capture" if best["verdict"] == "not-covered" else \
            f"{best['cause']} {best['verdict'].upper()}"
        parts.append(f"{tunnel}: {what}")
    return "; ".join(parts)


def render_analysis(analysis, *, evidence: int = 3) -> str:
    """The case-note report: inputs, clock offset, then one block per finding.  File names
    and log text are customers' bytes: no control character reaches the terminal."""
    from .common import damage_counts, damage_headline, evidence_pairs, line_label

    out = []
    damaged = damage_counts(analysis)
    for r in analysis.captures:
        span = f"{clean(r.first_time)} .. {clean(r.last_time)} UTC" if r.first_time is not None else "no packets"
        out.append(f"Capture  {r.capture}: {r.counts.frames} frames, {span}, {len(r.packets)} IPsec-relevant"
                   + _damaged(damaged.get(r.capture)))
    ev = analysis.events
    if len(ev):
        bad = ev["kind"].isin(["bad-spi", "replay"]).sum()
        for source, n in ev["source"].value_counts(sort=False).items():
            out.append(f"Log      {line_label(analysis, source)}: {n} events" + _damaged(damaged.get(source)))
        out.append(f"         {bad} bad-SPI/replay lines; {analysis.unparsed_lines} lines not recognised")
        for note in analysis.log_notes:
            out.append(f"         note: {clean(note)}")
        out.append(f"Clock    offset {analysis.clock_offset.describe()}")
    else:
        out.append("Log      none given: what the capture alone shows")
    for i, warning in enumerate(damage_headline(analysis)):
        out.append(("Warning  " if i == 0 else "         ") + clean(warning))
    out.append(f"Device   {', '.join(analysis.local_addresses) or 'address not identified'}"
               + (f"; ScreenOS {analysis.options.screenos_version}" if analysis.options.screenos_version else ""))
    findings = analysis.findings
    if len(findings):
        out.append(f"Verdict  {headline(findings)}")
    if not len(ev):
        out.extend(_capture_overview(analysis))
    if findings.empty:
        out.append("")
        out.append("No bad-SPI lines and no ICMP errors quoting IPsec packets: nothing to explain.")
    order = findings.assign(_o=findings["verdict"].map(VERDICT_ORDER)).sort_values(["tunnel", "_o"])
    for _, f in order.iterrows():
        out.append("")
        out.append(f"{f['tunnel']}: {f['cause']} -- {f['verdict'].upper()}")
        out.append(f"  {clean(f['summary'])}")
        pairs = evidence_pairs(analysis, f, evidence)
        for p in pairs.itertuples():
            out.append(f"  {line_label(analysis, p.source)}:{p.line} {clean(p.line_time)[:19]} SPI {p.line_spi} "
                       f"SEQ {p.line_seq}  <->  {p.capture}#{p.frame} {clean(p.packet_time)} {clean(p.what)} "
                       f"(dt {p.dt:+.1f} s, {p.key})")
        if f["display_filter"]:
            out.append(f"  Wireshark: {f['display_filter']}")
        if f["action"]:
            out.append(f"  Action: {clean(f['action'])}")
    for s in analysis.skipped:
        out.append(f"warning: {clean(s)}")
    return _CONTROL.sub("?", "\n".join(out))


def _damaged(count: int | None) -> str:
    return f", {count} damaged part(s) skipped (see warnings)" if count else ""


def _capture_overview(analysis) -> list[str]:
    """Without a log: the SAs the capture shows and the Phase 2 negotiations (rekeys)."""
    from ..summary import phase2_exchanges, sa_summary, spi_text

    out = []
    sas = sa_summary(analysis.packets)
    if len(sas):
        sas["spi"] = sas["spi"].map(spi_text)
        out += ["", "SAs seen (times UTC):", format_table(sas[["spi", "kind", "src", "dst", "packets", "first", "last",
                                                                  "seq_first", "seq_last", "icmp_quoting"]])]
    p2 = phase2_exchanges(analysis.packets)
    if len(p2):
        out += ["", "Phase 2 negotiations (rekeys) seen:", format_table(p2)]
    return out
