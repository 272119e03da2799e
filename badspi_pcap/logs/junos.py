"""Junos SRX kmd syslog messages (docs/formats.md, "Juniper Junos").

``KMD_PM_SA_ESTABLISHED`` is logged once per direction with its SPI; VPN up/down alarms
carry the tunnel id, the peer and the st0 interface.  A kmd line for a bad *ESP* SPI is
UNCONFIRMED (none found), so none is modelled.
"""
from __future__ import annotations

import re

from .record import syslog_format
from .rules import rule


def _alarm(word: str):
    name = f"KMD_VPN_{word.upper()}_ALARM_USER"
    return rule(rf"(?P<message_id>{name}): VPN (?P<tunnel_name>\S+) from (?P<peer>[^\s,]+) is {word}\."
                r"(?:.*?Local-ip: (?P<local>[^,\s]+))?(?:.*?tunnel-id: (?P<tunnel_dec>\d+))?"
                r"(?:.*?local tunnel-if: (?P<interface>[^,\s]+))?", f"vpn-{word}", needle=name)


RULES = (
    rule(r"(?P<message_id>KMD_PM_SA_ESTABLISHED): Local gateway: (?P<local>[^,\s]+), Remote gateway:"
         r" (?P<peer>[^,\s]+),.*?Direction: (?P<direction>inbound|outbound), SPI: (?P<spi>0x[0-9a-fA-F]+)",
         "p2-complete", needle="KMD_PM_SA_ESTABLISHED"),
    _alarm("up"),
    _alarm("down"),
    rule(r"IKE negotiation successfully completed\..*?VPN: (?P<tunnel_name>[^\s,]+),? Gateway: [^\s,]+,?"
         r" Local: (?P<local>[^/,\s]+)/\d+, Remote: (?P<peer>[^/,\s]+)/\d+", "p1-complete",
         needle="IKE negotiation successfully completed"),
)

JUNOS = syslog_format("junos-syslog", "junos", ("KMD_", "kmd["),
                      re.compile(r"\bKMD_\w+:|\bkmd\[\d+\]: |IKE negotiation successfully completed"), RULES)
FORMATS = (JUNOS,)
