"""Declarative message rules and the one normalisation step every vendor shares.

A vendor module is a table of ``Rule``s: a regex (compiled when first needed), the event
kind it means and fixed field values.  The regex's named groups say what each captured value is, and
``normalise`` turns them into event columns the same way for every vendor:

=============================  ==========================================================
group name                     becomes
=============================  ==========================================================
spi, seq                       uint32 from hex, with or without ``0x``
spi_auto, seq_auto             hex when written with ``0x``, else decimal
spi_dec, seq_dec               uint32 from decimal
spi_in, spi_out                two rows, ``direction`` in and out (hex)
tunnel_hex, tunnel_dec         ``tunnel_id`` (ScreenOS writes 0x9a in 00026, 154 in 00536)
conn_id                        ``conn_id`` from decimal (Cisco crypto connection id)
src, dst, peer, local          addresses, port suffixes removed; ``local`` + ``peer`` +
                               ``direction`` give src/dst (the SA's packet flow)
proto                          ESP | AH (also from IP protocol numbers 50/51)
direction                      in | out (inbound/outbound, received/sent)
length, lifetime               integers (``lifetime`` -> lifetime_s)
anything else in EVENT_TEXT    kept as text
=============================  ==========================================================
"""
from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Mapping

EVENT_TEXT = ("device", "severity", "interface", "ike_msgid", "tunnel_name", "message_id")
_PROTOS = {"esp": "ESP", "ah": "AH", "50": "ESP", "51": "AH"}
_DIRECTIONS = {"in": "in", "inbound": "in", "received": "in", "receive": "in", "recv": "in",
               "out": "out", "outbound": "out", "sent": "out", "sending": "out", "send": "out"}
_HOST_PORT = re.compile(r"([^:\s\[\]]+):\d{1,5}")  # one colon: host:port (IPv6 has several)
_IPV6_PORT = re.compile(r"\[([0-9A-Fa-f:.]+)\]:\d{1,5}")
_BRACKET_SUFFIX = re.compile(r"\[[^\]]*\]$")


@dataclass(eq=False)
class Rule:
    """A message rule.  Its regex is compiled on first use (``compiled``): a log of one
    vendor compiles that vendor's rules only, and importing the package stays cheap;
    tests/test_logs_shortcuts.py compiles every rule."""

    pattern: str
    kind: str | None                 # None: a known message with nothing to report
    needle: str                      # substring that must occur before the regex is tried
    message_id: str | None = None
    const: Mapping[str, object] = field(default_factory=dict)
    compiled: re.Pattern | None = field(default=None, repr=False)   # None until first used

    @property
    def regex(self) -> re.Pattern:
        if self.compiled is None:
            self.compiled = re.compile(self.pattern)
        return self.compiled


ALL: list[Rule] = []   # every rule made, in the order the vendor modules made them


def rule(pattern: str, kind: str | None, *, needle: str, message_id: str | None = None, **const) -> Rule:
    made = Rule(pattern, kind, needle, message_id, const)
    ALL.append(made)
    return made


def v(name: str, pattern: str) -> str:
    """A named group that may be wrapped in angle brackets (ScreenOS writes both)."""
    return rf"<?(?P<{name}>{pattern})>?"


def match(rules: tuple[Rule, ...], text: str) -> tuple[Rule, dict] | None:
    """The first rule whose needle and regex match ``text``, with its groups."""
    for r in rules:
        if r.needle in text:
            m = (r.compiled or r.regex).search(text)
            if m:
                return r, m.groupdict()
    return None


def hex_u32(text: str | None) -> int | None:
    """'0xF5B25B5B' or 'f5b25b5b' -> int; None for masked or oversized values."""
    if not text:
        return None
    try:
        value = int(text, 16)
    except ValueError:
        return None
    return value if value < 1 << 32 else None


def dec_u32(text: str | None) -> int | None:
    if not text or not text.isdigit():
        return None
    value = int(text)
    return value if value < 1 << 32 else None


def auto_u32(text: str | None) -> int | None:
    if text and text[:2].lower() == "0x":
        return hex_u32(text)
    return dec_u32(text)


@functools.lru_cache(maxsize=1 << 16)   # a log names few addresses, many times
def address(text: str | None) -> str | None:
    """Address as written, without brackets or a port; IPs in canonical form."""
    if not text:
        return None
    text = text.strip("<>,").rstrip(".")
    m = _HOST_PORT.fullmatch(text) or _IPV6_PORT.fullmatch(text)
    if m:
        text = m.group(1)
    text = _BRACKET_SUFFIX.sub("", text) or text
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text  # redacted (202.xxx.xxx.154) or a name: keep as written


def direction(text: str | None) -> str | None:
    return _DIRECTIONS.get(text.lower()) if text else None


def proto(text: str | None) -> str | None:
    return _PROTOS.get(text.lower()) if text else None


def normalise(groups: Mapping[str, str | None], const: Mapping[str, object] | None = None) -> list[dict]:
    """Named groups -> one event row, or two when the line names an in and an out SPI."""
    steps, has_local, has_pair = _plan(tuple(groups))
    row: dict = dict(const) if const else {}
    for name, column, convert in steps:
        value = groups[name]
        if value:
            row[column] = convert(value)
    local = address(groups.get("local")) if has_local else None
    if local and row.get("peer") and row.get("direction") and "src" not in row:
        inbound = row["direction"] == "in"
        row["src"], row["dst"] = (row["peer"], local) if inbound else (local, row["peer"])
    if has_pair and (groups.get("spi_in") or groups.get("spi_out")):
        return [_with_direction(row, "in", groups.get("spi_in"), local),
                _with_direction(row, "out", groups.get("spi_out"), local)]
    return [row]


# values a log repeats (an SA's SPI, a tunnel, a length): each text converted once
_repeated = functools.lru_cache(maxsize=1 << 16)
_proto, _direction, _hex, _dec = _repeated(proto), _repeated(direction), _repeated(hex_u32), _repeated(dec_u32)

# group -> (column, converter), in the order they are applied (a later one wins a column)
_STEPS = (tuple((name, name, str.strip) for name in EVENT_TEXT)
          + tuple((name, name, address) for name in ("src", "dst", "peer"))
          + (("proto", "proto", _proto), ("direction", "direction", _direction),
             ("spi", "spi", _hex), ("spi_auto", "spi", auto_u32), ("spi_dec", "spi", _dec),
             ("seq", "seq", hex_u32), ("seq_auto", "seq", auto_u32), ("seq_dec", "seq", dec_u32),
             ("tunnel_hex", "tunnel_id", _hex), ("tunnel_dec", "tunnel_id", _dec),
             ("conn_id", "conn_id", _dec), ("length", "length", _dec),
             ("lifetime", "lifetime_s", _dec)))


@functools.lru_cache(maxsize=None)   # one entry per rule regex: its group names
def _plan(names: tuple[str, ...]) -> tuple[tuple[tuple, ...], bool, bool]:
    """The steps of ``_STEPS`` for groups a regex has, and whether it has ``local`` and an
    in/out SPI pair (worked out once per regex, not per line)."""
    return (tuple(step for step in _STEPS if step[0] in names), "local" in names,
            "spi_in" in names or "spi_out" in names)


def _with_direction(row: dict, way: str, spi: str | None, local: str | None) -> dict:
    out = dict(row, direction=way, spi=hex_u32(spi))
    if local and row.get("peer") and "src" not in row:
        out["src"], out["dst"] = (row["peer"], local) if way == "in" else (local, row["peer"])
    return out
