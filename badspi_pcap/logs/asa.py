"""Cisco ASA / PIX / FTD syslog messages (docs/formats.md, "Cisco ASA").

402114 (invalid SPI) and 402119 (anti-replay) are modelled on the syslog guide's templates:
no real 402114 line is known (UNCONFIRMED).  402115-402121 other ESP drops become
``esp-error``.  602303/602304 SA created/deleted and 713049 (both SPIs) carry the SPIs;
713119/713120 are phase 1/2 completion.  PIX 402101 uses the IOS "decaps" wording.
713061 (tunnel rejected: no matching crypto map) and 713902 (QM FSM error) are
``ike-error``; 713259 ("Session is being torn down. Reason: ...") and 113019 ("Session
disconnected. Session Type: ..., Reason: ...") are ``vpn-down`` (real lines in docs/formats.md).
"""
from __future__ import annotations

import re

from .record import syslog_format
from .rules import rule

ADDR = r"[^\s,()]+"
NUM = r"(?:0x)?[0-9A-Fa-f]+"
_PACKET = (rf"Received an? (?P<proto>ESP|AH|\w+) packet \(SPI= ?(?P<spi_auto>{NUM}), sequence number= ?"
           rf"(?P<seq_auto>{NUM})\) from (?P<src>{ADDR})(?: \(user= ?[^)]*\))? to (?P<dst>{ADDR})")
_SA = (rf"An? (?P<direction>inbound|outbound) (?P<tunnel_type>.+?) SA \(SPI= ?(?P<spi_auto>{NUM})\) between"
       rf" (?P<local>{ADDR}) and (?P<peer>{ADDR}) \([^)]*\)")
_GROUP = rf"Group = (?P<tunnel_name>[^,]+), (?:Username = [^,]+, )?IP = (?P<peer>{ADDR}), "

RULES = (
    rule(_PACKET + r" with an invalid SPI", "bad-spi", needle="402114"),
    rule(_PACKET + r" that failed anti-replay", "replay", needle="402119"),
    rule(_PACKET, "esp-error", needle="IPSEC: Received a"),
    rule(rf"Received a (?:non-IPSec )?packet(?: \(protocol= ?\w+\))? from (?P<src>{ADDR}) to (?P<dst>{ADDR})[ .]",
         "esp-error", needle="IPSEC: Received a"),
    rule(rf"decaps: rec'd IPSEC packet has invalid spi for destaddr= ?(?P<dst>{ADDR}), prot= ?(?P<proto>\w+),"
         rf" spi= ?(?P<spi_auto>{NUM})", "bad-spi", needle="invalid spi"),
    rule(_SA + r" has been created", "sa-created", needle="has been created"),
    rule(_SA + r" has been deleted", "sa-deleted", needle="has been deleted"),
    rule(_SA + r" is rekeying", "sa-rekeyed", needle="is rekeying"),
    rule(_GROUP + rf"Security negotiation complete for .*?Inbound SPI = (?P<spi_in>{NUM}), Outbound SPI ="
         rf" (?P<spi_out>{NUM})", "p2-complete", needle="Security negotiation complete"),
    rule(_GROUP + r"PHASE 1 COMPLETED", "p1-complete", needle="PHASE 1 COMPLETED"),
    rule(_GROUP + r"Rejecting IPSec tunnel: .*?on interface (?P<interface>\S+)", "ike-error",
         needle="Rejecting IPSec tunnel"),
    rule(_GROUP + r"QM FSM error", "ike-error", needle="QM FSM error"),
    rule(_GROUP + r"Session is being torn down\. Reason: ", "vpn-down", needle="Session is being torn down"),
    rule(_GROUP + r"Session disconnected\. Session Type: ", "vpn-down", needle="Session disconnected"),
    rule(_GROUP + r"PHASE 2 COMPLETED(?: \(msgid=(?P<ike_msgid>[0-9a-fA-F]+)\))?", "p2-complete",
         needle="PHASE 2 COMPLETED"),
)

ASA = syslog_format("asa-syslog", "asa", ("%ASA-", "%PIX-", "%FTD-", "%FWSM-"),
                    re.compile(r"%(?:ASA|PIX|FTD|FWSM)-(?:\w+-)?(?P<severity>\d)-(?P<message_id>\d{6}):"), RULES)
FORMATS = (ASA,)
