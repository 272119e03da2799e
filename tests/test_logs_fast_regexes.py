"""The log regexes rewritten for speed find exactly what their plain forms find.

A regex that starts with ``\\b``, ``^`` or ``\\s`` makes the regex engine try every position
of a line; the vendor modules write the same condition as a lookbehind after the first
character, so the engine jumps to that character.  Each pair below is (plain form, as in
the vendor's documentation of the rule; the module's regex) and must agree on the match
(where it ends, its groups, and where the text it reads starts) for real lines, edge cases
and random strings built from the characters that matter.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badspi_pcap.logs import fortios, ios, junos, libreswan, linux, panos_system, sonicwall, strongswan
from logs_support import REF

REAL = [line for path in sorted(REF.glob("*.log")) for line in path.read_text().splitlines() if line.strip()]


# name -> (plain regex, fast search, what to compare of a match)
CASES = {
    "junos start": (r"\bKMD_\w+:|\bkmd\[\d+\]: |\bRT_IPSEC_\w+:|IKE negotiation successfully completed",
                    junos.START.search, lambda line, m: (m.span(), m.groupdict())),
    "ios start": (r"%(?P<message_id>CRYPTO-(?P<severity>\d)-\w+):|\bISAKMP(?:-ERROR)?:",
                  ios.START.search, lambda line, m: (m.span(), m.groupdict())),
    "fortios logid": (r"\blogid=[\"']?(\d{10})", fortios.LOGID.search, lambda line, m: (m.span(), m.groups())),
    "libreswan program": (r"\bpluto\[\d+\]: ", libreswan.PROGRAM.search, lambda line, m: m.span()),
    "linux op": (r"\bop=(?P<message_id>SAD?-[\w-]+)", linux.OP.search, lambda line, m: (m.span(), m.groupdict())),
    "sonicwall head": (r'(?:^|\s)id=(?P<device>\S+)\s+sn=\S+\s+'
                       r'time="(?P<date>\d{4}-\d\d-\d\d) (?P<hms>\d\d:\d\d:\d\d)(?: (?P<zone>UTC))?"',
                       sonicwall.HEAD.search, lambda line, m: (line[m.start():].lstrip(), m.groupdict())),
    "libreswan head": (r'(?:^|\s)(?:\d{3} )?"(?P<tunnel_name>[^"]*)"(?:\[\d+\])?(?: (?P<peer>[^\s#"]+?))?'
                       r'(?: #(?P<conn_id>\d+))?: ',
                       libreswan.HEAD.search, lambda line, m: (m.end(), m.groupdict())),
    "strongswan prefix": (strongswan.PREFIX.pattern, strongswan.FAST_PREFIX.search,
                          lambda line, m: (m.end(), m.groupdict())),
    "panos system start": (r"(?:^|[\s,])1,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,SYSTEM,", panos_system.START.search,
                           None),
}
EDGES = ["xKMD_A:", "KMD_A:", "aKMD_A: KMD_B:", "9ISAKMP: ISAKMP:", "_kmd[1]: ", " kmd[1]: ", "éKMD_x:",
         "xlogid=0101037131", 'a logid="0101037131"', "_op=SA-x op=SA-y", "xpluto[1]: pluto[2]: ",
         'xid=a sn=b time="2021-01-01 00:00:00" id=c  sn=d time="2021-01-01 00:00:00 UTC"',
         '\x0cid=a sn=b time="2021-01-01 00:00:00"', '004 "c"[1] 1.2.3.4 #5: x', 'x"c" #1: "d" #2: ',
         '\t"c": ', '12[IKE] x', ' [IKE] <c|3> x', 'a12[IKE] 34[CHD] ', '\x0c\t[KNL] ', '[IKE]12[IKE] ',
         "\x0c1,2021/01/02 03:04:05,s,SYSTEM,", "x1,2021/01/02 03:04:05,s,SYSTEM, 1,2021/01/02 03:04:05,s,SYSTEM,"]
PIECES = ["KMD_A:", "kmd[1]: ", "ISAKMP:", "logid=0101037131", "pluto[1]: ", "op=SA-x",
          'id=a sn=b time="2021-01-01 00:00:00"', '"c"', "[1]", " 1.2.3.4", " #12", ": ", "004 ", "12", "[IKE] ",
          "<c|3> ", "1,2021/01/02 03:04:05,", ",SYSTEM,", " ", ",", "\t", "\x0c", "a", "_", "é", "1"]


def _agree(name: str, line: str) -> None:
    plain, fast, seen = CASES[name]
    want, got = re.compile(plain).search(line), fast(line)
    assert (want is None) == (got is None), (name, line)
    if want is None or got is None:
        return
    if seen is None:   # panos: the record starts one character before the fast match (after the separator)
        assert (want.start(), want.end()) == (max(got.start() - 1, 0), got.end()), (name, line)
    else:
        assert seen(line, want) == seen(line, got), (name, line)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_regex_agrees_on_real_lines_and_edges(name):
    for line in REAL + EDGES:
        _agree(name, line)


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=10))
def test_fast_regexes_agree_on_random_strings(pieces):
    line = "".join(pieces)
    for name in CASES:
        _agree(name, line)
