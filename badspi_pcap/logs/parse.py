"""Reading many log files into one events table: detection, years, time zones, duplicates.

Each line is routed by cheap markers to the formats that may own it (the format of the
previous line is tried first), so one syslog file may mix devices and vendors.  Every
non-blank line ends up counted in exactly one of: an event, ``ignored`` (a known format
with nothing to report), ``unparsed`` or ``duplicates``.  Unparsed lines are all counted
but only the first ``UNPARSED_SAMPLE`` of each file are kept (random bytes given as a log
must not fill the memory).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import pandas as pd

from ..collector import gc_paused
from ..errors import InputError, Skipped, UsageError
from ..schema import EVENTS, from_columns, to_frame
from . import (asa, exports, fortios, ios, junos, libreswan, linux, panos, panos_system, screenos, sonicwall,
               strongswan)
from .record import LineFormat, Parsed
from .stamp import Stamp, YearChoice, parse_tz, resolve_years, to_utc, tz_name
from .textfile import STOPPED, as_paths, read_lines

FORMATS: tuple[LineFormat, ...] = (screenos.FORMATS + junos.FORMATS + asa.FORMATS + ios.FORMATS
                                   + fortios.FORMATS + panos.FORMATS + panos_system.FORMATS + strongswan.FORMATS
                                   + libreswan.FORMATS + linux.FORMATS + sonicwall.FORMATS)
VENDORS = tuple(dict.fromkeys(f.vendor for f in FORMATS))
UNPARSED_SAMPLE = 1000   # unrecognised lines kept per file (all are counted)


@dataclass
class LogParse:
    """What ``parse_logs`` found: events plus everything that did not become one."""

    events: pd.DataFrame
    unparsed: pd.DataFrame                       # source, line, text: the first UNPARSED_SAMPLE per file
    duplicates: pd.DataFrame                     # source, line, first_source, first_line
    skipped: list[Skipped] = field(default_factory=list)
    stats: pd.DataFrame | None = None            # one row per file
    notes: list[str] = field(default_factory=list)  # assumptions made, in words
    unparsed_count: int = 0                      # every unparsed line, kept or not


@dataclass(slots=True)
class _Line:
    number: int
    lines: int          # physical lines folded into this one
    parsed: Parsed
    stamp: Stamp | None
    raw: str            # the line as read (tells relay copies from repeats)
    wrapper: exports.Wrapper | None = None  # the SIEM export record it came in


@dataclass
class _File:
    source: str
    events: list[_Line] = field(default_factory=list)
    unparsed: list[tuple[int, str]] = field(default_factory=list)   # the first UNPARSED_SAMPLE
    unparsed_count: int = 0
    ignored: int = 0
    lines: int = 0
    formats: Counter = field(default_factory=Counter)
    year: YearChoice = YearChoice(None, None)
    zoned: bool = False  # some times were device-local (the time zone applied)
    duplicates: int = 0
    layout: str | None = None  # the export layout the lines came in (exports.py)
    pinned: int = 0            # lines whose zone the export's times gave


def select_formats(name: str | None) -> tuple[LineFormat, ...]:
    """All formats, or those a ``--format`` name (format or vendor) selects."""
    if name is None:
        return FORMATS
    chosen = tuple(f for f in FORMATS if name in (f.name, f.vendor))
    if not chosen:
        names = sorted(set(VENDORS) | {f.name for f in FORMATS})
        raise UsageError(f"unknown log format {name!r}: choose one of {', '.join(names)}")
    return chosen


def parse_logs(paths, *, format: str | None = None, year: int | None = None, log_tz=None,
               reference_times=None, decompression_limit=None) -> LogParse:
    """Parse log files (one path or many) into events; see ``LogParse``.

    ``format`` forces a format or vendor; ``year`` is the year of the first line of a file
    whose header has none; ``log_tz`` (name or offset) is the device's time zone;
    ``reference_times`` (e.g. the capture's packet times) pick the year when none is given.
    ``decompression_limit``: as for ``read_capture`` (None: the default limit; False: none).
    """
    formats = select_formats(format)
    tz = parse_tz(log_tz)
    if year is not None and not (isinstance(year, int) and 1970 <= year <= 2200):
        raise UsageError(f"--year must be a year like 2021, not {year!r}")
    reference = _reference_span(reference_times)
    skipped: list[Skipped] = []
    with gc_paused():
        files = [_read_file(path, formats, skipped, decompression_limit) for path in as_paths(paths)]
        if not files:
            raise UsageError("no log files given")
        columns, duplicates = _columns(files, year=year, reference=reference, tz=tz)
    return LogParse(
        events=to_frame(from_columns(EVENTS, columns)),
        unparsed=pd.DataFrame([(f.source, n, t) for f in files for n, t in f.unparsed],
                              columns=["source", "line", "text"]),
        duplicates=pd.DataFrame(duplicates, columns=["source", "line", "first_source", "first_line"]),
        skipped=skipped,
        stats=_stats(files, tz),
        notes=_notes(files, tz),
        unparsed_count=sum(f.unparsed_count for f in files),
    )


def read_events(paths, **options) -> pd.DataFrame:
    """Just the events table of ``parse_logs``."""
    return parse_logs(paths, **options).events


def _reference_span(times) -> tuple[int, int] | None:
    if times is None:
        return None
    try:
        values = pd.to_datetime(pd.Series(list(times) if not isinstance(times, pd.Series) else times), utc=True)
    except (ValueError, TypeError) as e:
        raise UsageError(f"reference times are not times: {e}") from None
    values = values.dropna()
    if values.empty:
        return None
    return int(values.min().value), int(values.max().value)


def _read_file(path: Path, formats: tuple[LineFormat, ...], skipped: list[Skipped], decompression_limit=None) -> _File:
    result = _File(str(path))
    state: dict = {}
    last: LineFormat | None = None
    # (format, stamp, host) of the line just before, within a block: a line without a time
    # takes that line's time, never one from another host or across a blank or unknown line
    previous: tuple[str, Stamp | None, str | None] | None = None
    wrapping = [(f.continues, f.joins) for f in formats if f.continues is not None]
    unwrapper = exports.Unwrapper(result.source, skipped)
    numbered = unwrapper.lines(read_lines(path, skipped, decompression_limit))
    wrappers, formats_seen, events = unwrapper.wrappers, result.formats, result.events
    lines = ignored = 0   # counted here, stored after the loop (attribute updates cost on every line)
    for number, count, text in _logical_lines(numbered, wrapping):
        if not text:
            previous = None
            continue
        lines += count
        try:
            found = _classify(text, formats, last, state)
        except Exception as e:  # a parser bug must not lose the file: count the line, say why
            skipped.append(Skipped(result.source, f"line {number}", f"parser error {type(e).__name__}: {e}"))
            found = None
        if found is None:
            result.unparsed_count += count      # a wrapped line that no format reads: all its lines
            if len(result.unparsed) < UNPARSED_SAMPLE:
                result.unparsed.append((number, text))
            previous = None
            continue
        parsed, last = found
        fmt = parsed.fmt
        formats_seen[fmt] = formats_seen.get(fmt, 0) + count
        host = parsed.rows[0].get("device") if parsed.rows else None
        stamp = parsed.stamp
        wrapper = wrappers.get(number) if wrappers else None
        if wrapper is not None:
            stamp = exports.pin(stamp, wrapper)   # the export's time settles what the line leaves open
            result.pinned += parsed.kind is not None and stamp is not parsed.stamp
        if previous is None or previous[0] != fmt:
            previous = (fmt, stamp, host or None)
        else:
            if stamp is None and host in (None, previous[2]):
                stamp = previous[1]
            previous = (fmt, stamp, host or previous[2])
        if parsed.kind is None:
            ignored += count
        else:
            events.append(_Line(number, count, parsed, stamp, text, wrapper))
    result.lines, result.ignored = lines, ignored
    result.layout = unwrapper.layout
    if not result.events and not result.ignored:
        what = "is empty" if not result.lines else "has no lines of a known log format"
        stopped = [x.reason for x in skipped if x.source == result.source and x.reason.startswith(STOPPED)]
        if stopped:   # an endless or huge input: say where reading stopped, and how to go on
            what = f"no lines of a known log format; {stopped[0]}"
        raise InputError(f"{path}: {what}")
    return result


def _logical_lines(numbered, wrapping):
    """(first line number, physical lines, text); a blank line gives (number, 0, "").

    A line that a format's ``continues`` finds takes the indented lines after it, and
    the lines its ``joins`` matches (indented or not, even after blank lines): consoles,
    mail archives and documents wrap long messages.
    """
    held, joins, blanks = None, None, []
    for number, text in numbered:
        if not text or text.isspace():
            if held is None:
                yield number, 0, ""
            else:
                blanks.append(number)
            continue
        if held is not None:
            if (text[:1] in " \t" and not blanks) or (joins is not None and joins.match(text)):
                held, blanks = (held[0], held[1] + 1, held[2] + " " + text.strip()), []
                continue
            yield held
            held = None
            for blank in blanks:
                yield blank, 0, ""
            blanks = []
        for continues, wraps in wrapping:
            if continues.search(text):
                held, joins = (number, 1, text), wraps
                break
        else:
            yield number, 1, text
    if held:
        yield held
    for blank in blanks:
        yield blank, 0, ""


def _classify(text: str, formats, last: LineFormat | None, state: dict):
    if last is not None and last.accepts(text):
        parsed = last.parse(text, state)
        if parsed is not None:
            return parsed, last
    for fmt in formats:
        if fmt is not last and fmt.accepts(text):
            parsed = fmt.parse(text, state)
            if parsed is not None:
                return parsed, fmt
    return None


def _columns(files: list[_File], *, year, reference, tz) -> tuple[dict[str, list], list[tuple]]:
    """Event columns with local and UTC times, duplicates (across all files) left out.

    The same message (vendor, id, local time, text) reaching us twice is kept once: two
    exports of a log, a syslog copy of a ``get event`` row, or two relays' copies (whose
    headers differ).  A line repeated verbatim within one file is the device logging the
    same thing twice in one second and is kept: the n-th verbatim copy in a file only
    duplicates the n-th copy seen elsewhere.  Devices must agree where both are named.
    """
    kept: list[tuple] = []   # (source, _Line, local ns, UTC ns) of each event line
    duplicates: list[tuple] = []
    # message -> its first line: (file index, raw, device, source, line number); most come once
    once: dict[tuple, tuple] = {}
    # message -> (copies so far of each (file index, raw), the first line of each copy number
    # as (devices, source, line number)): kept only for messages that come again
    again: dict[tuple, tuple[dict, dict]] = {}
    for index, f in enumerate(files):
        local, f.year = resolve_years([e.stamp for e in f.events], year=year, reference=reference)
        offsets = [e.stamp.offset_s if e.stamp else None for e in f.events]
        f.zoned = any(t is not None and o is None for t, o in zip(local, offsets))
        utc = to_utc(local, offsets, tz)
        source = f.source
        for event, t_local, t_utc in zip(f.events, local, utc):
            if t_local is not None:
                parsed = event.parsed
                first = parsed.rows[0]
                device = first.get("device")
                message = (parsed.vendor, first.get("message_id"), t_local, parsed.text)
                first_line = once.get(message)
                if first_line is None:
                    once[message] = (index, event.raw, device, source, event.number)
                    kept.append((source, event, t_local, t_utc))
                    continue
                if message not in again:
                    again[message] = ({first_line[:2]: 1}, {1: ({first_line[2]}, *first_line[3:])})
                copies, firsts = again[message]
                route = (index, event.raw)
                copy = copies[route] = copies.get(route, 0) + 1
                known = firsts.get(copy)
                if known is None:
                    firsts[copy] = ({device}, source, event.number)
                elif device is None or None in known[0] or device in known[0]:
                    duplicates.append((source, event.number, known[1], known[2]))
                    f.duplicates += event.lines
                    continue
                else:
                    known[0].add(device)
            kept.append((source, event, t_local, t_utc))
    return _event_columns(kept), duplicates


def _event_columns(kept: list[tuple]) -> dict[str, list]:
    """The EVENTS columns of the kept lines' rows (a line may give two rows)."""
    parsed: list[dict] = []
    source, line, time_local, time = [], [], [], []
    for src, event, t_local, t_utc in kept:
        rows = event.parsed.rows
        if event.wrapper is not None:
            rows = [_exported(row, event.wrapper) for row in rows]
        parsed += rows
        if len(rows) == 1:
            source.append(src)
            line.append(event.number)
            time_local.append(t_local)
            time.append(t_utc)
        else:
            source += [src] * len(rows)
            line += [event.number] * len(rows)
            time_local += [t_local] * len(rows)
            time += [t_utc] * len(rows)
    named = set().union(*parsed) & set(EVENTS.names)   # columns no row has stay all-null
    columns: dict[str, list] = {name: list(map(dict.get, parsed, repeat(name))) for name in named}
    columns.update(source=source, line=line, time_local=time_local, time=time)
    return columns


