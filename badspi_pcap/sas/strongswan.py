"""strongSwan ``swanctl --list-sas`` (the lab's real outputs; ``src/swanctl/commands/
list_sas.c``).  Each child SA gives an ``in`` and an ``out`` row; ``tunnel_id`` is the reqid
(stable across rekeys), ``tunnel_name`` the child name, ``lifetime_s`` the seconds until it
expires, ``state`` INSTALLED / REKEYED / ...; bytes and packets become counters."""
from __future__ import annotations

import re

from ..logs.rules import address, hex_u32
from .table import Lines, Output, SaTable, counter

IKE_SA = re.compile(r"^(?P<conn>[^\s:]+): #\d+, (?P<state>\w+), IKEv\d")
REMOTE = re.compile(r"^\s+remote .*?@ (?P<addr>[^\s\[]+)\[(?P<port>\d+)\]")
CHILD = re.compile(r"^\s+(?P<name>[^\s:]+): #\d+, reqid (?P<reqid>\d+), (?P<state>\w+), [\w-]+,"
                   r" (?P<proto>ESP|AH):(?P<alg>\S+)")
EXPIRES = re.compile(r"^\s+installed .*?expires in (?P<sec>-?\d+)s")
SPI = re.compile(r"^\s+(?P<way>in|out)\s+(?P<spi>[0-9a-f]{8})\b[^,]*,"
                 r"\s+(?P<bytes>\d+) bytes,\s+(?P<packets>\d+) packets")


def list_sas(lines: Lines) -> Output:
    ike: dict = {}
    child: dict | None = None
    for number, text in lines:
        if IKE_SA.match(text):
            ike, child = {}, None
        elif m := REMOTE.match(text):
            ike = {"gateway": address(m["addr"]), "port": int(m["port"])}
        elif m := CHILD.match(text):
            child = dict(ike, tunnel_id=int(m["reqid"]), tunnel_name=m["name"], state=m["state"],
                         proto=m["proto"].lower(), algorithm=m["alg"])
        elif child and (m := EXPIRES.match(text)):
            child["lifetime_s"] = max(int(m["sec"]), 0)
        elif child and (m := SPI.match(text)):
            row = dict(child, line=number, direction=m["way"], spi=hex_u32(m["spi"]))
            yield "sa", row
            where = {k: row.get(k) for k in ("tunnel_id", "gateway", "direction", "spi")}
            yield counter(number, "bytes", m["bytes"], **where)
            yield counter(number, "packets", m["packets"], **where)


TABLES = (SaTable("swanctl-list-sas", "strongswan", list_sas),)
