"""libreswan / Openswan ``pluto`` log lines (docs/formats.md, "libreswan").

A line is ``[syslog header] pluto[pid]: "conn"[n] peer #serial: message`` (syslog), or the
same from ``"conn"`` on (``/var/log/pluto.log`` with its own ``Mon dd hh:mm:ss.us:`` time,
``ipsec auto --up`` output, optionally after a three-digit status code such as ``004``).
``#serial`` is pluto's state number (``conn_id``; for a received Delete, the number of the
IPsec state it deletes); the connection name is ``tunnel_name``,
the instance address after ``[n]`` the peer.  SPIs are printed ``{ESP=>0xOUT <0xIN ...}``:
``=>`` the SPI this host sends with (outbound), ``<`` the one it receives on (inbound).

The established/rekeyed/installed messages give the SPIs; a received Delete names the
peer's inbound SPI, which is this host's outbound one (``direction`` out), and "is our
own SPI" the inbound one.  Messages without an SPI that a diagnosis needs (state deleted,
rekey started, IKE SA established) are reported too; the rest is ignored.
"""
from __future__ import annotations

import re

from .record import LineFormat, Parsed, envelope, host_columns, ignored, parsed
from .rules import match, rule

# "conn"[n] 1.2.3.4 #12:   or  "conn" #12:   (Openswan "conn/0x1", libreswan " /1x2"), at the
# start of the line or after a space (also the one after a status code "004 "): written
# '"(?<!\S")' so that the regex engine jumps to the quotes instead of trying every position
HEAD = re.compile(r'"(?<!\S")(?P<tunnel_name>[^"]*)"(?:\[\d+\])?(?: (?P<peer>[^\s#"]+?))?'
                  r'(?: #(?P<conn_id>\d+))?: ')
SPIS = r"\{(?P<proto>ESP|AH)\w*(?:/\w+)*=>(?P<spi_out>0x[0-9a-f]{8}) <(?P<spi_in>0x[0-9a-f]{8})"

RULES = (
    rule(rf"(?:initiator|responder) established Child SA using #\d+; IPsec \w+ .*?{SPIS}", "p2-complete",
         needle="established Child SA", message_id="child-established"),
    rule(rf"(?:initiator|responder) rekeyed Child SA #\d+ using #\d+; IPsec \w+ .*?{SPIS}", "p2-complete",
         needle="rekeyed Child SA", message_id="child-rekeyed"),
    rule(r"inbound IPsec SA installed, expecting confirmation \w+ mode \{(?P<proto>ESP|AH)\w*(?:/\w+)*=>0x[0-9a-f]{8}"
         r" <(?P<spi>0x[0-9a-f]{8})", "sa-created", needle="inbound IPsec SA installed",
         message_id="inbound-installed", direction="in"),
    rule(rf"IPsec SA established \w+ mode {SPIS}", "p2-complete", needle="IPsec SA established",
         message_id="ipsec-sa-established"),
    rule(r"received Delete SA\((?P<spi>0x[0-9a-f]{8})\) payload: deleting IPSEC State #(?P<conn_id>\d+)", "sa-deleted",
         needle="received Delete SA(", message_id="delete-received", direction="out"),
    rule(r"received Delete SA payload: replace (?:IPSEC State|CHILD SA) #(?P<conn_id>\d+) now", "sa-deleted",
         needle="received Delete SA payload: replace", message_id="delete-received"),
    rule(r"ignoring Delete SA payload: PROTO_IPSEC_(?P<proto>ESP|AH) SA\((?P<spi>0x[0-9a-f]{8})\) not found",
         "ike-error", needle="not found", message_id="delete-unknown", direction="out"),
    rule(r"Delete SA payload: PROTO_IPSEC_(?P<proto>ESP|AH) SA\((?P<spi>0x[0-9a-f]{8})\) is our own SPI",
         "sa-deleted", needle="is our own SPI", message_id="delete-own-spi", direction="in"),
    rule(r"deleting (?:IPsec SA \(\w+\)|(?:other )?state (?:#\d+ )?"
         r"\((?:STATE_QUICK_\w+|STATE_V2_ESTABLISHED_CHILD_SA)\)"
         r"|established Child SA using IKE SA)",
         "sa-deleted", needle="deleting", message_id="child-deleting"),
    rule(r"initiating rekey to replace Child SA #\d+", "p2-initiated", needle="initiating rekey",
         message_id="child-rekey-initiating"),
    rule(r"initiating Quick Mode", "p2-initiated", needle="initiating Quick Mode", message_id="quick-mode-initiating"),
    rule(r"sent IKE_AUTH request .*?; Child SA #(?P<conn_id>\d+) \{(?P<proto>ESP|AH)\w* <(?P<spi>0x[0-9a-f]{8})\}",
         "p2-initiated",
         needle="Child SA #", message_id="child-initiating", direction="in"),
    rule(r"initiating IKEv\d connection", "p1-initiated", needle="initiating IKEv", message_id="ike-initiating",
         direction="out"),
    rule(r"^(?:(?:initiator|responder) )?established IKE SA", "p1-complete", needle="established IKE SA",
         message_id="ike-established"),
    rule(r"\d+ second timeout exceeded after \d+ retransmits", "ike-error", needle="timeout exceeded",
         message_id="retransmit-timeout"),
    # an ICMP error for an IKE packet; the complainant is whoever sent the ICMP (maybe a router)
    rule(r"ERROR: asynchronous network error report on (?P<interface>\S+) \(", "ike-error",
         needle="asynchronous network error", message_id="network-error"),
)

PROGRAM = re.compile(r"p(?<!\wp)luto\[\d+\]: ")   # "\bpluto": starting with a letter is faster to find


def parse(line: str, state: dict) -> Parsed | None:
    head = HEAD.search(line)
    if head is None:
        return ignored(LIBRESWAN, line) if PROGRAM.search(line) else None
    text = line[head.end():]
    found = match(RULES, text)
    if found is None or found[0].kind is None:
        return ignored(LIBRESWAN, text)
    stamp, host = envelope(line)
    # conn_id: the state the message is about (a Delete names the IPsec state it removes)
    groups = dict(found[1], tunnel_name=head["tunnel_name"], conn_id=found[1].get("conn_id") or head["conn_id"])
    if head["peer"] and "peer" not in groups:
        groups["peer"] = head["peer"]
    result = parsed(LIBRESWAN, (found[0], groups), stamp=stamp, text=text, **host_columns(host))
    return result


LIBRESWAN = LineFormat("libreswan-pluto", "libreswan", ("pluto[", '" #', '"['), parse)
FORMATS = (LIBRESWAN,)
