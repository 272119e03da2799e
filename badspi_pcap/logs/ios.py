"""Cisco IOS / IOS-XE crypto messages (log-formats.md §3.3).

``%CRYPTO-4-RECVD_PKT_INV_SPI`` is the bad-SPI message (with or without the
``, input interface=...`` suffix of newer images).  The ``ISAKMP-ERROR ... ignoring request
to send delete notify (no ISAKMP sa)`` debug line that follows it is an ``ike-error``.
``%CRYPTO-5-SESSION_STATUS`` tunnel up/down is not in log-formats.md (a common IOS message,
modelled from memory: UNCONFIRMED).  IOS logs no SPI when a phase 2 SA is established.
"""
from __future__ import annotations

import re

from .record import syslog_format
from .rules import rule

ADDR = r"[^\s,()]+"

RULES = (
    rule(rf"decaps: rec'd IPSEC packet has invalid spi for destaddr= ?(?P<dst>{ADDR}), prot= ?(?P<proto>\w+),"
         rf" spi= ?(?P<spi>0x[0-9A-Fa-f]+)(?:\(\d+\))?, srcaddr= ?(?P<src>{ADDR})"
         rf"(?:, input interface= ?(?P<interface>\S+))?", "bad-spi", needle="invalid spi"),
    rule(rf"ignoring request to send delete notify \(no ISAKMP sa\) src (?P<local>{ADDR}) dst (?P<peer>{ADDR})"
         rf" for SPI (?P<spi>0x[0-9A-Fa-f]+)", "ike-error", needle="ignoring request to send delete notify"),
    rule(rf"Crypto tunnel is UP\s*\. +Peer (?P<peer>{ADDR})", "vpn-up", needle="Crypto tunnel is UP"),
    rule(rf"Crypto tunnel is DOWN\s*\. +Peer (?P<peer>{ADDR})", "vpn-down", needle="Crypto tunnel is DOWN"),
)

IOS = syslog_format("ios-syslog", "ios", ("%CRYPTO-", "ISAKMP"),
                    re.compile(r"%(?P<message_id>CRYPTO-(?P<severity>\d)-\w+):|\bISAKMP(?:-ERROR)?:"), RULES)
FORMATS = (IOS,)
