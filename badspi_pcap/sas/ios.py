"""Cisco ``show crypto ipsec sa`` as IOS / IOS-XE and ASA print it (docs/formats.md,
"Cisco SA tables").

Per peer flow (``current_peer X port N`` on IOS, ``current_peer: X`` on ASA) the output
lists ``#pkts ...`` counters, then ``inbound esp sas:`` / ``outbound esp sas:`` sections
of ``spi: 0xHEX(dec)`` entries with transform, remaining lifetime (``(k/sec): (kb/sec)``
on IOS; ``(kB/sec): (kb/sec)`` on ASA; ``(sec): N`` or ``N hours, M mins`` on both),
state (``Status: ACTIVE(ACTIVE)``
on IOS, ``SA State: active`` on ASA) and, on IOS, ``replay window size: N``.

A block is labelled ``asa`` when it shows an ASA-only wording (``current_peer:`` with a
colon, ``kB/sec``, ``SA State:``, ``#pre-frag``, ``#recv errors:``); else ``ios``.  Every
counter becomes a counter row; the flow's receive-side drop counters also go on its
inbound SA rows: ``replay_errors`` from ``#pkts replay failed (rcv)`` and
``invalid_spi_errors`` from ``#pkts invalid sa (rcv)`` (IOS prints some counters without
a colon: ``#pkts invalid sa (rcv) 0``).  ``conn id: N`` (IOS) / ``conn_id: N`` (ASA) is the
crypto connection id that ``%CRYPTO-4-PKT_REPLAY_ERR`` names: ``conn_id``.
"""
from __future__ import annotations

import re

from ..logs.rules import address, hex_u32
from .table import Lines, Output, SaTable, counter

PEER = re.compile(r"^\s*current_peer(?P<colon>:)? (?P<peer>\S+)(?: port (?P<port>\d+))?")
SECTION = re.compile(r"^\s*(?P<way>inbound|outbound) (?P<proto>esp|ah|pcp) sas:")
SPI = re.compile(r"^\s*spi: (?P<spi>0x[0-9A-Fa-f]+)")
TRANSFORM = re.compile(r"^\s*transform: (?P<alg>.+?)\s*,?\s*$")
TIMING = re.compile(r"remaining key lifetime (?:\((?:k|kB)/sec\): \(\d+/(?P<sec>\d+)\)|\(sec\): (?P<only>\d+)"
                    r"|(?P<hours>\d+) hours?, (?P<mins>\d+) mins?)")
STATUS = re.compile(r"^\s*(?:Status|SA State): (?P<state>\S+)")
WINDOW = re.compile(r"replay window size: (?P<window>\d+)")
CONN = re.compile(r"\bconn[ _]id: (?P<conn>\d+)")
PKTS = re.compile(r"#+(?P<name>[A-Za-z][^:,#]*?):?\s+(?P<value>\d+)\b")
ASA_ONLY = re.compile(r"kB/sec|SA State:|#pre-frag|#recv errors:|#send errors:")
FLOW_COLUMNS = {"pkts replay failed (rcv)": "replay_errors", "pkts invalid sa (rcv)": "invalid_spi_errors"}


def crypto_ipsec_sa(lines: Lines) -> Output:
    peer: dict = {}
    section: dict | None = None
    rows: list[dict] = []   # SA rows of the current block (its vendor is known at the end)
    asa = False
    for number, text in lines:
        if m := PEER.match(text):
            yield from _flush(rows, asa)
            peer, section, rows, asa = {"gateway": address(m["peer"])}, None, [], bool(m["colon"])
            if m["port"]:
                peer["port"] = int(m["port"])
            continue
        asa = asa or bool(peer and ASA_ONLY.search(text))
        if m := SECTION.match(text):
            section = {"direction": "in" if m["way"] == "inbound" else "out", "proto": m["proto"]}
        elif section and (m := SPI.match(text)):
            flow = {k: v for k, v in peer.items() if k in FLOW_COLUMNS.values()} if section["direction"] == "in" else {}
            rows.append(dict({k: v for k, v in peer.items() if k not in FLOW_COLUMNS.values()}, **section, **flow,
                             line=number, spi=hex_u32(m["spi"])))
        elif rows and section and (m := TRANSFORM.match(text)):
            rows[-1]["algorithm"] = m["alg"]
        elif rows and section and (m := TIMING.search(text)):
            rows[-1]["lifetime_s"] = (int(m["hours"]) * 3600 + int(m["mins"]) * 60 if m["hours"]
                                      else int(m["sec"] or m["only"]))
        elif rows and section and (m := STATUS.match(text)):
            rows[-1]["state"] = m["state"]
        elif rows and section and (m := WINDOW.search(text)):
            rows[-1]["replay_window"] = int(m["window"])
        elif rows and section and (m := CONN.search(text)):
            rows[-1]["conn_id"] = int(m["conn"])
        elif "#" in text and peer and section is None:
            for pair in PKTS.finditer(text):
                name = pair["name"].strip()
                if name in FLOW_COLUMNS:
                    peer[FLOW_COLUMNS[name]] = int(pair["value"])
                yield counter(number, name, pair["value"], gateway=peer["gateway"])
    yield from _flush(rows, asa)


def _flush(rows: list[dict], asa: bool) -> Output:
    for row in rows:
        row["vendor"] = "asa" if asa else "ios"
        yield "sa", row


TABLES = (SaTable("cisco-crypto-ipsec-sa", "ios", crypto_ipsec_sa, also=("asa",)),)