def _exported(row: dict, wrapper: exports.Wrapper) -> dict:
    """A row of a line that came in a SIEM export record: the record's time and zone, and
    its host when the line names no device."""
    row = dict(row, **exports.received_columns(wrapper))
    if row.get("device") is None:
        row["device"] = wrapper.host
    return row


def _stats(files: list[_File], tz) -> pd.DataFrame:
    rows = [{
        "source": f.source,
        "format": (f"{f.layout}:" if f.layout else "") + "+".join(n for n, _ in f.formats.most_common()) or None,
        "lines": f.lines,
        "recognised": sum(e.lines for e in f.events) - f.duplicates,
        "ignored": f.ignored,
        "unparsed": f.unparsed_count,
        "duplicates": f.duplicates,
        "events": sum(len(e.parsed.rows) for e in f.events),
        "year": f.year.year,
        "year_from": f.year.source,
        "tz": (tz_name(tz) if tz is not None else "UTC (assumed)") if f.zoned
              else "from export" if f.pinned else "from lines",
    } for f in files]
    # built column by column: a quarter of the time of rows + astype, which counts in a batch of small logs
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    columns["year"] = pd.array(columns["year"], dtype="Int64")
    return pd.DataFrame(columns)


def _notes(files: list[_File], tz) -> list[str]:
    notes = []
    assumed = sorted({f.year.year for f in files if f.year.source == "assumed"})
    if assumed:
        notes.append(f"year assumed {', '.join(map(str, assumed))} (no --year or capture dates)")
    if tz is None and any(f.zoned for f in files):
        notes.append("time zone assumed UTC — use --log-tz")
    return notes
