"""Palo Alto PAN-OS SYSTEM logs as syslog or CSV export (docs/formats.md, "PAN-OS").

The SYSTEM log is comma-separated: ``FUTURE_USE, Receive Time, Serial Number, Type
(SYSTEM), Subtype (vpn), FUTURE_USE, Generated Time, Virtual System, Event ID, Object,
FUTURE_USE, FUTURE_USE, Module, Severity, Description, Sequence Number, Action Flags,
Device Group Hierarchy 1-4, Virtual System Name, Device Name`` (PAN-OS syslog field
reference).  Syslog puts a header before it; a CSV export from the web interface has a
header line and the same rows.  The time is the Generated Time (device local), the
device its Device Name (the syslog header's host is a relay or an FQDN: ``relay``), the
tunnel (``Object``) the gateway or tunnel name, and the SPI is taken from the
description (``SPI:0x...``).  Only the ``ike-send-p2-delete`` wording is confirmed by
a real line; the other VPN event ids are read by name and marked UNCONFIRMED in
docs/formats.md.
"""
from __future__ import annotations

import csv
import re

from .record import LineFormat, Parsed, envelope, host_columns, ignored
from .rules import hex_u32
from .stamp import iso_stamp

# "1,<time>,...,SYSTEM," at the start of the line or after a space or comma: written
# "1(?<![^\s,]1)" so that the regex engine jumps to the "1"s; the record starts at the
# character before it
START = re.compile(r"1(?<![^\s,]1),\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,SYSTEM,")
EXPORT_HEADER = re.compile(r"^\W*(?:Domain|FUTURE_USE),Receive Time,Serial ?#?(?: Number)?,Type,", re.I)
SPI = re.compile(r"SPI[: ]\s*(0x[0-9A-Fa-f]{1,8})\b")

EVENTS = {  # event id -> (kind, direction of the SPI the description names)
    "ike-send-p2-delete": ("sa-deleted", "in"),      # we tell the peer to drop our inbound SA
    "ike-recv-p2-delete": ("sa-deleted", "out"),     # UNCONFIRMED wording
    "ipsec-key-delete": ("sa-deleted", None),        # UNCONFIRMED wording
    "ipsec-key-install": ("p2-complete", None),      # UNCONFIRMED wording
    "ike-nego-p2-succ": ("p2-complete", None),       # UNCONFIRMED wording
    "ike-nego-p1-succ": ("p1-complete", None),       # UNCONFIRMED wording
    "ike-nego-p2-start": ("p2-initiated", None),     # UNCONFIRMED wording
    "ike-nego-p1-start": ("p1-initiated", None),     # UNCONFIRMED wording
    "tunnel-status-up": ("vpn-up", None),            # UNCONFIRMED wording
    "tunnel-status-down": ("vpn-down", None),        # UNCONFIRMED wording
    "ike-nego-p1-fail": ("ike-error", None),         # UNCONFIRMED wording
    "ike-nego-p2-fail": ("ike-error", None),         # UNCONFIRMED wording
}


def parse(line: str, state: dict) -> Parsed | None:
    m = START.search(line)
    if m is None:
        return ignored(PANOS_SYSTEM, line) if EXPORT_HEADER.match(line) else None
    start = max(m.start() - 1, 0)
    body = line[start:].lstrip(" ,\t")
    fields = next(csv.reader([body]), [])
    if len(fields) < 15:
        return None
    event, description = fields[8], fields[14]
    kind, way = EVENTS.get(event, (None, None))
    generated = re.fullmatch(r"(\d{4})/(\d\d)/(\d\d) (\d\d:\d\d:\d\d)", fields[6])
    stamp = iso_stamp(f"{generated[1]}-{generated[2]}-{generated[3]}", generated[4]) if generated else None
    if kind is None:
        return Parsed(PANOS_SYSTEM.name, "panos", None, [], stamp, body)
    host = envelope(line)[1] if start > 0 else None
    name = fields[22] if len(fields) > 22 and fields[22] else None
    # the Device Name field is the device's own name; without it, the header's host (a name) is
    where = {"device": name, "relay": host if host != name else None} if name else host_columns(host)
    spi = SPI.search(description)
    row = {"vendor": "panos", "kind": kind, "message_id": event, "severity": fields[13] or None,
           "tunnel_name": fields[9] or None, **where, "text": description,
           "spi": hex_u32(spi.group(1)) if spi else None, "direction": way if spi else None}
    return Parsed(PANOS_SYSTEM.name, "panos", kind, [row], stamp, body)


PANOS_SYSTEM = LineFormat("panos-system", "panos", (",SYSTEM,", "Receive Time,Serial"), parse)
FORMATS = (PANOS_SYSTEM,)
