"""Cisco IOS ``show crypto ipsec sa`` (log-formats.md §3.3): per peer, ``inbound esp sas:``
and ``outbound esp sas:`` sections of ``spi: 0xHEX(dec)`` entries with transform, remaining
lifetime and status; the ``#pkts ...`` counters apply to the peer's crypto flow."""
from __future__ import annotations

import re

from .rules import address, hex_u32
from .satable import Lines, Output, SaTable, counter

PEER = re.compile(r"^\s*current_peer (?P<peer>\S+) port (?P<port>\d+)")
SECTION = re.compile(r"^\s*(?P<way>inbound|outbound) (?P<proto>esp|ah|pcp) sas:")
SPI = re.compile(r"^\s*spi: (?P<spi>0x[0-9A-Fa-f]+)")
TRANSFORM = re.compile(r"^\s*transform: (?P<alg>.+?)\s*,?\s*$")
TIMING = re.compile(r"remaining key lifetime \(k/sec\): \(\d+/(?P<sec>\d+)\)")
STATUS = re.compile(r"^\s*Status: (?P<state>\S+)")
PKTS = re.compile(r"#(?P<name>[^:,#]+?):\s*(?P<value>\d+)")


def crypto_ipsec_sa(lines: Lines) -> Output:
    peer: dict = {}
    section: dict | None = None
    row: dict | None = None
    for number, text in lines:
        if m := PEER.match(text):
            peer, section = {"gateway": address(m["peer"]), "port": int(m["port"])}, None
        elif m := SECTION.match(text):
            section = {"direction": "in" if m["way"] == "inbound" else "out", "proto": m["proto"]}
        elif section and (m := SPI.match(text)):
            if row:
                yield "sa", row
            row = dict(peer, **section, line=number, spi=hex_u32(m["spi"]))
        elif row and (m := TRANSFORM.match(text)):
            row["algorithm"] = m["alg"]
        elif row and (m := TIMING.search(text)):
            row["lifetime_s"] = int(m["sec"])
        elif row and (m := STATUS.match(text)):
            row["state"] = m["state"]
        elif "#" in text and peer:
            for pair in PKTS.finditer(text):
                yield counter(number, pair["name"].strip(), pair["value"], gateway=peer["gateway"])
    if row:
        yield "sa", row


TABLES = (SaTable("ios-crypto-ipsec-sa", "ios", crypto_ipsec_sa),)
