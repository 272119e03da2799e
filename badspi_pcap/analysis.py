"""The whole check in one call: read captures, logs and SA tables, correlate, diagnose.

``correlate`` and ``diagnose`` are plain table functions; ``analyze`` reads the files
and strings them together, returning an ``Analysis`` that holds every table.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Iterable

import pandas as pd

from . import schema
from .storage import open_binary
from .capture import CaptureContents, capture_names, read_capture
from .references import reference_index
from .correlation import (BAD_SPI_KINDS, ClockOffset, apply_offset, capture_spans, estimate_clock_offset,
                          local_addresses, match_events, parse_clock_offset, receivers,
                          spis_from_conn_ids, spis_from_seq_and_time, whole_second_log)
from . import clock
from .collector import gc_paused
from .causes import Context, Thresholds
from .clock import ClockNote
from .diagnosis import classify_lines, diagnose
from .options import AnalysisOptions
from .vendors import VendorProfile, profile

VERSION_RE = re.compile(r"Software Version: *(\d+\.\d+\.\d+\S*)")


@dataclass
class Correlation:
    events: pd.DataFrame        # on the capture clock; the device's UTC reading in time_device
    matches: pd.DataFrame
    clock_offset: ClockOffset
    local: set[str]
    resolution_s: float


def correlate(packets: pd.DataFrame, events: pd.DataFrame, sas: pd.DataFrame | None = None,
              clock_offset: float | str | None = None) -> Correlation:
    """Put the log on the capture's clock and link its bad-SPI lines to packets."""
    events = spis_from_conn_ids(schema.with_event_ids(events), sas)
    # Where the capture shows SPIs, made once for the estimate and the matching (none without lines).
    refs = reference_index(packets) if (events["kind"].isin(BAD_SPI_KINDS) & events["time"].notna()).any() else None
    given = parse_clock_offset(clock_offset)
    offset = ClockOffset(given, "given", 0, 0, 0.0) if given is not None else \
        estimate_clock_offset(events, packets, refs)
    resolution = 1.0 if whole_second_log(events) else 0.0
    local = local_addresses(packets, events, sas, refs)
    if not events["kind"].isin(BAD_SPI_KINDS).any():
        # No bad-SPI or replay line (a capture checked without logs): nothing to match.
        return Correlation(apply_offset(events, offset), pd.DataFrame(columns=schema.MATCHES.names), offset,
                           local, resolution)
    shifted = spis_from_seq_and_time(apply_offset(events, offset), packets, resolution, local)
    matches = match_events(shifted, packets, local, resolution, refs)
    # A packet that made the device log a line was received by the device: its
    # destination is the device (seen when no ICMP error or Phase 2 line names it).
    received = receivers(matches, packets, local)
    if not received <= local:
        local |= received
        matches = match_events(shifted, packets, local, resolution, refs)
    return Correlation(shifted, matches, offset, local, resolution)


@dataclass
class Analysis:
    """Everything ``analyze`` found; every table is a pandas DataFrame."""

    captures: list[CaptureContents]
    packets: pd.DataFrame
    events: pd.DataFrame         # on the capture clock; ``event_id`` keys matches, lines and findings
    sas: pd.DataFrame
    matches: pd.DataFrame        # MATCHES
    lines: pd.DataFrame          # LINES: the bad-SPI/replay lines with the cause given to each
    findings: pd.DataFrame       # FINDINGS
    clock_offset: ClockOffset
    local_addresses: list[str]
    options: AnalysisOptions
    thresholds: Thresholds = field(default_factory=Thresholds)
    clock_notes: list[ClockNote] = field(default_factory=list)
    log_notes: list[str] = field(default_factory=list)
    skipped: list = field(default_factory=list)
    unparsed_lines: int = 0

    @property
    def vendors(self) -> list[VendorProfile]:
        """The vendor profiles of the logs' devices (in the order first seen)."""
        keys = self.events["vendor"].dropna().unique() if len(self.events) else []
        return [profile(k) for k in dict.fromkeys(str(k) for k in keys)]

    def report_table(self) -> pd.DataFrame:
        """The findings with their summary, filter and action as text (for a notebook or a
        spreadsheet): tunnel, cause, verdict, lines explained/covered, summary, filter, action."""
        from .report.common import action, records, summary
        rows = [{"tunnel": f["tunnel"], "cause": f["cause"], "verdict": f["verdict"],
                 "lines_explained": f["lines_explained"], "lines_covered": f["lines_covered"],
                 "summary": summary(f), "display_filter": f["display_filter"], "action": action(f)}
                for f in records(self.findings)]
        return pd.DataFrame(rows, columns=["tunnel", "cause", "verdict", "lines_explained", "lines_covered",
                                           "summary", "display_filter", "action"])

    def __repr__(self) -> str:
        from .report.common import headline
        return (f"<Analysis of {len(self.captures)} capture(s), {len(self.events)} events; clock offset "
                f"{self.clock_offset.seconds:+.1f} s ({self.clock_offset.method}); "
                f"{headline(self.findings) or 'no findings'}>")

    def _repr_html_(self) -> str:
        from .report.html import analysis_html
        return analysis_html(self, standalone=False)


