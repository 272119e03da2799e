"""Timestamps as log lines write them, and how they become UTC.

A line's time is kept as a ``Stamp``: the calendar fields as written, the year only when
the line has one, and the UTC offset only when the line states one.  Years and time
zones are filled in per file later (``resolve_years``, ``to_utc``), because they depend
on the neighbouring lines, the capture's dates and the user's ``--year`` / ``--log-tz``.
No clock offset is applied here: estimating that is the correlate stage's job.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..notation import NS_PER_S

NS = NS_PER_S
DAY_NS = 86_400 * NS
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


class Stamp(NamedTuple):
    year: int | None        # None: the line has no year (classic syslog header)
    month: int
    day: int
    nanos: int              # since local midnight
    offset_s: int | None    # UTC offset the line states; None: device local time


def clock_nanos(hms: str, frac: str | None = None) -> int | None:
    """'12:08:35' + '058' -> nanoseconds since midnight (None when out of range)."""
    h, m, s = int(hms[0:2]), int(hms[3:5]), int(hms[6:8])
    if h > 23 or m > 59 or s > 60:
        return None
    nanos = (h * 3600 + m * 60 + min(s, 59)) * NS
    if frac:
        nanos += int(frac[:9].ljust(9, "0"))
    return nanos


def parse_offset(text: str | None) -> int | None:
    """'+0200', '-07:00', 'Z', 'UTC' -> seconds east of UTC; None when absent or odd."""
    if not text:
        return None
    text = text.strip().strip("\"'")
    if text.upper() in ("Z", "UTC", "GMT"):
        return 0
    m = _OFFSET.fullmatch(text)
    if not m:
        return None
    hours, minutes = int(m["h"]), int(m["m"] or 0)
    if hours > 14 or minutes > 59:
        return None
    sign = -1 if m["sign"] == "-" else 1
    return sign * (hours * 3600 + minutes * 60)


_OFFSET = re.compile(r"(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d\d)?")


@functools.lru_cache(maxsize=1 << 14)   # lines come in bursts of the same second
def iso_stamp(date: str, hms: str, frac: str | None = None, offset: str | None = None) -> Stamp | None:
    """'2021-06-30', '12:08:35' (+ fraction, offset) -> Stamp, None when out of range."""
    nanos = clock_nanos(hms, frac)
    month, day = int(date[5:7]), int(date[8:10])
    if nanos is None or not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return Stamp(int(date[0:4]), month, day, nanos, parse_offset(offset))


@functools.lru_cache(maxsize=1 << 14)
def month_stamp(month: str, day: str, year: str | None, hms: str, frac: str | None,
                offset: str | None = None) -> Stamp | None:
    """'Jun', '30', year or None, '12:08:36' -> Stamp (classic syslog / Cisco headers)."""
    nanos = clock_nanos(hms, frac)
    mon = MONTHS.get(month[:3].lower())
    if nanos is None or mon is None or not 1 <= int(day) <= 31:
        return None
    return Stamp(int(year) if year else None, mon, int(day), nanos, parse_offset(offset))


def epoch_stamp(seconds: str | int, frac: str | None = None) -> Stamp:
    """Seconds since 1970 (UTC) -> Stamp with offset 0."""
    days, secs = divmod(int(seconds), 86_400)
    date = _epoch_day(days)
    nanos = secs * NS + (int(frac[:9].ljust(9, "0")) if frac else 0)
    return Stamp(date.year, date.month, date.day, nanos, 0)


@functools.lru_cache(maxsize=1024)
def _epoch_day(days: int) -> dt.date:
    return dt.date.fromordinal(_EPOCH_ORDINAL + days)


# A timestamp at the start of a line, after an optional syslog <PRI>, RFC 5424 version,
# Cisco sequence number ("91: ") and Cisco clock-state mark ("*" or ".").
LEADING = re.compile(
    r"\s*(?:<\d{1,3}>(?:1 )?)?(?:\d{1,10}: )?[*.]?"
    r"(?:"
    r"(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2})(?: (?P<year>\d{4}))? (?P<hms>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))?"
    r"(?: (?P<tzname>UTC|GMT))?"
    r"|(?P<date>\d{4}-\d\d-\d\d)[T ](?P<ihms>\d\d:\d\d:\d\d)(?:[.,](?P<ifrac>\d{1,9}))?"
    r"(?P<ioff>Z|[+-]\d\d:?\d\d| [+-]\d{4}(?= ))?"
    r"|(?P<epoch>\d{9,10})(?:\.(?P<efrac>\d{1,9}))?(?= )"
    r")"
)
assert tuple(LEADING.groupindex) == ("mon", "day", "year", "hms", "frac", "tzname", "date", "ihms", "ifrac", "ioff",
                                     "epoch", "efrac") and LEADING.groups == 12   # _leading unpacks them in order


def leading_stamp(line: str) -> tuple[Stamp | None, int]:
    """The timestamp a line starts with, and where the rest of the line begins."""
    m = LEADING.match(line)
    if not m:
        return None, 0
    end = m.end()
    if line[end:end + 1] == ":":
        end += 1
    # lines come in bursts of the same second: convert each stamp text once (its groups
    # follow from the text alone: the alternatives start differently, the parts are
    # separated by fixed characters)
    text = m.group()
    stamp = _LEADING_SEEN.get(text, _MISSING)
    if stamp is _MISSING:
        if len(_LEADING_SEEN) >= 1 << 14:
            _LEADING_SEEN.clear()
        stamp = _LEADING_SEEN[text] = _leading(m.groups())
    return stamp, end


_LEADING_SEEN: dict[str, Stamp | None] = {}
_MISSING = object()


def _leading(groups: tuple) -> Stamp | None:
    """The Stamp of ``LEADING``'s groups."""
    mon, day, year, hms, frac, tzname, date, ihms, ifrac, ioff, epoch, efrac = groups
    if mon:
        return month_stamp(mon, day, year, hms, frac, tzname)
    if date:
        return iso_stamp(date, ihms, ifrac, ioff)
    return epoch_stamp(epoch, efrac)


