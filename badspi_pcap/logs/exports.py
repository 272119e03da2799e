"""Logs as a SIEM or a log daemon hands them over: the vendor line inside an export record.

A file is recognised by its first non-blank line, like every other format:

==================  ==========================================================================
layout              recognised by, and what is read
==================  ==========================================================================
splunk-csv          a CSV header with ``_raw`` (Splunk Web export, ``splunk search -output
                    csv``, exporttool): ``_raw``, ``_time``, ``host`` (``host::`` prefix dropped)
graylog-csv         a CSV header with ``timestamp`` and ``message``: ``full_message`` or
                    ``message``, ``timestamp`` (UTC), ``source``
journald-json       JSON lines with ``__REALTIME_TIMESTAMP`` or ``MESSAGE`` (``journalctl -o
                    json``): ``MESSAGE`` behind ``SYSLOG_IDENTIFIER[_PID]:``, ``_HOSTNAME``
elastic-ndjson      JSON lines with ``@timestamp``, ``message``, ``event`` or ``_source`` (one
                    document or one search hit per line; dotted or nested names):
                    ``event.original`` or ``message``, ``@timestamp``, ``host.name``
rfc5424             any line ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`` (also inside the
                    records above): ``MSG`` behind ``APP[PROCID]:``, ``TIMESTAMP``, ``HOST``
==================  ==========================================================================

The text inside goes to the vendor rules unchanged (CSV's doubled quotes undone); the
record's own time (``Wrapper``) is kept beside the device's and pins what the device's
line leaves open (``pin``): its year, and its UTC offset rounded to 15 minutes.  A record
that is not what its file's layout says is passed on as it is (it ends up unparsed).
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Iterator

from ..errors import Skipped
from .stamp import NS, Stamp, epoch_stamp, iso_stamp, local_nanos

QUARTER_HOUR_S = 900
MAX_OFFSET_S = 14 * 3600


@dataclass(frozen=True, slots=True)
class Wrapper:
    """What the export says about one record: its time (offset None when it gives no zone)
    and host."""

    layout: str
    stamp: Stamp | None
    host: str | None

    @property
    def utc_ns(self) -> int | None:
        if self.stamp is None or self.stamp.offset_s is None:
            return None
        local = local_nanos(self.stamp, self.stamp.year)
        return None if local is None else local - self.stamp.offset_s * NS

    @property
    def zone(self) -> str | None:
        if self.stamp is None or self.stamp.offset_s is None:
            return None
        minutes = self.stamp.offset_s // 60
        sign = "-" if minutes < 0 else "+"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}" if minutes else "UTC"


class Unwrapper:
    """Reads one file's numbered lines and yields the vendor lines inside; remembers each
    record's ``Wrapper`` by its first line number (``wrappers``) and the layout found."""

    def __init__(self, source: str, skipped: list[Skipped]):
        self.source, self.skipped = source, skipped
        self.layout: str | None = None
        self.wrappers: dict[int, Wrapper] = {}

    def lines(self, numbered: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
        numbered = iter(numbered)
        for number, text in numbered:
            if not text.strip():
                yield number, text
                continue
            header = _csv_header(text)
            if header is not None:
                self.layout = header[0]
                yield from self._csv(header[0], header[1], number, numbered)
                return
            if _json_layout(text) is not None:
                yield from self._json(chain([(number, text)], numbered))
                return
            yield from self._plain(chain([(number, text)], numbered))
            return

    def _plain(self, numbered) -> Iterator[tuple[int, str]]:
        for number, text in numbered:
            if "<" in text[:4]:                    # cheap test first: most lines are no RFC 5424
                yield from self._inner(number, text, None)
            else:
                yield number, text

    def _inner(self, number: int, text: str, wrapper: Wrapper | None) -> Iterator[tuple[int, str]]:
        """The record's text line by line, a syslog RFC 5424 header taken off (its time is
        the record's when the export gave none)."""
        inner = unwrap_5424(text)
        if inner is not None:
            text, own = inner
            if wrapper is None or wrapper.utc_ns is None:
                wrapper = own
            self.layout = self.layout or "rfc5424"
        if wrapper is not None:
            self.wrappers[number] = wrapper
        if "\n" not in text:
            yield number, text
            return
        for part in text.split("\n"):  # a record holding several lines
            yield number, part.rstrip("\r")

    def _csv(self, layout: str, columns: list[str], header_line: int, numbered) -> Iterator[tuple[int, str]]:
        where = {"line": header_line}

        def feed():
            for number, text in numbered:
                where["line"] = number
                yield text + "\n"

        reader = csv.reader(feed())
        index = {name: i for i, name in enumerate(columns)}
        previous_end = header_line
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                self.skipped.append(Skipped(self.source, f"line {where['line']}", f"damaged CSV record ({e})"))
                previous_end = where["line"]
                continue
            start, previous_end = previous_end + 1, where["line"]
            if not row:
                continue
            record = {name: row[i] for name, i in index.items() if i < len(row)}
            text, wrapper = _CSV_LAYOUTS[layout](record)
            if text is None:  # not a record of this layout: pass the physical line on
                text = ",".join(row)
            yield from self._inner(start, text, wrapper)

    def _json(self, numbered) -> Iterator[tuple[int, str]]:
        for number, text in numbered:
            record = _json_object(text)
            layout = _json_layout_of(record) if record is not None else None
            if layout is None:
                yield number, text
                continue
            self.layout = self.layout or layout
            inner, wrapper = _JSON_LAYOUTS[layout](record)
            if inner is None:
                yield number, text
                continue
            yield from self._inner(number, inner, wrapper)


def received_columns(wrapper: Wrapper | None) -> dict:
    """The events columns an export record fills: its time (UTC) and the zone it was written in."""
    if wrapper is None:
        return {}
    return {"time_received": wrapper.utc_ns, "received_tz": wrapper.zone}


def pin(stamp: Stamp | None, wrapper: Wrapper | None) -> Stamp | None:
    """The device's stamp with the year and UTC offset it lacks taken from the export's
    time (the offset rounded to 15 minutes: what is left over is clock error and transit,
    which correlate measures); the export's own stamp when the line has none."""
    if wrapper is None or wrapper.stamp is None:
        return stamp
    if stamp is None:
        return wrapper.stamp
    received = wrapper.utc_ns
    if received is None or (stamp.year is not None and stamp.offset_s is not None):
        return stamp
    year = stamp.year
    if year is None:
        near = wrapper.stamp.year
        candidates = [(abs(t - received), y) for y in (near - 1, near, near + 1)
                      if (t := local_nanos(stamp, y)) is not None]
        if not candidates:
            return stamp
        year = min(candidates)[1]
    if stamp.offset_s is not None:
        return stamp._replace(year=year)
    local = local_nanos(stamp, year)
    if local is None:
        return stamp._replace(year=year)
    offset = round((local - received) / NS / QUARTER_HOUR_S) * QUARTER_HOUR_S
    if abs(offset) > MAX_OFFSET_S:
        return stamp._replace(year=year)
    return stamp._replace(year=year, offset_s=offset)


# --- record layouts -------------------------------------------------------------------

_ISO = re.compile(r"\s*(?P<date>\d{4}-\d\d-\d\d)[T ](?P<hms>\d\d:\d\d:\d\d)(?:[.,](?P<frac>\d{1,9})\d*)?"
                  r"\s*(?P<off>Z|UTC|GMT|[+-]\d\d:?\d\d)?\s*$")
_EPOCH = re.compile(r"\s*(?P<sec>\d{9,10})(?:\.(?P<frac>\d{1,9}))?\s*$")


def export_stamp(value) -> Stamp | None:
    """An export's time: ISO 8601 (offset kept; none: None), or epoch seconds (UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    m = _ISO.match(value)
    if m:
        return iso_stamp(m["date"], m["hms"], m["frac"], m["off"])
    m = _EPOCH.match(value)
    if m:
        return epoch_stamp(m["sec"], m["frac"])
    return None


def _epoch_micros(value) -> Stamp | None:
    text = str(value).strip()
    if not text.isdigit() or len(text) > 19:
        return None
    return epoch_stamp(text[:-6] or "0", text[-6:].rjust(6, "0"))


def _csv_header(line: str) -> tuple[str, list[str]] | None:
    if "," not in line:
        return None
    try:
        columns = [c.strip() for c in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return None
    if "_raw" in columns:
        return "splunk-csv", columns
    if "timestamp" in columns and "message" in columns:
        return "graylog-csv", columns
    return None


def _splunk(record: dict) -> tuple[str | None, Wrapper | None]:
    raw = record.get("_raw")
    if raw is None:
        return None, None
    host = record.get("host") or None
    if host and host.startswith("host::"):
        host = host[6:]
    return raw, Wrapper("splunk-csv", export_stamp(record.get("_time")), host)


def _graylog(record: dict) -> tuple[str | None, Wrapper | None]:
    text = record.get("full_message") or record.get("message")
    if text is None:
        return None, None
    return text, Wrapper("graylog-csv", export_stamp(record.get("timestamp")), record.get("source") or None)


_CSV_LAYOUTS = {"splunk-csv": _splunk, "graylog-csv": _graylog}


def _json_object(text: str) -> dict | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json_layout(text: str) -> str | None:
    record = _json_object(text)
    return _json_layout_of(record) if record is not None else None


def _json_layout_of(record: dict) -> str | None:
    if "__REALTIME_TIMESTAMP" in record or "MESSAGE" in record:
        return "journald-json"
    if isinstance(record.get("_source"), dict) or any(k in record for k in ("@timestamp", "message", "event",
                                                                          "event.original")):
        return "elastic-ndjson"
    return None


def _field(record: dict, dotted: str):
    """``host.name`` as a flattened key or as nested objects."""
    if dotted in record:
        return record[dotted]
    value = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # journald writes non-UTF-8 messages as byte arrays
        if all(isinstance(b, int) and 0 <= b < 256 for b in value):
            return bytes(value).decode("utf-8", "replace")
        return " ".join(v for v in value if isinstance(v, str)) or None
    return None


def _elastic(record: dict) -> tuple[str | None, Wrapper | None]:
    doc = record["_source"] if isinstance(record.get("_source"), dict) else record
    text = _text(_field(doc, "event.original")) or _text(_field(doc, "message"))
    if text is None:
        return None, None
    host = next((h for h in (_field(doc, "host.name"), _field(doc, "host.hostname"), doc.get("host"))
                 if isinstance(h, str) and h), None)
    return text, Wrapper("elastic-ndjson", export_stamp(_field(doc, "@timestamp")), host)


def _journald(record: dict) -> tuple[str | None, Wrapper | None]:
    text = _text(record.get("MESSAGE"))
    if text is None:
        return None, None
    tag = _text(record.get("SYSLOG_IDENTIFIER"))
    pid = _text(record.get("SYSLOG_PID")) or _text(record.get("_PID"))
    if tag:
        text = f"{tag}[{pid}]: {text}" if pid else f"{tag}: {text}"
    stamp = _epoch_micros(record.get("__REALTIME_TIMESTAMP", ""))
    return text, Wrapper("journald-json", stamp, _text(record.get("_HOSTNAME")))


_JSON_LAYOUTS = {"journald-json": _journald, "elastic-ndjson": _elastic}

# RFC 5424 section 6: HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID,
# then STRUCTURED-DATA ("-" or [id param="value" ...]...), then optionally SP MSG (may start with a BOM).
_SYSLOG_5424 = re.compile(
    r"\s*<\d{1,3}>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\\"]|\\.|\"(?:[^\"\\]|\\.)*\")*\])+)(?: (?:\ufeff)?(?P<msg>.*))?$", re.S)


def unwrap_5424(line: str) -> tuple[str, Wrapper] | None:
    """'<165>1 2003-10-11T22:14:15.003Z host app 12 ID47 - text' -> ('app[12]: text', wrapper)."""
    if "<" not in line[:4]:
        return None
    m = _SYSLOG_5424.match(line)
    if not m:
        return None
    text = m["msg"] or ""
    if m["app"] != "-":
        text = f"{m['app']}[{m['procid']}]: {text}" if m["procid"] != "-" else f"{m['app']}: {text}"
    stamp = export_stamp(m["time"]) if m["time"] != "-" else None
    return text, Wrapper("rfc5424", stamp, None if m["host"] == "-" else m["host"])

