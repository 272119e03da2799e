"""Whole files: encodings, compression, duplicates, mixed vendors, errors, the lab's charon logs."""
from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import re

import pandas as pd
import pytest

from badspi_pcap.errors import InputError, UsageError
from badspi_pcap.logs import parse_logs, read_events
from logs_support import REF, local, one, rows_of, utc, write

BAD_SPI = ("Jun 30 12:08:36 test test: NetScreen device_id=test  [Root]system-alert-00026: IPSec tunnel on interface"
           " ethernet0/2 with tunnel ID 0x9a received a packet with a bad SPI. 202.1.1.154->124.1.1.186/96, ESP,"
           " SPI 0xf5b25b5b, SEQ 0x{seq:x}. (2021-06-30 12:08:{sec:02d})")


def bad_spi(seq=1, sec=35, relay="test"):
    return BAD_SPI.format(seq=seq, sec=sec).replace("test test:", f"{relay} {relay}:")


def test_mixed_vendor_syslog_is_detected_per_line(tmp_path):
    lines = [bad_spi(),
             (REF / "junos-kmd.log").read_text().splitlines()[0],
             (REF / "asa.log").read_text().splitlines()[1],
             (REF / "ios.log").read_text().splitlines()[1],
             (REF / "fortios.log").read_text().splitlines()[1],
             "something no parser knows",
             (REF / "panos-ikemgr.log").read_text().splitlines()[5],
             (REF / "strongswan-docs.log").read_text().splitlines()[1],
             "Nov 26 21:59:39 gw kernel: audit: type=1415 audit(1795723179.549:101): op=SA-notfound"
             " src=198.51.100.1 dst=192.0.2.1 spi=4122126085(0xf5b2a705) seqno=2"]
    result = parse_logs(write(tmp_path / "relay.log", "\n".join(lines) + "\n"), year=2021)
    by_line = result.events.groupby("line")["vendor"].agg(lambda v: sorted(set(v))).to_dict()
    assert by_line == {1: ["screenos"], 2: ["junos"], 3: ["asa"], 4: ["ios"], 5: ["fortios"], 7: ["panos"],
                       8: ["strongswan"], 9: ["linux"]}
    assert result.unparsed.values.tolist() == [[str(tmp_path / "relay.log"), 6, "something no parser knows"]]
    fmt = result.stats.loc[0, "format"]
    assert set(fmt.split("+")) == {"screenos-syslog", "junos-syslog", "asa-syslog", "ios-syslog", "fortios",
                                   "panos-ikemgr", "strongswan-charon", "linux-audit"}


def test_format_option_reads_only_that_format(tmp_path):
    path = write(tmp_path / "two.log", bad_spi() + "\n" + (REF / "asa.log").read_text())
    only_asa = parse_logs(path, format="asa")
    assert set(only_asa.events["vendor"]) == {"asa"} and only_asa.unparsed["line"].tolist() == [1]
    assert set(parse_logs(path, format="screenos-syslog").events["vendor"]) == {"screenos"}
    with pytest.raises(UsageError, match="unknown log format 'checkpoint'"):
        parse_logs(path, format="checkpoint")