def local_nanos(stamp: Stamp, year: int) -> int | None:
    """Naive local time in ns since 1970 (None when the date does not exist, or lies
    outside 1900-2200, where it is garbage and would not fit a ns timestamp)."""
    day = _day_nanos(year, stamp.month, stamp.day)
    return None if day is None else day + stamp.nanos


@functools.lru_cache(maxsize=1 << 12)   # a log spans few days
def _day_nanos(year: int, month: int, day: int) -> int | None:
    if not 1900 <= year <= 2200:
        return None
    try:
        return (dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL) * DAY_NS
    except ValueError:
        return None


class YearChoice(NamedTuple):
    year: int | None        # year given to the first line without one (None: none needed)
    source: str | None      # --year | file dates | capture dates | assumed


def resolve_years(stamps: Sequence[Stamp | None], *, year: int | None,
                  reference: tuple[int, int] | None, today: dt.date | None = None
                  ) -> tuple[list[int | None], YearChoice]:
    """Local ns for each stamp, giving years to the lines that lack one.

    A yearless line after a line with a time takes its year from that line (``_nearest``:
    a dated line sets the year of the yearless lines after it, and Dec -> Jan moves to
    the next year).  The yearless lines before any time get ``year`` if given,
    else the year that puts the first of them nearest to the file's own dated lines, else
    to ``reference`` (the capture's first/last time), else the current year (the previous
    one if that would put it in the future).
    """
    dated = [t for t in _dated_nanos(stamps) if t is not None]
    first = next((s for s in stamps if s is not None and s.year is None), None)
    choice = YearChoice(None, None)
    if first is not None:
        if year is not None:
            choice = YearChoice(year, "--year")
        elif dated:
            choice = YearChoice(_nearest_year(first, (min(dated), max(dated))), "file dates")
        elif reference is not None:
            choice = YearChoice(_nearest_year(first, reference), "capture dates")
        else:
            today = today or dt.date.today()
            guess = today.year
            today_ns = local_nanos(Stamp(guess, today.month, today.day, 0, None), guess)
            if (local_nanos(first, guess) or 0) > today_ns + 2 * DAY_NS:
                guess -= 1
            choice = YearChoice(guess, "assumed")
    out: list[int | None] = []
    previous: int | None = None  # local ns of the line before (dated or given a year)
    last: Stamp | None = None    # the stamp of the line before, when it gave ``previous``
    for s in stamps:
        if s is None:
            out.append(None)
            continue
        if s is last:   # the same second as the line before (stamps are shared): the same time
            out.append(previous)
            continue
        if s.year is not None:
            t = local_nanos(s, s.year)
        elif previous is None:
            t = local_nanos(s, choice.year)
        else:
            t = _nearest(s, previous)
        out.append(t)
        previous = t if t is not None else previous
        last = s if t is not None else None
    return out, choice


