"""Juniper ScreenOS (NetScreen) event messages: syslog lines and ``get event`` output.

Syslog form (docs/formats.md, "Juniper ScreenOS")::

    Jun 30 12:08:36 test test: NetScreen device_id=test  [Root]system-alert-00026: IPSec tunnel
    on interface ethernet0/2 with tunnel ID 0x9a received a packet with a bad SPI. 202.x.x.154->
    124.x.x.186/96, ESP, SPI 0xf5b25b5b, SEQ 0x1. (2021-06-30 12:08:35)

The device's own trailing time is preferred over a relay's header time.  The vsys
(``[Root]``, ``[No Name]`` or none) and the severity are optional; traffic logs
(``system-notification-00257(traffic):``) are known but not reported.

``get event`` / ``get log event`` form: its layout is UNCONFIRMED (no public sample);
modelled on the usual ScreenOS table, newest first, lenient about spacing and level words,
long descriptions continued on indented lines::

    Total event entries = 3
    Date       Time     Module Level  Type Description
    2021-06-30 12:08:35 system alert  00026 IPSec tunnel on interface ethernet0/2 ...

Tunnel IDs: 00026/00042 write hex (0x9a), 00536 writes decimal (154): both become 154.
"""
from __future__ import annotations

import re

from .record import LineFormat, Parsed, envelope, ignored, parsed
from .rules import match, rule, v
from .stamp import iso_stamp

HEX = r"(?:0x)?[0-9a-fA-F]+"
DIGITS = r"\d+"
ADDR = r"[^\s<>,/-]+"           # before "->"
ADDR_LEN = r"[^\s<>,/]+"        # before "/<length>"
PEER = r"[^\s<>]+?"
IF = r"[^\s<>]+"
IKE_PEER = rf"IKE {v('peer', PEER)}:?"

_ESP_TAIL = (rf"{v('proto', 'ESP|AH')}, SPI {v('spi', HEX)}, SEQ {v('seq', HEX)}")

BAD_SPI = rule(
    rf"IPSec tunnel on int(?:erface)? {v('interface', IF)} with tunnel ID {v('tunnel_hex', HEX)} received a packet"
    rf" with a bad SPI\.(?: {v('src', ADDR)} ?-> ?{v('dst', ADDR_LEN)}/{v('length', DIGITS)}, {_ESP_TAIL})?",
    "bad-spi", needle="bad SPI")
HEARTBEATS_EXCEEDED = rule(
    rf"(?:{IKE_PEER} )?Missing heartbeats have exceeded the threshold", "sa-deleted", needle="Missing heartbeats")
REPLAY = rule(
    rf"Replay packet detected on IPSec tunnel on {v('interface', IF)} with tunnel ID {v('tunnel_hex', HEX)}!"
    rf" From {v('src', ADDR)} to {v('dst', ADDR_LEN)}/{v('length', DIGITS)}, {_ESP_TAIL}",
    "replay", needle="Replay packet")


def _notify(name: str, kind: str):
    return rule(rf"(?:{IKE_PEER} )?(?P<direction>Received|Sent) (?:an? )?notif\w* message for DOI <?\d+>? <?\d+>?"
                rf" <?{name}>?", kind, needle="DOI")