def test_utf16_file_with_bom_and_crlf(tmp_path):
    text = "\r\n".join([bad_spi(), "Wörter ohne Bedeutung", bad_spi(2, 40)]) + "\r\n"
    path = write(tmp_path / "win.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    result = parse_logs(path)
    assert result.events["seq"].tolist() == [1, 2]
    assert result.unparsed["text"].tolist() == ["Wörter ohne Bedeutung"]


def test_latin1_utf8_nul_bytes_and_binary_garbage_in_lines(tmp_path):
    srx = (REF / "junos-kmd.log").read_bytes().splitlines()[2]
    garbled = srx.replace(b"Local IKE-ID: ", b"Local IKE-ID: \x00\x1b[2J\xff\xfe\x00")
    body = b"\n".join([bad_spi().encode().replace(b"ethernet0/2", b"ethernet0/2\x00"), garbled,
                       "caf\xe9 latin-1 line".encode("latin-1"), "café utf-8 line".encode(), b"\x00\x01\x02\xff"])
    result = parse_logs(write(tmp_path / "raw.log", body + b"\n"), year=2017)
    assert rows_of(result.events, 1)[0]["interface"] == "ethernet0/2"
    up = one(result.events, 2)
    assert (up["kind"], up["tunnel_id"], up["interface"]) == ("vpn-up", 131073, "st0.0")
    assert result.unparsed["text"].tolist()[:2] == ["café latin-1 line", "café utf-8 line"]
    assert result.stats.loc[0, "lines"] == 5


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_compressed_logs_are_streamed(tmp_path, suffix, compress):
    text = (REF / "asa.log").read_bytes()
    result = parse_logs(write(tmp_path / f"asa.log{suffix}", compress(text)))
    assert len(result.events) == len(parse_logs(REF / "asa.log").events) == 6


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    lines = [bad_spi(seq) for seq in range(1, 2001)]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    result = parse_logs(write(tmp_path / "cut.log.gz", data[: len(data) // 2]))
    assert 0 < len(result.events) < 2000
    assert result.events["seq"].tolist() == list(range(1, len(result.events) + 1))
    assert any("ends early" in s.reason for s in result.skipped)


def test_log_exported_twice_and_relayed_twice_is_kept_once(tmp_path):
    a = write(tmp_path / "a.log", "\n".join([bad_spi(1, 35), bad_spi(2, 45)]) + "\n")
    b = write(tmp_path / "b.log", "\n".join([bad_spi(1, 35), bad_spi(2, 45), bad_spi(3, 55)]) + "\n")
    relays = write(tmp_path / "relays.log", "\n".join([bad_spi(3, 55, "relay1"), bad_spi(3, 55, "relay2")]) + "\n")
    result = parse_logs([a, b, relays])
    assert result.events["seq"].tolist() == [1, 2, 3]
    assert result.duplicates.values.tolist() == [[str(b), 1, str(a), 1], [str(b), 2, str(a), 2],
                                                 [str(relays), 1, str(b), 3], [str(relays), 2, str(b), 3]]
    assert result.stats["duplicates"].tolist() == [0, 2, 2]


def test_verbatim_repeat_within_a_file_is_two_events(tmp_path):
    line = "2021-06-30 12:08:29 system info 00536 IKE 202.1.1.154 Phase 2: Initiated negotiations."
    once = parse_logs(write(tmp_path / "ev.txt", f"{line}\n{line}\n"))
    assert len(once.events) == 2 and once.duplicates.empty
    twice = parse_logs([tmp_path / "ev.txt", tmp_path / "ev.txt"])
    assert len(twice.events) == 2 and len(twice.duplicates) == 2


def test_syslog_copy_of_a_get_event_row_is_a_duplicate(tmp_path):
    event = write(tmp_path / "event.txt", "2021-06-30 12:08:35 system alert 00026 " + bad_spi().split(": ", 2)[2]
                  .rsplit(" (", 1)[0] + "\n")
    syslog = write(tmp_path / "syslog.log", bad_spi() + "\n")
    result = parse_logs([event, syslog])
    assert len(result.events) == 1 and result.duplicates["source"].tolist() == [str(syslog)]


def test_different_devices_are_not_duplicates(tmp_path):
    two = [bad_spi(), bad_spi().replace("device_id=test", "device_id=other")]
    assert len(parse_logs(write(tmp_path / "d.log", "\n".join(two) + "\n")).events) == 2


@pytest.mark.parametrize("content, message", [(None, "cannot read"), (b"", "is empty"), (b"\n\n", "is empty"),
                                              (b"hello\nworld\n", "no lines of a known log format"),
                                              (b"\xd4\xc3\xb2\xa1" + b"\x00" * 40, "packet capture")])
def test_unusable_files_raise_input_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "x.log"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(str(path)) + ".*" + message):
        parse_logs(path)


def test_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="directory"):
        parse_logs(tmp_path)


def test_single_path_as_str_and_read_events(tmp_path):
    path = write(tmp_path / "s.log", bad_spi() + "\n")
    assert read_events(str(path)).equals(parse_logs([path]).events)


LAB = sorted(REF.glob("ikev*-rekey.charon-gw*.log"))


@pytest.mark.parametrize("path", LAB, ids=lambda p: p.name)
def test_lab_charon_logs(path):
    """Every real 'established with SPIs' line gives its two SPIs; nothing is unparsed."""
    result = parse_logs(path)
    text = path.read_text().splitlines()
    established = [(n, m) for n, line in enumerate(text, 1)
                   if (m := re.search(r"established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o", line))]
    p2 = result.events[result.events["kind"] == "p2-complete"]
    assert [(r["line"], r["direction"], r["spi"]) for r in p2.to_dict("records")] == [
        (n, way, int(spi, 16)) for n, m in established for way, spi in (("in", m[1]), ("out", m[2]))]
    assert result.unparsed.empty and result.stats.loc[0, "tz"] == "from lines"
    assert set(result.events["peer"].dropna()) == {"198.51.100.1" if "gwA" in path.name else "192.0.2.1"}
    stats = result.stats.iloc[0]
    assert stats["lines"] == len([t for t in text if t.strip()]) == stats["recognised"] + stats["ignored"]


def test_lab_charon_times_are_the_epoch_prefix():
    events = parse_logs(REF / "ikev2-rekey.charon-gwA.log").events
    row = rows_of(events, 71)[0]
    assert (row["kind"], row["spi"], row["time"], row["time_local"]) == (
        "p2-complete", 0xCCF84991, pd.Timestamp(1795723659923, unit="ms", tz="UTC"), local("2026-11-26 20:07:39.923"))
    deletes = events[events["message_id"] == "delete-received"]
    assert deletes["direction"].unique().tolist() == ["out"]


def test_lab_gateways_see_each_others_spis_swapped():
    a = parse_logs(REF / "ikev1-rekey.charon-gwA.log").events
    b = parse_logs(REF / "ikev1-rekey.charon-gwB.log").events

    def pairs(ev):
        p2 = ev[ev["kind"] == "p2-complete"]
        return set(p2[p2["direction"] == "in"]["spi"]), set(p2[p2["direction"] == "out"]["spi"])

    (a_in, a_out), (b_in, b_out) = pairs(a), pairs(b)
    assert a_in == b_out and a_out == b_in and len(a_in) == 7
    assert utc("2026-11-26 20:08:30") < a["time"].min() < utc("2026-11-26 20:08:32")
