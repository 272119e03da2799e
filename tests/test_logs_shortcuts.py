"""Shortcuts the log parser takes for speed give what the plain path gives.

* Rule regexes are compiled on first use, so every rule is compiled here (a bad pattern
  fails this test, not a customer's line), and a log of one vendor compiles that vendor's
  rules only.
* ScreenOS syslog looks its header up by the text up to "NetScreen " instead of reading
  it on every line (the same time and host as ``envelope`` of the whole line), and tries
  the device's own time at the last "(" only (the same match as searching for it).
* Duplicates keep no bookkeeping for a message seen once: the same duplicates and events
  as the plain bookkeeping (every copy counted by file and raw text, written out below).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badspi_pcap.logs import parse, parse_logs, rules, screenos
from badspi_pcap.logs.record import envelope
from logs_support import write

VENDOR_MODULES = [module for module in vars(parse).values()
                  if getattr(module, "__name__", "").startswith("badspi_pcap.logs.") and hasattr(module, "FORMATS")
                  and module is not parse]


def _rules_in(value, found: list) -> list:
    """The Rule objects a module holds, directly or in tuples, lists and dicts."""
    if isinstance(value, rules.Rule):
        found.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _rules_in(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _rules_in(item, found)
    return found


def test_every_rule_of_every_vendor_is_registered_and_compiles():
    held = {id(r) for module in VENDOR_MODULES for r in _rules_in(list(vars(module).values()), [])}
    assert len(held) > 50 and held == {id(r) for r in rules.ALL}   # every rule the vendor modules hold
    for r in rules.ALL:
        assert r.regex.pattern == r.pattern
        assert r.regex is r.compiled                   # compiled once, then kept


def test_a_bad_pattern_fails_when_the_rule_is_first_used():
    bad = rules.Rule("(unclosed", "bad-spi", needle="unclosed")   # not registered in rules.ALL
    with pytest.raises(re.error):
        rules.match((bad,), "an unclosed line")


def test_a_log_compiles_only_its_own_vendors_rules(tmp_path):
    log = write(tmp_path / "screenos.log", (
        "Jun 30 12:08:36 gw gw: NetScreen device_id=gw  [Root]system-critical-00042: Replay packet detected on"
        " IPSec tunnel on ethernet0/4 with tunnel ID 0x67! From 203.0.113.1 to 198.51.100.11/128, ESP,"
        " SPI 0x08ec283e, SEQ 0x2b6193. (2021-06-30 12:08:35)\n"))
    script = f"""
import json
from badspi_pcap.logs import parse_logs, rules
before = [r.pattern for r in rules.ALL if r.compiled is not None]
events = parse_logs([{str(log)!r}]).events
print(json.dumps({{"before": before, "events": len(events),
                  "compiled": [r.pattern for r in rules.ALL if r.compiled is not None]}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                    text=True).stdout)
    assert out == {"before": [], "events": 1, "compiled": [screenos.REPLAY.pattern]}


HEADS = ["", "Jun 30 12:08:36 ", "Jun  3 12:08:36 2021 ", "<13>Jun 30 12:08:36 ", "2021-06-30T12:08:36+02:00 ",
         "1625054915 ", "91: *Jun 30 12:08:36.123 UTC: ", "Jun 30 12:08:36", "2021-06-30 12:08:36,5 -0700 "]
WORDS = ["gw1", "gw1:", "10.1.2.3", "[fe80::1]", "kmd[1]:", "%ASA-4-1:", "info", "a=b", '"q"', "x" * 90, "NetScreen",
         "\u2003", "Jun", ""]
GAPS = ["", " ", "  ", "\t", ":", " \u00a0"]


@settings(max_examples=300, deadline=None)
@given(head=st.sampled_from(HEADS), parts=st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(GAPS)),
                                                   max_size=3), gap=st.sampled_from(GAPS))
def test_screenos_header_lookup_is_the_envelope_of_the_whole_line(head, parts, gap):
    line = (head + "".join(w + g for w, g in parts) + gap + "NetScreen device_id=gw  [Root]system-alert-00026:"
            " IPSec tunnel on interface ethernet0/2 with tunnel ID 0x9a received a packet with a bad SPI.")
    m = screenos.SYSLOG.search(line)
    assert screenos._header(line, m.start()) == envelope(line)
    screenos._HEADERS.clear()
    assert screenos._header(line, m.start()) == envelope(line)


def _plain_duplicates(files: list[list[tuple[str, tuple, str | None]]]):
    """The duplicate rule as written before the shortcut: (kept, duplicates) by (file, line)."""
    seen: dict = {}
    copies: dict = {}
    kept, duplicates = [], []
    for index, lines in enumerate(files):
        for number, (raw, message, device) in enumerate(lines, 1):
            route = (message, index, raw)
            copy = copies[route] = copies.get(route, 0) + 1
            known = seen.get((message, copy))
            if known is None:
                seen[(message, copy)] = ({device}, index, number)
            elif device is None or None in known[0] or device in known[0]:
                duplicates.append((index, number, known[1], known[2]))
                continue
            else:
                known[0].add(device)
            kept.append((index, number))
    return kept, duplicates


# one ScreenOS message, told apart by its sequence number; raw lines differ by relay
MESSAGE = ("{relay} {relay}: NetScreen device_id={device}  [Root]system-alert-00026: IPSec tunnel on interface"
           " ethernet0/2 with tunnel ID 0x9a received a packet with a bad SPI. 202.1.1.154->124.1.1.186/96, ESP,"
           " SPI 0xf5b25b5b, SEQ 0x{seq:x}. (2021-06-30 12:08:35)")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["r1", "r2"]),
                                   st.sampled_from(["", "gw-a", "gw-b"])), min_size=1, max_size=8),
                min_size=1, max_size=3))
def test_duplicates_match_the_plain_bookkeeping(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("dups")
    paths, plain = [], []
    for index, lines in enumerate(files):
        texts = [MESSAGE.format(relay=relay, device=device, seq=seq) for seq, relay, device in lines]
        paths.append(write(folder / f"{index}.log", "".join(f"Jun 30 12:08:36 {t}\n" for t in texts)))
        plain.append([(f"Jun 30 12:08:36 {t}", seq, device or None) for t, (seq, _, device) in zip(texts, lines)])
    kept, duplicates = _plain_duplicates(plain)
    result = parse_logs(paths, year=2021)
    number = {str(p): i for i, p in enumerate(paths)}
    assert list(zip(result.events["source"].map(number), result.events["line"])) == kept
    assert [(number[s], n, number[fs], fn) for s, n, fs, fn in result.duplicates.values.tolist()] == duplicates


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["(", ")", "(2021-06-30 12:08:35)", "2021-06-30 12:08:35", " ", "\t", "\n", "x",
                                 "(2021-06-30 12:08:35) ", "\u2003", "9"]), max_size=8))
def test_screenos_device_time_found_at_the_last_parenthesis_is_the_searched_one(pieces):
    payload = "".join(pieces)
    want, got = screenos.DEVICE_TIME.search(payload), screenos._device_time(payload)
    assert (want and (want.span(), want.groupdict())) == (got and (got.span(), got.groupdict()))