IKE_RULES = (
    rule(rf"{IKE_PEER} Phase 2 msg ID {v('ike_msgid', '[0-9a-fA-F]+')}: "
         rf"Completed negotiations with SPI {v('spi', HEX)},"
         rf" tunnel ID {v('tunnel_dec', DIGITS)}, and lifetime {v('lifetime', DIGITS)} seconds",
         "p2-complete", needle="Completed negotiations with SPI"),
    rule(rf"{IKE_PEER} Phase 2(?: msg ID {v('ike_msgid', '[0-9a-fA-F]+')})?: Initiated negotiations",
         "p2-initiated", needle="Initiated negotiations"),
    rule(rf"{IKE_PEER} Phase 2(?: msg ID {v('ike_msgid', '[0-9a-fA-F]+')})?: Responded to the peer's first message",
         "p2-initiated", needle="Responded to the peer", direction="in"),
    rule(rf"{IKE_PEER} Phase 1 ?: Initiated", "p1-initiated", needle="Initiated"),
    rule(rf"{IKE_PEER} Phase 1 ?: Completed (?:\w+ mode )?negotiations(?: with an? {v('lifetime', DIGITS)}-second)?",
         "p1-complete", needle="Completed"),
    rule(rf"{IKE_PEER} Sent initial contact notification", "initial-contact", needle="Sent initial contact",
         direction="out"),
    rule(rf"{IKE_PEER} Received initial contact notification", "initial-contact", needle="Received initial contact",
         direction="in"),
    _notify("INITIAL[-_]CONTACT", "initial-contact"),
    _notify("INVALID[-_]SPI", "invalid-spi-notify"),
    rule(rf"{IKE_PEER} Responded to a packet with a bad SPI", "bad-spi-response", needle="Responded to a packet"),
    rule(rf"{IKE_PEER} Received a bad SPI", "bad-spi-response", needle="Received a bad SPI"),
    rule(rf"{IKE_PEER} Removed Phase 2 SAs after receiving a notification", "sa-deleted", needle="Removed Phase 2"),
    HEARTBEATS_EXCEEDED,
    rule(rf"VPN monitoring for VPN (?P<tunnel_name>.+?) has deactivated the SA with ID {v('tunnel_hex', HEX)}",
         "sa-deactivated", needle="has deactivated the SA"),
    # "tunnel ID 8005" read as decimal like 00536's tunnel ID (UNCONFIRMED which base).
    rule(rf"Phase 2 SA for tunnel ID {v('tunnel_dec', DIGITS)} has been idle too long", "sa-deactivated",
         needle="idle too long"),
    rule(rf"Rejected an IKE packet on {v('interface', IF)} from {v('src', PEER)} to {v('dst', PEER)} with",
         "ike-error", needle="Rejected an IKE packet"),
    rule(rf"(?:{IKE_PEER} )?(?:Phase \d ?:? ?)?.*?(?:Retransmission limit|Rejected|Aborted negotiations"
         rf"|No policy exists|instead of expected|incorrect ID payload|Heartbeats have been lost"
         rf"|[Nn]egotiations (?:have )?failed)", "ike-error", needle=""),
)

_VPN_STATE = rf"VPN '?(?P<tunnel_name>[^']+?)'? from {v('peer', PEER)} is "
RULES = {
    "00026": (BAD_SPI, HEARTBEATS_EXCEEDED),
    "00042": (REPLAY,),
    "00536": IKE_RULES,
    "00040": (rule(_VPN_STATE + "up", "vpn-up", needle=" is up"),
              rule(_VPN_STATE + "down", "vpn-down", needle=" is down")),
}
RULES["00041"] = RULES["00040"]

SYSLOG = re.compile(
    r"NetScreen device_id=(?P<device>\S*)\s+(?:\[(?P<vsys>[^\]]*)\])?system-(?:(?P<severity>[a-z]+)-)?"
    r"(?P<message_id>\d{5})(?:\((?P<flavour>[^)]*)\))?: ?(?P<payload>.*)")
# starts at "(" (a leading \s* would be tried at every position): strip the spaces before it
DEVICE_TIME = re.compile(r"\((?P<date>\d{4}-\d\d-\d\d) (?P<hms>\d\d:\d\d:\d\d)\)\s*$")
LEVELS = r"alert|crit|critical|info|information|notif|notification|warn|warning|emer|emergency|err|error|debug"
EVENT_ROW = re.compile(
    rf"(?P<date>\d{{4}}-\d\d-\d\d) +(?P<hms>\d\d:\d\d:\d\d) +(?:(?P<module>[A-Za-z][\w-]*) +)?"
    rf"(?P<severity>{LEVELS}) +(?P<message_id>\d{{5}}) +(?P<payload>.*)", re.I)
