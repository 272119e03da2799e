"""Fortinet FortiOS key=value event logs (docs/formats.md, "Fortinet FortiOS").

0101037131 "IPsec ESP" with ``error_num="Received ESP packet with unknown SPI."`` is the
bad-SPI message (other ESP errors become ``esp-error``); 0101037133 "IPsec SA installed"
names ``in_spi``/``out_spi`` (fields documented, no real line: UNCONFIRMED), 0101037138
"connection status changed" with ``action=tunnel-up|tunnel-down`` (UNCONFIRMED values).
SPIs and sequence numbers are bare hex.  ``date``/``time`` with ``tz`` give the time;
``eventtime`` (epoch, ns in FortiOS 6.x+) adds the sub-second part when it agrees.
"""
from __future__ import annotations

import calendar
import re

from .record import LineFormat, Parsed
from .rules import address, hex_u32
from .stamp import NS, iso_stamp

# "\blogid" written "l(?<!\wl)ogid": the regex engine jumps to the "l"s instead of trying
# every position of the line
LOGID = re.compile(r"l(?<!\wl)ogid=[\"']?(\d{10})")
PAIR = re.compile(r"(\w+)=(?:\"([^\"]*)\"|'([^']*)'|(\S*))")
_DATE, _CLOCK = re.compile(r"\d{4}-\d\d-\d\d"), re.compile(r"\d\d:\d\d:\d\d")
KNOWN = {"0101037131", "0101037133", "0101037138", "0101037124"}


def _fields(line: str) -> dict[str, str]:
    return {k: (a or b or c) for k, a, b, c in PAIR.findall(line)}


def _stamp(f: dict[str, str]):
    date, clock = f.get("date", ""), f.get("time", "")
    if not (_DATE.fullmatch(date) and _CLOCK.fullmatch(clock)):
        return None
    stamp = iso_stamp(date, clock, None, f.get("tz"))
    event = f.get("eventtime", "")
    if stamp is None or stamp.offset_s is None or not event.isdigit() or len(event) < 10:
        return stamp
    written = calendar.timegm((stamp.year, stamp.month, stamp.day, 0, 0, 0)) + stamp.nanos // NS - stamp.offset_s
    scale = 10 ** (len(event) - 10)
    if int(event) // scale == written:  # the same second: take its fraction
        stamp = stamp._replace(nanos=stamp.nanos + (int(event) % scale) * (NS // scale))
    return stamp


def _kind(logid: str, f: dict[str, str]) -> str | None:
    if logid == "0101037131":
        return "bad-spi" if "unknown spi" in f.get("error_num", "").lower() else "esp-error"
    if logid == "0101037133":
        return "p2-complete"
    if logid == "0101037138":
        action = f.get("action", "").lower()
        return "vpn-up" if action.endswith("up") else "vpn-down" if action.endswith("down") else None
    if logid == "0101037124":
        return "ike-error"
    return None


def _none_if_na(value: str | None) -> str | None:
    return None if not value or value.upper() == "N/A" else value


def parse(line: str, state: dict) -> Parsed | None:
    m = LOGID.search(line)
    if not m:
        return None
    text = line[m.start():]
    if m.group(1) not in KNOWN:
        return Parsed(FORTIOS.name, "fortios", None, [], None, text)
    f = _fields(line)
    stamp, kind = _stamp(f), _kind(m.group(1), f)
    if kind is None:
        return Parsed(FORTIOS.name, "fortios", None, [], stamp, text)
    row = {"vendor": "fortios", "kind": kind, "text": text, "message_id": m.group(1),
           "device": _none_if_na(f.get("devname")), "severity": f.get("level"),
           "tunnel_name": _none_if_na(f.get("vpntunnel")), "peer": address(_none_if_na(f.get("remip"))),
           "interface": _none_if_na(f.get("outintf"))}
    if kind in ("bad-spi", "esp-error"):
        row.update(src=row["peer"], dst=address(_none_if_na(f.get("locip"))), proto="ESP",
                   spi=hex_u32(f.get("spi")), seq=hex_u32(f.get("seq")))
        rows = [row]
    elif kind == "p2-complete":
        rows = [dict(row, direction="in", spi=hex_u32(f.get("in_spi"))),
                dict(row, direction="out", spi=hex_u32(f.get("out_spi")))]
    else:
        rows = [row]
    return Parsed(FORTIOS.name, "fortios", kind, rows, stamp, text)


FORTIOS = LineFormat("fortios", "fortios", ("logid=",), parse)
FORMATS = (FORTIOS,)
