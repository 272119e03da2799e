"""strongSwan charon log lines (docs/formats.md, "strongSwan").

A line is ``[header] NN[GRP] [<conn|n> ]message``: the header is a syslog time and host,
or the epoch-millisecond prefix of the lab logs (``1795723711.121 00[DMN] ...``).
``CHILD_SA net{3} established with SPIs c41ea287_i c5bfd3aa_o`` gives two rows (in, out).
IKEv2 rekeys log ``inbound CHILD_SA ... established`` when the new inbound SA is installed
and ``outbound CHILD_SA ... established`` when traffic moves to the new outbound SA;
``message_id`` tells these apart (child-established-inbound / -outbound).
``sending DELETE`` names this side's inbound SPI, ``received DELETE`` its outbound SPI (as
the lab logs show).  The peer of an IKE SA, once logged, fills later lines of that SA.
"""
from __future__ import annotations

import re

from .record import Parsed, syslog_format
from .rules import rule

GROUPS = ("IKE", "CHD", "CFG", "ENC", "NET", "KNL", "LIB", "DMN", "JOB", "MGR", "ESP", "ASN", "APP", "TLS",
          "IMC", "IMV", "PTS", "TNC", "LIB")
# "09[IKE] ", or "[IKE] " alone at the start of a line (vici event output, no thread number)
PREFIX = re.compile(r"(?:\b\d\d|^\s*)\[(?:" + "|".join(GROUPS) + r")\] (?:<(?:(?P<conn>[^|>]*)\|)?(?P<ike>\d+)> )?")


class _Prefix:
    """``PREFIX.search`` in two regexes that start with a bracket, which the regex engine
    jumps to (twice as fast as trying every position): at the start of the line, then
    after a thread number."""

    _TAIL = r"\[(?:" + "|".join(GROUPS) + r")\] (?:<(?:(?P<conn>[^|>]*)\|)?(?P<ike>\d+)> )?"
    _FIRST = re.compile(r"\s*" + _TAIL)
    _THREAD = re.compile(r"\[(?<=\d\d\[)(?<!\w\d\d\[)" + _TAIL[2:])   # "[" after "\b\d\d"
    groupindex = PREFIX.groupindex

    def search(self, line: str) -> re.Match | None:
        return self._FIRST.match(line) or self._THREAD.search(line)


FAST_PREFIX = _Prefix()


CHILD = r"CHILD_SA (?P<tunnel_name>[^\s{]+)\{\d+\}"
SPIS = r"with SPIs (?P<spi_in>[0-9a-f]{8})_i (?:\(\d+ bytes\) )?(?P<spi_out>[0-9a-f]{8})_o"
HEX8 = r"(?P<spi>[0-9a-f]{8})"

RULES = (
    rule(rf"^inbound {CHILD} established {SPIS}", "p2-complete", needle="inbound CHILD_SA",
         message_id="child-established-inbound"),
    rule(rf"^outbound {CHILD} established {SPIS}", "p2-complete", needle="outbound CHILD_SA",
         message_id="child-established-outbound"),
    rule(rf"^{CHILD} established {SPIS}", "p2-complete", needle="established with SPIs",
         message_id="child-established"),
    rule(rf"^rekeyed {CHILD} {SPIS}", "sa-rekeyed", needle="rekeyed CHILD_SA", message_id="child-rekeyed"),
    rule(rf"^detected rekeying of {CHILD}", "p2-initiated", needle="detected rekeying",
         message_id="child-rekey-detected"),
    # the kernel names the expiring SA by SPI and destination: in or out depends on whose address that is
    rule(r"^creating rekey job for CHILD_SA (?P<proto>ESP|AH)/0x(?P<spi>[0-9a-f]{8})/(?P<dst>\S+)", "p2-initiated",
         needle="creating rekey job", message_id="child-rekey-job"),
    rule(rf"^closing (?:expired )?{CHILD} {SPIS}", "sa-deleted", needle="closing", message_id="child-closing"),
    rule(rf"^sending DELETE for (?P<proto>ESP|AH) CHILD_SA with SPI {HEX8}", "sa-deleted", needle="sending DELETE",
         message_id="delete-sent", direction="in"),
    rule(rf"^received DELETE for unknown (?P<proto>ESP|AH) CHILD_SA with SPI {HEX8}", "ike-error",
         needle="DELETE for unknown", message_id="delete-unknown", direction="out"),
    rule(rf"^received DELETE for (?P<proto>ESP|AH) CHILD_SA with SPI {HEX8}", "sa-deleted", needle="received DELETE",
         message_id="delete-received", direction="out"),
    rule(r"^IKE_SA [^\s\[]+\[\d+\] established between (?P<local>[^\[\s]+)\[[^\]]*\]\.\.\.(?P<peer>[^\[\s]+)\[",
         "p1-complete", needle="established between", message_id="ike-established"),
    rule(r"^initiating (?:\w+ Mode )?IKE_SA \S+ to (?P<peer>\S+)", "p1-initiated", needle="initiating",
         message_id="ike-initiating", direction="out"),
    rule(r"^(?P<peer>\S+) is initiating an? (?:\w+ Mode )?IKE_SA", "p1-initiated", needle="is initiating",
         message_id="ike-initiating", direction="in"),
    rule(r"^establishing CHILD_SA (?P<tunnel_name>[^\s{]+)", "p2-initiated", needle="establishing CHILD_SA",
         message_id="child-establishing"),
    rule(r"^(?P<direction>received|sending) INVALID_SPI", "invalid-spi-notify", needle="INVALID_SPI",
         message_id="INVALID_SPI"),
    rule(r"^(?P<direction>received|sending) INITIAL_CONTACT", "initial-contact", needle="INITIAL_CONTACT",
         message_id="INITIAL_CONTACT"),
    rule(r"^received (?P<message_id>[A-Z_]+) (?:notify error|error notify)", "ike-error", needle="received"),
)


def _fill_peers(result: Parsed, prefix: re.Match, state: dict) -> None:
    """Remember the peer an IKE SA line names; give it to later lines of that IKE SA.
    A rekeyed line also names the new SA's SPIs: two more rows, ``p2-complete``."""
    new = _NEW_SPIS.search(result.text) if result.kind == "sa-rekeyed" else None
    if new:
        base = result.rows[0]
        result.rows += [dict(base, kind="p2-complete", message_id="child-rekeyed-new", direction=way,
                             spi=int(new[way], 16)) for way in ("in", "out")]
    peers = state.setdefault("strongswan_peers", {})
    for row in result.rows:
        if row.get("peer") and prefix["ike"]:
            peers[prefix["ike"]] = row["peer"]
        elif prefix["ike"] in peers:
            row["peer"] = peers[prefix["ike"]]


_NEW_SPIS = re.compile(r" with [^\s{]+\{\d+\} with SPIs (?P<in>[0-9a-f]{8})_i (?P<out>[0-9a-f]{8})_o")

# "] " routes the line here cheaply; PREFIX checks the thread and group
STRONGSWAN = syslog_format("strongswan-charon", "strongswan", ("] ",), FAST_PREFIX, RULES, text_after_start=True,
                           enrich=_fill_peers)
FORMATS = (STRONGSWAN,)