def analyze(captures: str | os.PathLike | Iterable, events: Iterable | None = None, sas: Iterable | None = None,
            options: AnalysisOptions | None = None, *, thresholds: Thresholds | None = None, progress=None,
            jobs: int | None = None, **option_values) -> Analysis:
    """Read, correlate and diagnose.  ``events``/``sas`` are log and SA-table files;
    ``captures`` are capture files or ``CaptureContents``s already read (``read_capture``).

    ``options`` (an ``AnalysisOptions``) or its fields as keywords: ``clock_offset``
    (seconds, or '1h2m3s') overrides the estimate; ``log_tz`` is the time zone the
    device logs in; ``log_self`` means every bad packet is logged (no rate limit);
    ``screenos_version`` (e.g. '5.2.0r1') sharpens the embedded-ICMP verdict and is
    otherwise read from `get system`/`get tech` output among the files.  ``jobs``:
    processes per big capture (see ``read_capture``).
    """
    with gc_paused():       # no cycles made, many containers: see collector.py
        return _analyze(captures, events, sas, replace(options or AnalysisOptions(), **option_values), thresholds,
                        progress, jobs)


def _analyze(captures, events, sas, options: AnalysisOptions, thresholds: Thresholds | None, progress,
             jobs: int | None) -> Analysis:
    items = _paths(captures)
    names = iter(capture_names([p for p in items if not isinstance(p, CaptureContents)]))
    reads = [p if isinstance(p, CaptureContents) else read_capture(p, name=next(names), engine=options.engine,
                                                                progress=progress, jobs=jobs)
             for p in items]
    packets = pd.concat([r.packets for r in reads], ignore_index=True) if reads else schema.empty(schema.PACKETS)
    skipped = [s for r in reads for s in r.skipped]

    log_notes, unparsed = [], 0
    if events:
        from .logs import parse_logs
        reference = [t for r in reads for t in (r.first_time, r.last_time) if t is not None] or None
        parsed = parse_logs(list(_paths(events)), format=options.log_format, year=options.year,
                            log_tz=options.log_tz, reference_times=reference)
        event_table, log_notes, unparsed = parsed.events, parsed.notes, parsed.unparsed_count
        skipped += parsed.skipped
    else:
        event_table = schema.empty(schema.EVENTS)
    event_table = schema.with_event_ids(event_table)
    sa_table = schema.empty(schema.SAS)
    if sas:
        from .sas import read_sas
        sa_table = read_sas(list(_paths(sas)))

    version = options.screenos_version or _screenos_version(list(_paths(events or [])) + list(_paths(sas or [])))
    options = replace(options, screenos_version=version)
    corr = correlate(packets, event_table, sa_table, options.clock_offset)
    first = min((r.first_time for r in reads if r.first_time is not None), default=None)
    estimate = estimate_clock_offset(event_table, packets) if corr.clock_offset.method == "given" else None
    clock_notes = clock.notes(corr.clock_offset, log_tz=options.log_tz, when=first, data_estimate=estimate,
                              zoned_lines=_zoned_lines(event_table, options.log_tz))
    spans = capture_spans({r.capture: (r.first_time, r.last_time) for r in reads})
    thresholds = thresholds or Thresholds()
    ctx = Context(corr.events, packets, corr.matches, corr.local, sa_table, options, thresholds,
                  corr.resolution_s or 1.0)
    lines = classify_lines(corr.events, corr.matches, packets, spans, corr.local, ctx=ctx)
    findings = diagnose(lines, corr.matches, packets, corr.local, corr.clock_offset.seconds, options, sa_table,
                        ctx=ctx)
    return Analysis(captures=reads, packets=packets, events=corr.events, sas=sa_table, matches=corr.matches,
                    lines=lines, findings=findings, clock_offset=corr.clock_offset,
                    local_addresses=sorted(corr.local), options=options, thresholds=thresholds,
                    clock_notes=clock_notes, log_notes=log_notes, skipped=skipped, unparsed_lines=unparsed)


def _zoned_lines(events: pd.DataFrame, log_tz) -> bool:
    """Bad-SPI lines that carry their own UTC offset: read without --log-tz, their UTC time
    still differs from the local time they show."""
    if log_tz or events.empty:
        return False
    bad = events[events["kind"].isin(["bad-spi", "replay"])].dropna(subset=["time", "time_local"])
    if bad.empty:
        return False
    local = bad["time_local"].astype("int64").to_numpy()
    return bool((local != bad["time"].astype("int64").to_numpy()).any())


def _paths(items) -> list:
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike, CaptureContents)):
        return [items]
    return list(items)


def _screenos_version(paths) -> str | None:
    """'Software Version: 5.2.0r1, Type: Firewall+VPN' in `get system` / `get tech` output."""
    for path in paths:
        try:
            with open_binary(path) as f:
                head = f.read(1 << 20).decode("latin-1")
        except OSError:
            continue
        m = VERSION_RE.search(head)
        if m:
            return m.group(1).rstrip(",")
    return None
