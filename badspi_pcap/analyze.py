"""The whole check in one call: read captures, logs and SA tables, correlate, diagnose.

``correlate`` and ``diagnose`` are plain table functions; ``analyze`` reads the files
and strings them together, returning an ``Analysis`` that holds every table.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

from . import schema
from .storage import open_binary
from .capture import CaptureRead, capture_names, read_capture
from .correlate import (ClockOffset, apply_offset, capture_spans, estimate_clock_offset, local_addresses,
                        match_events, parse_clock_offset, receivers, whole_second_log)
from .diagnose import DiagnoseOptions, classify_lines, diagnose

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
    given = parse_clock_offset(clock_offset)
    offset = ClockOffset(given, "given", 0, 0, 0.0) if given is not None else estimate_clock_offset(events, packets)
    shifted = apply_offset(events, offset)
    local = local_addresses(packets, events, sas)
    resolution = 1.0 if whole_second_log(events) else 0.0
    matches = match_events(shifted, packets, local, resolution)
    # A packet that made the device log a line was received by the device: its
    # destination is the device (seen when no ICMP error or Phase 2 line names it).
    received = receivers(matches, packets, local)
    if not received <= local:
        local |= received
        matches = match_events(shifted, packets, local, resolution)
    return Correlation(shifted, matches, offset, local, resolution)


@dataclass
class Analysis:
    """Everything ``analyze`` found; every table is a pandas DataFrame."""

    captures: list[CaptureRead]
    packets: pd.DataFrame
    events: pd.DataFrame
    sas: pd.DataFrame
    matches: pd.DataFrame
    lines: pd.DataFrame          # the bad-SPI/replay lines with the cause given to each
    findings: pd.DataFrame
    clock_offset: ClockOffset
    local_addresses: list[str]
    options: DiagnoseOptions
    log_notes: list[str] = field(default_factory=list)
    skipped: list = field(default_factory=list)
    unparsed_lines: int = 0

    def __repr__(self) -> str:
        verdicts = ", ".join(f"{t}: {c} {v}" for t, c, v in
                             self.findings[["tunnel", "cause", "verdict"]].itertuples(index=False)) or "no findings"
        return (f"<Analysis of {len(self.captures)} capture(s), {len(self.events)} events; clock offset "
                f"{self.clock_offset.seconds:+.1f} s ({self.clock_offset.method}); {verdicts}>")

    def _repr_html_(self) -> str:
        from .report.html import analysis_html
        return analysis_html(self, standalone=False)


def analyze(captures: str | os.PathLike | Iterable, events: Iterable | None = None, sas: Iterable | None = None, *,
            clock_offset: float | str | None = None, log_tz: str | None = None, year: int | None = None,
            log_format: str | None = None, log_self: bool = False, rate_limit_s: float = 10.0,
            screenos_version: str | None = None, engine: str = "auto", progress=None,
            jobs: int | None = None) -> Analysis:
    """Read, correlate and diagnose.  ``events``/``sas`` are log and SA-table files;
    ``captures`` are capture files or ``CaptureRead``s already read (``read_capture``).

    ``clock_offset`` (seconds, or '1h2m3s') overrides the estimate; ``log_tz`` is the
    time zone the device logs in; ``log_self`` means every bad packet is logged (no
    10 s rate limit); ``screenos_version`` (e.g. '5.2.0r1') sharpens the embedded-ICMP
    verdict and is otherwise read from `get system`/`get tech` output among the files.
    ``jobs``: processes per big capture (see ``read_capture``).
    """
    items = _paths(captures)
    names = iter(capture_names([p for p in items if not isinstance(p, CaptureRead)]))
    reads = [p if isinstance(p, CaptureRead) else read_capture(p, name=next(names), engine=engine, progress=progress,
                                                                   jobs=jobs)
             for p in items]
    packets = pd.concat([r.packets for r in reads], ignore_index=True) if reads else schema.empty(schema.PACKETS)
    skipped = [s for r in reads for s in r.skipped]

    log_notes, unparsed = [], 0
    if events:
        from .logs import parse_logs
        reference = [t for r in reads for t in (r.first_time, r.last_time) if t is not None] or None
        parsed = parse_logs(list(_paths(events)), format=log_format, year=year, log_tz=log_tz,
                            reference_times=reference)
        event_table, log_notes, unparsed = parsed.events, parsed.notes, parsed.unparsed_count
        skipped += parsed.skipped
    else:
        event_table = schema.empty(schema.EVENTS)
    sa_table = schema.empty(schema.SAS)
    if sas:
        from .sa import read_sas
        sa_table = read_sas(list(_paths(sas)))

    version = screenos_version or _screenos_version(list(_paths(events or [])) + list(_paths(sas or [])))
    options = DiagnoseOptions(rate_limit_s=0.0 if log_self else rate_limit_s, screenos_version=version)
    corr = correlate(packets, event_table, sa_table, clock_offset)
    options = DiagnoseOptions(options.rate_limit_s, corr.resolution_s or 1.0, version)
    spans = capture_spans({r.capture: (r.first_time, r.last_time) for r in reads})
    lines = classify_lines(corr.events, corr.matches, packets, spans, corr.local)
    findings = diagnose(lines, corr.matches, packets, corr.local, corr.clock_offset.seconds, options, sa_table)
    return Analysis(captures=reads, packets=packets, events=corr.events, sas=sa_table, matches=corr.matches,
                    lines=lines, findings=findings, clock_offset=corr.clock_offset,
                    local_addresses=sorted(corr.local), options=options, log_notes=log_notes, skipped=skipped,
                    unparsed_lines=unparsed)


def _paths(items) -> list:
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike, CaptureRead)):
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
