"""Years for syslog headers without one, time zones, and lines that carry their own offset."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from badspi_pcap.errors import UsageError
from badspi_pcap.logs import parse_logs
from badspi_pcap.logs.stamp import Stamp, resolve_years
from logs_support import local, utc, write

IOS = ("{ts}: %CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for destaddr=61.128.1.1,"
       " prot=50, spi=0x3EA71AED(1051138797), srcaddr=103.1.1.{n}\n")


def ios_log(tmp_path, stamps: list[str]):
    return write(tmp_path / "ios.log", "".join(IOS.format(ts=ts, n=i) for i, ts in enumerate(stamps)))


def test_explicit_year_and_dec_to_jan_rollover(tmp_path):
    path = ios_log(tmp_path, ["Dec 31 23:59:58", "Dec 31 23:59:59", "Jan  1 00:00:01", "Jan  2 08:00:00"])
    result = parse_logs(path, year=2021)
    assert list(result.events["time_local"]) == [local("2021-12-31 23:59:58"), local("2021-12-31 23:59:59"),
                                                 local("2022-01-01 00:00:01"), local("2022-01-02 08:00:00")]
    assert (result.stats.loc[0, "year"], result.stats.loc[0, "year_from"]) == (2021, "--year")
    assert result.notes == ["time zone assumed UTC — use --log-tz"]


@pytest.mark.parametrize("capture, first_year", [("2022-01-01 00:05:00", 2021),  # capture just after New Year
                                                  ("2021-12-31 12:00:00", 2021),
                                                  ("2023-06-01 00:00:00", 2022)])  # nearest Dec 31: 2022
def test_year_from_capture_times(tmp_path, capture, first_year):
    path = ios_log(tmp_path, ["Dec 31 23:59:58", "Jan  1 00:00:01"])
    result = parse_logs(path, reference_times=[pd.Timestamp(capture, tz="UTC")])
    assert [t.year for t in result.events["time_local"]] == [first_year, first_year + 1]
    assert result.stats.loc[0, "year_from"] == "capture dates"


def test_year_assumed_is_said(tmp_path):
    result = parse_logs(ios_log(tmp_path, ["Jan  1 00:00:01"]))
    this_year = dt.date.today().year
    assert result.events["time_local"][0] == local(f"{this_year}-01-01 00:00:01")
    assert f"year assumed {this_year} (no --year or capture dates)" in result.notes


def test_year_never_assumed_in_the_future():
    today = dt.date(2026, 1, 3)
    (t,), choice = resolve_years([Stamp(None, 12, 30, 0, None)], year=None, reference=None, today=today)
    assert choice.year == 2025 and pd.Timestamp(t) == pd.Timestamp("2025-12-30")


def test_lines_with_a_year_are_the_reference_for_lines_without(tmp_path):
    # an ASA line with its year, then an IOS line without one, in the same file
    text = ("Dec 31 2019 23:59:00: %ASA-4-402114: IPSEC: Received an ESP packet (SPI= 0x1, sequence number= 0x1)"
            " from 1.1.1.1 to 2.2.2.2 with an invalid SPI.\n" + IOS.format(ts="Jan  1 00:00:05", n=1))
    result = parse_logs(write(tmp_path / "mixed.log", text))
    assert list(result.events["time_local"]) == [local("2019-12-31 23:59:00"), local("2020-01-01 00:00:05")]
    assert result.stats.loc[0, "year_from"] == "file dates"


@pytest.mark.parametrize("tz, winter, summer", [
    ("Europe/Berlin", "2021-01-15 11:00:00", "2021-07-15 10:00:00"),  # CET +1, CEST +2
    ("+02:00", "2021-01-15 10:00:00", "2021-07-15 10:00:00"),
    ("UTC", "2021-01-15 12:00:00", "2021-07-15 12:00:00"),
])
def test_log_tz_turns_local_time_into_utc(tmp_path, tz, winter, summer):
    path = ios_log(tmp_path, ["Jan 15 12:00:00", "Jul 15 12:00:00"])
    result = parse_logs(path, year=2021, log_tz=tz)
    assert list(result.events["time"]) == [utc(winter), utc(summer)]
    assert list(result.events["time_local"]) == [local("2021-01-15 12:00:00"), local("2021-07-15 12:00:00")]
    assert result.stats.loc[0, "tz"] == tz and result.notes == []


def test_dst_change_night_in_berlin(tmp_path):
    # 2021-03-28 02:30 does not exist (moved forward); 2021-10-31 02:30 happens twice (read as summer time)
    path = ios_log(tmp_path, ["Mar 28 01:59:59", "Mar 28 02:30:00", "Mar 28 03:00:00", "Oct 31 02:30:00"])
    times = list(parse_logs(path, year=2021, log_tz="Europe/Berlin").events["time"])
    assert times == [utc("2021-03-28 00:59:59"), utc("2021-03-28 01:00:00"), utc("2021-03-28 01:00:00"),
                     utc("2021-10-31 00:30:00")]


def test_own_offsets_win_over_log_tz(tmp_path):
    text = ("2025-07-06 03:32:18.287 -0400 [PWRN]: { 7: }: can't find sa for proto ESP spi 0xD6A1B300\n"
            "<165>1 2021-06-30T12:08:36.5+02:00 gw charon 1 - - 09[IKE] received DELETE for ESP CHILD_SA"
            " with SPI c41ea287\n"
            "1795723711.121 09[IKE] <lab|1> sending DELETE for ESP CHILD_SA with SPI c4c3241e\n")
    events = parse_logs(write(tmp_path / "own.log", text), log_tz="Asia/Tokyo").events
    assert list(events["time"]) == [utc("2025-07-06 07:32:18.287"), utc("2021-06-30 10:08:36.5"),
                                    utc("2026-11-26 20:08:31.121")]
    assert list(events["time_local"]) == [local("2025-07-06 03:32:18.287"), local("2021-06-30 12:08:36.5"),
                                          local("2026-11-26 20:08:31.121")]


def test_no_clock_offset_is_applied(tmp_path):
    # time = time_local shifted by the time zone only: correlate estimates the clock offset
    events = parse_logs(ios_log(tmp_path, ["Mar  1 12:00:00"]), year=2021, log_tz="-05:00").events
    assert events["time"][0] - events["time_local"][0].tz_localize("UTC") == pd.Timedelta(hours=5)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "+25:00", "abc"])
def test_unknown_time_zone_is_a_usage_error(tmp_path, bad):
    with pytest.raises(UsageError, match="time zone"):
        parse_logs(ios_log(tmp_path, ["Mar  1 12:00:00"]), log_tz=bad)


def test_bad_year_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--year"):
        parse_logs(ios_log(tmp_path, ["Mar  1 12:00:00"]), year=21)


def test_absurd_dates_give_no_time_but_keep_the_event(tmp_path):
    rows = ["9999-12-31 23:59:59 system alert 00026 IPSec tunnel on int e0 with tunnel ID 0x1 received a packet"
            " with a bad SPI.", "0001-01-01 00:00:00 system alert 00026 IPSec tunnel on int e0 with tunnel ID 0x2"
            " received a packet with a bad SPI.", "2021-02-30 00:00:00 system alert 00026 IPSec tunnel on int e0"
            " with tunnel ID 0x3 received a packet with a bad SPI."]
    events = parse_logs(write(tmp_path / "odd.txt", "\n".join(rows) + "\n"), log_tz="Europe/Berlin").events
    assert events["tunnel_id"].tolist() == [1, 2, 3]
    assert events["time"].isna().all() and events["time_local"].isna().all()


ASA = ("{ts}: %ASA-4-402114: IPSEC: Received an ESP packet (SPI= 0x1, sequence number= 0x1)"
       " from 1.1.1.1 to 2.2.2.2 with an invalid SPI.\n")


def test_year_comes_from_the_nearest_dated_line_before(tmp_path):
    # two dated blocks years apart: each yearless line takes the year of the dated line before it,
    # not that of the file's earliest dated line
    text = (ASA.format(ts="Jun 10 2019 10:00:00") + IOS.format(ts="Jun 10 10:00:05", n=1)
            + ASA.format(ts="Mar  3 2022 08:00:00") + IOS.format(ts="Mar  3 08:00:05", n=2))
    times = list(parse_logs(write(tmp_path / "two-years.log", text)).events["time_local"])
    assert times == [local("2019-06-10 10:00:00"), local("2019-06-10 10:00:05"),
                     local("2022-03-03 08:00:00"), local("2022-03-03 08:00:05")]


def test_a_line_late_from_a_relay_stays_in_the_year_before_the_dated_line(tmp_path):
    text = ASA.format(ts="Jan  2 2022 00:00:10") + IOS.format(ts="Dec 31 23:59:59", n=1)
    times = list(parse_logs(write(tmp_path / "late.log", text)).events["time_local"])
    assert times == [local("2022-01-02 00:00:10"), local("2021-12-31 23:59:59")]


PANOS_HEAD = "2025-07-06 03:32:18.287 -0400 [PNTF]: {{ 7: 60}}: ====> IPSEC KEY DELETED; tunnel t1 <====\n"
PANOS_DETAIL = "====> Deleted SA: 10.0.0.1[500]-10.0.0.2[500] SPI:0x11111111/0x22222222 <====\n"


def test_a_line_without_a_time_takes_the_time_of_the_line_just_before(tmp_path):
    times = parse_logs(write(tmp_path / "p.log", PANOS_HEAD.format() + PANOS_DETAIL)).events["time"]
    assert list(times) == [utc("2025-07-06 07:32:18.287")] * 2  # the detail line's two rows


@pytest.mark.parametrize("between", ["\n", "an unknown line\n"])
def test_no_time_is_inherited_across_a_blank_or_unknown_line(tmp_path, between):
    result = parse_logs(write(tmp_path / "p.log", PANOS_HEAD.format() + between + PANOS_DETAIL))
    assert result.events["time"].isna().all() and len(result.events) == 2


def test_no_time_is_inherited_across_lines_of_another_format(tmp_path):
    # the IOS debug line (no time, no host) follows an IOS line from host "gw1": it may take its time;
    # the same kind of line after a line from another format does not
    first = "*Oct 24 04:31:10.058: gw1 %CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for" \
            " destaddr=61.128.1.1, prot=50, spi=0x3EA71AED(1051138797), srcaddr=103.1.1.1\n"
    debug = ("ISAKMP-ERROR: (0):ignoring request to send delete notify (no ISAKMP sa) src 61.128.1.1 dst 103.1.1.1"
             " for SPI 0x3EA71AED\n")
    other = ASA.format(ts="Oct 24 2021 04:31:11")
    events = parse_logs(write(tmp_path / "h.log", first + debug + other + debug), year=2021).events
    assert list(events["time_local"].isna()) == [False, False, False, True]
    assert events["time_local"][1] == events["time_local"][0]


def test_device_is_the_name_and_an_address_is_the_relay(tmp_path):
    text = ("Oct 24 04:31:10 10.1.2.3 %CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for"
            " destaddr=61.128.1.1, prot=50, spi=0x3EA71AED(1051138797), srcaddr=103.1.1.1\n"
            "Oct 24 04:31:11 edge-gw %CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for"
            " destaddr=61.128.1.1, prot=50, spi=0x3EA71AED(1051138797), srcaddr=103.1.1.2\n"
            "Jun 30 12:08:36 relay7 test: NetScreen device_id=ssg-a  [Root]system-alert-00026: IPSec tunnel on"
            " interface ethernet0/2 with tunnel ID 0x9a received a packet with a bad SPI. 1.1.1.1->2.2.2.2/96, ESP,"
            " SPI 0xf5b25b5b, SEQ 0x1. (2021-06-30 12:08:35)\n")
    events = parse_logs(write(tmp_path / "r.log", text), year=2021).events
    pairs = [(d if isinstance(d, str) else None, r if isinstance(r, str) else None)
             for d, r in zip(events["device"], events["relay"])]
    assert pairs == [(None, "10.1.2.3"), ("edge-gw", None), ("ssg-a", "relay7")]
