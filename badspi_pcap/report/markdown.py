"""The analysis as Markdown (``--format markdown``), for tickets and wikis.

Text from logs and packets is made inert without backslash clutter: in table cells and
prose only the characters that would start markup (``<``, ``&``, ``|``, ``` ` ```, and
``*``/``_``/``[`` next to a word) are escaped; filters and commands go in code spans."""
from __future__ import annotations

import re

from .common import (action, by_tunnel, clock_lines, damage_headline, evidence_pairs, headline, line_label,
                     plural, summary, utc_time, vendor_lines)
from .text import clean

_MARKUP = re.compile(r"([\\`*_\[\]|])")


def md(value) -> str:
    """Text from data, safe in Markdown prose and table cells: HTML entities for < > &,
    a backslash only before characters that are Markdown syntax."""
    return _MARKUP.sub(r"\\\1", _entities(clean(value)))


def _entities(text: str) -> str:
    """& and < only: they are what would start HTML; '>' inside a line is plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def prose(value) -> str:
    """The tool's own sentences (summaries, actions): their `code spans` stay code,
    the rest gets HTML entities for < > & only."""
    parts = clean(value).split("`")
    return "".join(f"`{p}`" if i % 2 else _entities(p) for i, p in enumerate(parts))


def code(value) -> str:
    """A code span that survives any backticks inside."""
    text = clean(value)
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def render_markdown(analysis, evidence: int = 3) -> str:
    out = ["# Bad SPI analysis", ""]
    if len(analysis.findings):
        out += [f"**Verdict:** {md(headline(analysis.findings))}", ""]
    out.append("| input | details |")
    out.append("|---|---|")
    for r in analysis.captures:
        out.append(f"| capture {md(r.capture)} | {plural(r.counts.frames, 'frame')}, {md(r.first_time)} .. "
                   f"{md(r.last_time)} UTC |")
    if len(analysis.events):
        for source, n in analysis.events["source"].value_counts(sort=False).items():
            out.append(f"| log {md(line_label(analysis, source))} | {plural(n, 'event')} |")
        for text in vendor_lines(analysis):
            out.append(f"| device | {prose(text)} |")
        first, second = clock_lines(analysis)
        out.append(f"| clock | {md(first)} |")
        for note in analysis.clock_notes:
            out.append(f"| clock {note.label} | {md(note.text)} |")
    out.append(f"| device address | {md(', '.join(analysis.local_addresses) or '-')} |")
    warnings = damage_headline(analysis)
    if warnings:
        out += ["", f"> **Warning:** {md(warnings[0])}"] + [f"> - {md(w)}" for w in warnings[1:]]
    if len(analysis.events):
        out += ["", md(clock_lines(analysis)[1]) + "."]
    for tunnel, rows in by_tunnel(analysis.findings):
        out += ["", f"## {md(tunnel)}"]
        for f in rows:
            explains = f", explains {f['lines_explained']} of {plural(f['lines_covered'], 'covered line')}" \
                if f["lines"] and f["cause"] not in ("not-covered", "unexplained") and f["verdict"] != "ruled-out" \
                else ""
            out += ["", f"### {md(f['cause'])}: **{md(f['verdict'].upper())}**{explains}", "", prose(summary(f))]
            pairs = evidence_pairs(analysis, f, evidence)
            if len(pairs):
                out += ["", "| log line | written | SPI / SEQ | frame | packet (UTC) | dt |",
                        "|---|---|---|---|---|---|"]
                for p in pairs.itertuples():
                    out.append(f"| {md(line_label(analysis, p.source))}:{p.line} | {md(p.device_time)} | "
                               f"{md(p.line_spi)} / {md(p.line_seq)} | {md(p.capture)}#{p.frame} | "
                               f"{md(utc_time(p.packet_time))} {md(p.what)} | {p.dt:+.1f} s |")
            if f["display_filter"]:
                out += ["", f"Wireshark filter: {code(f['display_filter'])}"]
            text = action(f)
            if text:
                out += ["", f"**Action:** {prose(text)}"]
    if analysis.skipped:
        out += ["", "## Warnings", ""] + [f"- {md(s)}" for s in analysis.skipped]
    return "\n".join(out) + "\n"
