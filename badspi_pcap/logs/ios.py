"""Cisco IOS / IOS-XE crypto messages (docs/formats.md, "Cisco IOS").

``%CRYPTO-4-RECVD_PKT_INV_SPI`` is the bad-SPI message (with or without the
``, input interface=...`` suffix of newer images; ``rec'd`` is also printed ``rec`d``);
documents and consoles wrap it onto a second line, indented or not, which is joined when it
recognisably continues the message (``has invalid spi for …``, ``destaddr=…, prot=…``,
``prot=50, spi=…``).
``%CRYPTO-4-PKT_REPLAY_ERR`` is two lines, ``decrypt: replay check failed`` then
``connection id=N, sequence number=N`` (the crypto connection id, ``conn_id``, and the
packet's sequence number in decimal): the second line is joined, also when a forum copy
left a blank line between them.  The ``ISAKMP-ERROR ... ignoring request to send delete
notify (no ISAKMP sa)`` debug line that follows a bad SPI is an ``ike-error``; the
``debug crypto isakmp`` line ``Successfully installed IPSEC SA (SPI:0x...) on <interface>``
is an ``sa-created`` (which direction its SPI is, is not documented: left empty).
``%CRYPTO-5-SESSION_STATUS`` tunnel up/down: UNCONFIRMED (no real line found).
"""
from __future__ import annotations

import re

from .record import syslog_format
from .rules import rule

ADDR = r"[^\s,()]+"

RULES = (
    rule(rf"decaps: rec['`’]?d IPSEC packet has invalid spi for destaddr= ?(?P<dst>{ADDR})? ?, ?prot= ?(?P<proto>\w+),"
         rf" spi= ?(?P<spi>0x[0-9A-Fa-f]+)(?:\(\d+\))?(?:, srcaddr= ?(?P<src>{ADDR}))?"
         rf"(?:, input interface= ?(?P<interface>[^\s,]+))?", "bad-spi", needle="invalid spi"),
    rule(r"decrypt: replay check failed(?: connection id=(?P<conn_id>\d+)(?:, sequence number=(?P<seq_dec>\d+))?)?",
         "replay", needle="replay check failed"),
    rule(rf"ignoring request to send delete notify \(no ISAKMP sa\) src (?P<local>{ADDR}) dst (?P<peer>{ADDR})"
         rf" for SPI (?P<spi>0x[0-9A-Fa-f]+)", "ike-error", needle="ignoring request to send delete notify"),
    rule(r"Successfully installed IPSEC SA \(SPI:(?P<spi>0x[0-9A-Fa-f]+)\)(?: on (?P<interface>\S+))?", "sa-created",
         needle="Successfully installed IPSEC SA"),
    rule(rf"Crypto tunnel is UP\s*\. +Peer (?P<peer>{ADDR})", "vpn-up", needle="Crypto tunnel is UP"),
    rule(rf"Crypto tunnel is DOWN\s*\. +Peer (?P<peer>{ADDR})", "vpn-down", needle="Crypto tunnel is DOWN"),
)

# "\bISAKMP" written "I(?<!\wI)SAKMP": both alternatives start with a character, so the regex
# engine jumps to those instead of trying every position of the line
START = re.compile(r"%(?P<message_id>CRYPTO-(?P<severity>\d)-\w+):|I(?<!\wI)SAKMP(?:-ERROR)?:")
IOS = syslog_format("ios-syslog", "ios", ("%CRYPTO-", "ISAKMP"), START, RULES,
                    continues=re.compile(r"%CRYPTO-4-(?:RECVD_PKT_INV_SPI|PKT_REPLAY_ERR):"),
                    joins=re.compile(r"\s*(?:connection id=\d+, sequence number=\d+\s*$"
                                     r"|has invalid spi for |destaddr= ?\S*, ?prot=|prot= ?\d+, spi=)"))
FORMATS = (IOS,)
