"""Junos SRX ``show security ipsec security-associations`` and ``show security ipsec
statistics`` (docs/formats.md, "Junos").  Rows are ``<500003 ESP:alg SPI life/ kb Mon lsys
Port Gateway``; '<' is inbound and '>' outbound (as in ScreenOS).  Most releases print the
SPI as bare hex (``d3b10cfc``), cSRX and some others with ``0x``: both are read as hex."""
from __future__ import annotations

import re

from ..logs.rules import address, hex_u32
from .table import ARROWS, Lines, Output, SaTable, counter, lifetime

SA_ROW = re.compile(
    r"^\s*(?P<arrow>[<>])(?P<id>\d+)\s+(?P<proto>ESP|AH):(?P<alg>\S+)\s+(?P<spi>(?:0x)?[0-9a-fA-F]{1,8})"
    r"\s+(?P<life>\d+|expir\w*|-)\s*/\s*(?P<kb>\d+|unlim|-)\s+(?P<mon>\S+)\s+(?P<lsys>\S+)\s+(?P<port>\d+)"
    r"\s+(?P<gateway>\S+)", re.I)
SECTION = re.compile(r"^\s*(?P<section>ESP Statistics|AH Statistics|Errors):\s*$")
PAIR = re.compile(r"(?P<name>[A-Za-z][A-Za-z -]*?):\s*(?P<value>\d+)")


def security_associations(lines: Lines) -> Output:
    for number, text in lines:
        m = SA_ROW.match(text)
        if m:
            yield "sa", {"line": number, "tunnel_id": int(m["id"]), "direction": ARROWS[m["arrow"]],
                         "gateway": address(m["gateway"]), "port": int(m["port"]), "proto": m["proto"].lower(),
                         "algorithm": m["alg"], "spi": hex_u32(m["spi"]), "lifetime_s": lifetime(m["life"]),
                         "state": m["mon"]}


def statistics(lines: Lines) -> Output:
    section = None
    for number, text in lines:
        if m := SECTION.match(text):
            section = m["section"]
        elif not text.strip() or not text[:1].isspace():
            section = None
        elif section:
            for pair in PAIR.finditer(text):
                yield counter(number, pair["name"].strip(), pair["value"], section=section)


TABLES = (SaTable("junos-ipsec-sa", "junos", security_associations),
          SaTable("junos-ipsec-statistics", "junos", statistics))
