"""The analysis as Markdown (``--format markdown``), for tickets and wikis.

Text from logs and packets is escaped so it cannot turn into markup or HTML."""
from __future__ import annotations

import html
import re

from .common import damage_headline, evidence_pairs, line_label
from .text import VERDICT_ORDER, clean

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|])")


def md(value) -> str:
    """Escape text for Markdown: HTML entities first, then Markdown punctuation."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(clean(value), quote=False))


def render_markdown(analysis, evidence: int = 3) -> str:
    out = ["# Bad SPI analysis", ""]
    out.append("| input | details |")
    out.append("|---|---|")
    for r in analysis.captures:
        out.append(f"| capture {md(r.capture)} | {r.counts.frames} frames, {md(r.first_time)} .. {md(r.last_time)} UTC |")
    if len(analysis.events):
        for source, n in analysis.events["source"].value_counts(sort=False).items():
            out.append(f"| log {md(line_label(analysis, source))} | {n} events |")
        out.append(f"| clock offset | {md(analysis.clock_offset.describe())} |")
    out.append(f"| device | {md(', '.join(analysis.local_addresses) or '-')} |")
    warnings = damage_headline(analysis)
    if warnings:
        out += ["", f"> **Warning:** {md(warnings[0])}"] + [f"> - {md(w)}" for w in warnings[1:]]
    order = analysis.findings.assign(_o=analysis.findings["verdict"].map(VERDICT_ORDER)).sort_values(["tunnel", "_o"])
    for _, f in order.iterrows():
        out += ["", f"## {md(f['tunnel'])}: {md(f['cause'])} — **{md(f['verdict'])}**", "", md(f["summary"])]
        pairs = evidence_pairs(analysis, f, evidence)
        if len(pairs):
            out += ["", "| log line | SPI / SEQ | frame | packet | dt |", "|---|---|---|---|---|"]
            for p in pairs.itertuples():
                out.append(f"| {md(line_label(analysis, p.source))}:{p.line} {md(p.line_time)} | {md(p.line_spi)} / "
                           f"{md(p.line_seq)} | {md(p.capture)}#{p.frame} | {md(p.what)} | {p.dt:+.1f} s |")
        if f["display_filter"]:
            out += ["", f"Wireshark filter: `{f['display_filter'].replace('`', '')}`"]
        if f["action"]:
            out += ["", f"**Action:** {md(f['action'])}"]
    if analysis.skipped:
        out += ["", "## Warnings", ""] + [f"- {md(s)}" for s in analysis.skipped]
    return "\n".join(out) + "\n"
