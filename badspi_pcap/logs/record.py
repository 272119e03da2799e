"""What a format module returns for one line, and how a matched rule becomes that."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .rules import Rule, normalise
from .stamp import Stamp


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

    def accepts(self, line: str) -> bool:
        if self.pattern is not None:
            return self.pattern.match(line) is not None
        return any(m in line for m in self.markers)


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
            if value is not None:
                row.setdefault(key, value)
        if rule.message_id:
            row["message_id"] = rule.message_id
        row["vendor"], row["kind"], row["text"] = fmt.vendor, rule.kind, text
    return Parsed(fmt.name, fmt.vendor, rule.kind, rows, stamp, text)


def host_before(prefix: str) -> str | None:
    """The syslog host name in the text between a header's time and the message marker.

    'srx1 kmd[14162]: ' -> 'srx1'; 'test test: ' -> 'test'; 'mydevice.com ' -> 'mydevice.com';
    a lone program tag ('charon: ', 'kmd[1]:') or nothing -> None.
    """
    words = prefix.split()
    if not words:
        return None
    first = words[0]
    if first.endswith(":") or "[" in first or first.startswith("%"):
        return None
    return first
