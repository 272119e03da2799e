"""Palo Alto PAN-OS ``ikemgr.log`` lines (docs/formats.md, "Palo Alto PAN-OS").

Lines start ``2025-07-06 03:32:18.287 -0400 [PNTF]: { 7: 60}: ``; the ``====> ... <====``
detail line after ``IPSEC KEY DELETED; tunnel X`` has no time of its own (the driver
gives it the previous line's) and names both SPIs, inbound first.  ``can't find sa for
proto ESP spi X`` is a ``bad-spi`` unless it follows a received DELETE for that SPI, when
it is the late delete itself (``ike-error``).  The ``Installed SA`` / ``Established SA``
wordings are UNCONFIRMED (only the delete is in a public source).
"""
from __future__ import annotations

import re

from .record import LineFormat, Parsed, envelope, parsed
from .rules import match, rule

HEAD = re.compile(r"\[(?P<severity>[A-Z]{3,5})\]: \{[\d: ]*\}: ")
DETAIL = re.compile(r"====> ")
SA_ENDS = r"(?P<local>[^\[\s]+)\[\d+\]-(?P<peer>[^\[\s]+)\[\d+\].*?SPI:(?P<spi_in>0x\w+)/(?P<spi_out>0x\w+)"

SA_DELETED = rule(rf"Deleted SA: {SA_ENDS}", "sa-deleted", needle="Deleted SA:")
SA_INSTALLED = rule(rf"(?:Installed|Established) SA: {SA_ENDS}(?:.*?lifetime (?P<lifetime>\d+) Sec)?", "p2-complete",
                    needle=" SA: ")
NO_SA = rule(r"can't find sa for proto (?P<proto>ESP|AH) spi (?P<spi>0x\w+)", "bad-spi", needle="can't find sa")
LATE_DELETE = rule(NO_SA.pattern, "ike-error", needle=NO_SA.needle)
PEER_DELETE = rule(r"delete proto (?P<proto>ESP|AH) spi (?P<spi>0x\w+)", None, needle="delete proto")
RULES = (SA_DELETED, SA_INSTALLED, NO_SA, PEER_DELETE)
TUNNEL = re.compile(r"IPSEC KEY (?:DELETED|INSTALLED); tunnel (\S+)")


def parse(line: str, state: dict) -> Parsed | None:
    head = HEAD.search(line)
    if not head and not DETAIL.match(line):
        return None
    stamp = envelope(line)[0] if head else None
    text = line[head.end():] if head else line
    tunnel = TUNNEL.search(text)
    if tunnel:
        state["panos_tunnel"] = tunnel.group(1)
    found = match(RULES, text)
    rule_, groups = found or (None, {})
    if rule_ is PEER_DELETE:
        state["panos_deleted_spi"] = groups["spi"]
    elif rule_ is NO_SA and groups["spi"] == state.get("panos_deleted_spi"):
        found = (LATE_DELETE, groups)
    named = state.get("panos_tunnel") if rule_ in (SA_DELETED, SA_INSTALLED) else None
    return parsed(PANOS, found, stamp=stamp, text=text, severity=head["severity"] if head else None,
                  tunnel_name=named)


PANOS = LineFormat("panos-ikemgr", "panos", ("]: {", "====> "), parse)
FORMATS = (PANOS,)
