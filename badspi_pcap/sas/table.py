"""What an SA-table parser is, and the bits the vendor SA parsers share.

An SA table parser reads the lines of one CLI output file and yields ``("sa", row)`` for
each SA (one direction of a tunnel) and ``("counter", row)`` for each counter it shows
(``get sa stat``, ``show security ipsec statistics``, ``/proc/net/xfrm_stat``, bytes and
packets per SA).  Rows carry ``line`` and the SAS / counter column names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

Lines = Sequence[tuple[int, str]]
Output = Iterator[tuple[str, dict]]

# "ssg5-serial-> get sa", "root@csrx# run show ...", "R1#show crypto ipsec sa", "user@srx> show ..."
PROMPT = re.compile(r"^(?:[\w.-]+@)?(?P<device>[\w.-]+?)(?:\([A-Za-z]+\))?(?:->|#|>) ?(?:run )?(?:get|show|exec)\b")
ARROWS = {"<": "in", ">": "out"}  # ScreenOS/Junos: '<' rows inbound, '>' outbound (likely reading)


@dataclass(frozen=True)
class SaTable:
    name: str
    vendor: str                      # rows may name another of ``also`` themselves (IOS vs ASA)
    parse: Callable[[Lines], Output]
    also: tuple[str, ...] = ()

    def selected_by(self, name: str) -> bool:
        return name in (self.name, self.vendor, *self.also)


def counter(line: int, name: str, value: str | int, **where) -> tuple[str, dict]:
    return "counter", dict(where, line=line, name=name, value=int(value))


def lifetime(text: str | None) -> int | None:
    """'3385' -> 3385; 'expir' / 'expired' -> 0; '-' or None -> None."""
    if not text or text == "-":
        return None
    return 0 if text.startswith("expir") else int(text) if text.isdigit() else None
