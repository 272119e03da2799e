"""Property tests: no input makes the log reader raise anything but InputError, and every
non-blank line is accounted for exactly once (event, ignored, unparsed or duplicate)."""
from __future__ import annotations

import codecs

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from badspi_pcap.errors import InputError
from badspi_pcap.logs import parse_logs
from logs_support import REF

REAL = [line for path in sorted(REF.glob("*.log")) for line in path.read_text().splitlines()[:40] if line.strip()]
GET_EVENT_ROW = "2021-06-30 12:08:35 system alert  00026 IPSec tunnel on interface e0 with tunnel ID 0x9a"

real_line = st.sampled_from(REAL + [GET_EVENT_ROW, "                   continued description"])
cut_line = st.tuples(real_line, st.integers(0, 400)).map(lambda t: t[0][: t[1]])
mangled = st.tuples(real_line, st.integers(0, 300), st.binary(max_size=8)).map(
    lambda t: t[0].encode()[: t[1]] + t[2] + t[0].encode()[t[1]:])
garbage = st.binary(max_size=120)
line = st.one_of(real_line.map(str.encode), cut_line.map(str.encode), mangled, garbage,
                 st.text(max_size=80).map(lambda s: s.encode("utf-8", "replace")),
                 real_line.map(lambda s: s.encode("latin-1", "replace")))


def _accounting(result) -> None:
    for s in result.stats.to_dict("records"):
        assert s["lines"] == s["recognised"] + s["ignored"] + s["unparsed"] + s["duplicates"], s
    assert not [s for s in result.skipped if "parser error" in s.reason], result.skipped
    assert result.events["spi"].dropna().between(0, 2 ** 32 - 1).all()


def _nonblank_lines(data: bytes) -> int:
    """What a reader that loses nothing must count: lines with more than NULs and spaces."""
    count = 0
    for raw in data.split(b"\n"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        count += bool(text.replace("\x00", "").strip())
    return count


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line, max_size=25), crlf=st.booleans())
def test_any_lines_never_raise_and_every_line_is_counted(tmp_path_factory, lines, crlf):
    data = (b"\r\n" if crlf else b"\n").join(lines)
    assume(not data.startswith((b"\xff\xfe", b"\xfe\xff")) and data[:200].count(0) < 10)  # not UTF-16-like
    path = tmp_path_factory.mktemp("p") / "any.log"
    path.write_bytes(data)
    try:
        result = parse_logs(path, year=2021)
    except InputError:
        return  # nothing recognisable at all: the one allowed outcome besides a result
    _accounting(result)
    assert result.stats.loc[0, "lines"] == _nonblank_lines(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(real_line, min_size=1, max_size=15), encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_real_lines_in_any_encoding_are_all_recognised(tmp_path_factory, lines, encoding):
    assume(not all(t.startswith(" ") for t in lines))  # continuation lines alone are no known format
    path = tmp_path_factory.mktemp("e") / "enc.log"
    text = "\n".join(lines) + "\n"
    path.write_bytes(text.encode(encoding, "replace") if encoding != "utf-16" else
                     codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    result = parse_logs(path, year=2021)
    _accounting(result)
    continued = sum(1 for t in lines if t.startswith(" "))
    assert result.stats.loc[0, "lines"] == len(lines)
    assert result.stats.loc[0, "unparsed"] <= continued
