"""Logs inside SIEM exports: each sample in fixtures/logs/reference/exports/ wraps real vendor lines
from fixtures/logs/reference/; unwrapped they give the events the raw lines give (parsed
with the device zones the fixtures' README states), each with a time."""
import pandas as pd
import pytest

from badspi_pcap.cli import main
from badspi_pcap.logs import parse_logs
from badspi_pcap.logs.exports import Wrapper, pin
from badspi_pcap.logs.stamp import Stamp, iso_stamp
from conftest import FIXTURES

EXPORTS = FIXTURES / "logs" / "reference" / "exports"
REFERENCE = FIXTURES / "logs" / "reference"
ZONES = {"screenos-syslog.log": "+08:00", "asa.log": "+02:00", "ios.log": "-05:00", "junos-kmd.log": "-04:00",
         "fortios.log": None, "strongswan-docs.log": None}
SAME = ["vendor", "kind", "message_id", "spi", "seq", "peer", "src", "dst", "tunnel_id", "tunnel_name",
        "direction", "lifetime_s", "text"]
# layout, events, events whose line lost its own time in the export (the journal keeps the message only)
SAMPLES = {"splunk-export.csv": ("splunk-csv", 9, 0), "elastic-export.ndjson": ("elastic-ndjson", 5, 0),
           "graylog-export.csv": ("graylog-csv", 7, 0), "journald.json": ("journald-json", 7, 1),
           "rfc5424.log": ("rfc5424", 5, 0)}


def raw_events() -> pd.DataFrame:
    return pd.concat([parse_logs(REFERENCE / name, log_tz=tz, year=2021).events for name, tz in ZONES.items()],
                     ignore_index=True)


@pytest.mark.parametrize("name", SAMPLES)
def test_an_export_gives_the_events_of_its_raw_lines_each_with_a_time(name):
    layout, count, timeless = SAMPLES[name]
    result = parse_logs(EXPORTS / name, log_tz="Asia/Tokyo")  # the export's times win over a wrong --log-tz
    events = result.events
    assert len(events) == count and result.unparsed.empty and not result.skipped
    assert result.stats.loc[0, "format"].startswith(layout + ":")
    assert len(set(events["vendor"])) >= 3                      # several vendors in every sample
    assert events["time"].notna().all() and events["time_received"].notna().all()
    raw = raw_events()
    exact = with_time = 0
    for _, event in events.iterrows():
        spi = raw["spi"].astype("Int64").fillna(-1)
        same = raw[(raw["text"] == event["text"]) & (spi == (-1 if pd.isna(event["spi"]) else event["spi"]))]
        assert len(same) >= 1, event["text"]
        expected = same.iloc[0]
        for column in SAME:
            assert (pd.isna(event[column]) and pd.isna(expected[column])) or event[column] == expected[column], column
        if pd.notna(expected["time"]):
            gap = abs((event["time"] - expected["time"]).total_seconds())
            assert gap < 1.0, (event["text"], event["time"], expected["time"])
            exact += gap == 0
            with_time += 1
        # the export's time lies within a second or so of the device's (resolution, transit)
        assert abs((event["time_received"] - event["time"]).total_seconds()) < 1.5
    assert exact == with_time - timeless and exact > 0


def test_splunk_csv_doubled_quotes_are_undone_and_the_host_names_the_device():
    events = parse_logs(EXPORTS / "splunk-export.csv").events
    forti = events[events["vendor"] == "fortios"]
    assert forti["device"].tolist() == ["FGT-BC", "FGT-HQ"]       # devname is absent: the export's host
    assert forti["spi"].tolist() == [0x3A4E6946, 0x2C65AD60] and forti["seq"].tolist() == [0x2D, 7]
    assert forti["text"].iloc[1].count('"') > 0 and '""' not in forti["text"].iloc[1]
    assert events["received_tz"].unique().tolist() == ["+01:00"]
    assert events["line"].tolist()[:3] == [2, 3, 4]                # the record's line in the CSV file


def test_the_export_time_pins_zone_and_year_of_a_device_line_without_them():
    # 'Jun 30 12:08:36' (no year, no zone) received 2021-06-30T04:08:36.388Z: +08:00, 2021
    wrapper = Wrapper("splunk-csv", iso_stamp("2021-06-30", "05:08:36", "388", "+0100"), "test")
    device = Stamp(None, 6, 30, (12 * 3600 + 8 * 60 + 36) * 10**9, None)
    assert pin(device, wrapper) == Stamp(2021, 6, 30, device.nanos, 8 * 3600)
    # New Year: a line of Dec 31 received on Jan 1 (UTC) belongs to the year before
    wrapper = Wrapper("graylog-csv", iso_stamp("2022-01-01", "00:30:00", None, "Z"), None)
    late = Stamp(None, 12, 31, (19 * 3600 + 30 * 60) * 10**9, None)
    assert pin(late, wrapper) == Stamp(2021, 12, 31, late.nanos, -5 * 3600)
    # a line with its own offset keeps it; no export time: nothing changes
    own = Stamp(2021, 6, 30, 0, 3600)
    assert pin(own, wrapper) is own and pin(device, Wrapper("x", None, None)) is device
    # an export time without a zone pins nothing
    assert pin(device, Wrapper("x", iso_stamp("2021-06-30", "05:08:36"), None)) is device


def test_multi_line_raw_and_damaged_records_are_kept_apart(tmp_path):
    fortios = (REFERENCE / "fortios.log").read_text().splitlines()[1].replace('"', '""')
    path = tmp_path / "export.csv"
    path.write_text('"_time","host","_raw"\n'
                    f'"2024-08-14T03:08:54.236+0000","fw","{fortios}"\n'
                    '"2024-08-14T03:09:00.000+0000","fw","first line of a stack\n  second line"\n'
                    f'"1723604940","fw","{fortios}"\n')
    result = parse_logs(path)
    assert result.events["line"].tolist() == [2, 5]                # record starts, the 2-line record between
    assert result.unparsed["line"].tolist() == [3, 3]              # its two lines kept, not lost
    assert result.events["time_received"].iloc[1] == pd.Timestamp("2024-08-14T03:09:00Z")

    bad = tmp_path / "export.ndjson"
    bad.write_text('{"@timestamp": "2024-08-14T03:08:54.236Z", "message": "x"}\n{"@timestamp": "2024-08-\n'
                   + (REFERENCE / "fortios.log").read_text().splitlines()[0] + "\n")
    result = parse_logs(bad)
    assert result.unparsed["line"].tolist() == [1, 2] and result.events["line"].tolist() == [3]


def test_events_command_reads_an_export(capsys):
    assert main(["events", str(EXPORTS / "graylog-export.csv")]) == 0
    out = capsys.readouterr().out
    assert "asa-edge" in out and "rtr-br2" in out and "2017-08-24 14:58:42" in out
