"""ScreenOS SA tables: ``get sa`` (and ``get sa active``), ``get sa stat``, ``get sa id N``
and ``get ike cookie`` (docs/formats.md, "Juniper ScreenOS").

``get sa`` rows are ``<8-hex id><'<'|'>'> gateway port proto:enc/auth spi life kb Sta PID
vsys``.  Which arrow means which direction is not documented: '<' is read as inbound and
'>' as outbound, the likely reading (the '<' row comes first, as ``incoming:`` does in
``get sa id``).  ``get ike cookie`` output has no public sample: its layout here is
UNCONFIRMED and read leniently (phase 1 SAs, proto ``ike``, no SPI).
"""
from __future__ import annotations

import re

from ..logs.rules import address, hex_u32
from .table import ARROWS, Lines, Output, SaTable, counter, lifetime

SA_ROW = re.compile(
    r"^\s*(?P<id>[0-9a-fA-F]{8})(?P<arrow>[<>])\s+(?P<gateway>\S+)\s+(?P<port>\d+)\s+(?P<proto>esp|ah):(?P<alg>\S+)"
    r"\s+(?P<spi>[0-9a-fA-F]{8})\s+(?P<life>\d+|expir\w*)\s+(?P<kb>\d+|unlim)\s+(?P<state>\S+)", re.I)
STAT_ROW = re.compile(r"^\s*(?P<id>[0-9a-fA-F]{8})(?P<arrow>[<>])\s+(?P<gateway>\S+)"
                      r"\s+(?P<counts>\d+(?:\s+\d+){3})\s*$")
STAT_NAMES = ("Fragment", "Auth-Fail", "Other", "Totalbytes")


def get_sa(lines: Lines) -> Output:
    for number, text in lines:
        m = SA_ROW.match(text)
        if m:
            yield "sa", {"line": number, "tunnel_id": int(m["id"], 16), "direction": ARROWS[m["arrow"]],
                         "gateway": address(m["gateway"]), "port": int(m["port"]), "proto": m["proto"].lower(),
                         "algorithm": m["alg"], "spi": hex_u32(m["spi"]), "lifetime_s": lifetime(m["life"]),
                         "state": m["state"]}


def get_sa_stat(lines: Lines) -> Output:
    for number, text in lines:
        m = STAT_ROW.match(text)
        if m:
            where = {"tunnel_id": int(m["id"], 16), "direction": ARROWS[m["arrow"]], "gateway": address(m["gateway"])}
            for name, value in zip(STAT_NAMES, m["counts"].split()):
                yield counter(number, name, value, **where)


HEAD = re.compile(r"name (?P<name>[^,]+), peer gateway ip (?P<gateway>[^\s.]+(?:\.[^\s.]+)*)\.?")
TUNNEL = re.compile(r"^tunnel id (?P<id>\d+),")
CIPHER = re.compile(r"^(?P<proto>esp|ah), group \d+, (?P<enc>\S+) encryption, (?P<auth>\S+) authentication")
STATES = re.compile(r"\bIN (?P<in>\w+), OUT (?P<out>\w+)")
SIDE = re.compile(r"^(?P<side>incoming|outgoing): SPI (?P<spi>[0-9a-fA-F]{8})")
LIFE = re.compile(r"^life \d+ sec, (?:(?P<remain>\d+) remain|(?P<expired>expired))")
LAST = re.compile(r"anti-replay \w+, last (?P<last>0x[0-9a-fA-F]+)")
NEXT = re.compile(r"^next pak sequence number: (?P<next>0x[0-9a-fA-F]+)")


def get_sa_id(lines: Lines) -> Output:
    """``get sa id N`` detail: one row per incoming/outgoing block.  ``seq`` is the last
    sequence number received (incoming) or the next one to send (outgoing)."""
    block: dict = {}
    states: dict = {}
    row: dict | None = None
    for number, raw in lines:
        text = raw.strip()
        if m := HEAD.search(text):
            block, states = {"tunnel_name": m["name"].strip(), "gateway": address(m["gateway"])}, {}
        elif m := TUNNEL.match(text):
            block["tunnel_id"] = int(m["id"])
        elif m := CIPHER.match(text):
            block.update(proto=m["proto"], algorithm=f"{m['enc']}/{m['auth']}")
        elif m := STATES.search(text):
            states = {"in": m["in"], "out": m["out"]}
        elif m := SIDE.match(text):
            if row:
                yield "sa", row
            way = "in" if m["side"] == "incoming" else "out"
            row = dict(block, line=number, direction=way, spi=hex_u32(m["spi"]), state=states.get(way))
        elif row and (m := LIFE.match(text)):
            row["lifetime_s"] = 0 if m["expired"] else int(m["remain"])
        elif row and row["direction"] == "in" and (m := LAST.search(text)):
            row["seq"] = hex_u32(m["last"])
        elif row and row["direction"] == "out" and (m := NEXT.match(text)):
            row["seq"] = hex_u32(m["next"])
    if row:
        yield "sa", row


COOKIE = re.compile(r"^\s*[0-9a-fA-F]+/[0-9a-fA-F]+, (?P<local>\S+?):(?P<lport>\d+)->(?P<peer>\S+?):(?P<port>\d+),"
                    r" (?P<proposal>[^,]+),(?: xchg\(\d+\))?(?: \((?P<name>[^/)]+))?")
COOKIE_LIFE = re.compile(r"\blifetime (?P<life>\d+)")
ROLE = re.compile(r"^\s*(?P<role>initiator|responder)\b")


def get_ike_cookie(lines: Lines) -> Output:
    row = None
    for number, text in lines:
        if m := COOKIE.match(text):
            if row:
                yield "sa", row
            row = {"line": number, "proto": "ike", "gateway": address(m["peer"]), "port": int(m["port"]),
                   "algorithm": m["proposal"].strip(), "tunnel_name": m["name"]}
        elif row and (m := COOKIE_LIFE.search(text)) and "lifetime_s" not in row:
            row["lifetime_s"] = int(m["life"])
        elif row and (m := ROLE.match(text)):
            row["state"] = m["role"]
    if row:
        yield "sa", row


TABLES = (SaTable("screenos-get-sa", "screenos", get_sa), SaTable("screenos-get-sa-stat", "screenos", get_sa_stat),
          SaTable("screenos-get-sa-id", "screenos", get_sa_id),
          SaTable("screenos-get-ike-cookie", "screenos", get_ike_cookie))
