"""What a format module returns for one line, and how a matched rule becomes that."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

from .rules import Rule, match, normalise
from .stamp import Stamp, leading_stamp


class Finder(Protocol):
    """What ``syslog_format`` needs of its ``start``: a compiled regex, or an object that
    searches like one."""

    groupindex: Mapping[str, int]

    def search(self, line: str) -> re.Match | None: ...


@dataclass(slots=True)
class Parsed:
    """One recognised (logical) line.  ``kind`` None: known format, nothing to report."""

    fmt: str
    vendor: str
    kind: str | None
    rows: list[dict]
    stamp: Stamp | None
    text: str


@dataclass(frozen=True)
class LineFormat:
    """A log format: cheap markers that route a line to it, and its line parser.

    ``parse(line, state)`` returns None when the line is not this format after all;
    ``state`` is a dict kept per file for formats that need context (a CLI prompt's
    device name, the peer of an IKE SA named on an earlier line).
    """

    name: str
    vendor: str
    markers: tuple[str, ...]
    parse: Callable[[str, dict], Parsed | None]
    pattern: re.Pattern | None = None   # accept by regex instead of markers
    continues: re.Pattern | None = None  # a line it finds (search) may go on over indented lines
    joins: re.Pattern | None = None      # ... and over a line matching this, indented or not, even
                                         # after a blank line (IOS "connection id=..., sequence number=...")

    def accepts(self, line: str) -> bool:
        if self.pattern is not None:
            return self.pattern.match(line) is not None
        for marker in self.markers:
            if marker in line:
                return True
        return False


def ignored(fmt: LineFormat, text: str, stamp: Stamp | None = None) -> Parsed:
    """A line of this format with nothing to report (its time only matters to PAN-OS)."""
    return Parsed(fmt.name, fmt.vendor, None, [], stamp, text)


def parsed(fmt: LineFormat, found: tuple[Rule, dict] | None, *, stamp: Stamp | None,
           text: str, **common) -> Parsed:
    """A Parsed from a rule match (or an ignored line when ``found`` is None).

    ``common`` holds what the envelope gave (device, severity, message_id): the rule's
    own captures win over it.
    """
    if found is None or found[0].kind is None:
        return Parsed(fmt.name, fmt.vendor, None, [], stamp, text)
    rule, groups = found
    rows = normalise(groups, rule.const)
    for row in rows:
        for key, value in common.items():
            if value is not None and key not in row:
                row[key] = value
        row["vendor"], row["kind"], row["text"] = fmt.vendor, rule.kind, text
        if rule.message_id:
            row["message_id"] = rule.message_id
    return Parsed(fmt.name, fmt.vendor, rule.kind, rows, stamp, text)


def envelope(line: str) -> tuple[Stamp | None, str | None]:
    """The time a line starts with and the syslog host name after it.

    '... srx1 kmd[14162]: ' -> 'srx1'; '... test test: ' -> 'test'; '... mydevice.com %CRYPTO'
    -> 'mydevice.com'; a program tag ('charon:', 'kmd[1]:'), a message id ('%ASA-4-...')
    or no header time at all -> no host.
    """
    stamp, end = leading_stamp(line)
    if stamp is None:
        return None, None
    words = line[end:end + 80].split(None, 1)
    if not words:
        return stamp, None
    first = words[0]
    if (first.endswith(":") or "[" in first or first.startswith(("%", '"')) or "=" in first
            or first.lower() in _SEVERITIES):
        return stamp, None
    return stamp, first


def host_columns(host: str | None) -> dict:
    """A syslog header's host as event columns: a name is the device's own (``device``);
    an address was written by whoever received the line (a relay or collector: ``relay``)."""
    if not host:
        return {}
    if not (host[:1].isdigit() or ":" in host or host[:1] == "["):
        return {"device": host}
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return {"device": host}
    return {"relay": host}


# syslog exports that put the severity where the host would be (OPNsense: time, level, program)
_SEVERITIES = {"emergency", "alert", "critical", "error", "warning", "notice", "informational", "info", "debug"}


def syslog_format(name: str, vendor: str, markers: tuple[str, ...], start: Finder,
                  rules: tuple[Rule, ...], *, text_after_start: bool = False,
                  enrich: Callable[[Parsed, re.Match, dict], None] | None = None,
                  continues: re.Pattern | None = None, joins: re.Pattern | None = None) -> LineFormat:
    """A format whose lines are an optional syslog header, then a message that ``start``
    finds, then text that ``rules`` read (from where ``start`` begins, or after it).
    ``start``'s named groups that are event columns (message_id, severity) apply to every
    row; ``enrich`` may fill rows from per-file state.  A line ``start`` does not find is
    not this format."""
    common = set(start.groupindex) & {"message_id", "severity"}

    def parse(line: str, state: dict) -> Parsed | None:
        m = start.search(line)
        if not m:
            return None
        text = line[m.end():] if text_after_start else line[m.start():]
        found = match(rules, text)
        if found is None or found[0].kind is None:
            return ignored(fmt, text)  # most lines: skip the header work
        stamp, host = envelope(line)
        result = parsed(fmt, found, stamp=stamp, text=text, **host_columns(host), **{k: m[k] for k in common})
        if enrich is not None:
            enrich(result, m, state)
        return result

    fmt = LineFormat(name, vendor, markers, parse, continues=continues, joins=joins)
    return fmt
