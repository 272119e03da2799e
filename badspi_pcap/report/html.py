"""The analysis as one self-contained HTML file (``badspi analyze --report case.html``)
and as a notebook cell (``Analysis._repr_html_``).

The file fetches nothing: the plots are PNG data URIs, the style is inline, and a
Content-Security-Policy forbids scripts and any network access, so it can be attached to
a case and opened offline.  Every value taken from logs, packets, file names or the
command line goes through ``esc`` (HTML-escaped, control characters removed); the policy
is a second line of defence, not the first.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import shlex
from pathlib import Path

import pandas as pd

from .common import (VERDICT_ORDER, action, by_tunnel, clock_lines, evidence_pairs, frames_by_capture, headline,
                     line_label, records, summary, utc_time, vendor_lines)
from .text import clean
from ..notation import spi_text, spi_texts

NO_MATPLOTLIB = "no plots: matplotlib is not installed (pip install 'badspi_pcap[notebook]')"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
MAX_TUNNEL_PLOTS = 6

STYLE = """
.badspi { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; font-size: 14px;
  line-height: 1.45; color: #1b1b1b; max-width: 1240px; }
.badspi h1 { font-size: 1.6em; margin: 0.2em 0 0.4em; }
.badspi h2 { font-size: 1.25em; margin: 1.4em 0 0.5em; border-bottom: 1px solid #ccc; padding-bottom: 0.15em; }
.badspi h3 { font-size: 1.08em; margin: 1.1em 0 0.4em; }
.badspi h4 { font-size: 1em; margin: 0.5em 0 0.3em; }
.badspi table { border-collapse: collapse; margin: 0.4em 0 0.8em; }
.badspi th, .badspi td { border: 1px solid #d4d4d4; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
.badspi th { background: #f3f3f3; font-weight: 600; }
.badspi td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badspi code, .badspi pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
.badspi pre { background: #f6f6f6; border: 1px solid #e0e0e0; padding: 0.5em 0.7em; white-space: pre-wrap;
  word-break: break-all; }
.badspi .verdict { display: inline-block; padding: 0.05em 0.55em; border-radius: 0.8em; font-weight: 700;
  font-size: 0.85em; letter-spacing: 0.03em; text-transform: uppercase; color: #fff; }
.badspi .v-confirmed { background: #b3261e; } .badspi .v-likely { background: #c26a00; }
.badspi .v-ruled-out { background: #2e7d32; } .badspi .v-inconclusive { background: #5c6b7a; }
.badspi .v-not-covered { background: #9e9e9e; }
.badspi .headline { font-size: 1.2em; padding: 0.6em 0.9em; border-left: 6px solid #b3261e; background: #fbf1f0;
  margin: 0.6em 0 1em; }
.badspi .headline.none { border-color: #5c6b7a; background: #f1f3f5; }
.badspi .finding { border: 1px solid #ddd; border-radius: 6px; padding: 0.2em 1em 0.6em; margin: 0.8em 0; }
.badspi .muted { color: #666; }
.badspi figure { margin: 0.6em 0 1.2em; }
.badspi figure img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
.badspi figcaption { color: #555; font-size: 0.9em; }
"""


def esc(value) -> str:
    """Text from data, safe inside HTML text and quoted attributes."""
    return html.escape(clean(value), quote=True)


def prose(value) -> str:
    """The tool's own sentences: escaped like data, with their `code spans` as <code>."""
    parts = clean(value).split("`")
    return "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(parts))


def analysis_html(analysis, *, standalone: bool = True, command: str | None = None, plots: bool | None = None,
                  evidence: int = 5, max_lines: int = 200) -> str:
    """The report.  ``standalone``: a whole document (for a file); otherwise a fragment
    for a notebook.  ``command``: the command line that made the analysis (default: an
    equivalent one rebuilt from it).  ``plots``: embed the timeline and offset plots
    (default: in a standalone document only; needs matplotlib)."""
    plots = standalone if plots is None else plots
    if plots and not have_matplotlib():
        plots = False
        notes = [NO_MATPLOTLIB]
    else:
        notes = []
    parts = ['<div class="badspi">', f"<style>{STYLE}</style>"]
    parts += _head(analysis)
    parts += _inputs(analysis)
    if plots:
        parts += _plots(analysis)
    parts += [f'<p class="muted">{esc(n)}</p>' for n in notes]
    parts += _findings(analysis, evidence)
    parts += _lines(analysis, max_lines)
    parts += _reproduce(analysis, command)
    if not standalone:
        parts.append('<p class="muted">Plots: <code>badspi_pcap.plot_timeline(result)</code>, '
                     '<code>badspi_pcap.plot_offset_histogram(result)</code>; tables: <code>result.findings</code>, '
                     '<code>result.lines</code>, <code>result.matches</code>.</p>')
    from .. import __version__
    parts.append(f'<p class="muted">badspi_pcap {esc(__version__)}, '
                 f'{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.</p>')
    parts.append("</div>")
    body = "\n".join(parts)
    if not standalone:
        return body
    title = esc("Bad SPI analysis: " + ", ".join(r.capture for r in analysis.captures))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_report(analysis, path, *, command: str | None = None) -> list[str]:
    """Write the standalone report to ``path`` (atomically); returns warnings (no plots
    without matplotlib)."""
    from ..errors import InputError
    from ..output import atomic_path

    text = analysis_html(analysis, standalone=True, command=command)
    try:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write the report to {path}: {e.strerror or e}") from None
    return [] if have_matplotlib() else [NO_MATPLOTLIB]


# ---------------------------------------------------------------- sections

def _badge(verdict) -> str:
    v = clean(verdict)
    cls = v if v in VERDICT_ORDER else "inconclusive"
    return f'<span class="verdict v-{cls}">{esc(v)}</span>'


def _head(analysis) -> list[str]:
    """The verdict line (the same as text and Markdown), then one table row per finding."""
    out = ["<h1>Bad SPI analysis</h1>"]
    rows = records(analysis.findings)
    if any(r["verdict"] in ("confirmed", "likely") for r in rows):
        out.append(f'<div class="headline">Verdict: {esc(headline(analysis.findings))}</div>')
    elif rows:
        out.append(f'<div class="headline none">No cause confirmed: {esc(headline(analysis.findings))}. See the '
                   "findings for what is missing.</div>")
    else:
        out.append('<div class="headline none">No bad-SPI lines and no ICMP errors quoting IPsec packets: '
                   "nothing to explain.</div>")
    if rows:
        out.append("<table><tr><th>tunnel</th><th>cause</th><th>verdict</th><th>lines explained / covered / all</th>"
                   "<th>ICMP errors</th><th>summary</th></tr>")
        for i, r in enumerate(rows, 1):
            out.append(f'<tr><td>{esc(r["tunnel"])}</td><td><a href="#finding-{i}">{esc(r["cause"])}</a></td>'
                       f'<td>{_badge(r["verdict"])}</td>'
                       f'<td class="num">{esc(r["lines_explained"])} / {esc(r["lines_covered"])} / '
                       f'{esc(r["lines"])}</td>'
                       f'<td class="num">{esc(r["icmp_errors"] or 0)}</td><td>{prose(summary(r))}</td></tr>')
        out.append("</table>")
    return out


def _inputs(analysis) -> list[str]:
    rows = []
    for r in analysis.captures:
        span = f"{clean(r.first_time)} .. {clean(r.last_time)} UTC" if r.first_time is not None else "no packets"
        comp = f", {r.compression}" if r.compression else ""
        rows.append(("capture", f"{esc(r.capture)} <span class=\"muted\">({esc(r.format)}{esc(comp)})</span>",
                     f"{r.counts.frames} frames, {esc(span)}, {len(r.packets)} IPsec-relevant rows"))
    ev = analysis.events
    if len(ev):
        for source, n in ev["source"].value_counts(sort=False).items():
            mine = ev["source"].eq(source)
            bad = int((mine & ev["kind"].isin(["bad-spi", "replay"])).sum())
            devices = ", ".join(str(d) for d in ev.loc[mine, "device"].dropna().unique()[:5]) or "-"
            rows.append(("log", esc(line_label(analysis, source)),
                         f"{n} events, {bad} bad-SPI/replay lines; device {esc(devices)}"))
        rows.append(("log lines not recognised", "", esc(analysis.unparsed_lines)))
        first, second = clock_lines(analysis)
        rows.append(("clock", "", esc(first)))
        rows += [("clock " + n.label, "", esc(n.text))
                 for n in analysis.clock_notes]
        rows.append(("times", "", esc(second)))
        rows += [("device", "", prose(text)) for text in vendor_lines(analysis)]
    else:
        rows.append(("log", "none given", "what the capture alone shows"))
    if len(analysis.sas):
        for source, n in analysis.sas["source"].value_counts(sort=False).items():
            rows.append(("SA table", esc(Path(str(source)).name), f"{n} SAs"))
    rows.append(("device addresses", "", esc(", ".join(analysis.local_addresses) or "not identified")))
    opts = analysis.options
    if opts.log_self:
        rows.append(("bad-SPI rate limit", "", "none (log-self: every bad packet is logged)"))
    elif opts.rate_limit_s is not None:
        rows.append(("bad-SPI rate limit", "", esc(f"{opts.rate_limit_s:g} s per tunnel (given)")))
    out = ["<h2>Inputs</h2>", "<table>"]
    out += [f"<tr><th>{esc(a)}</th><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows]
    out.append("</table>")
    notes = [f"note: {n}" for n in analysis.log_notes] + [f"warning: {s}" for s in analysis.skipped]
    if notes:
        out.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes[:50]) + "</ul>")
        if len(notes) > 50:
            out.append(f'<p class="muted">{len(notes) - 50} more notes and warnings not shown.</p>')
    return out


def _plots(analysis) -> list[str]:
    from .plots import figure_png, plot_offset_histogram, plot_timeline, timeline_tunnels

    out = ["<h2>Timeline</h2>",
           '<p class="muted">Capture time (UTC) below, the device clock as its log shows it above. '
           'Diamonds are BAD SPI '
           "lines moved onto the capture clock by the clock offset, coloured by cause (red: embedded ICMP, orange: "
           "rekey collision, purple: SPI used before install, brown: stale SA, hollow: not covered); dashed lines "
           "carry them through every panel. Grey: no capture running.</p>"]
    tunnels = timeline_tunnels(analysis, seen_only=True)
    unseen = [t for t in timeline_tunnels(analysis) if t not in tunnels]
    for name in tunnels[:MAX_TUNNEL_PLOTS]:
        png = figure_png(plot_timeline(analysis, name))
        out.append(_figure(png, f"Timeline of {name}",
                           f"{name}: ESP rate per SPI, ICMP errors quoting the tunnel, "
                           "BAD SPI lines, IKE exchanges, Phase 2 lines and SA lifetimes."))
    if len(tunnels) > MAX_TUNNEL_PLOTS:
        out.append(f'<p class="muted">{len(tunnels) - MAX_TUNNEL_PLOTS} more tunnels not plotted: '
                   f"{esc(', '.join(tunnels[MAX_TUNNEL_PLOTS:]))}.</p>")
    if unseen:
        out.append(f'<p class="muted">Not plotted, the capture has no packets of: {esc(", ".join(unseen))} '
                   "(their lines are listed below).</p>")
    if len(analysis.events):
        png = figure_png(plot_offset_histogram(analysis))
        out.append(_figure(png, "Clock offset histogram",
                           "Log line time minus packet time for every (SPI, SEQ) pair; "
                           "the red line is the offset used."))
    return out


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img class="plot" alt="{esc(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _findings(analysis, evidence: int) -> list[str]:
    groups = by_tunnel(analysis.findings)
    if not groups:
        return []
    out = ["<h2>Findings</h2>"]
    i = 0
    for tunnel, rows in groups:
        peer = rows[0]["peer"]
        out.append(f"<h3>{esc(tunnel)}{esc(f' (peer {peer})') if peer and not tunnel.endswith(peer) else ''}</h3>")
        for r in rows:
            i += 1
            out.append(f'<div class="finding" id="finding-{i}">')
            out.append(f"<h4>{esc(r['cause'])} {_badge(r['verdict'])}</h4>")
            out.append(f"<p>{prose(summary(r))}</p>")
            facts = [("lines (all / covered / explained / own proof)",
                      f"{r['lines']} / {r['lines_covered']} / {r['lines_explained']} / {r['lines_exact']}"),
                     ("SPIs", spi_texts(r["spis"] or [])), ("peer", r["peer"]),
                     ("first .. last (capture clock, UTC)", f"{clean(r['first'])} .. {clean(r['last'])}"),
                     ("evidence frames", _frames_text(r))]
            if r["icmp_errors"]:
                facts.insert(1, ("ICMP errors / lines expected / in the log",
                                 f"{r['icmp_errors']} / {r['expected_lines']} / {r['windows_matched']}"))
                facts.insert(3, ("routers", ", ".join(r["routers"] or [])))
            out.append("<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v) if clean(v) else '-'}</td></tr>"
                                           for k, v in facts) + "</table>")
            pairs = evidence_pairs(analysis, r, evidence)
            if len(pairs):
                out.append("<table><tr><th>log line</th><th>written</th><th>SPI</th><th>SEQ</th><th>frame</th>"
                           "<th>packet time</th><th>packet</th><th>dt</th><th>how</th></tr>")
                for p in pairs.itertuples():
                    out.append(f"<tr><td>{esc(line_label(analysis, p.source))}:{esc(p.line)}</td>"
                               f"<td>{esc(p.device_time)}</td><td><code>{esc(p.line_spi)}</code></td>"
                               f"<td><code>{esc(p.line_seq)}</code></td><td>{esc(p.capture)}#{esc(p.frame)}</td>"
                               f"<td>{esc(utc_time(p.packet_time))}</td><td>{esc(p.what)}</td>"
                               f'<td class="num">{p.dt:+.1f} s</td><td>{esc(p.key)}</td></tr>')
                out.append("</table>")
            if r["display_filter"]:
                out.append(f"<p>Wireshark display filter: <code>{esc(r['display_filter'])}</code></p>")
            text = action(r)
            if text:
                out.append(f"<p><strong>Action:</strong> {prose(text)}</p>")
            out.append("</div>")
    return out


def _frames_text(r, limit: int = 12) -> str:
    refs = [f"{e['capture']}#{e['frame']}" for e in (r["evidence"] or [])]
    more = f" and {len(refs) - limit} more" if len(refs) > limit else ""
    return ", ".join(refs[:limit]) + more


def _lines(analysis, max_lines: int) -> list[str]:
    lines = analysis.lines
    if not len(lines):
        return []
    from .common import device_time
    out = [f"<h2>Bad-SPI and replay lines ({len(lines)})</h2>",
           "<table><tr><th>log line</th><th>written (device)</th><th>capture clock (UTC)</th><th>tunnel</th>"
           "<th>SPI</th><th>SEQ</th><th>cause</th><th>coverage</th><th>text</th></tr>"]
    for _, r in lines.sort_values("time", kind="stable").head(max_lines).iterrows():
        spi = spi_text(r["spi"]) or "-"
        seq = "-" if pd.isna(r["seq"]) else f"0x{int(r['seq']):x}"
        out.append(f"<tr><td>{esc(line_label(analysis, r['source']))}:{esc(r['line'])}</td>"
                   f"<td>{esc(device_time(r))}</td><td>{esc(utc_time(r['time']))}</td><td>{esc(r['tunnel'])}</td>"
                   f"<td><code>{spi}</code></td><td><code>{seq}</code></td><td>{esc(r['cause'])}</td>"
                   f"<td>{esc(r['coverage'])}</td><td>{esc(str(clean(r['text']))[:300])}</td></tr>")
    out.append("</table>")
    if len(lines) > max_lines:
        out.append(f'<p class="muted">{len(lines) - max_lines} more lines: see <code>--format json</code> '
                   "or <code>result.lines</code>.</p>")
    return out


def _reproduce(analysis, command: str | None) -> list[str]:
    label = "Command" if command else "Equivalent command"
    out = ["<h2>Commands and filters</h2>", f"<p>{label}:</p>",
           f"<pre>{esc(command or equivalent_command(analysis))}</pre>"]
    paths = {r.capture: r.path for r in analysis.captures}
    cmds = []
    for r in records(analysis.findings):
        if not r["display_filter"]:
            continue
        frames = frames_by_capture(r)
        for cap in [c for c in frames if c in paths] or list(paths)[:3]:
            cmds.append(f"# {clean(r['tunnel'])}: {clean(r['cause'])} ({clean(r['verdict'])})\n"
                        f"tshark -r {shlex.quote(str(paths[cap]))} -o ip.defragment:FALSE "
                        f"-Y {shlex.quote(str(r['display_filter']))}")
        for cap, numbers in frames.items():
            if cap in paths:
                cmds.append(f"tshark -r {shlex.quote(str(paths[cap]))} -o ip.defragment:FALSE -Y "
                            f"{shlex.quote(frame_filter(numbers))}")
    if cmds:
        out.append("<p>Display filters that show the evidence (paste the <code>-Y</code> part into Wireshark):</p>")
        lines = [line for cmd in dict.fromkeys(cmds) for line in cmd.split("\n")]
        out.append("<pre>" + "\n".join(esc(line) for line in lines) + "</pre>")
    return out


def frame_filter(numbers) -> str:
    """``frame.number in {35, 89}`` (Wireshark 4.x: set members need commas)."""
    numbers = sorted(int(n) for n in numbers)
    return f"frame.number == {numbers[0]}" if len(numbers) == 1 else \
        "frame.number in {" + ", ".join(map(str, numbers)) + "}"


def equivalent_command(analysis) -> str:
    """A ``badspi analyze`` command that repeats this analysis (the log's time zone as the
    UTC offset its lines were written in)."""
    from .plots import log_utc_offset_s

    parts = ["badspi", "analyze", *[str(r.path) for r in analysis.captures]]
    ev = analysis.events
    for source in (ev["source"].unique() if len(ev) else []):
        parts += ["-e", str(source)]
    for source in (analysis.sas["source"].unique() if len(analysis.sas) else []):
        parts += ["--sa", str(source)]
    if len(ev):
        tz = log_utc_offset_s(ev)
        if tz:
            m = int(round(abs(tz) / 60))
            parts += ["--log-tz", f"{'-' if tz < 0 else '+'}{m // 60:02d}:{m % 60:02d}"]
    off = analysis.clock_offset
    if off.method == "given":
        parts += ["--clock-offset", f"{off.seconds:+g}"]
    opts = analysis.options
    if opts.log_self:
        parts.append("--log-self")
    elif opts.rate_limit_s is not None:
        parts += ["--rate-limit", f"{opts.rate_limit_s:g}"]
    if opts.screenos_version:
        parts += ["--screenos-version", opts.screenos_version]
    return shlex.join(parts)


def command_line(ctx) -> str:
    """The command line of a click context, rebuilt from its parsed parameters (options
    at their default are left out)."""
    parts = ctx.command_path.split()
    for p in ctx.command.params:
        value = ctx.params.get(p.name)
        if p.param_type_name == "argument":
            parts += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
            continue
        if value is None or value is False or value == () or value == p.default:
            continue
        opt = max((o for o in p.opts if o.startswith("--")), key=len, default=p.opts[0])
        if getattr(p, "is_flag", False):
            parts.append(opt)
        elif getattr(p, "multiple", False):
            for v in value:
                parts += [opt, str(v)]
        else:
            parts += [opt, str(value)]
    return shlex.join(parts)