PROMPT = re.compile(r"(?P<device>[\w.:-]+?)(?:\([A-Za-z]+\))?-> ?"
                    r"(?P<command>(?:get|set|unset|exec|clear|save|debug|undebug|snoop)\b.*)?$")
CLI_NOISE = re.compile(r"\s*(?:Date\s+Time\s+Module\s+Level\s+Type\s+Description|Total event entries\s*=\s*\d+"
                       r"|-+ ?more ?-+|-{10,})\s*$", re.I)
CLI_LINE = re.compile(rf"(?:{EVENT_ROW.pattern}|{PROMPT.pattern}|{CLI_NOISE.pattern})", re.I)


def _payload_event(fmt: LineFormat, message_id: str, payload: str, stamp, **common) -> Parsed:
    found = match(RULES.get(message_id, ()), payload)
    return parsed(fmt, found, stamp=stamp, text=payload, message_id=message_id, **common)


def parse_syslog(line: str, state: dict) -> Parsed | None:
    m = SYSLOG.search(line)
    if not m:
        return None
    device, severity, message_id, flavour, payload = m.group("device", "severity", "message_id", "flavour", "payload")
    rules = RULES.get(message_id)
    if flavour or rules is None:  # "(traffic)" logs and other messages
        return ignored(SCREENOS_SYSLOG, payload)
    own = _device_time(payload)
    stamp, host = _header(line, m.start())
    if own:   # the device's own time, not a relay's
        stamp = iso_stamp(own["date"], own["hms"])
        payload = payload[:own.start()].rstrip()
    device = device or None
    relay = host if host and host.rstrip(":") != device else None   # a header host other than the device
    return parsed(SCREENOS_SYSLOG, match(rules, payload), stamp=stamp, text=payload, message_id=message_id,
                  device=device, severity=severity, relay=relay)


def _device_time(payload: str) -> re.Match | None:
    """``DEVICE_TIME.search(payload)``, tried at the last "(" only: a match ends the text
    with its ")" and whitespace, so no "(" comes after the one it starts at."""
    start = payload.rfind("(")
    return DEVICE_TIME.match(payload, start) if start >= 0 else None


def _header(line: str, start: int):
    """``envelope(line)`` for a line whose SYSLOG match starts at ``start``, looked up by the
    text up to the space after "NetScreen": envelope reads no further (its time cannot run
    into "NetScreen", its host word ends at that space at the latest), and the lines of one
    second from one device share that text."""
    key = line[:start + _MARKER_WORD]
    found = _HEADERS.get(key)
    if found is None:
        if len(_HEADERS) >= 1 << 14:
            _HEADERS.clear()
        found = _HEADERS[key] = envelope(key)
    return found


_MARKER_WORD = len("NetScreen ")
_HEADERS: dict[str, tuple] = {}


def parse_cli(line: str, state: dict) -> Parsed | None:
    m = EVENT_ROW.match(line)
    if m:
        state["screenos_cli"] = True
        payload = DEVICE_TIME.sub("", m["payload"]).strip()
        return _payload_event(SCREENOS_CLI, m["message_id"], payload, iso_stamp(m["date"], m["hms"]),
                              device=state.get("device"), severity=m["severity"].lower())
    prompt = PROMPT.match(line)
    if prompt:
        # a bare prompt ("ns5gt->") counts only after a command or an event row: random bytes
        # spell one now and then ("V->" in about 2 GB), and that alone must not make a log
        if not prompt["command"] and not state.get("screenos_cli"):
            return None
        state["device"] = prompt["device"]
        state["screenos_cli"] = True
    elif not CLI_NOISE.match(line):
        return None
    return ignored(SCREENOS_CLI, line)


SCREENOS_SYSLOG = LineFormat("screenos-syslog", "screenos", ("NetScreen device_id=",), parse_syslog)
SCREENOS_CLI = LineFormat("screenos-cli", "screenos", (), parse_cli, pattern=CLI_LINE,
                          continues=re.compile(rf"^(?:{EVENT_ROW.pattern})", re.I))
FORMATS = (SCREENOS_SYSLOG, SCREENOS_CLI)
