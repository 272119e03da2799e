"""Linux kernel IPsec (xfrm) audit records (docs/formats.md, "Linux audit").

``xfrm_audit_state_notfound`` writes ``op=SA-notfound src=.. dst=.. spi=4096(0x1000) seqno=1``
in an ``AUDIT_MAC_IPSEC_EVENT`` (type 1415) record, seen in audit.log (``msg=audit(<epoch>:<n>)``
gives the time) or in the kernel log.  Replays (``SA-replayed-pkt``) and ICV failures use the
same fields (kernel source; no real line found: UNCONFIRMED).  SA installs and removals are
``op=SAD-add`` / ``op=SAD-delete`` (real record in docs/formats.md).  Documents print a
record wrapped over indented lines: they are joined.
"""
from __future__ import annotations

import re

from .record import LineFormat, Parsed, envelope, host_columns, parsed
from .rules import match, rule
from .stamp import epoch_stamp

OP = re.compile(r"o(?<!\wo)p=(?P<message_id>SAD?-[\w-]+)")   # "\bop=": starting with a letter is faster to find
AUDIT_TIME = re.compile(r"audit\((?P<sec>\d{9,10})\.(?P<frac>\d+):\d+\)")
FIELDS = (r"(?:.*? src=(?P<src>\S+) dst=(?P<dst>\S+))?(?:.*? spi=(?P<spi_dec>\d+)(?:\(0x[0-9a-f]+\))?)?"
          r"(?:.*? seqno=(?P<seq_dec>\d+))?")

RULES = (
    rule(r"op=SA-notfound" + FIELDS, "bad-spi", needle="SA-notfound"),
    rule(r"op=SA-replayed-pkt" + FIELDS, "replay", needle="SA-replayed-pkt"),
    rule(r"op=SA-(?:icv-failure|replay-overflow)" + FIELDS, "esp-error", needle="op=SA-"),
    rule(r"op=SAD-add" + FIELDS, "sa-created", needle="SAD-add"),
    rule(r"op=SAD-delete" + FIELDS, "sa-deleted", needle="SAD-delete"),
)


def parse(line: str, state: dict) -> Parsed | None:
    m = OP.search(line)
    if not m:
        return None
    audit = AUDIT_TIME.search(line)
    stamp, host = envelope(line)
    if audit:
        stamp = epoch_stamp(audit["sec"], audit["frac"])
    text = line[m.start():]
    return parsed(LINUX, match(RULES, text), stamp=stamp, text=text, **host_columns(host), message_id=m["message_id"])


# tried on every line: "type=" first lets the regex engine skip to it (a leading \b would not)
LINUX = LineFormat("linux-audit", "linux", ("op=SA-", "op=SAD-"), parse,
                   continues=re.compile(r"type=(?<!\wtype=)(?:MAC_IPSEC_EVENT|1415)\b"))
FORMATS = (LINUX,)
