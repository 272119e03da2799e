"""Clock sanity: what an estimated or given clock offset says about the log's time zone
and date, and whether the data contradict an offset or a zone the user gave.

- An offset near a whole quarter hour away from zero names the time zones that would
  explain it and suggests ``--log-tz``.
- An offset of 12 h or more also warns that the device's date or the log's day may be
  wrong, and says how to check (``--clock-offset 0``).
- A given ``--clock-offset`` or ``--log-tz`` that three or more agreeing exact
  (SPI, SEQ) pairs contradict gets a warning with the data's estimate.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

QUARTER_S = 900
ZONE_TOLERANCE_S = 120.0      # a clock may also be off by a minute or two: still a zone step
DAY_WARNING_S = 12 * 3600
MIN_AGREEING_PAIRS = 3        # exact pairs needed to contradict what the user gave
AGREE_TOLERANCE_S = 2.0       # given vs. estimated offset: more apart than this is a contradiction

# Well-known zones first, so a hint names zones an engineer recognises.
KNOWN_ZONES = (
    "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Helsinki", "Europe/Moscow", "Asia/Dubai",
    "Asia/Tehran", "Asia/Kabul", "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Yangon",
    "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul", "Australia/Darwin",
    "Australia/Adelaide", "Australia/Brisbane", "Australia/Sydney", "Pacific/Noumea", "Pacific/Auckland",
    "Pacific/Chatham", "Pacific/Tongatapu", "Pacific/Kiritimati", "America/Sao_Paulo", "America/St_Johns",
    "America/Halifax", "America/New_York", "America/Chicago", "America/Mexico_City", "America/Denver",
    "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "Pacific/Marquesas",
    "Pacific/Pago_Pago", "Atlantic/Azores", "Atlantic/Cape_Verde", "America/Noronha", "Africa/Johannesburg",
    "Africa/Lagos", "Africa/Nairobi",
)


@dataclass(frozen=True)
class ClockNote:
    kind: str          # zone | date | contradicted
    text: str

    @property
    def label(self) -> str:
        """How reports head it: a zone is a hint, the others warnings."""
        return "hint" if self.kind == "zone" else "warning"


def signed(seconds: float) -> str:
    """+1 h 0 min 37 s, -6 h 0 min 0 s, +37.0 s."""
    sign = "-" if seconds < 0 else "+"
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:.1f} s"
    h, rest = divmod(int(round(s)), 3600)
    m, sec = divmod(rest, 60)
    return f"{sign}{h} h {m} min {sec} s" if h else f"{sign}{m} min {sec} s"


def utc_offset_text(seconds: float) -> str:
    """UTC+05:30, UTC-06:00."""
    m = int(round(abs(seconds) / 60))
    return f"UTC{'-' if seconds < 0 else '+'}{m // 60:02d}:{m % 60:02d}"


def zone_step(offset_s: float) -> int | None:
    """The whole quarter hour (seconds, non-zero) the offset is near, else None."""
    q = round(offset_s / QUARTER_S) * QUARTER_S
    if q == 0 or abs(offset_s - q) > ZONE_TOLERANCE_S:
        return None
    return int(q)


@lru_cache(maxsize=64)
def zones_at(offset_s: int, day: dt.date) -> tuple[str, ...]:
    """Time zones whose UTC offset on that day is ``offset_s`` (known ones first)."""
    from zoneinfo import ZoneInfo, available_timezones

    when = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.timezone.utc)

    def fits(name):
        try:
            off = when.astimezone(ZoneInfo(name)).utcoffset()
        except Exception:
            return False
        return off is not None and int(off.total_seconds()) == offset_s

    known = [z for z in KNOWN_ZONES if fits(z)]
    if len(known) >= 2:
        return tuple(known[:3])
    others = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/"))
                    and z not in known and fits(z))
    return tuple((known + others)[:3])


def tz_offset_s(log_tz: str | None, when: pd.Timestamp | None) -> float:
    """The UTC offset of the zone the log was read in, at that time (0 for UTC/none)."""
    if not log_tz or when is None:
        return 0.0
    from .logs.stamp import parse_tz
    try:
        zone = parse_tz(log_tz)
    except Exception:
        return 0.0
    off = when.to_pydatetime().astimezone(zone).utcoffset()
    return off.total_seconds() if off is not None else 0.0


def notes(offset, *, log_tz: str | None = None, when: pd.Timestamp | None = None,
          data_estimate=None, zoned_lines: bool = False) -> list[ClockNote]:
    """What to tell the user about the clock offset used (``offset``: correlate.ClockOffset);
    ``data_estimate``: the offset the data give (ClockOffset) when the user gave one;
    ``zoned_lines``: the lines carry their own UTC offset (--log-tz does not apply)."""
    out: list[ClockNote] = []
    used = offset.seconds
    if offset.method == "given" and data_estimate is not None and _agreeing(data_estimate) \
            and abs(data_estimate.seconds - used) > AGREE_TOLERANCE_S:
        out.append(ClockNote("contradicted", (
            f"the data contradict the given clock offset {signed(used)}: {data_estimate.matches} exact SPI+SEQ pairs "
            f"agree on {signed(data_estimate.seconds)}; rerun without --clock-offset, or with --clock-offset "
            f"{data_estimate.seconds:+.0f}")))
        used_for_hints = data_estimate.seconds
    elif offset.method in ("given", "assumed"):
        return out
    else:
        used_for_hints = used
    step = zone_step(used_for_hints)
    base = tz_offset_s(log_tz, when)
    if step is not None and abs(step) < DAY_WARNING_S * 2 - QUARTER_S:
        zone = base + step
        day = (when or pd.Timestamp.now(tz="UTC")).date()
        names = zones_at(int(zone), day)
        rest = used_for_hints - step
        read_as = f"--log-tz {log_tz}" if log_tz else "UTC"
        if zoned_lines and not log_tz:
            out.append(ClockNote("zone", (
                f"the offset {signed(used_for_hints)} is close to a whole time-zone step ({signed(step)}), but the "
                f"lines carry their own UTC offset: the device's clock or time-zone setting may be wrong by "
                f"{signed(step)}; the clocks otherwise differ by {signed(used_for_hints - step)}")))
        elif abs(zone) <= 14 * 3600 and names:
            text = (f"the offset {signed(used_for_hints)} is close to a whole time-zone step ({signed(step)}): the "
                    f"log may be written in {utc_offset_text(zone)}"
                    + f" (e.g. {', '.join(names)}) while it was read as {read_as}; rerun with --log-tz "
                    f"{utc_offset_text(zone)[3:]} or a zone name; the clocks then differ by {signed(rest)}")
            if log_tz and _agreeing(offset if offset.method != "given" else data_estimate):
                n = (offset if offset.method != "given" else data_estimate).matches
                text = f"the data contradict --log-tz {log_tz} ({n} exact SPI+SEQ pairs agree): " + text
                out.append(ClockNote("contradicted", text))
            else:
                out.append(ClockNote("zone", text))
    if abs(used_for_hints) >= DAY_WARNING_S:
        out.append(ClockNote("date", (
            f"the offset {signed(used_for_hints)} is 12 h or more: the device's date may be wrong, or the log's "
            f"lines were read into the wrong day (--year, --log-tz). To check, rerun with --clock-offset 0: "
            f"if no line then matches a packet, the device clock really is that far off")))
    return out


def _agreeing(estimate) -> bool:
    return estimate is not None and estimate.method == "spi+seq" and estimate.matches >= MIN_AGREEING_PAIRS
