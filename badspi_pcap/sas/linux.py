"""Linux ``ip xfrm state`` and ``/proc/net/xfrm_stat`` (docs/formats.md, "Linux kernel").

``ip xfrm state`` does not say which states are inbound, so ``direction`` and ``gateway``
stay empty and ``src``/``dst`` are kept; ``tunnel_id`` is the reqid; ``seq`` is the
output sequence number when it has moved, else the input one.  ``xfrm_stat`` counters
(``XfrmInNoStates`` counts inbound packets with an unknown SPI) become counter rows.
"""
from __future__ import annotations

import re

from ..logs.rules import address, hex_u32
from .table import Lines, Output, SaTable, counter

STATE = re.compile(r"^src (?P<src>\S+) dst (?P<dst>\S+)\s*$")
PROTO = re.compile(r"^\s+proto (?P<proto>esp|ah) spi (?P<spi>0x[0-9a-fA-F]+)(?: reqid (?P<reqid>\d+))?")
ALGORITHM = re.compile(r"^\s+(?:enc|aead|auth-trunc|auth) (?P<alg>\S+)")
WINDOW = re.compile(r"^\s+replay-window (?P<window>\d+)\b")
REPLAY = re.compile(r"anti-replay (?:esn )?context:.*?\bseq (?P<seq>0x[0-9a-fA-F]+), oseq (?P<oseq>0x[0-9a-fA-F]+)")
STAT = re.compile(r"^(?P<name>Xfrm\w+)\s+(?P<value>\d+)\s*$")


def xfrm_state(lines: Lines) -> Output:
    row: dict | None = None
    ends: dict = {}
    for number, text in lines:
        if m := STATE.match(text):
            if row:
                yield "sa", row
            row, ends = None, {"src": address(m["src"]), "dst": address(m["dst"])}
        elif ends and (m := PROTO.match(text)):
            row = dict(ends, line=number, proto=m["proto"], spi=hex_u32(m["spi"]),
                       tunnel_id=int(m["reqid"]) if m["reqid"] else None)
        elif row and (m := ALGORITHM.match(text)):
            row["algorithm"] = "/".join(filter(None, (row.get("algorithm"), m["alg"])))
        elif row and (m := WINDOW.match(text)):
            row["replay_window"] = int(m["window"])
        elif row and (m := REPLAY.search(text)):
            oseq = hex_u32(m["oseq"])
            row["seq"] = oseq if oseq else hex_u32(m["seq"])
    if row:
        yield "sa", row


def xfrm_stat(lines: Lines) -> Output:
    for number, text in lines:
        if m := STAT.match(text):
            yield counter(number, m["name"], m["value"])


TABLES = (SaTable("xfrm-state", "linux", xfrm_state), SaTable("xfrm-stat", "linux", xfrm_stat))
