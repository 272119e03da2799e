"""SonicWall SonicOS syslog (docs/formats.md, "SonicWall SonicOS").

A line is ``[syslog header] id=<name> sn=<serial> time="<YYYY-MM-DD hh:mm:ss>[ UTC]"
fw=<address> pri=<n> c=<category> m=<message id> msg="<text>" n=<count> src=<a>[:port[:if]]
dst=<a>[:port[:if]] [note="<text>"] ...``.  What becomes what:

- ``id`` -> ``device`` (the name the firewall gives itself; "firewall" in most published lines); a header
  host (an address, or another name) -> ``relay``;
- ``time`` -> the time (the line's own; ``UTC`` when written, else device-local);
- ``m`` -> ``message_id``, ``pri`` -> ``severity`` (the number as written);
- a packet drop (m=1388 "IPSec VPN Decryption Failed") keeps ``src`` and ``dst`` as written;
  its ``note`` says why: "Replay check failure." is ``replay``, anything else ``esp-error``.
  The line names no SPI and no sequence number;
- an IKE message keeps the address that is not the firewall's own (``fw``) as ``peer``.

The rules read ``msg``, followed by `` (note)`` when the line has a note.  Every other
SonicOS line (connections, web management, ...) is known and ignored.
"""
from __future__ import annotations

import re

from .record import LineFormat, Parsed, envelope, ignored, parsed
from .rules import address, match, rule
from .stamp import iso_stamp

# "id=" at the start or after a space, written "i(?<!\Si)d=": starting with a letter lets the
# regex engine jump to the "i"s instead of trying every position of the line
HEAD = re.compile(r'i(?<!\Si)d=(?P<device>\S+)\s+sn=\S+\s+'
                  r'time="(?P<date>\d{4}-\d\d-\d\d) (?P<hms>\d\d:\d\d:\d\d)(?: (?P<zone>UTC))?"')
PAIR = re.compile(r'(\w+)=(?:"([^"]*)"|(\S*))')
PACKET_KINDS = ("replay", "esp-error")

RULES = (
    rule(r"^IPSec VPN Decryption Failed \(Replay check failure", "replay", needle="Replay check failure"),
    rule(r"^IPSec VPN Decryption Failed\b", "esp-error", needle="IPSec VPN Decryption Failed"),
    rule(r"^IKE Initiator: Start Quick Mode \(Phase 2\)", "p2-initiated", needle="Start Quick Mode"),
    # the m=483 template with INVALID_SPI: no real line seen (UNCONFIRMED)
    rule(r"^Received notify: INVALID_SPI\b", "invalid-spi-notify", needle="INVALID_SPI", direction="in"),
    rule(r"^Received notify: \w+", "ike-error", needle="Received notify:", direction="in"),
)


def _fields(record: str) -> dict[str, str]:
    return {k: (quoted or bare) for k, quoted, bare in PAIR.findall(record)}


def _address(value: str | None) -> str | None:
    """'1.128.3.4:500:WAN' -> '1.128.3.4' (SonicOS adds port and interface); '' -> None."""
    return address(value.split(":", 1)[0]) if value and value[0] != ":" else None


def parse(line: str, state: dict) -> Parsed | None:
    head = HEAD.search(line)
    if head is None:
        return None
    record = line[head.start():].lstrip()
    f = _fields(record)
    message = f.get("msg", "") + (f" ({f['note']})" if f.get("note") else "")
    found = match(RULES, message)
    if found is None or found[0].kind is None:
        return ignored(SONICWALL, record)
    device = head["device"]
    host = envelope(line)[1]
    src, dst = _address(f.get("src")), _address(f.get("dst"))
    if found[0].kind in PACKET_KINDS:
        where = {"src": src, "dst": dst}
    else:   # IKE: the side that is not this firewall
        own = _address(f.get("fw"))
        where = {"peer": dst if src == own else src if dst == own else None}
    return parsed(SONICWALL, found, stamp=iso_stamp(head["date"], head["hms"], None, head["zone"]), text=record,
                  device=device, relay=host if host and host != device else None,
                  message_id=f.get("m"), severity=f.get("pri"), **where)


SONICWALL = LineFormat("sonicwall", "sonicwall", ("sn=",), parse)
FORMATS = (SONICWALL,)