def _dated_nanos(stamps: Sequence[Stamp | None]):
    """Local ns of the stamps that have a year (a run of one stamp converted once)."""
    last, t = None, None
    for s in stamps:
        if s is not None and s.year is not None:
            if s is not last:
                last, t = s, local_nanos(s, s.year)
            yield t


def _nearest(stamp: Stamp, anchor: int) -> int | None:
    """``stamp`` in the first year that does not put it more than a month before
    ``anchor``: logs run forward (Mar -> Oct stays in the year, Dec -> Jan moves on), and a
    relay may deliver a line a little late (Jan 5 dated, then Dec 30 is the year before)."""
    year = dt.datetime.fromtimestamp(anchor // NS, dt.timezone.utc).year
    for y in (year - 1, year, year + 1):
        t = local_nanos(stamp, y)
        if t is not None and t >= anchor - 31 * DAY_NS:
            return t
    return None


def _nearest_year(stamp: Stamp, span: tuple[int, int]) -> int:
    lo, hi = span
    centre = dt.datetime.fromtimestamp(lo // NS, dt.timezone.utc).year

    def distance(y: int) -> int:
        t = local_nanos(stamp, y)
        if t is None:
            return 1 << 62
        return 0 if lo <= t <= hi else min(abs(t - lo), abs(t - hi))

    return min((centre - 1, centre, centre + 1), key=distance)


def parse_tz(value) -> dt.tzinfo | None:
    """'Europe/Berlin', '+02:00', 'UTC' or a tzinfo -> tzinfo; UsageError when unknown."""
    if value is None or isinstance(value, dt.tzinfo):
        return value
    text = str(value).strip()
    offset = parse_offset(text)
    if offset is not None:
        return dt.timezone(dt.timedelta(seconds=offset))
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(f"unknown time zone {text!r}: "
                         "use a name like Europe/Berlin or an offset like +02:00") from None


def tz_name(tz: dt.tzinfo | None) -> str:
    """'Europe/Berlin', '+02:00' or 'UTC'."""
    if tz is None:
        return "UTC"
    if isinstance(tz, dt.timezone):
        minutes = int(tz.utcoffset(None).total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}" if minutes else "UTC"
    return getattr(tz, "key", None) or str(tz)


def to_utc(local: Sequence[int | None], offsets: Sequence[int | None], tz: dt.tzinfo | None) -> list[int | None]:
    """UTC ns for each local time: the line's own offset when it has one, else ``tz``.

    Local times that a DST change makes ambiguous are read as summer time, and times that
    do not exist (the hour skipped in spring) are moved forward.
    """
    out: list[int | None] = [None] * len(local)
    zoned = []
    for i, (t, off) in enumerate(zip(local, offsets)):
        if t is None:
            continue
        if off is not None:
            out[i] = t - off * NS
        elif tz is None:
            out[i] = t
        else:
            zoned.append(i)
    if zoned:
        naive = pd.DatetimeIndex(np.array([local[i] for i in zoned], dtype="int64").view("datetime64[ns]"))
        utc = naive.tz_localize(tz, ambiguous=np.ones(len(zoned), dtype=bool),
                                nonexistent="shift_forward").tz_convert("UTC").asi8
        for i, t in zip(zoned, utc.tolist()):
            out[i] = t
    return out
